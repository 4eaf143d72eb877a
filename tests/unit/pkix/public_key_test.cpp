#include "pkix/public_key.h"

#include <gtest/gtest.h>

#include <cctype>

#include "pkix_test_util.h"

using namespace hallmark;
using namespace hallmark::pkix;
using namespace hallmark::pkix::testutil;
using base::Bytes;
using base::ErrorCode;
using base::KeyAlgorithm;

namespace {

// SubjectPublicKeyInfo DER of a key made by `openssl <gen_args>`.
Bytes openssl_spki(const std::string& gen_command) {
  hallmark::testing::TempDir dir;
  must_run(gen_command + " -out " + q(dir / "k.pem"));
  must_run("openssl pkey -in " + q(dir / "k.pem") + " -pubout -outform DER -out " + q(dir / "p.der"));
  return read_file(dir / "p.der");
}

base::Result<KeyAlgorithm> algorithm_of(const Bytes& spki) {
  auto key = PublicKey::from_spki_der(spki);
  if (!key.ok()) return key.take_error();
  return key->algorithm();
}

}  // namespace

TEST(PublicKey, RecognisesTheAcceptedAlgorithms) {
  EXPECT_EQ(algorithm_of(openssl_spki("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256")).value(),
            KeyAlgorithm::EcP256);
  EXPECT_EQ(algorithm_of(openssl_spki("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384")).value(),
            KeyAlgorithm::EcP384);
  EXPECT_EQ(algorithm_of(openssl_spki("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048")).value(),
            KeyAlgorithm::Rsa2048);
  EXPECT_EQ(algorithm_of(openssl_spki("openssl genpkey -algorithm ED25519")).value(), KeyAlgorithm::Ed25519);
}

TEST(PublicKey, ExplicitEcParametersAreUnsupportedWithTheirOwnMessage) {
  auto r = algorithm_of(openssl_spki("openssl ecparam -name prime256v1 -param_enc explicit -genkey"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unsupported);
  EXPECT_NE(r.error().detail.find("uses explicit EC parameters; use a named curve"), std::string::npos)
      << r.error().detail;
}

TEST(PublicKey, OtherCurvesAreUnsupported) {
  auto r = algorithm_of(openssl_spki("openssl ecparam -name secp256k1 -genkey"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unsupported);
  EXPECT_NE(r.error().detail.find("EC key on curve secp256k1"), std::string::npos) << r.error().detail;
}

TEST(PublicKey, ShortRsaKeyIsTooShort) {
  auto r = algorithm_of(openssl_spki("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unsupported);
  EXPECT_EQ(r.error().detail, "RSA-1024 key is too short: RSA keys must be at least 2048 bits");
}

TEST(PublicKey, OtherKeyTypesAreUnsupported) {
  auto r = algorithm_of(openssl_spki("openssl genpkey -algorithm X25519"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unsupported);
  EXPECT_NE(r.error().detail.find("public key type X25519"), std::string::npos) << r.error().detail;
  // A key type OpenSSL 3.0 does not know still gets a reason rather than "malformed".
  const Bytes unknown = {0x30, 0x11, 0x30, 0x09, 0x06, 0x07, 0x2B, 0x06, 0x01, 0x04,
                         0x01, 0x82, 0x37, 0x03, 0x04, 0x00, 0x01, 0x02, 0x03};
  auto u = algorithm_of(unknown);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, ErrorCode::Unsupported);
}

TEST(PublicKey, MalformedInputIsRefused) {
  Bytes spki = openssl_spki("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256");
  Bytes trailing = spki;
  trailing.push_back(0x00);
  EXPECT_EQ(PublicKey::from_spki_der(trailing).error().code, ErrorCode::Malformed);
  EXPECT_EQ(PublicKey::from_spki_der(base::view("garbage")).error().code, ErrorCode::Malformed);
  Bytes off_curve = spki;
  off_curve.back() ^= 0x01;  // the point's y no longer matches x
  EXPECT_EQ(PublicKey::from_spki_der(off_curve).error().code, ErrorCode::Malformed);
}

TEST(PublicKey, KeyIdentifierIsSha1OfTheKeyBitsLikeOpenssl) {
  hallmark::testing::TempDir dir;
  must_run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + q(dir / "k.pem") +
           " -subj /CN=t -days 1 -out " + q(dir / "c.pem"));
  const std::string text = must_run("openssl x509 -in " + q(dir / "c.pem") + " -noout -ext subjectKeyIdentifier");
  must_run("openssl pkey -in " + q(dir / "k.pem") + " -pubout -outform DER -out " + q(dir / "p.der"));
  auto key = PublicKey::from_spki_der(read_file(dir / "p.der"));
  ASSERT_TRUE(key.ok());
  std::string expected;
  for (char c : text.substr(text.find('\n') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) expected.push_back(static_cast<char>(std::tolower(c)));
  }
  EXPECT_EQ(base::hex_encode(key->key_identifier()), expected);
  EXPECT_EQ(key->fingerprint(), base::sha256(key->spki_der()));
}

TEST(PublicKey, VerifyAcceptsAGoodSignatureAndRefusesAnAlteredMessage) {
  for (auto alg : {KeyAlgorithm::EcP256, KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa2048}) {
    auto k = TestKey::generate(alg);
    auto key = PublicKey::from_spki_der(k.spki()).value();
    const auto sig_alg = base::default_signature_algorithm(alg);
    const Bytes sig = k.sign(base::view("hello"), sig_alg);
    EXPECT_TRUE(key.verify(sig_alg, base::view("hello"), sig).ok());
    auto bad = key.verify(sig_alg, base::view("hellO"), sig);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, ErrorCode::BadSignature);
  }
}
