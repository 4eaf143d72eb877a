// Evidence records (factory/evidence.h): the digest is SHA-256 of the very
// octets stored, the hardware identity is the attested key's SPKI digest, and
// stored content is decoded (or refused) the same way at the operator.
#include "factory/evidence.h"

#include <gtest/gtest.h>

#include "base/crypto.h"
#include "device/secure_element.h"
#include "pkix/certificate.h"
#include "support/test_support.h"

namespace hallmark::factory {
namespace {

using nlohmann::json;

const base::TimePoint kT0{std::chrono::seconds{1'790'000'000}};

class EvidenceRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(device::se_vendor_init(m_dir / "vendor", "Acme Secure", m_rng, m_clock).ok());
    auto dev = device::se_make_device(m_dir / "vendor", "SN-1", base::Bytes(32, 0x5a), m_rng, m_clock);
    ASSERT_TRUE(dev.ok()) << dev.error().describe();
    m_device = std::move(dev).value();
    json chain = json::array();
    for (const auto& der : m_device.chain) chain.push_back(base::base64_encode(der));
    m_evidence = {{"type", "se"},
                  {"nonce", base::hex_encode(base::Bytes(32, 0x5a))},
                  {"signature", base::base64_encode(m_device.signature)},
                  {"chain", chain}};
  }

  hallmark::testing::TempDir m_dir;
  base::SystemRng m_rng;
  base::SystemClock m_clock;
  device::SeDevice m_device;
  json m_evidence;
};

TEST(CanonicalEvidence, IsCompactJsonWithSortedKeysAndTheRecordDigestIsItsSha256) {
  const auto parsed = json::parse(R"({ "type" : "se", "chain": ["AA=="], "nonce":"00" })");
  const auto content = canonical_evidence(parsed);
  EXPECT_EQ(base::to_string(content), R"({"chain":["AA=="],"nonce":"00","type":"se"})");
  const auto r = make_evidence_record("se", content, "se:00", kT0);
  EXPECT_EQ(r.content, content);
  EXPECT_EQ(r.digest, base::hex_encode(base::sha256(content)));
  EXPECT_EQ(r.verified_at, kT0);
  // FIPS 180-2 vector: the digest is plain SHA-256, lower-case hex.
  EXPECT_EQ(evidence_digest(base::view("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(EvidenceRecordTest, TheSeHardwareIdentityIsTheDigestOfTheKeyTheVendorAttested) {
  EvidenceRefusal why;
  auto ev = parse_se_evidence(m_evidence, why);
  ASSERT_TRUE(ev.ok()) << why.reason;
  auto hw = se_hardware_id(ev.value());
  ASSERT_TRUE(hw.ok()) << hw.error().describe();
  EXPECT_EQ(hw.value(), "se:" + base::hex_encode(base::sha256(m_device.key->public_key_der())));

  auto broken = ev.value();
  broken.chain.front() = base::Bytes{0x30, 0x00};
  EXPECT_FALSE(se_hardware_id(broken).ok());
}

TEST_F(EvidenceRecordTest, ContentFromABundleIsDecodedAsSeEvidenceOrRefused) {
  const auto content = canonical_evidence(m_evidence);
  auto r = evidence_record_from("se", content, kT0);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->digest, evidence_digest(content));
  EXPECT_EQ(r->hardware_id, "se:" + base::hex_encode(base::sha256(m_device.key->public_key_der())));
  EXPECT_EQ(r->verified_at, kT0);

  EXPECT_EQ(evidence_record_from("se", base::to_bytes("not json"), kT0).error().code, base::ErrorCode::Malformed);
  EXPECT_EQ(evidence_record_from("tpm", content, kT0).error().code, base::ErrorCode::Malformed);
  auto no_chain = m_evidence;
  no_chain.erase("chain");
  EXPECT_EQ(evidence_record_from("se", canonical_evidence(no_chain), kT0).error().code, base::ErrorCode::Malformed);
}

TEST_F(EvidenceRecordTest, TheSummaryNamesTheChainTheAttestationCertificateAndTheNonceAndRecomputesTheDigest) {
  const auto record = make_evidence_record("se", canonical_evidence(m_evidence), "se:x", kT0);
  auto s = summarize_evidence(record);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_TRUE(s->digest_matches);
  EXPECT_EQ(s->nonce, base::hex_encode(base::Bytes(32, 0x5a)));
  const auto leaf = pkix::Certificate::parse(m_device.chain.front()).value();
  EXPECT_EQ(s->attestation_serial, leaf.serial_hex());
  EXPECT_EQ(s->attestation_fingerprint, base::hex_encode(leaf.fingerprint_sha256()));
  ASSERT_EQ(s->chain_subjects.size(), m_device.chain.size());
  EXPECT_EQ(s->chain_subjects.front(), leaf.subject().to_string());
  EXPECT_NE(s->chain_subjects.back().find("SE Root CA"), std::string::npos);

  // Octets changed after the fact no longer match the digest they are filed under.
  auto edited = record;
  auto other_nonce = m_evidence;
  other_nonce["nonce"] = base::hex_encode(base::Bytes(32, 0x5b));
  edited.content = canonical_evidence(other_nonce);
  auto t = summarize_evidence(edited);
  ASSERT_TRUE(t.ok()) << t.error().describe();
  EXPECT_FALSE(t->digest_matches);

  // A kind Hallmark does not know is refused as such; SE octets filed as TPM evidence are malformed TPM evidence.
  auto other = record;
  other.type = "quantum";
  EXPECT_EQ(summarize_evidence(other).error().code, base::ErrorCode::Unsupported);
  other.type = "tpm";
  EXPECT_EQ(summarize_evidence(other).error().code, base::ErrorCode::Malformed);
}

}  // namespace
}  // namespace hallmark::factory
