#include "pkix/certificate.h"

#include <gtest/gtest.h>

#include "pkix/der.h"
#include "pkix/oid.h"
#include "pkix_test_util.h"

using namespace hallmark;
using namespace hallmark::pkix;
using namespace hallmark::pkix::testutil;
using base::Bytes;
using base::ErrorCode;
using hallmark::testing::TempDir;
using hallmark::testing::test_data;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A self-signed certificate made by `openssl req -x509` in `dir`.
std::filesystem::path openssl_self_signed(const TempDir& dir, const std::string& name, const std::string& extra = "") {
  const auto cert = dir / (name + ".pem");
  must_run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + q(dir / (name + ".key")) +
           " -subj '/O=Acme/serialNumber=SN-1' -days 30 " + extra + " -out " + q(cert));
  return cert;
}

}  // namespace

TEST(Certificate, ParsesTheRfc8995IdevidVector) {
  auto cert = Certificate::parse(read_file(test_data("vectors/brski/fountain_idevid_00-D0-E5-F2-00-02_masa_url.crt")));
  ASSERT_TRUE(cert.ok()) << cert.error().describe();
  EXPECT_EQ(cert->version(), 3);
  EXPECT_EQ(cert->subject().get(oid::kSerialNumber), "00-D0-E5-F2-00-02");
  EXPECT_EQ(cert->subject().to_string(), "serialNumber=00-D0-E5-F2-00-02");
  EXPECT_EQ(cert->serial_hex(), "65A1AEA9");
  EXPECT_EQ(cert->signature_algorithm_oid(), oid::kEcdsaWithSha256);
  EXPECT_EQ(cert->tbs_signature_algorithm_oid(), oid::kEcdsaWithSha256);
  EXPECT_TRUE(cert->signature_algorithm_params_absent());
  EXPECT_EQ(cert->not_before().encoding, TimeEncoding::UtcTime);
  EXPECT_EQ(cert->not_before().text, "190524173634Z");
  EXPECT_EQ(cert->not_after().encoding, TimeEncoding::GeneralizedTime);
  EXPECT_EQ(cert->not_after().text, "29991231000000Z");
  EXPECT_FALSE(cert->not_after().no_expiry);
  EXPECT_FALSE(cert->is_ca());
  EXPECT_FALSE(cert->is_self_issued());
  EXPECT_EQ(cert->public_key()->algorithm().value(), base::KeyAlgorithm::EcP256);
  EXPECT_TRUE(cert->find_extension("1.3.6.1.4.1.46930.2").has_value());
  auto san = decode_subject_alt_name(cert->find_extension(oid::kSubjectAltName)->value);
  ASSERT_TRUE(san.ok()) << san.error().describe();
  EXPECT_EQ(san->other_name_types, std::vector<std::string>{"1.3.6.1.4.1.46930.1"});
  EXPECT_EQ(base::hex_encode(cert->subject_key_identifier().value()), "4588cc9696006437b0ba236564645408066c56ad");
}

TEST(Certificate, MatchesWhatOpensslReportsForItsOwnCertificate) {
  TempDir dir;
  const auto pem = openssl_self_signed(dir, "c", "-set_serial 0x8F0102");
  auto cert = Certificate::parse(read_file(pem));
  ASSERT_TRUE(cert.ok()) << cert.error().describe();
  EXPECT_EQ("serial=" + cert->serial_hex(), trim(must_run("openssl x509 -in " + q(pem) + " -noout -serial")));
  EXPECT_EQ(base::hex_encode(cert->serial()), "008f0102");
  EXPECT_FALSE(cert->serial_is_negative());
  EXPECT_FALSE(cert->serial_is_zero());
  std::string fp = trim(must_run("openssl x509 -in " + q(pem) + " -noout -fingerprint -sha256"));
  fp = fp.substr(fp.find('=') + 1);
  EXPECT_EQ(base::hex_encode_upper(cert->fingerprint_sha256()), base::hex_encode_upper(base::hex_decode(fp).value()));
  EXPECT_EQ(cert->subject().to_string(), "O=Acme, serialNumber=SN-1");
  EXPECT_TRUE(cert->is_self_issued());
  EXPECT_TRUE(cert->is_ca());  // openssl req -x509 adds basicConstraints CA:TRUE
  EXPECT_EQ(cert->subject_key_identifier(), cert->public_key()->key_identifier());
  EXPECT_EQ(cert->authority_key_identifier(), cert->subject_key_identifier());
  EXPECT_EQ(Certificate::parse(base::view(cert->pem()))->der(), cert->der());
  EXPECT_TRUE(cert->verify_signature(cert->public_key().value()).ok());
}

TEST(Certificate, SerialHexMatchesOpensslForZeroAndNegativeSerials) {
  TempDir dir;
  for (const char* serial : {"0", "-5"}) {
    const auto pem = openssl_self_signed(dir, std::string("s") + serial, std::string("-set_serial ") + serial);
    auto cert = Certificate::parse(read_file(pem));
    ASSERT_TRUE(cert.ok()) << cert.error().describe();
    EXPECT_EQ("serial=" + cert->serial_hex(), trim(must_run("openssl x509 -in " + q(pem) + " -noout -serial")));
    EXPECT_EQ(cert->serial_is_zero(), std::string(serial) == "0");
    EXPECT_EQ(cert->serial_is_negative(), std::string(serial) == "-5");
  }
}

