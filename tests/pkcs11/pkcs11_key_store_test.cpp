// keys/pkcs11: keys generated in a real SoftHSM2 token, signing checked with
// OpenSSL, the token's view checked with pkcs11-tool, and every kind of bad
// reference refused with a clear error.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "base/crypto.h"
#include "keys/key_store.h"
#include "keys/pkcs11_key_store.h"
#include "keys/pkcs11_uri.h"
#include "pkcs11/token_fixture.h"

namespace hallmark::testing {
namespace {

using base::ErrorCode;
using base::KeyAlgorithm;

class Pkcs11KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { use_test_token(); }
};

TEST_F(Pkcs11KeyStoreTest, GeneratedKeysOfEverySupportedTypeSignAndOpenSslVerifies) {
  for (auto alg : {KeyAlgorithm::EcP256, KeyAlgorithm::EcP384, KeyAlgorithm::Rsa2048, KeyAlgorithm::Rsa3072}) {
    SCOPED_TRACE(std::string(base::to_string(alg)));
    const auto uri = token_uri(unique_label("sign"));
    auto key = keys::pkcs11_generate(uri, alg);
    ASSERT_TRUE(key.ok()) << key.error().describe();
    EXPECT_EQ(key.value()->key_algorithm(), alg);
    EXPECT_TRUE(keys::is_pkcs11_uri(key.value()->reference()));
    const base::Bytes message{'t', 'b', 's'};
    auto sig = key.value()->sign(message);
    ASSERT_TRUE(sig.ok()) << sig.error().describe();
    auto ok =
        base::verify_signature(key.value()->public_key_der(), key.value()->signature_algorithm(), message, sig.value());
    EXPECT_TRUE(ok.ok()) << ok.error().describe();

    // Opened again by its URI: the same public key, and it still signs.
    auto again = keys::pkcs11_load(uri);
    ASSERT_TRUE(again.ok()) << again.error().describe();
    EXPECT_EQ(again.value()->public_key_der(), key.value()->public_key_der());
    auto sig2 = again.value()->sign(message);
    ASSERT_TRUE(sig2.ok());
    EXPECT_TRUE(base::verify_signature(again.value()->public_key_der(), again.value()->signature_algorithm(), message,
                                       sig2.value())
                    .ok());
  }
}

TEST_F(Pkcs11KeyStoreTest, PkcsToolShowsThePrivateKeySensitiveAndNeverExtractable) {
  const auto label = unique_label("sensitive");
  ASSERT_TRUE(keys::pkcs11_generate(token_uri(label), KeyAlgorithm::EcP256).ok());
  auto r = list_private_keys();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto at = r.out.find("label:      " + label);
  ASSERT_NE(at, std::string::npos) << r.out;
  const auto block = r.out.substr(at, r.out.find("Private Key Object", at) - at);
  EXPECT_NE(block.find("sensitive"), std::string::npos) << block;
  EXPECT_NE(block.find("never extractable"), std::string::npos) << block;
}

TEST_F(Pkcs11KeyStoreTest, SigningFromManyThreadsSharesThePoolAndEverySignatureVerifies) {
  auto key = keys::pkcs11_generate(token_uri(unique_label("threads")), KeyAlgorithm::EcP256);
  ASSERT_TRUE(key.ok()) << key.error().describe();
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const base::Bytes m{static_cast<std::uint8_t>(t), static_cast<std::uint8_t>(i)};
        auto sig = key.value()->sign(m);
        if (sig.ok() &&
            base::verify_signature(key.value()->public_key_der(), key.value()->signature_algorithm(), m, sig.value())
                .ok()) {
          ++good;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 200);
}

TEST_F(Pkcs11KeyStoreTest, GeneratingOverAnExistingLabelIsRefused) {
  const auto uri = token_uri(unique_label("dup"));
  ASSERT_TRUE(keys::pkcs11_generate(uri, KeyAlgorithm::EcP256).ok());
  auto again = keys::pkcs11_generate(uri, KeyAlgorithm::EcP256);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::AlreadyExists);
}

