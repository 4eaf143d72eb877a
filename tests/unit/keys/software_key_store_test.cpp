#include "keys/software_key_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "base/crypto.h"
#include "support/test_support.h"

namespace {

using hallmark::base::ErrorCode;
using hallmark::base::KeyAlgorithm;
using hallmark::base::SignatureAlgorithm;
using hallmark::base::view;
using hallmark::keys::SoftwareKeyStore;
using hallmark::testing::TempDir;

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST(SoftwareKeyStore, GenerateWritesAnEncryptedPkcs8FileReadableOnlyByTheOwner) {
  TempDir dir;
  SoftwareKeyStore store(dir / "keys", "correct horse battery staple");
  auto signer = store.generate("root", KeyAlgorithm::EcP256);
  ASSERT_TRUE(signer.ok()) << signer.error().describe();

  const auto path = store.path_of("root");
  EXPECT_EQ(path, dir / "keys" / "root.key");
  EXPECT_EQ((*signer)->reference(), path.string());
  EXPECT_EQ(mode_of(path), 0600u);

  const auto text = hallmark::testing::read_text(path);
  EXPECT_NE(text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----"), std::string::npos) << text;
  EXPECT_EQ(text.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);

  // A third-party tool agrees: PBES2 with AES-256-CBC, and it opens with the passphrase only.
  auto info = hallmark::testing::run("openssl asn1parse -in " + hallmark::testing::shell_quote(path.string()));
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("PBES2"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("aes-256-cbc"), std::string::npos) << info.out;
  auto opened = hallmark::testing::run("openssl pkey -noout -in " + hallmark::testing::shell_quote(path.string()) +
                                       " -passin pass:'correct horse battery staple'");
  EXPECT_EQ(opened.exit_code, 0) << opened.err;
  auto refused = hallmark::testing::run("openssl pkey -noout -in " + hallmark::testing::shell_quote(path.string()) +
                                        " -passin pass:wrong");
  EXPECT_NE(refused.exit_code, 0);
}

TEST(SoftwareKeyStore, LoadWithTheRightPassphraseSignsVerifiably) {
  TempDir dir;
  SoftwareKeyStore store(dir.path(), "s3cret");
  auto generated = store.generate("ca", KeyAlgorithm::EcP384);
  ASSERT_TRUE(generated.ok()) << generated.error().describe();

  auto loaded = store.load("ca");
  ASSERT_TRUE(loaded.ok()) << loaded.error().describe();
  EXPECT_EQ((*loaded)->public_key_der(), (*generated)->public_key_der());
  EXPECT_EQ((*loaded)->key_algorithm(), KeyAlgorithm::EcP384);
  EXPECT_EQ((*loaded)->signature_algorithm(), SignatureAlgorithm::EcdsaSha384);

  const auto message = view("to be signed");
  auto sig = (*loaded)->sign(message);
  ASSERT_TRUE(sig.ok()) << sig.error().describe();
  EXPECT_TRUE(
      hallmark::base::verify_signature((*generated)->public_key_der(), SignatureAlgorithm::EcdsaSha384, message, *sig)
          .ok());
  // ... and the signature is bound to the message.
  auto other = hallmark::base::verify_signature((*generated)->public_key_der(), SignatureAlgorithm::EcdsaSha384,
                                                view("something else"), *sig);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::BadSignature);
}

TEST(SoftwareKeyStore, LoadByPathWorksLikeLoadByName) {
  TempDir dir;
  SoftwareKeyStore store(dir.path(), "pw");
  ASSERT_TRUE(store.generate("k", KeyAlgorithm::EcP256).ok());
  auto loaded = store.load(store.path_of("k").string());
  ASSERT_TRUE(loaded.ok()) << loaded.error().describe();
}

TEST(SoftwareKeyStore, LoadWithAWrongPassphraseIsUnauthenticated) {
  TempDir dir;
  SoftwareKeyStore writer(dir.path(), "right");
  ASSERT_TRUE(writer.generate("k", KeyAlgorithm::EcP256).ok());
  SoftwareKeyStore reader(dir.path(), "wrong");
  auto loaded = reader.load("k");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::Unauthenticated);
  // The detail names the file but never the passphrase.
  EXPECT_NE(loaded.error().detail.find("k.key"), std::string::npos);
  EXPECT_EQ(loaded.error().describe().find("right"), std::string::npos);
}

