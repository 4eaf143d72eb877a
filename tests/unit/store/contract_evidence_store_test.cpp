// Contract of factory::EvidenceArchive and the evidence half of
// ImportLedger::import_certificate (migration 6; see store_contract.h): evidence
// is filed only under the SHA-256 of its own octets, and duplicate hardware
// identities are found through the certificates that name the evidence.
#include "base/crypto.h"
#include "store_contract.h"

namespace hallmark::store {
namespace {

using base::ErrorCode;
using testing::event;
using testing::kT0;
using testing::pending_entry;

class EvidenceStoreContract : public testing::StoreContract {
 protected:
  static factory::EvidenceRecord record(base::Bytes content, const std::string& hardware_id, int seconds = 0) {
    factory::EvidenceRecord r;
    r.digest = base::hex_encode(base::sha256(content));
    r.type = "se";
    r.content = std::move(content);
    r.hardware_id = hardware_id;
    r.verified_at = kT0 + std::chrono::seconds(seconds);
    return r;
  }
  static ca::LedgerEntry idevid(const std::string& serial, const std::string& device, const std::string& digest) {
    auto e = pending_entry(serial, device);
    e.profile = "idevid";
    e.issuer = "site:s1";
    e.channel = audit::Channel::Factory;
    e.origin = "site:s1/station:1/batch:b";
    e.key_fingerprint = "key-" + device;
    e.evidence_digest = digest;
    e.der = {0x30, 0x03, 0x01, 0x02, 0x03};
    return e;
  }
};

TEST_P(EvidenceStoreContract, StoresTheExactOctetsUnderTheirDigestAndARepeatKeepsTheFirst) {
  // Octets a text column would mangle: NUL, high bytes, a trailing newline.
  const auto first = record({0x7b, 0x00, 0xff, 0x80, 0x22, 0x0a}, "se:aa", 5);
  ASSERT_TRUE(m_store->evidence().add_evidence({first}).ok());
  auto again = first;
  again.hardware_id = "se:bb";
  again.verified_at = kT0 + std::chrono::hours(1);
  ASSERT_TRUE(m_store->evidence().add_evidence({again}).ok());

  auto got = m_store->evidence().find_evidence(first.digest);
  ASSERT_TRUE(got.ok()) << got.error().describe();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->digest, first.digest);
  EXPECT_EQ((*got)->type, "se");
  EXPECT_EQ((*got)->content, first.content);
  EXPECT_EQ((*got)->hardware_id, "se:aa");
  EXPECT_EQ((*got)->verified_at, kT0 + std::chrono::seconds(5));
  EXPECT_EQ(base::hex_encode(base::sha256((*got)->content)), (*got)->digest);

  // Another node sees it too.
  auto other = open_node();
  EXPECT_TRUE(other->evidence().find_evidence(first.digest)->has_value());
  EXPECT_FALSE(m_store->evidence().find_evidence(std::string(64, '0'))->has_value());
}

TEST_P(EvidenceStoreContract, RefusesADigestThatIsNotTheSha256OfTheContentAndStoresNothingOfTheBatch) {
  const auto good = record(base::to_bytes(R"({"type":"se"})"), "se:aa");
  auto forged = record(base::to_bytes(R"({"type":"se","x":1})"), "se:bb");
  forged.digest = good.digest.substr(0, 63) + (good.digest.back() == '0' ? "1" : "0");
  auto s = m_store->evidence().add_evidence({good, forged});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::InvalidArgument);
  EXPECT_FALSE(m_store->evidence().find_evidence(good.digest)->has_value());
  EXPECT_FALSE(m_store->evidence().find_evidence(forged.digest)->has_value());

  auto upper = good;
  upper.digest = base::hex_encode_upper(base::sha256(good.content));
  EXPECT_EQ(m_store->evidence().add_evidence({upper}).error().code, ErrorCode::InvalidArgument);
  auto empty = record({}, "");
  EXPECT_EQ(m_store->evidence().add_evidence({empty}).error().code, ErrorCode::InvalidArgument);
  EXPECT_TRUE(m_store->evidence().add_evidence({}).ok());
}