TEST(Certificate, ParsesDerAndOpensslTextOutput) {
  TempDir dir;
  const auto pem = openssl_self_signed(dir, "c");
  must_run("openssl x509 -in " + q(pem) + " -outform DER -out " + q(dir / "c.der"));
  must_run("openssl x509 -in " + q(pem) + " -text -out " + q(dir / "c.txt"));
  auto from_der = Certificate::parse(read_file(dir / "c.der"));
  auto from_text = Certificate::parse(read_file(dir / "c.txt"));
  ASSERT_TRUE(from_der.ok()) << from_der.error().describe();
  ASSERT_TRUE(from_text.ok()) << from_text.error().describe();
  EXPECT_EQ(from_der->der(), from_text->der());
}

TEST(Certificate, ParseAllKeepsBundleOrder) {
  TempDir dir;
  const auto a = openssl_self_signed(dir, "a");
  const auto b = openssl_self_signed(dir, "b");
  const std::string bundle = hallmark::testing::read_text(a) + "\n# comment\n" + hallmark::testing::read_text(b);
  auto all = Certificate::parse_all(base::view(bundle));
  ASSERT_TRUE(all.ok()) << all.error().describe();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].der(), Certificate::parse(read_file(a))->der());
  EXPECT_EQ((*all)[1].der(), Certificate::parse(read_file(b))->der());
  auto one = Certificate::parse(base::view(bundle));
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().code, ErrorCode::Malformed);
}

TEST(Certificate, RefusesGarbageAndTrailingData) {
  EXPECT_EQ(Certificate::parse(base::view("")).error().code, ErrorCode::Malformed);
  EXPECT_EQ(Certificate::parse(base::view("hello")).error().code, ErrorCode::Malformed);
  EXPECT_EQ(Certificate::parse(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}).error().code, ErrorCode::Malformed);
  TempDir dir;
  const auto pem = openssl_self_signed(dir, "c");
  Bytes der = Certificate::parse(read_file(pem))->der();
  der.push_back(0);
  EXPECT_EQ(Certificate::parse(der).error().code, ErrorCode::Malformed);
}

TEST(Certificate, AlteredSignatureDoesNotVerify) {
  TempDir dir;
  auto cert = Certificate::parse(read_file(openssl_self_signed(dir, "c"))).value();
  Bytes der = cert.der();
  der[der.size() - 3] ^= 0x01;  // inside s of the ECDSA signature
  auto altered = Certificate::parse(der);
  ASSERT_TRUE(altered.ok());
  auto r = altered->verify_signature(cert.public_key().value());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadSignature);
}

TEST(Certificate, Sha1SignatureIsRefused) {
  TempDir dir;
  auto cert = Certificate::parse(read_file(openssl_self_signed(dir, "c", "-sha1"))).value();
  auto r = cert.verify_signature(cert.public_key().value());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unsupported);
  EXPECT_NE(r.error().detail.find("SHA-1"), std::string::npos) << r.error().detail;
}

TEST(Certificate, P384IssuerSigningWithSha256Verifies) {
  TempDir dir;
  must_run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout " + q(dir / "ca.key") +
           " -subj /CN=CA -days 30 -sha256 -out " + q(dir / "ca.pem"));
  must_run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + q(dir / "l.key") +
           " -subj /CN=leaf -out " + q(dir / "l.csr"));
  must_run("openssl x509 -req -in " + q(dir / "l.csr") + " -CA " + q(dir / "ca.pem") + " -CAkey " + q(dir / "ca.key") +
           " -set_serial 7 -days 5 -sha256 -out " + q(dir / "l.pem"));
  auto ca = Certificate::parse(read_file(dir / "ca.pem")).value();
  auto leaf = Certificate::parse(read_file(dir / "l.pem")).value();
  auto verified = leaf.verify_signature(ca.public_key().value());
  EXPECT_TRUE(verified.ok()) << verified.error().describe();
  auto wrong = leaf.verify_signature(leaf.public_key().value());
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::BadSignature);
}

TEST(Certificate, RsaSignedCertificateVerifies) {
  TempDir dir;
  must_run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + q(dir / "k") + " -subj /CN=r -days 3 -out " +
           q(dir / "c.pem"));
  auto cert = Certificate::parse(read_file(dir / "c.pem")).value();
  EXPECT_FALSE(cert.signature_algorithm_params_absent());  // NULL parameters for RSA
  EXPECT_TRUE(cert.verify_signature(cert.public_key().value()).ok());
}

TEST(Certificate, FromTbsExposesFieldsButNeverVerifies) {
  TempDir dir;
  auto cert = Certificate::parse(read_file(openssl_self_signed(dir, "c"))).value();
  // The TBS is the first element of the certificate.
  auto outer = der::parse_single(cert.der(), der::kSequence, "Certificate").value();
  const base::ByteView tbs_view = der::Reader(outer.content).read_any().value().encoded;
  const Bytes tbs(tbs_view.begin(), tbs_view.end());
  auto tbs_only = Certificate::from_tbs(tbs);
  ASSERT_TRUE(tbs_only.ok()) << tbs_only.error().describe();
  EXPECT_EQ(tbs_only->subject(), cert.subject());
  EXPECT_EQ(tbs_only->serial(), cert.serial());
  EXPECT_EQ(tbs_only->extensions(), cert.extensions());
  auto r = tbs_only->verify_signature(cert.public_key().value());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadSignature);
  EXPECT_FALSE(Certificate::from_tbs(base::view("nope")).ok());
}
