#include "pkix/tbs_certificate.h"

#include <gtest/gtest.h>

#include "pkix/der.h"
#include "pkix/oid.h"
#include "pkix_test_util.h"

using namespace hallmark;
using namespace hallmark::pkix;
using namespace hallmark::pkix::testutil;
using base::Bytes;
using base::ErrorCode;
using base::KeyAlgorithm;
using base::SignatureAlgorithm;
using hallmark::testing::TempDir;
using namespace std::chrono;

namespace {

base::TimePoint at(int y, unsigned m, unsigned d) {
  return base::TimePoint(sys_days(year(y) / month(m) / day(d)));
}

Name name(std::initializer_list<std::pair<const char*, const char*>> attrs) {
  Name n;
  for (const auto& [o, v] : attrs) EXPECT_TRUE(n.add(o, v).ok());
  return n;
}

// Encodes, signs with `signer` (raw signature as a keys::Signer returns it) and assembles.
Certificate issue(const TbsCertificateSpec& spec, const TestKey& signer) {
  auto tbs = encode_tbs_certificate(spec);
  EXPECT_TRUE(tbs.ok()) << tbs.error().describe();
  const Bytes sig = signer.sign(tbs.value(), spec.signature_algorithm);
  auto cert = assemble_certificate(tbs.value(), spec.signature_algorithm, sig);
  EXPECT_TRUE(cert.ok()) << cert.error().describe();
  return std::move(cert).value();
}

TbsCertificateSpec root_spec(const TestKey& key, KeyAlgorithm alg) {
  TbsCertificateSpec spec;
  spec.serial = {0x8A, 0x01, 0x02, 0x03};
  spec.signature_algorithm = base::default_signature_algorithm(alg);
  spec.issuer = name({{oid::kCountry, "CA"}, {oid::kOrganization, "Acme"}, {oid::kCommonName, "Acme Root"}});
  spec.subject = spec.issuer;
  spec.not_before = at(2024, 1, 1);
  spec.no_expiry = true;
  spec.subject_public_key_info = key.spki();
  const Bytes key_id = PublicKey::from_spki_der(spec.subject_public_key_info)->key_identifier();
  spec.extensions = {ext::basic_constraints(true, 1), ext::key_usage(kKeyCertSign | kCrlSign),
                     ext::subject_key_identifier(key_id)};
  return spec;
}

std::string write_pem(const TempDir& dir, const std::string& file, const Certificate& cert) {
  write_file(dir / file, cert.pem());
  return q(dir / file);
}

}  // namespace

TEST(TbsCertificate, SelfSignedRootPassesOpensslStrictVerification) {
  for (auto alg : {KeyAlgorithm::EcP256, KeyAlgorithm::EcP384, KeyAlgorithm::Rsa2048, KeyAlgorithm::Ed25519}) {
    SCOPED_TRACE(std::string(base::to_string(alg)));
    TempDir dir;
    const TestKey key = TestKey::generate(alg);
    const Certificate root = issue(root_spec(key, alg), key);
    const std::string pem = write_pem(dir, "root.pem", root);
    const auto r = hallmark::testing::run("openssl verify -x509_strict -CAfile " + pem + " " + pem);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("root.pem: OK"), std::string::npos) << r.out;
    EXPECT_TRUE(root.verify_signature(PublicKey::from_spki_der(key.spki()).value()).ok());
    EXPECT_EQ(root.signature_algorithm_oid(), root.tbs_signature_algorithm_oid());
  }
}

