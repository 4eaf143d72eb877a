// `hallmark station serve` driven with curl, as a line's MES would: a valid
// token issues, no or a wrong token gets 401, bad JSON 400, a repeat comes back
// `existing`, a refusal carries its reason code; everything lands in the
// station's ledger and export like a batch.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "integration/factory_fixture.h"

namespace hallmark::testing {
namespace {

constexpr char kToken[] = "line-7-mes-token-0123456789";

class StationServeTest : public FactoryTest {
 protected:
  void SetUp() override {
    FactoryTest::SetUp();
    if (HasFatalFailure()) return;
    m_station = init_station("st", create_site("acme", "SN-00001000..SN-00001099", 50));
    auto tls =
        run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("tls.key") +
            " -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 30 -out " + file("tls.pem"));
    ASSERT_EQ(tls.exit_code, 0) << tls.err;
  }
  void TearDown() override {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      int status = 0;
      ::waitpid(m_pid, &status, 0);
    }
  }

  void start(const std::string& token_env = kToken) {
    const auto out = file("serve.out");
    m_pid = ::fork();
    if (m_pid == 0) {
      const std::string cmd = "HALLMARK_STATION_TOKEN='" + token_env + "' exec " + bin() + " station serve --dir " +
                              m_station + " --listen 127.0.0.1:0 --tls-cert " + file("tls.pem") + " --tls-key " +
                              file("tls.key") + " > " + out + " 2> " + file("serve.err");
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 300 && m_url.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto text = read_text(out);
      const auto at = text.find("https://");
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        m_url = text.substr(at, text.find(';', at) - at);
      }
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        return;
      }
    }
  }

  // POSTs `body` with an optional token; returns (status, parsed JSON body).
  std::pair<int, nlohmann::json> post(const std::string& body, const std::string& token = kToken) {
    write_text(file("req.json"), body);
    std::string cmd = "curl -sS --cacert " + file("tls.pem") + " -o " + file("resp.json") +
                      " -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @" + file("req.json");
    if (!token.empty()) cmd += " -H 'Authorization: Bearer " + token + "'";
    auto r = run(cmd + " " + m_url);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto text = read_text(file("resp.json"));
    return {std::stoi(r.out), nlohmann::json::parse(text, nullptr, false)};
  }

  std::string m_station, m_url;
  pid_t m_pid = -1;
};

