// Contract of audit::AuditStore (see store_contract.h), including two nodes
// appending at once.
#include <latch>
#include <set>
#include <thread>

#include "audit/audit_log.h"
#include "store_contract.h"

namespace hallmark::store {
namespace {

using testing::event;
using testing::kT0;

class AuditStoreContract : public testing::StoreContract {};

TEST_P(AuditStoreContract, AppendLinksEachRecordToThePreviousHash) {
  auto& store = m_store->audit();

  auto empty_head = store.head();
  ASSERT_TRUE(empty_head.ok());
  EXPECT_FALSE(empty_head->has_value());

  for (int i = 0; i < 5; ++i) {
    auto r = store.append(event("action-" + std::to_string(i)), kT0 + std::chrono::seconds(i));
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r->sequence, static_cast<std::uint64_t>(i + 1));
  }
  auto records = store.records(1, 100);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 5u);
  EXPECT_EQ((*records)[0].prev_hash, audit::genesis_hash());
  for (std::size_t i = 1; i < records->size(); ++i) {
    EXPECT_EQ((*records)[i].prev_hash, (*records)[i - 1].hash);
    EXPECT_EQ((*records)[i].hash, audit::chain_hash((*records)[i].prev_hash, (*records)[i].sequence, (*records)[i].time,
                                                    (*records)[i].event));
  }
  const auto report = audit::verify_chain(*records, {}, {});
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 5u);

  auto head = store.head();
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->sequence, 5u);
  EXPECT_EQ((*head)->hash, records->back().hash);

  // records(from, limit) pages.
  auto page = store.records(2, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].sequence, 2u);
  EXPECT_EQ((*page)[1].sequence, 3u);
}

TEST_P(AuditStoreContract, EventsRoundTripExactly) {
  auto& store = m_store->audit();
  audit::Event e;
  e.actor = "station:site-1/station-1";
  e.channel = audit::Channel::Factory;
  e.action = "signed";
  e.cert_serial = "4A0B";
  e.profile = "idevid";
  e.evidence_digest = std::string(64, 'a');
  e.detail = "device SN-ü \"quoted\"";
  ASSERT_TRUE(store.append(e, kT0).ok());
  auto records = store.records(1, 10).value();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].event, e);
  EXPECT_EQ(records[0].time, kT0);
}

TEST_P(AuditStoreContract, CheckpointsAreStoredAndListedBySequence) {
  auto& store = m_store->audit();
  audit::Checkpoint later{7, base::Bytes(32, 0x07), kT0 + std::chrono::seconds(9), "ecdsa-with-SHA256",
                          base::Bytes{1, 2, 3}};
  audit::Checkpoint earlier{3, base::Bytes(32, 0x03), kT0, "ecdsa-with-SHA256", base::Bytes{4, 5}};
  ASSERT_TRUE(store.add_checkpoint(later).ok());
  ASSERT_TRUE(store.add_checkpoint(earlier).ok());
  auto cps = store.checkpoints();
  ASSERT_TRUE(cps.ok());
  ASSERT_EQ(cps->size(), 2u);
  EXPECT_EQ((*cps)[0].sequence, 3u);
  EXPECT_EQ((*cps)[0].head_hash, earlier.head_hash);
  EXPECT_EQ((*cps)[0].signature, earlier.signature);
  EXPECT_EQ((*cps)[1].sequence, 7u);
  EXPECT_EQ((*cps)[1].time, later.time);
  EXPECT_EQ((*cps)[1].signature_algorithm, "ecdsa-with-SHA256");
}

// Two nodes (each with its own connections) append alternately: the head must
// be read under the chain lock in each appending transaction or the chain forks.
TEST_P(AuditStoreContract, TwoNodesAppendingConcurrentlyBuildOneUnbrokenChain) {
  constexpr int kPerThread = 300;
  std::vector<std::string> errors[2];
  std::latch start(2);
  auto worker = [&](int id) {
    auto node = open_node();
    start.arrive_and_wait();  // both nodes connected before either appends
    for (int i = 0; i < kPerThread; ++i) {
      auto r = node->audit().append(event("t" + std::to_string(id) + "-" + std::to_string(i)), kT0);
      if (!r.ok()) errors[id].push_back(r.error().describe());
      // A short pause outside the transaction lets the other node take the lock.
      std::this_thread::sleep_for(std::chrono::microseconds(200 + (i * 37 + id * 101) % 600));
    }
  };
  std::thread a(worker, 0);
  std::thread b(worker, 1);
  a.join();
  b.join();
  EXPECT_TRUE(errors[0].empty()) << errors[0].front();
  EXPECT_TRUE(errors[1].empty()) << errors[1].front();

  auto records = m_store->audit().records(1, 10'000);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u * kPerThread);
  const auto report = audit::verify_chain(*records, {}, {});
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 2u * kPerThread);

  std::set<std::string> actions;
  for (const auto& r : *records) actions.insert(r.event.action);
  EXPECT_EQ(actions.size(), 2u * kPerThread);

  int switches = 0;
  for (std::size_t i = 1; i < records->size(); ++i) {
    if ((*records)[i].event.action.substr(0, 2) != (*records)[i - 1].event.action.substr(0, 2)) ++switches;
  }
  RecordProperty("node_switches", switches);
  EXPECT_GE(switches, 20) << "the two nodes never interleaved";
}

HALLMARK_STORE_CONTRACT(AuditStoreContract);

}  // namespace
}  // namespace hallmark::store