TEST(TbsCertificate, LeafIssuedUnderOurRootVerifiesWithOpenssl) {
  TempDir dir;
  const TestKey ca_key = TestKey::generate(KeyAlgorithm::EcP256);
  const Certificate root = issue(root_spec(ca_key, KeyAlgorithm::EcP256), ca_key);
  const TestKey device = TestKey::generate(KeyAlgorithm::EcP256);

  TbsCertificateSpec leaf;
  leaf.serial = {0x01};
  leaf.issuer = root.subject();
  leaf.subject = name({{oid::kOrganization, "Acme"}, {oid::kSerialNumber, "SN-00001000"}});
  leaf.not_before = at(2024, 1, 1);
  leaf.no_expiry = true;
  leaf.subject_public_key_info = device.spki();
  SubjectAltNames san;
  san.hardware_modules.push_back({oid::kTcgTpm20, base::to_bytes("SN-00001000")});
  leaf.extensions = {ext::basic_constraints(false, std::nullopt), ext::key_usage(kDigitalSignature),
                     ext::authority_key_identifier(root.subject_key_identifier().value()),
                     ext::subject_alt_name(san).value()};
  const Certificate cert = issue(leaf, ca_key);

  const std::string root_pem = write_pem(dir, "root.pem", root);
  const std::string leaf_pem = write_pem(dir, "leaf.pem", cert);
  const auto r = hallmark::testing::run("openssl verify -x509_strict -CAfile " + root_pem + " " + leaf_pem);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(cert.verify_signature(root.public_key().value()).ok());

  // The SAN parses back, and OpenSSL sees the [0] EXPLICIT wrapper.
  auto back = decode_subject_alt_name(cert.find_extension(oid::kSubjectAltName)->value);
  ASSERT_TRUE(back.ok()) << back.error().describe();
  EXPECT_EQ(back->hardware_modules, san.hardware_modules);
  write_file(dir / "san.der", cert.find_extension(oid::kSubjectAltName)->value);
  const std::string asn1 = must_run("openssl asn1parse -inform DER -i -in " + q(dir / "san.der"));
  EXPECT_NE(asn1.find("cont [ 0 ]        \n"), std::string::npos) << asn1;
  EXPECT_NE(asn1.find(":1.3.6.1.5.5.7.8.4"), std::string::npos) << asn1;
  EXPECT_NE(asn1.find("OCTET STRING      :SN-00001000"), std::string::npos) << asn1;
  // Two cont [0]: the otherName and its value's explicit wrapper.
  std::size_t count = 0;
  for (auto p = asn1.find("cont [ 0 ]"); p != std::string::npos; p = asn1.find("cont [ 0 ]", p + 1)) ++count;
  EXPECT_EQ(count, 2u) << asn1;

  const std::string text = must_run("openssl x509 -in " + leaf_pem + " -noout -text");
  EXPECT_NE(text.find("X509v3 Basic Constraints: critical"), std::string::npos) << text;
  EXPECT_NE(text.find("CA:FALSE"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Key Usage: critical"), std::string::npos) << text;
  EXPECT_NE(text.find("Digital Signature"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Authority Key Identifier"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Subject Alternative Name"), std::string::npos) << text;
  EXPECT_NE(text.find("serialNumber = SN-00001000"), std::string::npos) << text;
}

TEST(TbsCertificate, NoExpiryIsGeneralizedTime99991231235959Z) {
  TempDir dir;
  const TestKey key = TestKey::generate(KeyAlgorithm::EcP256);
  const Certificate cert = issue(root_spec(key, KeyAlgorithm::EcP256), key);
  EXPECT_TRUE(cert.not_after().no_expiry);
  EXPECT_EQ(cert.not_after().encoding, TimeEncoding::GeneralizedTime);
  EXPECT_EQ(cert.not_after().text, "99991231235959Z");
  EXPECT_EQ(cert.not_before().encoding, TimeEncoding::UtcTime);
  const std::string asn1 = must_run("openssl asn1parse -in " + write_pem(dir, "c.pem", cert));
  EXPECT_NE(asn1.find("UTCTIME           :240101000000Z"), std::string::npos) << asn1;
  EXPECT_NE(asn1.find("GENERALIZEDTIME   :99991231235959Z"), std::string::npos) << asn1;
}

TEST(TbsCertificate, UtcTimeIn2030AndGeneralizedTimeIn2051) {
  TempDir dir;
  const TestKey key = TestKey::generate(KeyAlgorithm::EcP256);
  TbsCertificateSpec spec = root_spec(key, KeyAlgorithm::EcP256);
  spec.no_expiry = false;
  spec.not_before = at(2030, 6, 15);
  spec.not_after = at(2051, 3, 1);
  const Certificate cert = issue(spec, key);
  EXPECT_EQ(cert.not_before().encoding, TimeEncoding::UtcTime);
  EXPECT_EQ(cert.not_before().time, spec.not_before);
  EXPECT_EQ(cert.not_after().encoding, TimeEncoding::GeneralizedTime);
  EXPECT_EQ(cert.not_after().time, spec.not_after);
  EXPECT_FALSE(cert.not_after().no_expiry);
  const std::string asn1 = must_run("openssl asn1parse -in " + write_pem(dir, "c.pem", cert));
  EXPECT_NE(asn1.find("UTCTIME           :300615000000Z"), std::string::npos) << asn1;
  EXPECT_NE(asn1.find("GENERALIZEDTIME   :20510301000000Z"), std::string::npos) << asn1;
}

TEST(TbsCertificate, SerialGetsALeadingZeroAndIsLimitedTo20Octets) {
  const TestKey key = TestKey::generate(KeyAlgorithm::EcP256);
  TbsCertificateSpec spec = root_spec(key, KeyAlgorithm::EcP256);
  const Certificate cert = issue(spec, key);
  EXPECT_EQ(base::hex_encode(cert.serial()), "008a010203");
  EXPECT_EQ(cert.serial_hex(), "8A010203");

  spec.serial = Bytes(20, 0x7F);
  EXPECT_TRUE(encode_tbs_certificate(spec).ok());
  spec.serial = Bytes(20, 0x80);  // 21 octets once the sign octet is added
  auto too_long = encode_tbs_certificate(spec);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, ErrorCode::InvalidArgument);
  spec.serial = {};
  EXPECT_EQ(encode_tbs_certificate(spec).error().code, ErrorCode::InvalidArgument);
}

TEST(TbsCertificate, RefusesMissingKeyDuplicateExtensionsAndReversedValidity) {
  const TestKey key = TestKey::generate(KeyAlgorithm::EcP256);
  TbsCertificateSpec spec = root_spec(key, KeyAlgorithm::EcP256);
  TbsCertificateSpec no_key = spec;
  no_key.subject_public_key_info.clear();
  EXPECT_EQ(encode_tbs_certificate(no_key).error().code, ErrorCode::InvalidArgument);
  TbsCertificateSpec dup = spec;
  dup.extensions.push_back(ext::key_usage(kDigitalSignature));
  EXPECT_EQ(encode_tbs_certificate(dup).error().code, ErrorCode::InvalidArgument);
  TbsCertificateSpec reversed = spec;
  reversed.no_expiry = false;
  reversed.not_after = at(2020, 1, 1);
  EXPECT_EQ(encode_tbs_certificate(reversed).error().code, ErrorCode::InvalidArgument);
}

TEST(TbsCertificate, CriticalFlagIsWrittenOnlyWhenTrueAndNoExtensionsMeansNoTag3) {
  const TestKey key = TestKey::generate(KeyAlgorithm::EcP256);
  TbsCertificateSpec spec = root_spec(key, KeyAlgorithm::EcP256);
  const Certificate cert = issue(spec, key);
  EXPECT_EQ(cert.extensions(), spec.extensions);
  EXPECT_EQ(cert.version(), 3);

  spec.extensions.clear();
  const Bytes tbs = encode_tbs_certificate(spec).value();
  auto seq = der::parse_single(tbs, der::kSequence, "tbs").value();
  der::Reader r(seq.content);
  std::vector<std::uint8_t> tags;
  while (!r.at_end()) tags.push_back(r.read_any().value().tag);
  EXPECT_EQ(tags, (std::vector<std::uint8_t>{0xA0, 0x02, 0x30, 0x30, 0x30, 0x30, 0x30}));
  EXPECT_TRUE(Certificate::from_tbs(tbs)->extensions().empty());
}

TEST(TbsCertificate, AssembleRefusesASignatureAlgorithmOtherThanTheTbsOne) {
  const TestKey key = TestKey::generate(KeyAlgorithm::EcP256);
  const Bytes tbs = encode_tbs_certificate(root_spec(key, KeyAlgorithm::EcP256)).value();
  const Bytes sig = key.sign(tbs, SignatureAlgorithm::EcdsaSha384);
  auto r = assemble_certificate(tbs, SignatureAlgorithm::EcdsaSha384, sig);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
}

TEST(TbsCertificate, AlgorithmIdentifiersFollowRfc5758And4055) {
  EXPECT_EQ(base::hex_encode(algorithm_identifier_der(SignatureAlgorithm::EcdsaSha256)), "300a06082a8648ce3d040302");
  EXPECT_EQ(base::hex_encode(algorithm_identifier_der(SignatureAlgorithm::EcdsaSha384)), "300a06082a8648ce3d040303");
  EXPECT_EQ(base::hex_encode(algorithm_identifier_der(SignatureAlgorithm::RsaPkcs1Sha256)),
            "300d06092a864886f70d01010b0500");
  EXPECT_EQ(base::hex_encode(algorithm_identifier_der(SignatureAlgorithm::Ed25519)), "300506032b6570");
}
