#include "pkix/extensions.h"

#include <gtest/gtest.h>

#include "pkix/der.h"
#include "pkix/oid.h"
#include "pkix_test_util.h"

using namespace hallmark;
using namespace hallmark::pkix;
using base::Bytes;
using base::ErrorCode;

namespace {
Bytes hex(const char* h) {
  return base::hex_decode(h).value();
}
}  // namespace

TEST(KeyUsage, EncodesMinimalBitStrings) {
  EXPECT_EQ(base::hex_encode(ext::key_usage(kDigitalSignature).value), "03020780");
  EXPECT_EQ(base::hex_encode(ext::key_usage(kKeyCertSign | kCrlSign).value), "03020106");
  EXPECT_EQ(base::hex_encode(ext::key_usage(kDigitalSignature | kKeyEncipherment).value), "030205a0");
  EXPECT_EQ(base::hex_encode(ext::key_usage(kDecipherOnly).value), "0303070080");
  const Extension e = ext::key_usage(kDigitalSignature);
  EXPECT_EQ(e.oid, oid::kKeyUsage);
  EXPECT_TRUE(e.critical);
}

TEST(KeyUsage, EveryCombinationDecodesToItself) {
  for (std::uint16_t bits = 1; bits < 0x200; ++bits) {
    auto back = decode_key_usage(ext::key_usage(bits).value);
    ASSERT_TRUE(back.ok()) << bits << ": " << back.error().describe();
    EXPECT_EQ(back.value(), bits);
  }
}

TEST(KeyUsage, DecoderRefusesNonDerBitStrings) {
  auto trailing_zero = decode_key_usage(hex("0303078000"));
  ASSERT_FALSE(trailing_zero.ok());
  EXPECT_NE(trailing_zero.error().detail.find("not minimally encoded"), std::string::npos);
  EXPECT_FALSE(decode_key_usage(hex("03020781")).ok());  // unused bit set
  EXPECT_FALSE(decode_key_usage(hex("03020880")).ok());  // 8 unused bits
  EXPECT_FALSE(decode_key_usage(hex("04020780")).ok());  // not a BIT STRING
}

TEST(BasicConstraints, EncodesAndDecodesPerRfc5280) {
  EXPECT_EQ(base::hex_encode(ext::basic_constraints(true, 0).value), "30060101ff020100");
  EXPECT_EQ(base::hex_encode(ext::basic_constraints(false, std::nullopt).value), "3000");
  auto ca = decode_basic_constraints(ext::basic_constraints(true, 3).value).value();
  EXPECT_TRUE(ca.ca);
  EXPECT_EQ(ca.path_len, 3);
  auto leaf = decode_basic_constraints(hex("3000")).value();
  EXPECT_FALSE(leaf.ca);
  EXPECT_FALSE(leaf.path_len.has_value());
}

