#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "audit/audit_log.h"
#include "audit_fakes.h"
#include "base/clock.h"

using namespace hallmark;
using namespace hallmark::audit;
using hallmark::audit::testing::MemoryStore;
using hallmark::audit::testing::P256Signer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

const base::TimePoint kT0 = base::parse_date("2026-03-01T12:00:00Z").value();

Event event(int i) {
  Event e;
  e.actor = "station:site-1/station-" + std::to_string(i % 3);
  e.channel = Channel::Factory;
  e.action = i % 2 == 0 ? "signing" : "signed";
  e.cert_serial = "7F" + std::to_string(i);
  e.profile = "idevid";
  e.evidence_digest = std::string(64, 'b');
  e.detail = "device \"SN-" + std::to_string(i) + "\"\n";
  return e;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class ExportTest : public ::testing::Test {
 protected:
  // Appends n records, signing a checkpoint whenever one is due.
  void append(int n) {
    for (int i = 0; i < n; ++i) {
      clock.set(clock.now() + std::chrono::seconds{1});
      ASSERT_TRUE(log.append(event(++appended)).ok());
      ASSERT_TRUE(log.checkpoint_if_due().ok());
    }
  }
  std::vector<std::string> export_lines() {
    std::ostringstream out;
    auto st = log.export_jsonl(out);
    EXPECT_TRUE(st.ok()) << st.error().describe();
    return split_lines(out.str());
  }
  base::Result<VerifyReport> check(const std::vector<std::string>& lines) {
    std::istringstream in(join_lines(lines));
    return verify_export(in, signer.public_key_der());
  }
  VerifyReport check_ok(const std::vector<std::string>& lines) {
    auto r = check(lines);
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

TEST_F(ExportTest, RoundTripVerifiesOfflineWithThePublicKey) {
  append(25);
  const auto lines = export_lines();
  // 25 records, checkpoints at 10, 20 and the export's own at 25, the key.
  ASSERT_EQ(lines.size(), 25u + 3u + 1u);
  const auto report = check_ok(lines);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 25u);
  EXPECT_EQ(report.checkpoints, 3u);
  EXPECT_EQ(report.last_checkpoint_sequence, 25u);
}

TEST_F(ExportTest, LinesHaveTheDocumentedShape) {
  append(2);
  const auto lines = export_lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[0], StartsWith(R"({"type":"record","sequence":1,"time":"2026-03-01T12:00:01Z",)"));
  const auto rec = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(rec["actor"], "station:site-1/station-2");
  EXPECT_EQ(rec["channel"], "factory");
  EXPECT_EQ(rec["action"], "signing");
  EXPECT_EQ(rec["cert_serial"], "7F2");
  EXPECT_EQ(rec["profile"], "idevid");
  EXPECT_EQ(rec["evidence_digest"], std::string(64, 'b'));
  EXPECT_EQ(rec["detail"], "device \"SN-2\"\n");
  EXPECT_EQ(rec["prev_hash"], base::hex_encode(store.records_[0].hash));
  EXPECT_EQ(rec["hash"], base::hex_encode(store.records_[1].hash));
  const auto cp = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(cp["type"], "checkpoint");
  EXPECT_EQ(cp["sequence"], 2);
  EXPECT_EQ(cp["head_hash"], base::hex_encode(store.records_[1].hash));
  EXPECT_EQ(cp["signature_algorithm"], "ecdsa-with-SHA256");
  EXPECT_TRUE(base::base64_decode(cp["signature"].get<std::string>()).ok());
  const auto key = nlohmann::json::parse(lines[3]);
  EXPECT_EQ(key["type"], "key");
  EXPECT_EQ(key["public_key"], base::base64_encode(signer.public_key_der()));
}

TEST_F(ExportTest, ExportSignsAFreshCheckpointOverTheHead) {
  append(3);
  EXPECT_TRUE(store.checkpoints_.empty());
  (void)export_lines();
  ASSERT_EQ(store.checkpoints_.size(), 1u);
  EXPECT_EQ(store.checkpoints_[0].sequence, 3u);
}

TEST_F(ExportTest, AnExportWithoutRecordsIsNotReportedAsVerified) {
  // An empty log, an empty file and a file cut down to its key line look alike:
  // none of them proves anything about a chain.
  const auto lines = export_lines();
  ASSERT_EQ(lines.size(), 1u);
  for (const auto& input : {lines, std::vector<std::string>{}, std::vector<std::string>{"", "  "}}) {
    const auto report = check_ok(input);
    EXPECT_FALSE(report.ok);
    EXPECT_NE(report.problem.find("holds no audit records"), std::string::npos) << report.problem;
  }
}

TEST_F(ExportTest, TamperedRecordLineIsDetected) {
  append(12);
  auto lines = export_lines();
  auto j = nlohmann::ordered_json::parse(lines[4]);
  j["cert_serial"] = "DEADBEEF";
  lines[4] = j.dump();
  const auto report = check_ok(lines);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 5u);
  EXPECT_EQ(report.problem, "record 5 was altered: its hash does not match its contents");
}

