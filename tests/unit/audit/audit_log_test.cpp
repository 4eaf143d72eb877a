#include "audit/audit_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "audit_fakes.h"
#include "base/clock.h"

using namespace hallmark;
using namespace hallmark::audit;
using hallmark::audit::testing::MemoryStore;
using hallmark::audit::testing::P256Signer;
using ::testing::HasSubstr;

namespace {

const base::TimePoint kT0 = base::parse_date("2026-03-01T12:00:00Z").value();

Event event(int i) {
  Event e;
  e.actor = "est:device-" + std::to_string(i);
  e.channel = i % 2 == 0 ? Channel::Runtime : Channel::Factory;
  e.action = "signed";
  e.cert_serial = "0A" + std::to_string(i);
  e.profile = "ldevid";
  e.evidence_digest = i % 3 == 0 ? "none" : std::string(64, 'a');
  e.detail = "device SN-" + std::to_string(i);
  return e;
}

// What an attacker with write access to the database does after an edit: make
// every later record consistent again.
void recompute_from(std::vector<Record>& records, std::size_t index) {
  for (std::size_t i = index; i < records.size(); ++i) {
    records[i].prev_hash = i == 0 ? genesis_hash() : records[i - 1].hash;
    records[i].hash = chain_hash(records[i].prev_hash, records[i].sequence, records[i].time, records[i].event);
  }
}

class AuditLogTest : public ::testing::Test {
 protected:
  void append(int n) {
    for (int i = 0; i < n; ++i) {
      clock.set(clock.now() + std::chrono::seconds{1});
      auto r = log.append(event(++appended));
      ASSERT_TRUE(r.ok()) << r.error().describe();
    }
  }
  void checkpoint() {
    auto st = log.checkpoint();
    ASSERT_TRUE(st.ok()) << st.error().describe();
  }
  VerifyReport verify() {
    auto r = log.verify();
    EXPECT_TRUE(r.ok()) << r.error().describe();
    return r.ok() ? r.value() : VerifyReport{};
  }

  MemoryStore store;
  P256Signer signer;
  base::FixedClock clock{kT0};
  AuditLog log{store, &signer, clock, CheckpointPolicy{10, std::chrono::seconds{0}}};
  int appended = 0;
};

}  // namespace

TEST_F(AuditLogTest, EmptyLogWithoutCheckpointsVerifies) {
  const auto report = verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 0u);
  checkpoint();  // nothing to cover
  EXPECT_TRUE(store.checkpoints_.empty());
}

TEST_F(AuditLogTest, AppendSealsRecordsWithTheClockTime) {
  append(2);
  ASSERT_EQ(store.records_.size(), 2u);
  EXPECT_EQ(store.records_[0].sequence, 1u);
  EXPECT_EQ(store.records_[1].sequence, 2u);
  EXPECT_EQ(store.records_[1].time, kT0 + std::chrono::seconds{2});
  EXPECT_EQ(store.records_[1].prev_hash, store.records_[0].hash);
  EXPECT_EQ(store.records_[1].event, event(2));
}

TEST_F(AuditLogTest, CleanChainWithCheckpointsVerifies) {
  append(25);
  checkpoint();
  append(3);
  const auto report = verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 28u);
  EXPECT_EQ(report.checkpoints, 1u);
  EXPECT_EQ(report.last_checkpoint_sequence, 25u);
  ASSERT_TRUE(report.last_checkpoint_time.has_value());
  EXPECT_EQ(*report.last_checkpoint_time, kT0 + std::chrono::seconds{25});
  EXPECT_FALSE(report.first_bad_sequence.has_value());
}

TEST_F(AuditLogTest, CheckpointSignsTheHeadWithTheAuditKey) {
  append(4);
  checkpoint();
  ASSERT_EQ(store.checkpoints_.size(), 1u);
  const auto& cp = store.checkpoints_[0];
  EXPECT_EQ(cp.sequence, 4u);
  EXPECT_EQ(cp.head_hash, store.records_.back().hash);
  EXPECT_EQ(cp.signature_algorithm, "ecdsa-with-SHA256");
  EXPECT_TRUE(base::verify_signature(signer.public_key_der(), base::SignatureAlgorithm::EcdsaSha256,
                                     checkpoint_message(cp.sequence, cp.head_hash, cp.time), cp.signature)
                  .ok());
}

TEST_F(AuditLogTest, CheckpointIsNoOpWhenTheHeadIsAlreadyCovered) {
  append(3);
  checkpoint();
  checkpoint();
  EXPECT_EQ(store.checkpoints_.size(), 1u);
  append(1);
  checkpoint();
  EXPECT_EQ(store.checkpoints_.size(), 2u);
}