TEST(SoftwareKeyStore, LoadOfAMissingKeyFails) {
  TempDir dir;
  SoftwareKeyStore store(dir.path(), "pw");
  auto loaded = store.load("absent");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::NotFound);
}

TEST(SoftwareKeyStore, GeneratingTheSameNameTwiceIsAlreadyExistsAndKeepsTheFirstKey) {
  TempDir dir;
  SoftwareKeyStore store(dir.path(), "pw");
  auto first = store.generate("root", KeyAlgorithm::EcP256);
  ASSERT_TRUE(first.ok());
  const auto before = hallmark::testing::read_text(store.path_of("root"));
  auto second = store.generate("root", KeyAlgorithm::EcP256);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::AlreadyExists);
  EXPECT_EQ(hallmark::testing::read_text(store.path_of("root")), before);
}

class EveryAlgorithm : public ::testing::TestWithParam<KeyAlgorithm> {};

TEST_P(EveryAlgorithm, GeneratedKeySignsAndVerifies) {
  const auto alg = GetParam();
  TempDir dir;
  SoftwareKeyStore store(dir.path(), "pw");
  auto stored = store.generate("k", alg);
  ASSERT_TRUE(stored.ok()) << stored.error().describe();
  auto loaded = store.load("k");
  ASSERT_TRUE(loaded.ok()) << loaded.error().describe();
  EXPECT_EQ((*loaded)->key_algorithm(), alg);
  EXPECT_EQ((*loaded)->signature_algorithm(), hallmark::base::default_signature_algorithm(alg));

  const auto message = view("hallmark");
  auto sig = (*loaded)->sign(message);
  ASSERT_TRUE(sig.ok()) << sig.error().describe();
  auto st =
      hallmark::base::verify_signature((*stored)->public_key_der(), (*loaded)->signature_algorithm(), message, *sig);
  EXPECT_TRUE(st.ok()) << st.error().describe();
}

TEST_P(EveryAlgorithm, EphemeralKeySignsAndVerifies) {
  auto signer = hallmark::keys::generate_ephemeral(GetParam());
  ASSERT_TRUE(signer.ok()) << signer.error().describe();
  EXPECT_EQ((*signer)->reference(), "ephemeral");
  const auto message = view("hallmark");
  auto sig = (*signer)->sign(message);
  ASSERT_TRUE(sig.ok()) << sig.error().describe();
  EXPECT_TRUE(
      hallmark::base::verify_signature((*signer)->public_key_der(), (*signer)->signature_algorithm(), message, *sig)
          .ok());
}

INSTANTIATE_TEST_SUITE_P(Keys, EveryAlgorithm,
                         ::testing::Values(KeyAlgorithm::EcP256, KeyAlgorithm::EcP384, KeyAlgorithm::Rsa2048,
                                           KeyAlgorithm::Rsa3072, KeyAlgorithm::Rsa4096, KeyAlgorithm::Ed25519),
                         [](const auto& info) { return std::string(hallmark::base::to_string(info.param)); });

TEST(SoftwareSigner, EcdsaSignaturesAreRawRConcatSOfFixedWidth) {
  for (auto [alg, width] :
       {std::pair{KeyAlgorithm::EcP256, std::size_t{64}}, std::pair{KeyAlgorithm::EcP384, std::size_t{96}}}) {
    auto signer = hallmark::keys::generate_ephemeral(alg);
    ASSERT_TRUE(signer.ok());
    // Many signatures so that short r or s values (leading zero octets) occur.
    for (int i = 0; i < 300; ++i) {
      const std::string msg = "message " + std::to_string(i);
      auto sig = (*signer)->sign(view(msg));
      ASSERT_TRUE(sig.ok());
      ASSERT_EQ(sig->size(), width) << "signature " << i;
      // Not DER: a DER Ecdsa-Sig-Value starts with SEQUENCE (0x30) and is shorter or longer.
      auto der = hallmark::base::ecdsa_raw_to_der(*sig);
      ASSERT_TRUE(der.ok());
      ASSERT_NE(*der, *sig);
    }
  }
}

