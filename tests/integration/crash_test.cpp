// kill -9 between the ledger reservation and the signature: nothing unknown
// to the ledger, the pending record is visible, serials are never reused.
#include <nlohmann/json.hpp>

#include "integration/cli_fixture.h"

namespace hallmark::testing {
namespace {

using nlohmann::json;

TEST_F(CliTest, KillBetweenLedgerAndSignatureLeavesPendingRecordAndNoDuplicate) {
  const auto csr = openssl_csr("dev");
  // The injected fault is SIGKILL; the env var is set for this process only.
  auto killed = run("HALLMARK_FAULT=after-reserve " + bin() + " issue --dir " + dir() +
                    " --profile idevid --serial-number SN-CRASH2 --csr " + csr + " --out " + file("never2.pem"));
  EXPECT_EQ(killed.exit_code, 128 + 9) << killed.err;
  EXPECT_FALSE(std::filesystem::exists(file("never2.pem")));

  auto pending = hallmark("cert list --json --status pending --dir " + dir());
  ASSERT_EQ(pending.exit_code, 0) << pending.err;
  auto rows = json::parse(pending.out);
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  EXPECT_EQ(rows[0]["device_serial"], "SN-CRASH2");
  const auto pending_serial = rows[0]["serial"].get<std::string>();
  auto show = hallmark("cert show --dir " + dir() + " " + pending_serial);
  EXPECT_NE(show.out.find("pending"), std::string::npos) << show.out;

  // Restart: issuing again works, with a new serial; no serial appears twice.
  auto again = hallmark("issue --json --dir " + dir() + " --profile idevid --serial-number SN-CRASH2 --csr " + csr);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(json::parse(again.out)["serial"], pending_serial);
  auto dup = run("sqlite3 " + dir() + "/hallmark.db 'SELECT COUNT(*) - COUNT(DISTINCT serial) FROM certificates'");
  EXPECT_EQ(dup.out, "0\n");
  // The chain is intact: a "signing" record without "signed" is a fact, not damage.
  auto audit = hallmark("audit verify --json --dir " + dir());
  EXPECT_EQ(audit.exit_code, 0) << audit.out;
}

}  // namespace
}  // namespace hallmark::testing