TEST(BasicConstraints, DecoderRefusesAnExplicitFalse) {
  auto r = decode_basic_constraints(hex("3003010100"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Malformed);
  EXPECT_FALSE(decode_basic_constraints(hex("30030101ff00")).ok());
}

TEST(ExtKeyUsage, RoundTripsAndRefusesAnEmptyList) {
  const Extension e = ext::ext_key_usage({oid::kClientAuth, oid::kServerAuth});
  EXPECT_FALSE(e.critical);
  EXPECT_EQ(decode_ext_key_usage(e.value).value(), (std::vector<std::string>{oid::kClientAuth, oid::kServerAuth}));
  EXPECT_FALSE(decode_ext_key_usage(hex("3000")).ok());
}

TEST(ExtKeyUsage, AnInvalidOidLeavesAValueThatCannotBeEncoded) {
  const Extension e = ext::ext_key_usage({"not-an-oid"});
  EXPECT_TRUE(e.value.empty());
  auto r = encode_extensions({e});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
}

TEST(KeyIdentifiers, EncodeAsRfc5280Says) {
  const Bytes id = hex("0102030405060708090a0b0c0d0e0f1011121314");
  const Extension ski = ext::subject_key_identifier(id);
  EXPECT_EQ(base::hex_encode(ski.value), "0414" + base::hex_encode(id));
  EXPECT_EQ(decode_subject_key_identifier(ski.value).value(), id);
  const Extension aki = ext::authority_key_identifier(id);
  EXPECT_EQ(base::hex_encode(aki.value), "30168014" + base::hex_encode(id));
  EXPECT_EQ(decode_authority_key_identifier(aki.value).value(), id);
  EXPECT_FALSE(aki.critical);
  auto no_key_id = decode_authority_key_identifier(hex("3000"));
  ASSERT_FALSE(no_key_id.ok());
  EXPECT_EQ(no_key_id.error().code, ErrorCode::NotFound);
}

TEST(SubjectAltName, HardwareModuleNameUsesTheExplicitWrapper) {
  SubjectAltNames names;
  names.hardware_modules.push_back({oid::kTcgTpm20, base::to_bytes("SN1")});
  const Extension e = ext::subject_alt_name(names).value();
  // SEQUENCE { [0] { OID 1.3.6.1.5.5.7.8.4, [0] { SEQUENCE { OID 2.23.133.1.2, OCTET STRING "SN1" }
  // } } }
  EXPECT_EQ(base::hex_encode(e.value),
            "301ca01a"
            "06082b06010505070804"
            "a00e"
            "300c"
            "06056781050102"
            "0403534e31");
  auto back = decode_subject_alt_name(e.value);
  ASSERT_TRUE(back.ok()) << back.error().describe();
  ASSERT_EQ(back->hardware_modules.size(), 1u);
  EXPECT_EQ(back->hardware_modules[0], names.hardware_modules[0]);
  EXPECT_EQ(back->other_name_types, std::vector<std::string>{oid::kHardwareModuleName});
}

TEST(SubjectAltName, HardwareModuleNameWithoutExplicitWrapperIsMalformed) {
  // value given directly as the SEQUENCE, without [0] EXPLICIT.
  auto r =
      decode_subject_alt_name(hex("301aa018"
                                  "06082b06010505070804"
                                  "300c"
                                  "06056781050102"
                                  "0403534e31"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Malformed);
  EXPECT_NE(r.error().detail.find("lacks the [0] EXPLICIT wrapper"), std::string::npos) << r.error().detail;
}

TEST(SubjectAltName, HardwareModuleSerialThatIsNotAnOctetStringIsMalformed) {
  // hwSerialNum as UTF8String.
  auto r =
      decode_subject_alt_name(hex("301ca01a"
                                  "06082b06010505070804"
                                  "a00e"
                                  "300c"
                                  "06056781050102"
                                  "0c03534e31"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Malformed);
  EXPECT_EQ(r.error().detail, "HardwareModuleName hwSerialNum is not an OCTET STRING (RFC 4108 §5)");
}

TEST(SubjectAltName, DnsUriAndIpAddressesRoundTrip) {
  SubjectAltNames names;
  names.dns = {"device.example.com"};
  names.uri = {"https://masa.example.com"};
  names.ip = {"192.0.2.7", "2001:db8::1"};
  auto e = ext::subject_alt_name(names, true);
  ASSERT_TRUE(e.ok()) << e.error().describe();
  EXPECT_TRUE(e->critical);
  auto back = decode_subject_alt_name(e->value).value();
  EXPECT_EQ(back.dns, names.dns);
  EXPECT_EQ(back.uri, names.uri);
  EXPECT_EQ(back.ip, names.ip);
  EXPECT_FALSE(back.empty());
}

TEST(SubjectAltName, RefusesBadAddressesAndEmptyNames) {
  SubjectAltNames bad;
  bad.ip = {"300.1.1.1"};
  auto r = ext::subject_alt_name(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_FALSE(ext::subject_alt_name(SubjectAltNames{}).ok());
  auto five_octets = decode_subject_alt_name(hex("30078705c000020701"));
  ASSERT_FALSE(five_octets.ok());
  EXPECT_NE(five_octets.error().detail.find("4 or 16 octets"), std::string::npos);
  EXPECT_FALSE(decode_subject_alt_name(hex("3000")).ok());
}

TEST(SubjectAltName, HardwareModuleNameMadeByOpensslDecodes) {
  using namespace hallmark::pkix::testutil;
  hallmark::testing::TempDir dir;
  write_file(dir / "ext.cnf", std::string("[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n"
                                          "[dn]\nCN = t\n"
                                          "[ext]\nsubjectAltName = otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hmn\n"
                                          "[hmn]\nhwType = OID:2.23.133.1.2\n"
                                          "hwSerialNum = FORMAT:HEX,OCTETSTRING:0A0B0C\n"));
  // OpenSSL's otherName syntax adds the [0] EXPLICIT wrapper itself.
  must_run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + q(dir / "k.pem") +
           " -config " + q(dir / "ext.cnf") + " -days 1 -outform DER -out " + q(dir / "c.der"));
  const std::string text = must_run("openssl asn1parse -inform DER -in " + q(dir / "c.der"));
  // Find the SAN value's offset in asn1parse's listing and decode that OCTET STRING.
  const auto san = text.find("X509v3 Subject Alternative Name");
  ASSERT_NE(san, std::string::npos) << text;
  const auto line_start = text.find('\n', san) + 1;
  const int offset = std::stoi(text.substr(line_start, text.find(':', line_start) - line_start));
  const Bytes cert = read_file(dir / "c.der");
  auto octets = der::Reader(base::ByteView(cert).subspan(static_cast<std::size_t>(offset))).read_any();
  ASSERT_TRUE(octets.ok());
  auto names = decode_subject_alt_name(octets->content);
  ASSERT_TRUE(names.ok()) << names.error().describe();
  ASSERT_EQ(names->hardware_modules.size(), 1u);
  EXPECT_EQ(names->hardware_modules[0].hw_type, oid::kTcgTpm20);
  EXPECT_EQ(names->hardware_modules[0].hw_serial, hex("0a0b0c"));
}

TEST(Extensions, ListEncodingOmitsFalseCriticalAndRefusesDuplicates) {
  const Extension ku = ext::key_usage(kDigitalSignature, true);
  const Extension ski = ext::subject_key_identifier(hex("0102"));
  const Bytes list = encode_extensions({ku, ski}).value();
  EXPECT_EQ(base::hex_encode(list),
            "301d"
            "300e0603551d0f0101ff0404"
            "03020780"
            "300b0603551d0e0404"
            "04020102");
  EXPECT_EQ(decode_extensions(list).value(), (std::vector<Extension>{ku, ski}));
  auto dup = encode_extensions({ski, ski});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::InvalidArgument);
}
