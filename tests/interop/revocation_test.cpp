// Revocation end to end: `hallmark revoke` (CLI) while `hallmark serve` runs,
// checked with third-party tools: `openssl ocsp` (POST, nonce or not, GET via
// curl + -respin), `openssl verify -crl_check` with our CRLs, curl against EST.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "integration/factory_fixture.h"

namespace hallmark::testing {
namespace {

class RevocationTest : public FactoryTest {
 protected:
  void SetUp() override {
    FactoryTest::SetUp();
    if (HasFatalFailure()) return;
    idevid("dev", "SN-1");
    idevid("other", "SN-2");
    ASSERT_EQ(run("cat " + file("root.pem") + " " + file("factory.pem") + " " + file("runtime.pem") + " > " +
                  file("chain.pem"))
                  .exit_code,
              0);
  }

  void TearDown() override { stop_server(); }

  void start_server() {
    const auto out = file("serve.out");
    m_pid = ::fork();
    if (m_pid == 0) {
      const std::string cmd = "exec " + bin() + " serve --dir " + dir() +
                              " --listen 127.0.0.1:0 --listen-http 127.0.0.1:0 > " + out + " 2> " + file("serve.err");
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 300 && m_http.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto text = read_text(out);
      const auto est = text.find("https://");
      const auto at = text.find("http://");
      if (est != std::string::npos && at != std::string::npos && text.find('\n', at) != std::string::npos) {
        m_est = text.substr(est, text.find(' ', est) - est);
        m_http = text.substr(at, text.find('/', at + 7) - at);  // http://127.0.0.1:PORT
      }
    }
    ASSERT_FALSE(m_http.empty()) << read_text(file("serve.err"));
  }

  void stop_server() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      int status = 0;
      ::waitpid(m_pid, &status, 0);
      m_pid = -1;
    }
  }

