#include "pkix/csr.h"

#include <gtest/gtest.h>

#include "pkix/der.h"
#include "pkix/oid.h"
#include "pkix/pem.h"
#include "pkix/tbs_certificate.h"
#include "pkix_test_util.h"

using namespace hallmark;
using namespace hallmark::pkix;
using namespace hallmark::pkix::testutil;
using base::Bytes;
using base::ErrorCode;
using base::KeyAlgorithm;
using hallmark::testing::TempDir;
using hallmark::testing::test_data;

namespace {

// A CSR made by `openssl req -new` with the key options and extra arguments given.
Bytes openssl_csr(const TempDir& dir, const std::string& key_args, const std::string& extra = "",
                  const std::string& form = "DER") {
  const auto out = dir / "r.csr";
  must_run("openssl req -new " + key_args + " -nodes -keyout " + q(dir / "r.key") +
           " -subj '/O=Acme/serialNumber=SN-42' " + extra + " -outform " + form + " -out " + q(out));
  return read_file(out);
}

const std::string kP256 = "-newkey ec -pkeyopt ec_paramgen_curve:P-256";

void expect_error(const base::Result<Csr>& r, ErrorCode code, const std::string& text) {
  ASSERT_FALSE(r.ok()) << "expected: " << text;
  EXPECT_EQ(r.error().code, code) << r.error().describe();
  EXPECT_NE(r.error().detail.find(text), std::string::npos) << r.error().detail;
}

}  // namespace

// --- Third-party vectors ---------------------------------------------------

TEST(CsrVectors, BoulderEcdsaWithEmptySubjectIsValid) {
  auto csr = Csr::parse(read_file(test_data("vectors/csr/boulder_ecdsa.csr.der")));
  ASSERT_TRUE(csr.ok()) << csr.error().describe();
  EXPECT_TRUE(csr->subject().empty());
  EXPECT_EQ(csr->key_algorithm(), KeyAlgorithm::EcP256);
  ASSERT_EQ(csr->requested_extensions().size(), 1u);
  auto san = decode_subject_alt_name(csr->requested_extensions()[0].value).value();
  EXPECT_EQ(san.dns, (std::vector<std::string>{"example.com", "example2.com"}));
  EXPECT_FALSE(csr->challenge_password().has_value());
}

TEST(CsrVectors, FountainBulbFromAConstrainedDeviceIsValid) {
  auto csr = Csr::parse(read_file(test_data("vectors/csr/fountain_csr_bulb1.der")));
  ASSERT_TRUE(csr.ok()) << csr.error().describe();
  EXPECT_EQ(csr->subject().get(oid::kSerialNumber), "00-D0-E5-F2-00-01");
  EXPECT_EQ(csr->key_algorithm(), KeyAlgorithm::EcP256);
  EXPECT_TRUE(csr->requested_extensions().empty());
}

TEST(CsrVectors, LibestPledgePemIsValid) {
  auto csr = Csr::parse(read_file(test_data("vectors/csr/libest_pledge_csr.pem")));
  ASSERT_TRUE(csr.ok()) << csr.error().describe();
  EXPECT_EQ(csr->subject().get(oid::kSerialNumber), "IOTRUS-0123456789");
  EXPECT_EQ(csr->key_algorithm(), KeyAlgorithm::Rsa2048);
}

TEST(CsrVectors, HighwayHeraIsDerDespiteItsNameAndValid) {
  auto csr = Csr::parse(read_file(test_data("vectors/csr/highway_hera.csr")));
  ASSERT_TRUE(csr.ok()) << csr.error().describe();
  EXPECT_EQ(csr->key_algorithm(), KeyAlgorithm::Rsa2048);
  EXPECT_EQ(csr->subject().to_string(), "CN=ne34db3.r.dasblinkenled.org");
  ASSERT_EQ(csr->requested_extensions().size(), 1u);
  EXPECT_EQ(csr->requested_extensions()[0].oid, oid::kSubjectAltName);
}

// --- CSRs made by openssl ---------------------------------------------------

