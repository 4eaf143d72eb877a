// A token that fails while `hallmark serve` runs: the CA keys sit behind the
// fault-injecting module (fault_module.cpp) in front of SoftHSM2. While the
// trigger file exists EST answers 503, the ledger gets no certificate marked
// issued for the failed requests (a reserved entry stays 'pending', by design:
// ledger before signature), and once the fault clears enrollment works again
// on fresh sessions.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "integration/cli_fixture.h"
#include "pkcs11/token_fixture.h"

namespace hallmark::testing {
namespace {

class Pkcs11FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    use_test_token();
    ::setenv("HALLMARK_KEY_PASSPHRASE", "fault-test-passphrase", 1);
    ::setenv("HALLMARK_FAULT_TRIGGER", trigger().c_str(), 1);
    std::filesystem::remove(trigger());
    const auto uri = token_uri(unique_label("fault"), "hallmark-test", HALLMARK_FAULT_MODULE);
    auto r = hallmark("init --dir " + dir() + " --keystore " + shell_quote(uri));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(run(bin() + " ca export --dir " + dir() + " --issuer root > " + file("root.pem")).exit_code, 0);
    const auto key = file("dev.key");
    ASSERT_EQ(run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key +
                  " -subj /CN=x -out " + file("dev.csr"))
                  .exit_code,
              0);
    r = hallmark("issue --dir " + dir() + " --profile idevid --serial-number SN-00000001 --product sensor-v2 --csr " +
                 file("dev.csr") + " --out " + file("dev.pem"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    start_server();
  }

  void TearDown() override {
    std::filesystem::remove(trigger());
    ::unsetenv("HALLMARK_FAULT_TRIGGER");
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      int status = 0;
      ::waitpid(m_pid, &status, 0);
    }
  }

  std::string dir() const { return (m_tmp / "pki").string(); }
  std::string file(const std::string& name) const { return (m_tmp / name).string(); }
  std::string trigger() const { return file("token-fault"); }
  static std::string bin() { return HALLMARK_BINARY; }

  void start_server() {
    const auto out = file("serve.out");
    m_pid = ::fork();
    if (m_pid == 0) {
      const std::string cmd =
          "exec " + bin() + " serve --dir " + dir() + " --listen 127.0.0.1:0 > " + out + " 2> " + file("serve.err");
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 300 && m_url.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto text = read_text(out);
      const auto at = text.find("https://");
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        m_url = text.substr(at, text.find(' ', at) - at);
      }
    }
    ASSERT_FALSE(m_url.empty()) << read_text(file("serve.err"));
  }

  // simpleenroll with the IDevID; returns the HTTP status.
  int enroll(int n) {
    const auto name = "ld" + std::to_string(n);
    auto c = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file(name + ".key") +
                 " -subj /serialNumber=SN-00000001 -outform DER -out " + file(name + ".der") + " && base64 " +
                 file(name + ".der") + " > " + file(name + ".b64"));
    EXPECT_EQ(c.exit_code, 0) << c.err;
    auto r = run("curl -sS --cacert " + file("root.pem") + " --cert " + file("dev.pem") + " --key " + file("dev.key") +
                 " -H 'Content-Type: application/pkcs10' --data-binary @" + file(name + ".b64") +
                 " -o /dev/null -w '%{http_code}' " + m_url + "simpleenroll");
    return r.exit_code == 0 ? std::stoi(r.out) : -1;
  }

  // Ledger rows with the given status (pending / issued), counted by `hallmark cert list`.
  int count(const std::string& status) {
    auto r = hallmark("cert list --dir " + dir() + " --status " + status);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    int lines = 0;
    for (char ch : r.out) lines += ch == '\n';
    return lines;
  }

  TempDir m_tmp;
  pid_t m_pid = -1;
  std::string m_url;
};

TEST_F(Pkcs11FaultTest, FailingTokenGives503RecordsNothingSignedAndServiceResumesWhenItIsBack) {
  ASSERT_EQ(enroll(0), 200) << read_text(file("serve.err"));
  const int issued_before = count("issued");
  const int pending_before = count("pending");

  int n = 1;
  for (const char* rv : {"CKR_DEVICE_REMOVED", "CKR_TOKEN_NOT_PRESENT", "CKR_SESSION_HANDLE_INVALID"}) {
    SCOPED_TRACE(rv);
    write_text(trigger(), rv);
    EXPECT_EQ(enroll(n++), 503);
    EXPECT_EQ(enroll(n++), 503);  // still failing: reconnecting fails cleanly too
    std::filesystem::remove(trigger());
    EXPECT_EQ(enroll(n++), 200) << read_text(file("serve.err"));
  }

  // Three successes after the faults; each failed request left at most a pending reservation.
  EXPECT_EQ(count("issued"), issued_before + 3);
  EXPECT_LE(count("pending"), pending_before + 6);
  const auto log = read_text(file("serve.err")) + read_text(file("serve.out"));
  EXPECT_EQ(log.find(token_pin()), std::string::npos);
  ::kill(m_pid, SIGTERM);
  int status = 0;
  ::waitpid(m_pid, &status, 0);
  m_pid = -1;
  EXPECT_EQ(hallmark("audit verify --dir " + dir()).exit_code, 0);
}

}  // namespace
}  // namespace hallmark::testing