TEST(SoftwareSigner, Ed25519SignaturesAre64Octets) {
  auto signer = hallmark::keys::generate_ephemeral(KeyAlgorithm::Ed25519);
  ASSERT_TRUE(signer.ok());
  auto sig = (*signer)->sign(view("m"));
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 64u);
}

TEST(ExportUnencryptedPem, RefusesAFileBackedKey) {
  TempDir dir;
  SoftwareKeyStore store(dir.path(), "pw");
  auto signer = store.generate("root", KeyAlgorithm::EcP256);
  ASSERT_TRUE(signer.ok());
  auto pem = hallmark::keys::export_unencrypted_pem(**signer);
  ASSERT_FALSE(pem.ok());
  EXPECT_EQ(pem.error().code, ErrorCode::Forbidden);

  auto loaded = store.load("root");
  ASSERT_TRUE(loaded.ok());
  auto again = hallmark::keys::export_unencrypted_pem(**loaded);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::Forbidden);
}

TEST(ExportUnencryptedPem, RoundTripsAnEphemeralKey) {
  auto signer = hallmark::keys::generate_ephemeral(KeyAlgorithm::EcP256);
  ASSERT_TRUE(signer.ok());
  auto pem = hallmark::keys::export_unencrypted_pem(**signer);
  ASSERT_TRUE(pem.ok()) << pem.error().describe();
  EXPECT_NE(pem->find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto back = hallmark::keys::load_unencrypted_key(view(*pem), "device.pem");
  ASSERT_TRUE(back.ok()) << back.error().describe();
  EXPECT_EQ((*back)->public_key_der(), (*signer)->public_key_der());
  EXPECT_EQ((*back)->reference(), "device.pem");
  // A key loaded from a file (not ephemeral) cannot be exported either.
  EXPECT_FALSE(hallmark::keys::export_unencrypted_pem(**back).ok());
}

TEST(LoadUnencryptedKey, ReadsAKeyMadeByOpenssl) {
  TempDir dir;
  const auto path = dir / "k.pem";
  auto made = hallmark::testing::run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out " +
                                     hallmark::testing::shell_quote(path.string()));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto pem = hallmark::testing::read_text(path);
  auto signer = hallmark::keys::load_unencrypted_key(view(pem), path.string());
  ASSERT_TRUE(signer.ok()) << signer.error().describe();
  EXPECT_EQ((*signer)->key_algorithm(), KeyAlgorithm::EcP384);

  // DER too.
  auto der = hallmark::testing::run("openssl pkey -in " + hallmark::testing::shell_quote(path.string()) +
                                    " -outform DER -out " + hallmark::testing::shell_quote((dir / "k.der").string()));
  ASSERT_EQ(der.exit_code, 0) << der.err;
  const auto der_text = hallmark::testing::read_text(dir / "k.der");
  auto from_der = hallmark::keys::load_unencrypted_key(view(der_text), "k.der");
  ASSERT_TRUE(from_der.ok()) << from_der.error().describe();
  EXPECT_EQ((*from_der)->public_key_der(), (*signer)->public_key_der());
}

TEST(LoadUnencryptedKey, RejectsGarbageAndUnsupportedCurves) {
  auto garbage = hallmark::keys::load_unencrypted_key(view("not a key"), "x");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, ErrorCode::Malformed);

  TempDir dir;
  const auto path = dir / "k.pem";
  auto made = hallmark::testing::run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out " +
                                     hallmark::testing::shell_quote(path.string()));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto k1 = hallmark::keys::load_unencrypted_key(view(hallmark::testing::read_text(path)), "k1");
  ASSERT_FALSE(k1.ok());
  EXPECT_EQ(k1.error().code, ErrorCode::Unsupported);
}

}  // namespace