TEST_F(ExportTest, TamperedCheckpointLineIsDetected) {
  append(12);
  auto lines = export_lines();
  auto j = nlohmann::ordered_json::parse(lines[12]);
  ASSERT_EQ(j["type"], "checkpoint");
  j["time"] = "2027-01-01T00:00:00Z";
  lines[12] = j.dump();
  const auto report = check_ok(lines);
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, HasSubstr("does not verify with the audit public key"));
}

TEST_F(ExportTest, RewrittenExportIsCaughtByItsCheckpoints) {
  append(12);
  auto lines = export_lines();
  // Edit record 3 and recompute every later record's hashes in the file.
  std::vector<Record> records;
  for (int i = 0; i < 12; ++i) {
    const auto j = nlohmann::json::parse(lines[i]);
    Record r;
    r.sequence = j["sequence"];
    r.time = base::parse_date(j["time"]).value();
    r.event = event(i + 1);
    records.push_back(r);
  }
  records[2].event.detail = "nothing happened";
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i] = seal(i == 0 ? std::nullopt : std::optional<Record>(records[i - 1]), records[i].time, records[i].event);
    auto j = nlohmann::ordered_json::parse(lines[i]);
    j["detail"] = records[i].event.detail;
    j["prev_hash"] = base::hex_encode(records[i].prev_hash);
    j["hash"] = base::hex_encode(records[i].hash);
    lines[i] = j.dump();
  }
  const auto report = check_ok(lines);
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, HasSubstr("checkpoint at record 10"));
  EXPECT_THAT(report.problem, HasSubstr("the chain was rewritten"));
}

TEST_F(ExportTest, DroppedNewestRecordsAreDetected) {
  append(12);
  auto lines = export_lines();
  lines.erase(lines.begin() + 10, lines.begin() + 12);  // records 11 and 12
  const auto report = check_ok(lines);
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, HasSubstr("the log ends at record 10 but a signed checkpoint "
                                        "covers 12 records"));
}

TEST_F(ExportTest, DroppedNewestRecordsWithTheirCheckpointAreDetected) {
  append(15);
  auto lines = export_lines();
  // Lines: records 1..15, checkpoint 10, checkpoint 15, key. Drop record 15 and its checkpoint.
  lines.erase(lines.begin() + 16);
  lines.erase(lines.begin() + 14);
  const auto report = check_ok(lines);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 11u);
  EXPECT_THAT(report.problem, HasSubstr("records 11 to 14 are not covered by a signed checkpoint"));
}

TEST_F(ExportTest, ExportCheckedWithAnotherKeyFails) {
  append(3);
  const auto lines = export_lines();
  P256Signer other;
  std::istringstream in(join_lines(lines));
  auto report = verify_export(in, other.public_key_der());
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok);
  EXPECT_THAT(report->problem, HasSubstr("does not verify with the audit public key"));
}

TEST_F(ExportTest, MalformedLineIsReportedWithItsNumber) {
  append(5);
  auto lines = export_lines();
  lines[2] = R"({"type":"record","sequence":3,)";
  auto r = check(lines);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, base::ErrorCode::Malformed);
  EXPECT_THAT(r.error().detail, HasSubstr("line 3"));
}

TEST_F(ExportTest, MissingOrMistypedFieldIsReportedWithLineAndField) {
  append(5);
  auto lines = export_lines();
  auto j = nlohmann::ordered_json::parse(lines[1]);
  j.erase("hash");
  lines[1] = j.dump();
  auto r = check(lines);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().detail, "audit export line 2: field 'hash' is missing");

  lines = export_lines();
  j = nlohmann::ordered_json::parse(lines[0]);
  j["sequence"] = "1";
  lines[0] = j.dump();
  r = check(lines);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().detail, HasSubstr("line 1: field 'sequence'"));

  lines = export_lines();
  j = nlohmann::ordered_json::parse(lines[3]);
  j["time"] = "2026-02-30T00:00:00Z";
  lines[3] = j.dump();
  r = check(lines);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().detail, HasSubstr("line 4: field 'time'"));

  lines = export_lines();
  lines.insert(lines.begin(), R"({"type":"comment"})");
  r = check(lines);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().detail, HasSubstr("line 1: unknown type 'comment'"));
}

TEST_F(ExportTest, TextThatIsNotUtf8RoundTripsExactly) {
  Event e = event(1);
  e.detail = std::string("serial \xff\xfe\x00 raw", 14);
  e.actor = "est:\xc3\xa9l\xc3\xa8ve";  // valid UTF-8 stays a string
  ASSERT_TRUE(log.append(e).ok());
  const auto lines = export_lines();
  EXPECT_THAT(lines[0], HasSubstr(R"("detail":{"base64":)"));
  EXPECT_THAT(lines[0], HasSubstr("\"actor\":\"est:\xc3\xa9l\xc3\xa8ve\""));
  const auto report = check_ok(lines);
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST_F(ExportTest, ExportWithoutASignerIsRefused) {
  AuditLog unsigned_log(store, nullptr, clock);
  std::ostringstream out;
  auto st = unsigned_log.export_jsonl(out);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().detail, HasSubstr("no audit key"));
}