  void idevid(const std::string& name, const std::string& serial) {
    const auto csr = openssl_csr(name, "/CN=ignored");
    auto r = hallmark("issue --dir " + dir() + " --profile idevid --serial-number " + serial +
                      " --product sensor-v2 --csr " + csr + " --out " + file(name + ".pem"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::string serial_of(const std::string& pem) {
    auto r = run("openssl x509 -noout -serial -in " + pem + " | cut -d= -f2");
    EXPECT_EQ(r.exit_code, 0);
    return r.out.substr(0, r.out.find('\n'));
  }

  // `openssl ocsp` POST for `cert` (issued by `issuer`); stdout and stderr together.
  CommandResult ocsp(const std::string& cert, const std::string& issuer = "factory.pem",
                     const std::string& extra = "") {
    // Options such as the CertID digest must come before -cert.
    return run("openssl ocsp -issuer " + file(issuer) + " " + extra + " -cert " + cert + " -url " + m_http +
               "/ocsp -CAfile " + file("chain.pem") + " 2>&1");
  }

  // Polls (bounded) until `openssl ocsp` reports `status` for `cert`; a
  // revocation by another process shows within a second.
  CommandResult ocsp_until(const std::string& cert, const std::string& status, const std::string& extra = "") {
    CommandResult r;
    for (int i = 0; i < 50; ++i) {
      r = ocsp(cert, "factory.pem", extra);
      if (r.out.find(": " + status) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return r;
  }

  CommandResult enroll(const std::string& name) {
    const auto csr = file(name + "-ld.b64");
    auto made = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
                    file(name + "-ld.key") + " -subj /CN=x -outform DER | base64 > " + csr);
    EXPECT_EQ(made.exit_code, 0) << made.err;
    return run("curl -sS --cacert " + file("root.pem") + " -w '\\n%{http_code}' --cert " + file(name + ".pem") +
               " --key " + file(name + ".key") + " -H 'Content-Type: application/pkcs10' --data-binary @" + csr + " " +
               m_est + "simpleenroll");
  }
  static std::string status_of(const CommandResult& r) { return r.out.substr(r.out.rfind('\n') + 1); }

  pid_t m_pid = -1;
  std::string m_http;
  std::string m_est;
};

TEST_F(RevocationTest, OcspAnswersGoodThenRevokedWithReasonAfterTheCliRevokesWhileServeRuns) {
  start_server();
  for (const std::string extra : {"", "-no_nonce"}) {
    auto good = ocsp(file("dev.pem"), "factory.pem", extra);
    EXPECT_NE(good.out.find("Response verify OK"), std::string::npos) << good.out;
    EXPECT_NE(good.out.find("dev.pem: good"), std::string::npos) << good.out;
  }
  auto revoked = hallmark("revoke --dir " + dir() + " --serial " + serial_of(file("dev.pem")) +
                          " --reason keyCompromise --comment 'key extracted' --by alice");
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_NE(revoked.out.find("revoked 1 certificate(s)"), std::string::npos) << revoked.out;
  for (const std::string extra : {"", "-no_nonce"}) {
    auto r = ocsp_until(file("dev.pem"), "revoked", extra);
    EXPECT_NE(r.out.find("Response verify OK"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("dev.pem: revoked"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Reason: keyCompromise"), std::string::npos) << r.out;
  }
  // The other device is untouched.
  EXPECT_NE(ocsp(file("other.pem")).out.find("other.pem: good"), std::string::npos);
  // Who and why are in the audit trail.
  auto audit = hallmark("audit export --dir " + dir() + " --out " + file("audit.jsonl"));
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  const auto trail = read_text(file("audit.jsonl"));
  EXPECT_NE(trail.find("cli:alice"), std::string::npos);
  EXPECT_NE(trail.find("key extracted"), std::string::npos);
}

TEST_F(RevocationTest, OcspEchoesTheNonceAndAnswersUnknownForSerialsNeverIssuedWithSha256CertIds) {
  start_server();
  auto with_nonce = ocsp(file("dev.pem"), "factory.pem", "-sha256 -resp_text");
  EXPECT_NE(with_nonce.out.find("Response verify OK"), std::string::npos) << with_nonce.out;
  EXPECT_NE(with_nonce.out.find("OCSP Nonce"), std::string::npos) << with_nonce.out;
  EXPECT_EQ(with_nonce.out.find("WARNING: no nonce"), std::string::npos) << with_nonce.out;
  EXPECT_NE(with_nonce.out.find("Hash Algorithm: sha256"), std::string::npos) << with_nonce.out;
  auto unknown = run("openssl ocsp -issuer " + file("factory.pem") + " -serial 0x1234ABCD -url " + m_http +
                     "/ocsp -CAfile " + file("chain.pem") + " 2>&1");
  EXPECT_NE(unknown.out.find("Response verify OK"), std::string::npos) << unknown.out;
  EXPECT_NE(unknown.out.find("0x1234ABCD: unknown"), std::string::npos) << unknown.out;
}

TEST_F(RevocationTest, OcspGetWithCurlReturnsACacheableResponseThatOpensslVerifies) {
  start_server();
  ASSERT_EQ(run("openssl ocsp -issuer " + file("factory.pem") + " -cert " + file("dev.pem") + " -no_nonce -reqout " +
                file("req.der"))
                .exit_code,
            0);
  auto get = run("curl -sS -D " + file("headers") + " -o " + file("resp.der") + " -w '%{http_code}' " + m_http +
                 "/ocsp/$(base64 -w0 " + file("req.der") +
                 " | python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.stdin.read(),safe=\"\"))')");
  ASSERT_EQ(get.out, "200") << get.err;
  const auto headers = read_text(file("headers"));
  EXPECT_NE(headers.find("application/ocsp-response"), std::string::npos) << headers;
  EXPECT_NE(headers.find("Cache-Control: max-age="), std::string::npos) << headers;
  EXPECT_NE(headers.find("ETag:"), std::string::npos) << headers;
  auto check = run("openssl ocsp -respin " + file("resp.der") + " -issuer " + file("factory.pem") + " -cert " +
                   file("dev.pem") + " -CAfile " + file("chain.pem") + " 2>&1");
  EXPECT_NE(check.out.find("Response verify OK"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("dev.pem: good"), std::string::npos) << check.out;
}

TEST_F(RevocationTest, OcspRefusesGarbageOversizedAndUnknownIssuerRequestsWithUnsignedStatuses) {
  start_server();
  auto post = [&](const std::string& body_file) {
    return run("curl -sS -H 'Content-Type: application/ocsp-request' --data-binary @" + body_file + " " + m_http +
               "/ocsp | openssl ocsp -respin /dev/stdin -resp_text -noverify 2>&1");
  };
  write_text(file("garbage"), "this is not DER");
  EXPECT_NE(post(file("garbage")).out.find("malformedrequest (1)"), std::string::npos);
  ASSERT_EQ(run("head -c 10000 /dev/zero > " + file("big")).exit_code, 0);
  EXPECT_NE(post(file("big")).out.find("malformedrequest (1)"), std::string::npos);
  ASSERT_EQ(run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("x.key") +
                " -subj /CN=Stranger -days 1 -out " + file("stranger.pem"))
                .exit_code,
            0);
  auto foreign = run("openssl ocsp -issuer " + file("stranger.pem") + " -serial 0x01 -url " + m_http + "/ocsp 2>&1");
  EXPECT_NE(foreign.out.find("unauthorized (6)"), std::string::npos) << foreign.out;
  auto bad_get = run("curl -sS " + m_http + "/ocsp/%%%zz | openssl ocsp -respin /dev/stdin -noverify 2>&1");
  EXPECT_NE(bad_get.out.find("malformedrequest (1)"), std::string::npos) << bad_get.out;
}

TEST_F(RevocationTest, ServedCrlMakesOpensslVerifyRefuseTheRevokedCertificate) {
  start_server();
  auto fetch = [&](const std::string& name) {
    auto r =
        run("curl -sS -o " + file(name + ".der") + " -w '%{http_code} %{content_type}' " + m_http +
            "/crl/factory.crl && openssl crl -inform DER -in " + file(name + ".der") + " -out " + file(name + ".pem"));
    EXPECT_EQ(r.out, "200 application/pkix-crl") << r.err;
    return run("openssl crl -in " + file(name + ".pem") + " -noout -text -CAfile " + file("chain.pem") + " 2>&1");
  };
  auto before = fetch("crl1");
  EXPECT_NE(before.out.find("verify OK"), std::string::npos) << before.out;
  EXPECT_NE(before.out.find("CRL Number"), std::string::npos) << before.out;
  EXPECT_NE(before.out.find("Authority Key Identifier"), std::string::npos) << before.out;
  auto ok = openssl_verify(file("dev.pem"), file("factory.pem"), "-crl_check -CRLfile " + file("crl1.pem"));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;

  ASSERT_EQ(hallmark("revoke --dir " + dir() + " --serial " + serial_of(file("dev.pem")) + " --reason 4").exit_code, 0);
  auto after = fetch("crl2");
  EXPECT_NE(after.out.find(serial_of(file("dev.pem"))), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("Superseded"), std::string::npos) << after.out;
  auto number = [&](const std::string& name) {
    auto r = run("openssl crl -in " + file(name + ".pem") + " -noout -crlnumber | cut -d= -f2");
    return std::stoll(r.out, nullptr, 16);
  };
  EXPECT_GT(number("crl2"), number("crl1"));
  auto refused = openssl_verify(file("dev.pem"), file("factory.pem"), "-crl_check -CRLfile " + file("crl2.pem"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.out + refused.err).find("certificate revoked"), std::string::npos) << refused.out;
  auto still_ok = openssl_verify(file("other.pem"), file("factory.pem"), "-crl_check -CRLfile " + file("crl2.pem"));
  EXPECT_EQ(still_ok.exit_code, 0) << still_ok.out << still_ok.err;
}

TEST_F(RevocationTest, EstRefusesARevokedIdevidWith401AfterTheCliRevokesWhileServeRuns) {
  start_server();
  auto first = enroll("dev");
  ASSERT_EQ(status_of(first), "200") << first.out;
  ASSERT_EQ(hallmark("revoke --dir " + dir() + " --serial " + serial_of(file("dev.pem")) + " --reason keyCompromise")
                .exit_code,
            0);
  auto refused = enroll("dev");
  EXPECT_EQ(status_of(refused), "401") << refused.out;
  EXPECT_NE(refused.out.find("revoked"), std::string::npos) << refused.out;
  EXPECT_EQ(status_of(enroll("other")), "200");
}

TEST_F(RevocationTest, RevokeRefusesUnknownSerialsAndReasonsAndChangesNothing) {
  auto unknown = hallmark("revoke --dir " + dir() + " --serial DEADBEEF");
  EXPECT_EQ(unknown.exit_code, 4) << unknown.err;
  EXPECT_NE(unknown.err.find("not in the ledger"), std::string::npos) << unknown.err;
  auto reason = hallmark("revoke --dir " + dir() + " --serial " + serial_of(file("dev.pem")) + " --reason sloppy");
  EXPECT_NE(reason.exit_code, 0);
  EXPECT_NE(reason.err.find("keyCompromise (1)"), std::string::npos) << reason.err;
  auto hold8 = hallmark("revoke --dir " + dir() + " --serial " + serial_of(file("dev.pem")) + " --reason 8");
  EXPECT_NE(hold8.exit_code, 0);
  auto both = hallmark("revoke --dir " + dir() + " --serial 01 --device SN-1");
  EXPECT_NE(both.exit_code, 0);
  auto show = hallmark("cert show --dir " + dir() + " " + serial_of(file("dev.pem")));
  EXPECT_NE(show.out.find("issued"), std::string::npos) << show.out;
  EXPECT_EQ(show.out.find("revoked"), std::string::npos) << show.out;
}

TEST_F(RevocationTest, RevokeDeviceRevokesEveryCertificateOfThatDeviceOnly) {
  start_server();
  ASSERT_EQ(status_of(enroll("dev")), "200");  // an LDevID for SN-1 too
  auto r = hallmark("revoke --json --dir " + dir() + " --device SN-1 --reason cessationOfOperation");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["revoked"], 2);
  EXPECT_EQ(doc["reason_code"], 5);
  EXPECT_NE(ocsp_until(file("dev.pem"), "revoked").out.find("dev.pem: revoked"), std::string::npos);
  EXPECT_NE(ocsp(file("other.pem")).out.find("other.pem: good"), std::string::npos);
}

TEST_F(RevocationTest, CrlIssueSignsTheRootCrlThatOpensslChecksAgainstTheRoot) {
  auto r = hallmark("crl issue --dir " + dir() + " --issuer root --out " + file("root.crl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto text =
      run("openssl crl -inform DER -in " + file("root.crl") + " -noout -text -CAfile " + file("root.pem") + " 2>&1");
  EXPECT_NE(text.out.find("verify OK"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Version 2"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Next Update"), std::string::npos) << text.out;
  auto again = hallmark("crl issue --json --dir " + dir() + " --issuer root --out " + file("root2.crl"));
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(again.out)["crl_number"], 2);
  auto unknown = hallmark("crl issue --dir " + dir() + " --issuer nobody");
  EXPECT_EQ(unknown.exit_code, 4);
}

TEST_F(RevocationTest, RuntimeCertificatesCarryCrlAndOcspPointersWhenBaseUrlIsConfigured) {
  ASSERT_EQ(
      run("sed -i 's|^# base_url = .*|base_url = \"http://pki.example.com/\"|' " + dir() + "/hallmark.toml").exit_code,
      0);
  const auto csr = openssl_csr("ld", "/serialNumber=SN-1");
  auto r = hallmark("issue --dir " + dir() + " --profile ldevid --serial-number SN-1 --csr " + csr + " --out " +
                    file("ld.pem"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto text = run("openssl x509 -in " + file("ld.pem") + " -noout -ext crlDistributionPoints,authorityInfoAccess");
  EXPECT_NE(text.out.find("URI:http://pki.example.com/crl/runtime.crl"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("OCSP - URI:http://pki.example.com/ocsp"), std::string::npos) << text.out;
  // The runtime CRL names the same distribution point, so OpenSSL takes it as in scope.
  ASSERT_EQ(hallmark("crl issue --dir " + dir() + " --issuer runtime --out " + file("rt.crl")).exit_code, 0);
  ASSERT_EQ(run("openssl crl -inform DER -in " + file("rt.crl") + " -out " + file("rt.pem")).exit_code, 0);
  auto ok = openssl_verify(file("ld.pem"), file("runtime.pem"), "-crl_check -CRLfile " + file("rt.pem"));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
}

// A site with one station: two batches of one device each, exported and
// imported at the operator. Device keys come from openssl so curl can use them.
class SiteRevocationTest : public RevocationTest {
 protected:
  void SetUp() override {
    RevocationTest::SetUp();
    if (HasFatalFailure()) return;
    const auto auth = create_site("s1", "SN-00001000..SN-00001099", 50);
    m_station = init_station("st1", auth);
    for (int i = 0; i < 2; ++i) {
      const auto name = "site-dev" + std::to_string(i);
      auto csr = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
                     file(name + ".key") + " -subj /CN=x -outform DER 2>/dev/null | base64 -w0");
      ASSERT_EQ(csr.exit_code, 0);
      write_lines(file(name + ".jsonl"), {line(serial(1000 + i), csr.out)});
      auto p = provision(m_station, file(name + ".jsonl"), file("out-" + name), "--batch b-" + std::to_string(i));
      ASSERT_EQ(p.exit_code, 0) << p.err << p.out;
      auto b =
          run(bin() + " station bundle get --dir " + m_station + " " + serial(1000 + i) + " > " + file(name + ".pem"));
      ASSERT_EQ(b.exit_code, 0) << b.err;
    }
    ASSERT_EQ(hallmark("station export --dir " + m_station + " --out " + file("s1.bundle")).exit_code, 0);
    auto imported = hallmark("ledger import --dir " + dir() + " " + file("s1.bundle"));
    ASSERT_EQ(imported.exit_code, 0) << imported.err << imported.out;
  }
  std::string m_station;
};

TEST_F(SiteRevocationTest, OperatorAnswersOcspForSiteCertificatesWithTheResponderTheStationCertified) {
  // station init certified the operator's responder key; ledger import filed the certificate.
  const auto responder = dir() + "/ocsp/site-s1.pem";
  auto text = run("openssl x509 -in " + responder + " -noout -issuer -ext extendedKeyUsage 2>&1");
  EXPECT_NE(text.out.find("Site s1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("OCSP Signing"), std::string::npos) << text.out;
  start_server();
  ASSERT_EQ(run(bin() + " ca export --dir " + dir() + " --issuer site:s1 > " + file("site-ca.pem")).exit_code, 0);
  ASSERT_EQ(run("cat " + file("site-ca.pem") + " >> " + file("chain.pem")).exit_code, 0);
  auto good = ocsp(file("site-dev0.pem"), "site-ca.pem");
  EXPECT_NE(good.out.find("Response verify OK"), std::string::npos) << good.out;
  EXPECT_NE(good.out.find("site-dev0.pem: good"), std::string::npos) << good.out;
  ASSERT_EQ(hallmark("revoke --dir " + dir() + " --device " + serial(1000) + " --reason keyCompromise").exit_code, 0);
  CommandResult revoked;
  for (int i = 0; i < 50; ++i) {
    revoked = ocsp(file("site-dev0.pem"), "site-ca.pem");
    if (revoked.out.find(": revoked") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(revoked.out.find("Response verify OK"), std::string::npos) << revoked.out;
  EXPECT_NE(revoked.out.find("site-dev0.pem: revoked"), std::string::npos) << revoked.out;
  // The site CA's CRL is the one the station signed at its last export.
  auto crl = run("curl -s -o /dev/null -w '%{http_code}' " + m_http + "/crl/site:s1.crl");
  EXPECT_EQ(crl.out, "200");
}

TEST_F(SiteRevocationTest, SiteUpdateThenStationSyncMakesTheNextExportCarryASiteCrlTheOperatorServes) {
  start_server();
  ASSERT_EQ(hallmark("revoke --dir " + dir() + " --device " + serial(1000) + " --reason keyCompromise").exit_code, 0);
  auto update = hallmark("site update --dir " + dir() + " s1 --out " + file("s1.update"));
  ASSERT_EQ(update.exit_code, 0) << update.err;
  auto sync = hallmark("station sync --dir " + m_station + " " + file("s1.update"));
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_NE(sync.out.find("1 new revocation(s) applied"), std::string::npos) << sync.out;
  ASSERT_EQ(hallmark("station export --dir " + m_station + " --out " + file("s1-2.bundle")).exit_code, 0);
  auto imported = hallmark("ledger import --dir " + dir() + " " + file("s1-2.bundle"));
  ASSERT_EQ(imported.exit_code, 0) << imported.err << imported.out;

  auto got = run("curl -sS -o " + file("site.crl") + " -w '%{http_code}' " + m_http + "/crl/site:s1.crl");
  ASSERT_EQ(got.out, "200");
  ASSERT_EQ(run(bin() + " ca export --dir " + dir() + " --issuer site:s1 > " + file("site-ca.pem")).exit_code, 0);
  auto text =
      run("openssl crl -inform DER -in " + file("site.crl") + " -noout -text -CAfile " + file("site-ca.pem") + " 2>&1");
  EXPECT_NE(text.out.find("verify OK"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Key Compromise"), std::string::npos) << text.out;
  ASSERT_EQ(run("openssl crl -inform DER -in " + file("site.crl") + " -out " + file("site-crl.pem")).exit_code, 0);
  ASSERT_EQ(run("cat " + file("factory.pem") + " " + file("site-ca.pem") + " > " + file("site-chain.pem")).exit_code,
            0);
  auto refused =
      openssl_verify(file("site-dev0.pem"), file("site-chain.pem"), "-crl_check -CRLfile " + file("site-crl.pem"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.out + refused.err).find("certificate revoked"), std::string::npos) << refused.out;
  auto ok =
      openssl_verify(file("site-dev1.pem"), file("site-chain.pem"), "-crl_check -CRLfile " + file("site-crl.pem"));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  // An update for another site, or altered, is refused.
  ASSERT_EQ(run("sed -i 's/revoked_at/revoked_At/' " + file("s1.update")).exit_code, 0);
  auto forged = hallmark("station sync --dir " + m_station + " " + file("s1.update"));
  EXPECT_NE(forged.exit_code, 0);
  EXPECT_NE(forged.err.find("not signed by the factory CA"), std::string::npos) << forged.err;
}

TEST_F(SiteRevocationTest, RevokeBatchRevokesOnlyTheCertificatesOfThatBatch) {
  start_server();
  ASSERT_EQ(status_of(enroll("site-dev0")), "200");
  auto r = hallmark("revoke --json --dir " + dir() + " --batch b-0 --reason keyCompromise");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["revoked"], 1);
  ASSERT_EQ(doc["notes"].size(), 1u);  // the site CA's CRL is signed at the site
  auto refused = enroll("site-dev0");
  EXPECT_EQ(status_of(refused), "401") << refused.out;
  EXPECT_EQ(status_of(enroll("site-dev1")), "200");
  EXPECT_EQ(hallmark("revoke --dir " + dir() + " --batch no-such-batch").exit_code, 4);
}

TEST_F(SiteRevocationTest, SiteRevokeReportsTheDevicesAffectedAndTheirIdevidsStopAuthenticating) {
  start_server();
  auto enrolled = enroll("site-dev1");
  ASSERT_EQ(status_of(enrolled), "200");
  // Its LDevID, for a renewal after the compromise.
  write_text(file("ld.b64"), enrolled.out.substr(0, enrolled.out.rfind('\n')));
  ASSERT_EQ(
      run("base64 -d " + file("ld.b64") + " | openssl pkcs7 -inform DER -print_certs -out " + file("ld.pem")).exit_code,
      0);
  ASSERT_EQ(run("cp " + file("site-dev1-ld.key") + " " + file("ld.key")).exit_code, 0);
  auto r = hallmark("site revoke --json --dir " + dir() + " s1 --comment 'site key leaked'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["devices_affected"], 2);
  EXPECT_EQ(doc["reason"], "cACompromise");
  for (const std::string name : {"site-dev0", "site-dev1"}) {
    auto refused = enroll(name);
    EXPECT_EQ(status_of(refused), "401") << refused.out;
    EXPECT_NE(refused.out.find("revoked"), std::string::npos) << refused.out;
  }
  // Nor does an LDevID that such a device got before: its birth identity is gone.
  ASSERT_EQ(run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("r.key") +
                " -subj /CN=x -outform DER 2>/dev/null | base64 > " + file("r.b64"))
                .exit_code,
            0);
  auto renewal = run("curl -sS --cacert " + file("root.pem") + " -w '\\n%{http_code}' --cert " + file("ld.pem") +
                     " --key " + file("ld.key") + " -H 'Content-Type: application/pkcs10' --data-binary @" +
                     file("r.b64") + " " + m_est + "simplereenroll");
  EXPECT_EQ(status_of(renewal), "401") << renewal.out;
  EXPECT_NE(renewal.out.find("no standing IDevID"), std::string::npos) << renewal.out;
  // The factory CA's CRL lists the site CA; OCSP for it says revoked.
  ASSERT_EQ(run(bin() + " ca export --dir " + dir() + " --issuer site:s1 > " + file("site-ca.pem")).exit_code, 0);
  auto ocsp_ca = ocsp(file("site-ca.pem"));
  EXPECT_NE(ocsp_ca.out.find("site-ca.pem: revoked"), std::string::npos) << ocsp_ca.out;
  EXPECT_NE(ocsp_ca.out.find("Reason: cACompromise"), std::string::npos) << ocsp_ca.out;
  auto listed = hallmark("site show --json --dir " + dir() + " s1");
  EXPECT_EQ(nlohmann::json::parse(listed.out)["status"], "retired");
  EXPECT_EQ(nlohmann::json::parse(listed.out)["ca_revoked"], true) << listed.out;
  EXPECT_NE(hallmark("site list --dir " + dir()).out.find("retired (CA revoked)"), std::string::npos);
  EXPECT_NE(hallmark("ca list --dir " + dir()).out.find("site:s1\tretired (revoked)"), std::string::npos);
  // The site update carries the CA's revocation; once synced the station issues nothing more.
  auto update = hallmark("site update --dir " + dir() + " s1 --out " + file("after.update"));
  EXPECT_EQ(update.exit_code, 0) << update.err;
  EXPECT_NE(update.out.find("a station that syncs it stops issuing"), std::string::npos) << update.out;
  auto sync = hallmark("station sync --dir " + m_station + " " + file("after.update"));
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_NE(sync.out.find("now refuses every line (site_revoked)"), std::string::npos) << sync.out;
  auto csr = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("late.key") +
                 " -subj /CN=x -outform DER 2>/dev/null | base64 -w0");
  write_lines(file("late.jsonl"), {line(serial(1010), csr.out)});
  auto late = provision(m_station, file("late.jsonl"), file("out-late"), "--batch late");
  EXPECT_EQ(late.exit_code, 0) << late.err << late.out;  // a batch with refused lines still completes
  const auto results = read_text(file("out-late/results.jsonl"));
  EXPECT_NE(results.find("\"reason_code\":\"site_revoked\""), std::string::npos) << results;
  EXPECT_NE(results.find("revoked this site's CA"), std::string::npos) << results;
}

}  // namespace
}  // namespace hallmark::testing
