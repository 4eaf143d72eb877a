// Several `hallmark serve` nodes on one PostgreSQL database (the `postgres`
// tier): EST enrollments spread over two nodes, then `hallmark audit verify`
// and a serial-uniqueness check; a PostgreSQL outage answered with 503; a wrong
// DSN refused at start with a clear message.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "integration/cli_fixture.h"
#include "support/postgres_support.h"

namespace hallmark::testing {
namespace {

// One `hallmark serve` process on port 0; its URL is read from its first line.
class ServeProcess {
 public:
  ServeProcess(const std::string& dir, const std::string& out, const std::string& err) : m_err(err) {
    m_pid = ::fork();
    if (m_pid == 0) {
      const std::string cmd = "exec " + std::string(HALLMARK_BINARY) + " serve --dir " + dir +
                              " --listen 127.0.0.1:0 > " + out + " 2> " + err;
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 300 && m_url.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto text = read_text(out);
      const auto at = text.find("https://");
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        m_url = text.substr(at, text.find(' ', at) - at);
        m_banner = text;
      }
    }
  }
  ~ServeProcess() { stop(); }
  void stop() {
    if (m_pid <= 0) return;
    ::kill(m_pid, SIGTERM);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
  }
  const std::string& url() const { return m_url; }
  const std::string& banner() const { return m_banner; }
  std::string root() const { return m_url.substr(0, m_url.find("/.well-known")); }
  std::string errors() const { return read_text(m_err); }

 private:
  pid_t m_pid = -1;
  std::string m_err;
  std::string m_url;
  std::string m_banner;
};

class TwoNodesTest : public ::testing::Test {
 protected:
  void init_on(const std::string& dsn) {
    ::setenv("HALLMARK_KEY_PASSPHRASE", "postgres-test-passphrase", 1);
    auto r = hallmark("init --dir " + node(1) + " --store " + shell_quote(dsn));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The second node: a copy of the first one's folder (keys, configuration).
    ASSERT_EQ(run("cp -a " + node(1) + " " + node(2)).exit_code, 0);
    ASSERT_EQ(run(std::string(HALLMARK_BINARY) + " ca export --dir " + node(1) + " --issuer root > " + file("root.pem"))
                  .exit_code,
              0);
  }
  std::string node(int n) const { return (m_tmp / ("node" + std::to_string(n))).string(); }
  std::string file(const std::string& name) const { return (m_tmp / name).string(); }