TEST(Csr, OpensslCsrWithExtensionsAndChallengePasswordIsValid) {
  TempDir dir;
  write_file(dir / "req.cnf", std::string("[req]\ndistinguished_name = dn\nattributes = attrs\nprompt = no\n"
                                          "[dn]\nO = Acme\nserialNumber = SN-42\n"
                                          "[attrs]\nchallengePassword = s3cret-pass\n"));
  // No -subj: with it, openssl req leaves out the configured attributes.
  must_run("openssl req -new " + kP256 + " -nodes -keyout " + q(dir / "r.key") + " -config " + q(dir / "req.cnf") +
           " -addext subjectAltName=DNS:dev.example.com,IP:192.0.2.1"
           " -addext keyUsage=critical,digitalSignature -outform DER -out " +
           q(dir / "r.der"));
  const Bytes der = read_file(dir / "r.der");
  for (const Bytes& input : {der, base::to_bytes(pem_encode(der, "CERTIFICATE REQUEST")),
                             base::to_bytes(pem_encode(der, "NEW CERTIFICATE REQUEST"))}) {
    auto csr = Csr::parse(input);
    ASSERT_TRUE(csr.ok()) << csr.error().describe();
    EXPECT_EQ(csr->der(), der);
    EXPECT_EQ(csr->subject().to_string(), "O=Acme, serialNumber=SN-42");
    EXPECT_EQ(csr->challenge_password(), "s3cret-pass");
    ASSERT_EQ(csr->requested_extensions().size(), 2u);
    auto san = decode_subject_alt_name(csr->requested_extensions()[0].value).value();
    EXPECT_EQ(san.dns, std::vector<std::string>{"dev.example.com"});
    EXPECT_EQ(san.ip, std::vector<std::string>{"192.0.2.1"});
    EXPECT_TRUE(csr->requested_extensions()[1].critical);
    EXPECT_EQ(decode_key_usage(csr->requested_extensions()[1].value).value(), kDigitalSignature);
    EXPECT_EQ(csr->public_key().spki_der(), PublicKey::from_spki_der(csr->public_key().spki_der())->spki_der());
  }
}

TEST(Csr, OpensslP384Sha384AndEd25519AreValid) {
  TempDir dir;
  auto p384 = Csr::parse(openssl_csr(dir, "-newkey ec -pkeyopt ec_paramgen_curve:P-384", "-sha384"));
  ASSERT_TRUE(p384.ok()) << p384.error().describe();
  EXPECT_EQ(p384->key_algorithm(), KeyAlgorithm::EcP384);
  auto ed = Csr::parse(openssl_csr(dir, "-newkey ed25519"));
  ASSERT_TRUE(ed.ok()) << ed.error().describe();
  EXPECT_EQ(ed->key_algorithm(), KeyAlgorithm::Ed25519);
}

// --- Refusals, each with its own message -----------------------------------

TEST(CsrRefusal, AlteredSignatureDoesNotVerify) {
  TempDir dir;
  Bytes der = openssl_csr(dir, "-newkey rsa:2048");
  der.back() ^= 0x01;
  expect_error(Csr::parse(der), ErrorCode::BadSignature, "CSR signature does not verify");
}

TEST(CsrRefusal, AlteredSubjectDoesNotVerify) {
  TempDir dir;
  Bytes der = openssl_csr(dir, kP256);
  const std::string s = base::to_string(der);
  der[s.find("SN-42") + 3] = '3';
  expect_error(Csr::parse(der), ErrorCode::BadSignature, "CSR signature does not verify");
}

TEST(CsrRefusal, Rsa1024IsTooShort) {
  TempDir dir;
  auto r = Csr::parse(openssl_csr(dir, "-newkey rsa:1024"));
  expect_error(r, ErrorCode::Unsupported, "RSA-1024 key is too short: RSA keys must be at least 2048 bits");
}

TEST(CsrRefusal, Sha1SignatureIsNoLongerAccepted) {
  TempDir dir;
  auto r = Csr::parse(openssl_csr(dir, kP256, "-sha1"));
  expect_error(r, ErrorCode::Unsupported,
               "CSR is signed with SHA-1, which is no longer accepted; sign with SHA-256 or stronger");
  auto rsa = Csr::parse(openssl_csr(dir, "-newkey rsa:2048", "-sha1"));
  expect_error(rsa, ErrorCode::Unsupported, "SHA-1");
}

TEST(CsrRefusal, VersionOtherThanZeroIsCheckedFirst) {
  TempDir dir;
  Bytes der = openssl_csr(dir, kP256);
  // SEQUENCE { SEQUENCE { INTEGER 0 ... }: the version octet follows both headers.
  auto outer = der::read_header(der).value();
  auto info = der::read_header(base::ByteView(der).subspan(outer.header_size)).value();
  const std::size_t version_at = outer.header_size + info.header_size;
  ASSERT_EQ(der[version_at], 0x02);
  ASSERT_EQ(der[version_at + 2], 0x00);
  der[version_at + 2] = 0x02;  // the self-signature no longer verifies either
  expect_error(Csr::parse(der), ErrorCode::Unsupported, "CSR version is 2");
}