TEST_P(EvidenceStoreContract, ImportingACertificateStoresItsEvidenceInTheSameTransaction) {
  auto& imports = m_store->imports();
  const auto ev = record(base::to_bytes("evidence-1"), "se:aa");
  ASSERT_TRUE(imports.import_certificate(idevid("AC01", "SN-1", ev.digest), event("imported", "AC01"), &ev).ok());
  EXPECT_TRUE(m_store->evidence().find_evidence(ev.digest)->has_value());
  EXPECT_EQ(m_store->ledger().find("AC01").value()->evidence_digest, ev.digest);

  // The certificate cannot be inserted (serial taken): its evidence is not stored either.
  const auto ev2 = record(base::to_bytes("evidence-2"), "se:bb");
  auto dup = imports.import_certificate(idevid("AC01", "SN-2", ev2.digest), event("imported", "AC01"), &ev2);
  ASSERT_FALSE(dup.ok());
  EXPECT_FALSE(m_store->evidence().find_evidence(ev2.digest)->has_value());
  // Evidence with a wrong digest refuses the import: no certificate, no audit record.
  auto bad = ev2;
  bad.digest = ev.digest;
  ASSERT_FALSE(imports.import_certificate(idevid("AC02", "SN-2", ev.digest), event("imported", "AC02"), &bad).ok());
  EXPECT_FALSE(imports.certificate_known("AC02").value());
  EXPECT_EQ(audit_records().size(), 1u);
}

TEST_P(EvidenceStoreContract, HardwareOwnerIsAnotherDeviceWhoseCertificateNamesEvidenceWithThatIdentity) {
  auto& imports = m_store->imports();
  auto& archive = m_store->evidence();
  const auto ev = record(base::to_bytes("se-evidence-SN-1"), "se:aa");
  ASSERT_TRUE(imports.import_certificate(idevid("AD01", "SN-1", ev.digest), event("imported", "AD01"), &ev).ok());

  EXPECT_EQ(archive.hardware_owner("se:aa", "SN-2").value(), std::optional<std::string>("SN-1"));
  EXPECT_FALSE(archive.hardware_owner("se:aa", "SN-1")->has_value());  // the device itself (e.g. its LDevID)
  EXPECT_FALSE(archive.hardware_owner("se:bb", "SN-2")->has_value());
  EXPECT_FALSE(archive.hardware_owner("", "SN-2")->has_value());

  // Evidence no certificate names (a line refused after its nonce was used)
  // and a pending reservation do not make an owner.
  const auto orphan = record(base::to_bytes("orphan"), "se:cc");
  ASSERT_TRUE(archive.add_evidence({orphan}).ok());
  EXPECT_FALSE(archive.hardware_owner("se:cc", "SN-2")->has_value());
  const auto reserved = record(base::to_bytes("reserved"), "se:dd");
  ASSERT_TRUE(archive.add_evidence({reserved}).ok());
  ASSERT_TRUE(m_store->ledger().reserve(idevid("AD02", "SN-3", reserved.digest), event("signing", "AD02")).ok());
  EXPECT_FALSE(archive.hardware_owner("se:dd", "SN-2")->has_value());

  // Two devices whose evidence differs but names the same hardware.
  const auto clone = record(base::to_bytes("se-evidence-SN-4"), "se:aa");
  ASSERT_TRUE(imports.import_certificate(idevid("AD04", "SN-4", clone.digest), event("imported", "AD04"), &clone).ok());
  EXPECT_EQ(archive.hardware_owner("se:aa", "SN-4").value(), std::optional<std::string>("SN-1"));
  EXPECT_EQ(archive.hardware_owner("se:aa", "SN-1").value(), std::optional<std::string>("SN-4"));
}

HALLMARK_STORE_CONTRACT(EvidenceStoreContract);

}  // namespace
}  // namespace hallmark::store