TEST_F(AuditLogTest, EditedFieldNamesTheFirstBadRecord) {
  append(10);
  store.records_[6].event.detail = "device SN-forged";
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 7u);
  EXPECT_EQ(report.problem, "record 7 was altered: its hash does not match its contents");
}

TEST_F(AuditLogTest, EditedRecordWithItsOwnHashRecomputedBreaksTheNextLink) {
  append(10);
  auto& r = store.records_[6];
  r.event.cert_serial = "FF";
  r.hash = chain_hash(r.prev_hash, r.sequence, r.time, r.event);
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 8u);
  EXPECT_THAT(report.problem, HasSubstr("record 8 does not link to record 7"));
}

TEST_F(AuditLogTest, EditAndRecomputeOfEveryLaterHashIsCaughtByTheCheckpoint) {
  append(20);
  checkpoint();
  append(5);
  store.records_[11].event.actor = "cli:someone-else";
  recompute_from(store.records_, 11);
  // The chain alone is consistent again: only the signed checkpoint can tell.
  EXPECT_TRUE(verify_chain(store.records_, {}, signer.public_key_der()).ok);
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, HasSubstr("checkpoint at record 20 (signed 2026-03-01T12:00:20Z) "
                                        "does not match record 20: the chain was rewritten"));
  EXPECT_THAT(report.problem, HasSubstr("between 1 and 20"));
}

TEST_F(AuditLogTest, RewriteIsLocatedBetweenTheSurroundingCheckpoints) {
  append(10);
  checkpoint();
  append(10);
  checkpoint();
  store.records_[14].event.detail = "x";
  recompute_from(store.records_, 14);
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, HasSubstr("checkpoint at record 20"));
  EXPECT_THAT(report.problem, HasSubstr("between 11 and 20"));
}

TEST_F(AuditLogTest, DeletingTheNewestRecordsIsDetected) {
  append(1000);
  checkpoint();
  store.records_.resize(990);
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 991u);
  EXPECT_THAT(report.problem, HasSubstr("the log ends at record 990 but a signed checkpoint "
                                        "covers 1000 records"));
  EXPECT_THAT(report.problem, HasSubstr("the newest records were deleted"));
}

TEST_F(AuditLogTest, DeletingEveryRecordIsDetected) {
  append(5);
  checkpoint();
  store.records_.clear();
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, HasSubstr("the log is empty but a signed checkpoint covers 5"));
}

TEST_F(AuditLogTest, DeletingARecordInTheMiddleIsDetected) {
  append(10);
  store.records_.erase(store.records_.begin() + 4);
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 5u);
  EXPECT_EQ(report.problem, "record 6 follows record 4: records are missing or reordered");
}

TEST_F(AuditLogTest, ReorderedRecordsAreDetected) {
  append(10);
  std::swap(store.records_[3], store.records_[4]);
  auto report = verify_chain(store.records_, {}, signer.public_key_der());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 4u);
  EXPECT_EQ(report.problem, "record 5 follows record 3: records are missing or reordered");

  // Renumbered to hide the swap: the links no longer hold.
  store.records_[3].sequence = 4;
  store.records_[4].sequence = 5;
  report = verify_chain(store.records_, {}, signer.public_key_der());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 4u);
  EXPECT_THAT(report.problem, HasSubstr("record 4 does not link to record 3"));
}

TEST_F(AuditLogTest, InsertedRecordIsDetected) {
  append(10);
  Event forged = event(99);
  forged.action = "revoke";
  // A well-formed record linked after record 5, slipped in before the old record 6.
  const Record inserted = seal(store.records_[4], kT0 + std::chrono::seconds{5}, forged);
  store.records_.insert(store.records_.begin() + 5, inserted);
  auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 6u);
  EXPECT_EQ(report.problem, "record 6 appears twice: a record was inserted or duplicated");

  // Renumbering the later records does not help: their links point past the insert.
  for (std::size_t i = 6; i < store.records_.size(); ++i) store.records_[i].sequence += 1;
  report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 7u);
  EXPECT_THAT(report.problem, HasSubstr("record 7 does not link to record 6"));
}

TEST_F(AuditLogTest, LogMissingItsFirstRecordsIsDetected) {
  append(5);
  store.records_.erase(store.records_.begin(), store.records_.begin() + 2);
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 1u);
  EXPECT_THAT(report.problem, HasSubstr("the log starts at record 3"));
}