TEST(CsrRefusal, ExplicitCurveParametersAreUnsupported) {
  TempDir dir;
  must_run("openssl ecparam -name prime256v1 -param_enc explicit -genkey -out " + q(dir / "ex.key"));
  must_run("openssl req -new -key " + q(dir / "ex.key") + " -subj /CN=x -outform DER -out " + q(dir / "ex.csr"));
  expect_error(Csr::parse(read_file(dir / "ex.csr")), ErrorCode::Unsupported,
               "uses explicit EC parameters; use a named curve");
}

TEST(CsrRefusal, OtherCurveIsUnsupported) {
  TempDir dir;
  must_run("openssl ecparam -name secp256k1 -genkey -out " + q(dir / "k.key"));
  must_run("openssl req -new -key " + q(dir / "k.key") + " -subj /CN=x -outform DER -out " + q(dir / "k.csr"));
  expect_error(Csr::parse(read_file(dir / "k.csr")), ErrorCode::Unsupported, "secp256k1");
}

TEST(CsrRefusal, EmptyInput) {
  expect_error(Csr::parse(Bytes{}), ErrorCode::Malformed, "CSR is empty");
  expect_error(Csr::parse(base::view(" \n")), ErrorCode::Malformed, "CSR is empty");
}

TEST(CsrRefusal, TooLargeIsCheckedFirst) {
  const Bytes big(100, 0x30);
  auto r = Csr::parse(big, 64);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::TooLarge);
}

TEST(CsrRefusal, TruncatedDer) {
  TempDir dir;
  Bytes der = openssl_csr(dir, kP256);
  der.resize(der.size() / 2);
  expect_error(Csr::parse(der), ErrorCode::Malformed, "CSR is truncated");
  expect_error(Csr::parse(Bytes{0x30}), ErrorCode::Malformed, "CSR is truncated");
  expect_error(Csr::parse(Bytes{0x30, 0x82, 0x01}), ErrorCode::Malformed, "CSR is truncated");
}

TEST(CsrRefusal, TrailingDataAfterTheDer) {
  TempDir dir;
  Bytes der = openssl_csr(dir, kP256);
  der.push_back(0x00);
  expect_error(Csr::parse(der), ErrorCode::Malformed, "trailing data");
}

TEST(CsrRefusal, GarbageIsNotACsr) {
  expect_error(Csr::parse(base::view("this is not a CSR at all")), ErrorCode::Malformed, "not a PKCS#10 CSR");
  expect_error(Csr::parse(Bytes{0x30, 0x03, 0x02, 0x01, 0x00}), ErrorCode::Malformed, "not a PKCS#10 CSR");
}

TEST(CsrRefusal, CertificateIsNotACsr) {
  TempDir dir;
  must_run("openssl req -x509 " + kP256 + " -nodes -keyout " + q(dir / "k") + " -subj /CN=x -days 1 -out " +
           q(dir / "c.pem"));
  expect_error(Csr::parse(read_file(dir / "c.pem")), ErrorCode::Malformed, "not a PKCS#10 CSR");
  must_run("openssl x509 -in " + q(dir / "c.pem") + " -outform DER -out " + q(dir / "c.der"));
  expect_error(Csr::parse(read_file(dir / "c.der")), ErrorCode::Malformed, "not a PKCS#10 CSR");
}

TEST(CsrRefusal, PemWithJunkAroundTheBlock) {
  TempDir dir;
  const std::string pem = base::to_string(openssl_csr(dir, kP256, "", "PEM"));
  ASSERT_TRUE(Csr::parse(base::view(pem)).ok());
  expect_error(Csr::parse(base::view(pem + "junk after the block\n")), ErrorCode::Malformed,
               "CSR PEM is malformed: PEM data has text outside the PEM block");
  expect_error(Csr::parse(base::view("Subject: me\n" + pem)), ErrorCode::Malformed,
               "CSR PEM is malformed: PEM data has text outside the PEM block ('Subject: me");
}

TEST(CsrRefusal, PemWithBadBase64) {
  TempDir dir;
  std::string pem = base::to_string(openssl_csr(dir, kP256, "", "PEM"));
  pem[40] = '*';
  expect_error(Csr::parse(base::view(pem)), ErrorCode::Malformed,
               "CSR PEM is malformed: PEM block 'CERTIFICATE REQUEST' has a body that is not valid base64");
}

TEST(CsrRefusal, PemWithTwoRequests) {
  TempDir dir;
  const std::string pem = base::to_string(openssl_csr(dir, kP256, "", "PEM"));
  expect_error(Csr::parse(base::view(pem + pem)), ErrorCode::Malformed, "send exactly one");
}

