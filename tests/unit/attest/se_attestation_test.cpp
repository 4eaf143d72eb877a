// SeAttestationVerifier over evidence made by the software SE (device/secure_element.h):
// each failed check is reported as that check, and the path rules are those of IDevID chains.
#include "attest/se_attestation.h"

#include <gtest/gtest.h>

#include "base/files.h"
#include "device/secure_element.h"
#include "keys/software_key_store.h"
#include "support/test_support.h"

namespace hallmark::attest {
namespace {

class SeAttestationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(device::se_vendor_init(m_tmp / "vendor", "Acme Secure", m_rng, m_system).ok());
    ASSERT_TRUE(device::se_vendor_init(m_tmp / "rogue", "Rogue", m_rng, m_system).ok());
    m_nonce = m_rng.bytes(kSeNonceSize);
    auto dev = device::se_make_device(m_tmp / "vendor", "SN-1", m_nonce, m_rng, m_system);
    ASSERT_TRUE(dev.ok()) << dev.error().detail;
    m_device = std::move(dev).value();
    m_evidence = {m_nonce, m_device.signature, m_device.chain};
  }

  SeAttestationVerifier verifier(const std::string& vendor = "vendor") {
    auto pem = base::read_file(m_tmp / vendor / device::kSeVendorRoot, 1 << 20);
    auto root = pkix::Certificate::parse(pem.value());
    return SeAttestationVerifier({{vendor, root.value()}}, m_system);
  }

  testing::TempDir m_tmp;
  base::SystemRng m_rng;
  base::SystemClock m_system;
  base::Bytes m_nonce;
  device::SeDevice m_device;
  SeEvidence m_evidence;
};

TEST_F(SeAttestationTest, AcceptsTheSeKeysSignatureOverTheNonceWithTheVendorChain) {
  const auto v = verifier().verify(m_evidence, m_device.key->public_key_der());
  EXPECT_TRUE(v.ok()) << v.detail;
  EXPECT_EQ(v.vendor_root, "vendor");
  EXPECT_NE(v.leaf_subject.find("SN-1"), std::string::npos);
}

TEST_F(SeAttestationTest, TheSignedMessageIsTheContextFollowedByTheNonce) {
  const auto m = se_attestation_message(m_nonce);
  ASSERT_EQ(m.size(), 26u + kSeNonceSize);
  EXPECT_EQ(std::string(m.begin(), m.begin() + 26), "hallmark-se-attestation-v1");
  EXPECT_TRUE(std::equal(m_nonce.begin(), m_nonce.end(), m.begin() + 26));
}

TEST_F(SeAttestationTest, RefusesAChainToAnotherVendor) {
  const auto v = verifier("rogue").verify(m_evidence, m_device.key->public_key_der());
  EXPECT_EQ(v.check, SeCheck::Chain) << v.detail;
  EXPECT_EQ(SeAttestationVerifier({}, m_system).verify(m_evidence, m_device.key->public_key_der()).check,
            SeCheck::Chain);
}

TEST_F(SeAttestationTest, RefusesAKeyOtherThanTheAttestedOne) {
  auto other = keys::generate_ephemeral(base::KeyAlgorithm::EcP256);
  const auto v = verifier().verify(m_evidence, (*other)->public_key_der());
  EXPECT_EQ(v.check, SeCheck::KeyMismatch) << v.detail;
}

TEST_F(SeAttestationTest, RefusesASignatureOverAnotherNonceOrByAnotherKey) {
  auto ev = m_evidence;
  ev.nonce = m_rng.bytes(kSeNonceSize);
  EXPECT_EQ(verifier().verify(ev, m_device.key->public_key_der()).check, SeCheck::Signature);
  auto other = keys::generate_ephemeral(base::KeyAlgorithm::EcP256);
  ev = m_evidence;
  ev.signature = device::se_sign_nonce(**other, m_nonce).value();
  EXPECT_EQ(verifier().verify(ev, m_device.key->public_key_der()).check, SeCheck::Signature);
}

TEST_F(SeAttestationTest, RefusesMalformedEvidence) {
  auto ev = m_evidence;
  ev.nonce.pop_back();
  EXPECT_EQ(verifier().verify(ev, m_device.key->public_key_der()).check, SeCheck::Malformed);
  ev = m_evidence;
  ev.chain.clear();
  EXPECT_EQ(verifier().verify(ev, m_device.key->public_key_der()).check, SeCheck::Malformed);
  ev = m_evidence;
  ev.chain[0] = base::to_bytes("not a certificate");
  EXPECT_EQ(verifier().verify(ev, m_device.key->public_key_der()).check, SeCheck::Malformed);
  ev = m_evidence;
  ev.signature.clear();
  EXPECT_EQ(verifier().verify(ev, m_device.key->public_key_der()).check, SeCheck::Malformed);
}

TEST_F(SeAttestationTest, RefusesAnAttestationCertificateNotYetValid) {
  base::FixedClock past(m_system.now() - std::chrono::days(2));
  auto pem = base::read_file(m_tmp / "vendor" / device::kSeVendorRoot, 1 << 20);
  SeAttestationVerifier v({{"vendor", pkix::Certificate::parse(pem.value()).value()}}, past);
  const auto r = v.verify(m_evidence, m_device.key->public_key_der());
  EXPECT_EQ(r.check, SeCheck::Chain);
  EXPECT_NE(r.detail.find("not yet valid"), std::string::npos) << r.detail;
}

}  // namespace
}  // namespace hallmark::attest