  // An IDevID for `serial` in <name>.pem / <name>.key (openssl makes the key and CSR).
  void idevid(const std::string& name, const std::string& serial) {
    auto k = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file(name + ".key") +
                 " -subj /CN=x -out " + file(name + ".csr"));
    ASSERT_EQ(k.exit_code, 0) << k.err;
    auto r = hallmark("issue --dir " + node(1) + " --profile idevid --serial-number " + serial +
                      " --product sensor-v2 --csr " + file(name + ".csr") + " --out " + file(name + ".pem"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // `hallmark device est enroll` for <name> against `server`: exit code.
  std::string enroll_command(const std::string& server, const std::string& name) const {
    return std::string(HALLMARK_BINARY) + " device est enroll --server " + server + " --cacert " + file("root.pem") +
           " --cert " + file(name + ".pem") + " --key " + file(name + ".key") + " --out " + file(name + "-ld.pem");
  }

  // simpleenroll with curl: the HTTP status.
  int curl_enroll(const ServeProcess& s, const std::string& name) {
    auto csr = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
                   file(name + "-n.key") + " -subj /CN=x -outform DER | base64 > " + file(name + ".b64"));
    EXPECT_EQ(csr.exit_code, 0) << csr.err;
    auto r =
        run("curl -sS -o /dev/null -w '%{http_code}' --cacert " + file("root.pem") + " --cert " + file(name + ".pem") +
            " --key " + file(name + ".key") + " -H 'Content-Type: application/pkcs10' --data-binary @" +
            file(name + ".b64") + " " + s.url() + "simpleenroll");
    return r.out.empty() ? -1 : std::stoi(r.out);
  }

  TempDir m_tmp;
};

TEST_F(TwoNodesTest, EnrollmentsSpreadOverTwoNodesKeepOneVerifiableAuditChainAndUniqueSerials) {
  PostgresDatabase db;
  init_on(db.dsn());
  constexpr int kDevices = 12;
  for (int i = 0; i < kDevices; ++i) idevid("dev" + std::to_string(i), "SN-" + std::to_string(1000 + i));

  ServeProcess a(node(1), file("a.out"), file("a.err"));
  ServeProcess b(node(2), file("b.out"), file("b.err"));
  ASSERT_FALSE(a.url().empty()) << a.errors();
  ASSERT_FALSE(b.url().empty()) << b.errors();
  EXPECT_NE(a.banner().find("store postgresql postgresql://hallmark:***@"), std::string::npos) << a.banner();
  EXPECT_EQ(a.banner().find("fixture-secret"), std::string::npos);

  // All at once, alternating nodes: the enrollments race on the shared database.
  std::string script;
  for (int i = 0; i < kDevices; ++i) {
    script += enroll_command((i % 2 ? b : a).root(), "dev" + std::to_string(i)) + " > " +
              file("e" + std::to_string(i)) + ".log 2>&1 || echo fail-" + std::to_string(i) + " & ";
  }
  auto all = run(script + "wait");
  EXPECT_EQ(all.out.find("fail-"), std::string::npos) << all.out;
  a.stop();
  b.stop();

  // Every LDevID chains to our root (checked by openssl) and serials never repeat.
  std::set<std::string> serials;
  for (int i = 0; i < kDevices; ++i) {
    const auto ld = file("dev" + std::to_string(i) + "-ld.pem");
    auto s = run("openssl x509 -noout -serial -in " + ld);
    ASSERT_EQ(s.exit_code, 0) << read_text(file("e" + std::to_string(i) + ".log"));
    serials.insert(s.out);
  }
  EXPECT_EQ(serials.size(), static_cast<std::size_t>(kDevices));
  EXPECT_EQ(db.query("SELECT count(*) - count(DISTINCT serial) FROM certificates"), "0");
  EXPECT_EQ(db.query("SELECT count(*) FROM certificates WHERE profile = 'ldevid' AND status = 'issued'"),
            std::to_string(kDevices));
  EXPECT_EQ(db.query("SELECT count(*) FROM certificates WHERE status = 'pending'"), "0");

  // Either node's folder verifies the one chain both appended to.
  for (int n : {1, 2}) {
    auto v = hallmark("audit verify --dir " + node(n));
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("audit chain verified"), std::string::npos) << v.out;
  }
}

TEST_F(TwoNodesTest, ARevocationRecordedThroughOneNodeIsEnforcedByTheOtherAtItsNextRequest) {
  PostgresDatabase db;
  init_on(db.dsn());
  idevid("dev", "SN-7");
  ServeProcess a(node(1), file("a.out"), file("a.err"));
  ServeProcess b(node(2), file("b.out"), file("b.err"));
  ASSERT_FALSE(a.url().empty()) << a.errors();
  ASSERT_FALSE(b.url().empty()) << b.errors();
  EXPECT_EQ(curl_enroll(a, "dev"), 200);
  EXPECT_EQ(curl_enroll(b, "dev"), 200);
  // No `hallmark revoke` yet: the shared database directly, as an operator's tool would.
  auto serial = run("openssl x509 -noout -serial -in " + file("dev.pem") + " | cut -d= -f2 | tr -d '\\n'");
  ASSERT_EQ(serial.exit_code, 0);
  db.query("UPDATE certificates SET status = 'revoked' WHERE serial = '" + serial.out + "'");
  EXPECT_EQ(curl_enroll(b, "dev"), 401);
  EXPECT_EQ(curl_enroll(a, "dev"), 401);
}

TEST_F(TwoNodesTest, WhilePostgresIsDownEnrollmentIs503AndItSucceedsAgainAfterTheRestart) {
  PrivatePostgres pg;
  init_on(pg.dsn());
  idevid("dev", "SN-1");
  ServeProcess s(node(1), file("s.out"), file("s.err"));
  ASSERT_FALSE(s.url().empty()) << s.errors();
  EXPECT_EQ(curl_enroll(s, "dev"), 200);

  pg.pause();
  EXPECT_EQ(curl_enroll(s, "dev"), 503);
  pg.resume();
  EXPECT_EQ(curl_enroll(s, "dev"), 200);
  s.stop();
  auto v = hallmark("audit verify --dir " + node(1));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(TwoNodesTest, AWrongDsnStopsServeWithAClearMessageAndNoPassword) {
  PostgresDatabase db;
  init_on(db.dsn());
  auto r = hallmark("serve --dir " + node(1) + " --listen 127.0.0.1:0 --store " +
                    shell_quote("postgresql://hallmark:wrong-secret@127.0.0.1:1/hallmark"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot connect to PostgreSQL at postgresql://hallmark:***@127.0.0.1:1/hallmark"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("wrong-secret"), std::string::npos) << r.err;

  auto bad = hallmark("serve --dir " + node(1) + " --store /tmp/other.db");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("postgresql://"), std::string::npos) << bad.err;
}

TEST_F(TwoNodesTest, InitOnADatabaseThatAlreadyHoldsAPkiIsRefusedBeforeAnyKeyIsMade) {
  PostgresDatabase db;
  init_on(db.dsn());
  auto again = hallmark("init --dir " + file("node3") + " --store " + shell_quote(db.dsn()));
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("already holds a Hallmark PKI"), std::string::npos) << again.err;
  EXPECT_FALSE(std::filesystem::exists(file("node3") + "/keys"));
}

}  // namespace
}  // namespace hallmark::testing