TEST_F(Pkcs11KeyStoreTest, MissingModuleIsNotFoundAndNamesThePath) {
  auto r = keys::pkcs11_load(token_uri("x", "hallmark-test", "/nonexistent/libnothing.so"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_NE(r.error().detail.find("/nonexistent/libnothing.so"), std::string::npos);
}

TEST_F(Pkcs11KeyStoreTest, MissingTokenIsNotFoundAndListsThePresentTokens) {
  auto r = keys::pkcs11_load(token_uri("x", "no-such-token"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_NE(r.error().detail.find("no-such-token"), std::string::npos);
  EXPECT_NE(r.error().detail.find("hallmark-test"), std::string::npos) << r.error().detail;
}

TEST_F(Pkcs11KeyStoreTest, MissingObjectIsNotFound) {
  auto r = keys::pkcs11_load(token_uri(unique_label("absent")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_NE(r.error().detail.find("no private key labelled"), std::string::npos);
}

TEST_F(Pkcs11KeyStoreTest, WrongPinIsUnauthenticatedAndThePinIsNotInTheMessage) {
  // A separate token: the test token is already logged in by this process.
  TempDir tmp;
  write_text(tmp / "pin", "999999\n");
  auto r = keys::pkcs11_load(token_uri("x", "hallmark-site", kSoftHsmModule, (tmp / "pin").string()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unauthenticated);
  EXPECT_EQ(r.error().describe().find("999999"), std::string::npos);
  // A wrong PIN is never retried (tokens lock after a few): the next call fails the same way.
  auto again = keys::pkcs11_load(token_uri("x", "hallmark-site", kSoftHsmModule, (tmp / "pin").string()));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::Unauthenticated);
}

TEST_F(Pkcs11KeyStoreTest, PinComesFromTheEnvironmentWhenTheUriHasNoPinSource) {
  const auto label = unique_label("envpin");
  ASSERT_TRUE(keys::pkcs11_generate(token_uri(label), KeyAlgorithm::EcP256).ok());
  auto none = keys::pkcs11_load(token_uri(label, "hallmark-test", kSoftHsmModule, ""));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(none.error().detail.find("HALLMARK_PKCS11_PIN"), std::string::npos);
  ::setenv("HALLMARK_PKCS11_PIN", token_pin().c_str(), 1);
  auto r = keys::pkcs11_load(token_uri(label, "hallmark-test", kSoftHsmModule, ""));
  ::unsetenv("HALLMARK_PKCS11_PIN");
  EXPECT_TRUE(r.ok()) << r.error().describe();
}

TEST_F(Pkcs11KeyStoreTest, KeyStoreSendsPkcs11UrisToTheTokenAndNamesToFiles) {
  TempDir tmp;
  keys::KeyStore store(tmp.path(), "a passphrase");
  const auto uri = token_uri(unique_label("facade"));
  auto hsm = store.generate(uri, KeyAlgorithm::EcP256);
  ASSERT_TRUE(hsm.ok()) << hsm.error().describe();
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));  // no key file for a token key
  auto file = store.generate("plain", KeyAlgorithm::EcP256);
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE(std::filesystem::exists(tmp / "plain.key"));
  auto loaded = store.load(uri);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.value()->public_key_der(), hsm.value()->public_key_der());
}

TEST(Pkcs11Uri, ParsesPathAndQueryAttributesWithPercentEscapes) {
  auto u = keys::Pkcs11Uri::parse(
      "pkcs11:token=My%20CA;object=root%3Bkey?module-path=/usr/lib/x.so&pin-source=file:/etc/pin");
  ASSERT_TRUE(u.ok()) << u.error().describe();
  EXPECT_EQ(u->token, "My CA");
  EXPECT_EQ(u->object, "root;key");
  EXPECT_EQ(u->module_path, "/usr/lib/x.so");
  EXPECT_EQ(u->pin_source, "file:/etc/pin");
  auto round = keys::Pkcs11Uri::parse(u->text());
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(round->object, "root;key");
  EXPECT_EQ(round->token, "My CA");
}

TEST(Pkcs11Uri, RefusesAPinValueAndMissingPartsWithTheReason) {
  struct Case {
    const char* uri;
    const char* says;
  } cases[] = {
      {"pkcs11:token=a;object=b?module-path=/m.so&pin-value=1234", "PIN inside the URI"},
      {"pkcs11:token=a;object=b;pin-value=1234?module-path=/m.so", "PIN inside the URI"},
      {"pkcs11:object=b?module-path=/m.so", "no token"},
      {"pkcs11:token=a;object=b", "no module"},
      {"pkcs11:token=a;bogus=1?module-path=/m.so", "unknown"},
      {"pkcs11:token=a%2?module-path=/m.so", "%-escape"},
      {"file:/x", "starts with 'pkcs11:'"},
  };
  for (const auto& c : cases) {
    auto u = keys::Pkcs11Uri::parse(c.uri);
    ASSERT_FALSE(u.ok()) << c.uri;
    EXPECT_EQ(u.error().code, ErrorCode::InvalidArgument) << c.uri;
    EXPECT_NE(u.error().detail.find(c.says), std::string::npos) << c.uri << ": " << u.error().detail;
  }
}

}  // namespace
}  // namespace hallmark::testing