TEST_F(StationServeTest, ProvisionsWithATokenAndAnswersEveryKindOfRefusal) {
  start();
  ASSERT_FALSE(m_url.empty()) << read_text(file("serve.err"));
  const auto csr = fresh_csr();
  const auto device = line(serial(1000), csr);

  auto [issued, body] = post(device);
  ASSERT_EQ(issued, 201) << body.dump();
  EXPECT_EQ(body["status"], "issued");
  ASSERT_EQ(body["certificates"].size(), 1u);
  write_text(file("dev.pem"), body["certificates"][0]["pem"].get<std::string>());
  write_text(file("chain.pem"), body["chain"].get<std::string>());
  write_text(file("anchor.pem"), body["trust_anchors"][0].get<std::string>());
  auto v = run("openssl verify -x509_strict -CAfile " + file("anchor.pem") + " -untrusted " + file("chain.pem") + " " +
               file("dev.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  // The same line again: existing, with the same certificate.
  auto [again, again_body] = post(device);
  EXPECT_EQ(again, 200);
  EXPECT_EQ(again_body["status"], "existing");
  EXPECT_EQ(again_body["cert_serial"], body["cert_serial"]);

  // No token, a wrong token: 401 and nothing issued.
  EXPECT_EQ(post(line(serial(1001), fresh_csr()), "").first, 401);
  EXPECT_EQ(post(line(serial(1001), fresh_csr()), "wrong-token-wrong-token-00").first, 401);
  // Bad JSON, missing field: 400 with the reason code.
  auto [bad, bad_body] = post("{not json");
  EXPECT_EQ(bad, 400);
  EXPECT_EQ(bad_body["reason_code"], "invalid_json");
  EXPECT_EQ(post(R"({"serial":"SN-00001002"})").second["reason_code"], "missing_field");
  // Outside the authorization: 403; the key of another device: 409.
  auto [range, range_body] = post(line(serial(5000), fresh_csr()));
  EXPECT_EQ(range, 403);
  EXPECT_EQ(range_body["reason_code"], "serial_out_of_range");
  auto [dup, dup_body] = post(line(serial(1003), csr));
  EXPECT_EQ(dup, 409);
  EXPECT_EQ(dup_body["reason_code"], "duplicate_key");
  // Wrong path and method.
  auto wrong = run("curl -sS --cacert " + file("tls.pem") +
                   " -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " + std::string(kToken) + "' " + m_url);
  EXPECT_EQ(wrong.out, "405");
  // A body that is not declared JSON: 415 with a reason code, nothing issued.
  write_text(file("plain.txt"), line(serial(1002), fresh_csr()));
  auto plain =
      run("curl -sS --cacert " + file("tls.pem") + " -w '\\n%{http_code}' -H 'Authorization: Bearer " +
          std::string(kToken) + "' -H 'Content-Type: text/plain' --data-binary @" + file("plain.txt") + " " + m_url);
  EXPECT_NE(plain.out.find("unsupported_media_type"), std::string::npos) << plain.out;
  EXPECT_EQ(plain.out.substr(plain.out.size() - 3), "415") << plain.out;
  // A body over the line limit: 413, answered in the station's JSON like every other refusal.
  auto [big, big_body] = post(std::string(2 * 1024 * 1024, ' ') + "{}");
  EXPECT_EQ(big, 413);
  EXPECT_EQ(big_body["reason_code"], "body_too_large") << big_body.dump();

  // The station's own records: exactly the one device, exported like a batch.
  auto got = hallmark("station bundle get --dir " + m_station + " " + serial(1000));
  EXPECT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(hallmark("station bundle get --dir " + m_station + " " + serial(1001)).exit_code, 4);
  ::kill(m_pid, SIGTERM);
  int status = 0;
  ::waitpid(m_pid, &status, 0);
  m_pid = -1;
  auto exp = hallmark("station export --dir " + m_station + " --out " + file("st.bundle"));
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  auto imp = hallmark("ledger import --dir " + dir() + " " + file("st.bundle") + " --json");
  EXPECT_EQ(imp.exit_code, 0) << imp.out << imp.err;
  EXPECT_EQ(nlohmann::json::parse(imp.out)["imported"], 1) << imp.out;
}

TEST_F(StationServeTest, ASecondProcessOnTheSameStationIsRefusedAndIssuesNothing) {
  start();
  ASSERT_FALSE(m_url.empty()) << read_text(file("serve.err"));
  // The same serials through a batch while the server holds the station: two
  // processes deciding "not yet issued" on their own would both issue them.
  const auto manifest = file("m.jsonl");
  write_lines(manifest, {line(serial(1000), fresh_csr()), line(serial(1001), fresh_csr())});
  auto r = provision(m_station, manifest, file("out"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("in use by another hallmark process"), std::string::npos) << r.err;
  EXPECT_EQ(
      run("sqlite3 " + m_station + "/station.db \"SELECT count(*) FROM certificates WHERE profile='idevid'\"").out,
      "0\n");
  // Once the server is gone (even killed -9), the batch runs.
  ::kill(m_pid, SIGKILL);
  int status = 0;
  ::waitpid(m_pid, &status, 0);
  m_pid = -1;
  auto again = provision(m_station, manifest, file("out2"));
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

TEST_F(StationServeTest, RefusesToStartWithoutAToken) {
  start("");
  EXPECT_TRUE(m_url.empty());
  EXPECT_NE(read_text(file("serve.err")).find("bearer token"), std::string::npos) << read_text(file("serve.err"));
}

}  // namespace
}  // namespace hallmark::testing