TEST_F(AuditLogTest, CheckpointSignedWithAnotherKeyIsDetected) {
  append(5);
  P256Signer intruder;
  AuditLog other(store, &intruder, clock);
  ASSERT_TRUE(other.checkpoint().ok());
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, HasSubstr("checkpoint at record 5 (signed 2026-03-01T12:00:05Z) "
                                        "does not verify with the audit public key"));
}

TEST_F(AuditLogTest, AlteredCheckpointIsDetected) {
  append(5);
  checkpoint();
  append(5);
  // Moving a genuine checkpoint to a later head invalidates its signature.
  store.checkpoints_[0].sequence = 10;
  store.checkpoints_[0].head_hash = store.records_.back().hash;
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, HasSubstr("does not verify with the audit public key"));
}

TEST_F(AuditLogTest, CheckpointWithUnknownAlgorithmIsAProblem) {
  append(2);
  checkpoint();
  store.checkpoints_[0].signature_algorithm = "md5WithRSA";
  const auto report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, HasSubstr("unknown signature algorithm 'md5WithRSA'"));
}

TEST_F(AuditLogTest, CheckpointIfDueHonoursEveryRecords) {
  append(9);
  ASSERT_TRUE(log.checkpoint_if_due().ok());
  EXPECT_TRUE(store.checkpoints_.empty());
  append(1);
  ASSERT_TRUE(log.checkpoint_if_due().ok());
  ASSERT_EQ(store.checkpoints_.size(), 1u);
  EXPECT_EQ(store.checkpoints_[0].sequence, 10u);
  append(3);
  ASSERT_TRUE(log.checkpoint_if_due().ok());
  EXPECT_EQ(store.checkpoints_.size(), 1u);
  // Seven records written through another path (the ledger's transaction).
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(store.append(event(100 + i), clock.now()).ok());
  log.note_appended(7);
  ASSERT_TRUE(log.checkpoint_if_due().ok());
  ASSERT_EQ(store.checkpoints_.size(), 2u);
  EXPECT_EQ(store.checkpoints_[1].sequence, 20u);
  EXPECT_TRUE(verify().ok);
}

TEST_F(AuditLogTest, CheckpointIfDueHonoursEverySeconds) {
  AuditLog timed(store, &signer, clock, CheckpointPolicy{0, std::chrono::seconds{60}});
  ASSERT_TRUE(timed.append(event(1)).ok());
  ASSERT_TRUE(timed.checkpoint_if_due().ok());
  EXPECT_TRUE(store.checkpoints_.empty());
  clock.set(clock.now() + std::chrono::seconds{59});
  ASSERT_TRUE(timed.checkpoint_if_due().ok());
  EXPECT_TRUE(store.checkpoints_.empty());
  clock.set(clock.now() + std::chrono::seconds{1});
  ASSERT_TRUE(timed.checkpoint_if_due().ok());
  EXPECT_EQ(store.checkpoints_.size(), 1u);
  // Nothing new: no further checkpoint however long it waits.
  clock.set(clock.now() + std::chrono::hours{1});
  ASSERT_TRUE(timed.checkpoint_if_due().ok());
  EXPECT_EQ(store.checkpoints_.size(), 1u);
}

TEST_F(AuditLogTest, WithoutASignerCheckpointAndVerifyFailClearly) {
  append(3);
  AuditLog unsigned_log(store, nullptr, clock);
  auto st = unsigned_log.checkpoint();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, base::ErrorCode::InvalidArgument);
  EXPECT_THAT(st.error().detail, HasSubstr("no audit key"));
  EXPECT_FALSE(unsigned_log.verify().ok());
  // With the audit public key given explicitly it verifies.
  auto report = unsigned_log.verify(signer.public_key_der());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
}

namespace {

// A signer wired wrongly: returns DER where raw r||s is expected.
class DerReturningSigner : public P256Signer {
 public:
  base::Result<base::Bytes> sign(base::ByteView message) const override {
    HM_TRY(auto raw, P256Signer::sign(message));
    return base::ecdsa_raw_to_der(raw);
  }
};

}  // namespace

TEST_F(AuditLogTest, CheckpointRefusesASignatureItsOwnKeyDoesNotVerify) {
  append(1);
  DerReturningSigner broken;
  AuditLog bad(store, &broken, clock);
  auto st = bad.checkpoint();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, base::ErrorCode::Internal);
  EXPECT_TRUE(store.checkpoints_.empty());
}

TEST_F(AuditLogTest, VerifyPagesThroughLargeLogs) {
  append(10005);
  checkpoint();
  const auto report = verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 10005u);
  EXPECT_EQ(report.last_checkpoint_sequence, 10005u);
}