// --- Building CSRs ----------------------------------------------------------

TEST(CsrBuild, EncodedAndSignedCsrVerifiesWithOpenssl) {
  for (auto alg : {KeyAlgorithm::EcP256, KeyAlgorithm::Rsa2048, KeyAlgorithm::Ed25519}) {
    SCOPED_TRACE(std::string(base::to_string(alg)));
    TempDir dir;
    const TestKey key = TestKey::generate(alg);
    Name subject;
    ASSERT_TRUE(subject.add(oid::kOrganization, "Acme").ok());
    ASSERT_TRUE(subject.add(oid::kSerialNumber, "SN-7").ok());
    SubjectAltNames san;
    san.dns = {"dev.example.com"};
    const std::vector<Extension> exts = {ext::subject_alt_name(san).value(), ext::key_usage(kDigitalSignature)};
    auto info = encode_csr_info(subject, key.spki(), exts, std::string("pass word"));
    ASSERT_TRUE(info.ok()) << info.error().describe();
    const auto sig_alg = base::default_signature_algorithm(alg);
    auto der = assemble_csr(info.value(), sig_alg, key.sign(info.value(), sig_alg));
    ASSERT_TRUE(der.ok()) << der.error().describe();

    write_file(dir / "r.der", der.value());
    const auto r = hallmark::testing::run("openssl req -inform DER -in " + q(dir / "r.der") + " -verify -noout -text");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("verify OK"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.out.find("challengePassword"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("DNS:dev.example.com"), std::string::npos) << r.out;

    auto csr = Csr::parse(der.value());
    ASSERT_TRUE(csr.ok()) << csr.error().describe();
    EXPECT_EQ(csr->subject(), subject);
    EXPECT_EQ(csr->requested_extensions(), exts);
    EXPECT_EQ(csr->challenge_password(), "pass word");
    EXPECT_EQ(csr->key_algorithm(), alg);
  }
}

TEST(CsrBuild, KeyEncryptionRequestRoundTripsAndOpensslReadsIt) {
  const TestKey key = TestKey::generate(KeyAlgorithm::EcP256);
  const auto sign = [&](const Bytes& info) {
    return assemble_csr(info, base::SignatureAlgorithm::EcdsaSha256,
                        key.sign(info, base::SignatureAlgorithm::EcdsaSha256))
        .value();
  };
  for (auto kind : {KeyEncryptionRequest::Kind::Symmetric, KeyEncryptionRequest::Kind::Asymmetric}) {
    const KeyEncryptionRequest want{kind, Bytes{0xc0, 0xff, 0xee}};
    auto info = encode_csr_info(Name{}, key.spki(), {}, std::nullopt, want);
    ASSERT_TRUE(info.ok()) << info.error().describe();
    const Bytes der = sign(info.value());
    TempDir dir;
    write_file(dir / "r.der", der);
    const auto r = hallmark::testing::run("openssl req -inform DER -in " + q(dir / "r.der") + " -verify -noout");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    auto csr = Csr::parse(der);
    ASSERT_TRUE(csr.ok()) << csr.error().describe();
    ASSERT_TRUE(csr->key_encryption().has_value());
    EXPECT_EQ(csr->key_encryption()->kind, kind);
    EXPECT_EQ(csr->key_encryption()->key_id, want.key_id);
  }
  // Empty or oversized identifiers cannot be encoded.
  EXPECT_FALSE(encode_csr_info(Name{}, key.spki(), {}, std::nullopt,
                               KeyEncryptionRequest{KeyEncryptionRequest::Kind::Symmetric, Bytes{}})
                   .ok());
  EXPECT_FALSE(encode_csr_info(Name{}, key.spki(), {}, std::nullopt,
                               KeyEncryptionRequest{KeyEncryptionRequest::Kind::Symmetric, Bytes(65, 1)})
                   .ok());
}

TEST(CsrBuild, WithoutAttributesTheSetIsEmpty) {
  const TestKey key = TestKey::generate(KeyAlgorithm::EcP256);
  const Bytes info = encode_csr_info(Name{}, key.spki()).value();
  EXPECT_EQ(base::hex_encode(base::ByteView(info).last(2)), "a000");
  const Bytes der =
      assemble_csr(info, base::SignatureAlgorithm::EcdsaSha256, key.sign(info, base::SignatureAlgorithm::EcdsaSha256))
          .value();
  EXPECT_TRUE(Csr::parse(der).ok());
  EXPECT_FALSE(encode_csr_info(Name{}, Bytes{}).ok());
  EXPECT_FALSE(encode_csr_info(Name{}, key.spki(), {}, std::string()).ok());
}
