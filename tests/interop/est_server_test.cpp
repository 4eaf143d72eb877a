// EST (RFC 7030 + RFC 8951) end to end: `hallmark serve` on port 0, driven by
// third-party clients (curl, openssl) and by `hallmark device est`.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "integration/cli_fixture.h"

namespace hallmark::testing {
namespace {

class EstTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (HasFatalFailure()) return;
    // A device with a factory IDevID (admin channel issues it today).
    idevid("dev", "SN-1");
    // A third-party manufacturer CA, imported as an IDevID anchor before the server starts.
    ASSERT_EQ(run("mkdir -p " + dir() + "/trust/idevid").exit_code, 0);
    auto r = run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("tpca.key") +
                 " -subj '/CN=Acme IDevID CA' -days 3650 -out " + dir() + "/trust/idevid/acme.pem");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    before_start();
    start_server();
  }
  virtual void before_start() {}

  void TearDown() override {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      int status = 0;
      ::waitpid(m_pid, &status, 0);
    }
  }

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
        m_url = text.substr(at, text.find(' ', at) - at);  // https://127.0.0.1:PORT/.well-known/est/
      }
    }
    ASSERT_FALSE(m_url.empty()) << read_text(file("serve.err"));
  }

  // IDevID certificate + key for `serial` in <name>.pem / <name>.key.
  void idevid(const std::string& name, const std::string& serial) {
    const auto csr = openssl_csr(name, "/CN=ignored");
    auto r = hallmark("issue --dir " + dir() + " --profile idevid --serial-number " + serial +
                      " --product sensor-v2 --csr " + csr + " --out " + file(name + ".pem"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A base64 DER CSR with a new key: <name>.b64 (and <name>.key).
  std::string csr_b64(const std::string& name, const std::string& subject) {
    auto r = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file(name + ".key") +
                 " -subj '" + subject + "' -outform DER -out " + file(name + ".der") + " && base64 " +
                 file(name + ".der") + " > " + file(name + ".b64"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return file(name + ".b64");
  }

  // curl with the server's root as trust anchor; prints the body then the status code.
  CommandResult curl(const std::string& op, const std::string& args) {
    return run("curl -sS --cacert " + file("root.pem") + " -w '\\n%{http_code}' " + args + " " + m_url + op);
  }
  static int status_of(const CommandResult& r) { return std::stoi(r.out.substr(r.out.rfind('\n') + 1)); }
  static std::string body_of(const CommandResult& r) { return r.out.substr(0, r.out.rfind('\n')); }

  CommandResult enroll_with(const std::string& cert, const std::string& key, const std::string& csr_file,
                            const std::string& op = "simpleenroll",
                            const std::string& content_type = "application/pkcs10") {
    std::string args = "-H 'Content-Type: " + content_type + "' --data-binary @" + csr_file;
    if (!cert.empty()) args += " --cert " + cert + " --key " + key;
    return curl(op, args);
  }

  // Decodes a base64 certs-only response with openssl into <out> (PEM).
  void save_certs(const CommandResult& r, const std::string& out) {
    write_text(file("resp.b64"), body_of(r));
    auto p = run("base64 -d " + file("resp.b64") + " | openssl pkcs7 -inform DER -print_certs -out " + out);
    ASSERT_EQ(p.exit_code, 0) << p.err;
  }

  std::string server_root() const { return m_url.substr(0, m_url.find("/.well-known")); }

  pid_t m_pid = -1;
  std::string m_url;
};

TEST_F(EstTest, HeadOnCacertsAnswersLikeGetWithoutABody) {
  auto head = run("curl -sS -I --cacert " + file("root.pem") + " " + m_url + "cacerts");
  EXPECT_EQ(head.out.rfind("HTTP/1.1 200", 0), 0u) << head.out;
  EXPECT_NE(head.out.find("application/pkcs7-mime"), std::string::npos) << head.out;
}

TEST_F(EstTest, CacertsIsCertsOnlyPkcs7ThatOpensslReads) {
  auto r = curl("cacerts", "-D " + file("headers.txt"));
  ASSERT_EQ(status_of(r), 200) << r.out << r.err;
  EXPECT_NE(read_text(file("headers.txt")).find("application/pkcs7-mime"), std::string::npos);
  // Lines end in LF only.
  EXPECT_EQ(body_of(r).find('\r'), std::string::npos);
  save_certs(r, file("cacerts.pem"));
  const auto text = read_text(file("cacerts.pem"));
  EXPECT_NE(text.find("Hallmark Runtime CA"), std::string::npos) << text;
  EXPECT_NE(text.find("Hallmark Root CA"), std::string::npos) << text;
}

TEST_F(EstTest, CurlEnrollsWithIdevidAndRenewsWithLdevid) {
  auto r = enroll_with(file("dev.pem"), file("dev.key"), csr_b64("ld", "/serialNumber=SN-1"));
  ASSERT_EQ(status_of(r), 200) << r.out << r.err;
  save_certs(r, file("ld.pem"));
  auto v = openssl_verify(file("ld.pem"), file("runtime.pem"), "-purpose sslclient");
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto subj = run("openssl x509 -noout -subject -serial -in " + file("ld.pem"));
  EXPECT_NE(subj.out.find("serialNumber = SN-1"), std::string::npos) << subj.out;

  // Recorded as runtime / est:<IDevID fingerprint> / evidence none.
  const auto serial = subj.out.substr(subj.out.find("serial=") + 7, 32);
  auto show = hallmark("cert show --json --dir " + dir() + " " + serial);
  ASSERT_EQ(show.exit_code, 0) << show.err;
  auto doc = nlohmann::json::parse(show.out);
  EXPECT_EQ(doc["channel"], "runtime");
  EXPECT_EQ(doc["profile"], "ldevid");
  EXPECT_EQ(doc["device_serial"], "SN-1");
  EXPECT_EQ(doc["evidence_digest"], "none");
  auto fp = run("openssl x509 -noout -fingerprint -sha256 -in " + file("dev.pem") +
                " | cut -d= -f2 | tr -d ':\\n' | tr A-F a-f");
  EXPECT_EQ(doc["origin"], "est:" + fp.out);

  // Renewal with the LDevID and its current key: same subject.
  auto rr = enroll_with(file("ld.pem"), file("ld.key"), file("ld.b64"), "simplereenroll");
  ASSERT_EQ(status_of(rr), 200) << rr.out << rr.err;
  save_certs(rr, file("ld2.pem"));
  auto s2 = run("openssl x509 -noout -subject -in " + file("ld2.pem"));
  EXPECT_NE(s2.out.find("serialNumber = SN-1"), std::string::npos) << s2.out;
  // The replaced LDevID cannot renew again; the IDevID cannot renew at all.
  EXPECT_EQ(status_of(enroll_with(file("ld.pem"), file("ld.key"), file("ld.b64"), "simplereenroll")), 401);
  EXPECT_EQ(status_of(enroll_with(file("dev.pem"), file("dev.key"), file("ld.b64"), "simplereenroll")), 401);
  // Labelled path works the same way.
  EXPECT_EQ(status_of(enroll_with(file("dev.pem"), file("dev.key"), csr_b64("ld3", "/serialNumber=SN-1"),
                                  "ldevid/simpleenroll")),
            200);
}

TEST_F(EstTest, ImportedManufacturerIdevidIsAccepted) {
  csr_b64("tp", "/serialNumber=TP-7");
  ASSERT_EQ(run("openssl req -inform DER -in " + file("tp.der") + " -out " + file("tp.csr.pem")).exit_code, 0);
  auto r = run("openssl x509 -req -in " + file("tp.csr.pem") + " -CA " + dir() + "/trust/idevid/acme.pem -CAkey " +
               file("tpca.key") + " -days 365 -out " + file("tp.pem"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto e = enroll_with(file("tp.pem"), file("tp.key"), csr_b64("tpl", "/serialNumber=TP-7"));
  EXPECT_EQ(status_of(e), 200) << e.out;
}

TEST_F(EstTest, RefusesWithTheRightStatusAndATextReason) {
  const auto csr = csr_b64("ld", "/serialNumber=SN-1");
  // No client certificate: 401 with a reason, not a TLS alert.
  auto none = enroll_with("", "", csr);
  EXPECT_EQ(status_of(none), 401);
  EXPECT_NE(body_of(none).find("no client certificate"), std::string::npos) << none.out;
  // A CSR claiming another device's serial: 403.
  auto forged = enroll_with(file("dev.pem"), file("dev.key"), csr_b64("forged", "/serialNumber=SN-2"));
  EXPECT_EQ(status_of(forged), 403) << forged.out;
  // Its own serial and another one: ambiguous whatever the order, 400.
  for (const char* subject : {"/serialNumber=SN-1/serialNumber=SN-2", "/serialNumber=SN-2/serialNumber=SN-1"}) {
    auto twice = enroll_with(file("dev.pem"), file("dev.key"), csr_b64("twice", subject));
    EXPECT_EQ(status_of(twice), 400) << twice.out;
    EXPECT_NE(body_of(twice).find("more than once"), std::string::npos) << twice.out;
  }
  // Wrong media type: 415; parameters and case do not matter for the right one.
  EXPECT_EQ(status_of(enroll_with(file("dev.pem"), file("dev.key"), csr, "simpleenroll", "text/plain")), 415);
  // Broken base64, empty body: 400.
  write_text(file("bad.b64"), "MIIB!!!notbase64");
  EXPECT_EQ(status_of(enroll_with(file("dev.pem"), file("dev.key"), file("bad.b64"))), 400);
  write_text(file("empty.b64"), "");
  EXPECT_EQ(status_of(enroll_with(file("dev.pem"), file("dev.key"), file("empty.b64"))), 400);
  // Oversized body: 413.
  ASSERT_EQ(run("head -c 200000 /dev/zero | base64 > " + file("big.b64")).exit_code, 0);
  EXPECT_EQ(status_of(enroll_with(file("dev.pem"), file("dev.key"), file("big.b64"))), 413);
  // Unknown label: 404; fullcmc: 501 with a body.
  EXPECT_EQ(status_of(curl("nosuchlabel/cacerts", "")), 404);
  auto cmc = curl("fullcmc", "-X POST --data x");
  EXPECT_EQ(status_of(cmc), 501);
  EXPECT_NE(body_of(cmc).find("roadmap"), std::string::npos);
  // An IDevID from a CA that is not a configured anchor: 401.
  ASSERT_EQ(run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("rogue.key") +
                " -subj '/serialNumber=SN-1' -days 30 -out " + file("rogue.pem"))
                .exit_code,
            0);
  auto rogue = enroll_with(file("rogue.pem"), file("rogue.key"), csr);
  EXPECT_EQ(status_of(rogue), 401) << rogue.out;
}

TEST_F(EstTest, RevokedIdevidIsRefusedAtOnce) {
  auto ok = enroll_with(file("dev.pem"), file("dev.key"), csr_b64("ld", "/serialNumber=SN-1"));
  ASSERT_EQ(status_of(ok), 200) << ok.out;
  // Revoked by another process (no `hallmark revoke` yet: the store directly).
  auto serial = run("openssl x509 -noout -serial -in " + file("dev.pem") + " | cut -d= -f2 | tr -d '\\n'");
  auto upd = run("sqlite3 " + dir() + "/hallmark.db \"UPDATE certificates SET status='revoked' WHERE serial='" +
                 serial.out + "'\"");
  ASSERT_EQ(upd.exit_code, 0) << upd.err;
  auto r = enroll_with(file("dev.pem"), file("dev.key"), csr_b64("ld2", "/serialNumber=SN-1"));
  EXPECT_EQ(status_of(r), 401);
  EXPECT_NE(body_of(r).find("revoked"), std::string::npos) << r.out;
}

TEST_F(EstTest, RefusalsOfAnIdentifiedDeviceAreAuditedAndAnonymousOnesAreNot) {
  ASSERT_EQ(status_of(enroll_with("", "", csr_b64("anon", "/serialNumber=SN-1"))), 401);
  auto forged = enroll_with(file("dev.pem"), file("dev.key"), csr_b64("forged", "/serialNumber=SN-2"));
  ASSERT_EQ(status_of(forged), 403) << forged.out;
  auto exported = hallmark("audit export --dir " + dir() + " --out " + file("audit.jsonl"));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const auto audit = read_text(file("audit.jsonl"));
  const auto at = audit.find("enrollment-refused");
  ASSERT_NE(at, std::string::npos) << audit;
  EXPECT_NE(audit.find("device SN-1 from 127.0.0.1", at), std::string::npos) << audit;
  EXPECT_NE(audit.find("claims serialNumber 'SN-2'", at), std::string::npos) << audit;
  EXPECT_EQ(audit.find("enrollment-refused", at + 1), std::string::npos) << "the anonymous 401 is not audited";
  EXPECT_EQ(hallmark("audit verify --dir " + dir()).exit_code, 0);
}

TEST_F(EstTest, ARevokedIdevidAlsoEndsTheRenewalOfItsLdevid) {
  auto ok = enroll_with(file("dev.pem"), file("dev.key"), csr_b64("ld", "/serialNumber=SN-1"));
  ASSERT_EQ(status_of(ok), 200) << ok.out;
  save_certs(ok, file("ld.pem"));
  auto renewed = enroll_with(file("ld.pem"), file("ld.key"), csr_b64("ld2", "/serialNumber=SN-1"), "simplereenroll");
  ASSERT_EQ(status_of(renewed), 200) << renewed.out;
  save_certs(renewed, file("ld2.pem"));
  // The device is stolen: its IDevID is revoked; the LDevID it got cannot renew either.
  auto serial = run("openssl x509 -noout -serial -in " + file("dev.pem") + " | cut -d= -f2 | tr -d '\\n'").out;
  auto rv = hallmark("revoke --dir " + dir() + " --serial " + serial + " --reason keyCompromise");
  ASSERT_EQ(rv.exit_code, 0) << rv.err;
  auto again = enroll_with(file("ld2.pem"), file("ld2.key"), csr_b64("ld3", "/serialNumber=SN-1"), "simplereenroll");
  EXPECT_EQ(status_of(again), 401) << again.out;
  EXPECT_NE(body_of(again).find("no standing IDevID"), std::string::npos) << again.out;
}

TEST_F(EstTest, AnIdevidSignedWithTheFactoryKeyButUnknownToTheLedgerIsRefused) {
  // What a stolen factory key would make: a valid chain, no ledger record.
  ASSERT_EQ(run("openssl pkey -in " + dir() + "/keys/factory.key -passin env:HALLMARK_KEY_PASSPHRASE -out " +
                file("factory-plain.key"))
                .exit_code,
            0);
  ASSERT_EQ(run(bin() + " ca export --dir " + dir() + " --issuer factory > " + file("factory.pem")).exit_code, 0);
  csr_b64("forged", "/O=Acme/serialNumber=SN-77");
  ASSERT_EQ(run("openssl req -inform DER -in " + file("forged.der") + " -out " + file("forged.csr")).exit_code, 0);
  auto signed_ = run("openssl x509 -req -in " + file("forged.csr") + " -CA " + file("factory.pem") + " -CAkey " +
                     file("factory-plain.key") + " -days 30 -out " + file("forged.pem"));
  ASSERT_EQ(signed_.exit_code, 0) << signed_.err;
  auto r = enroll_with(file("forged.pem"), file("forged.key"), csr_b64("fl", "/serialNumber=SN-77"));
  EXPECT_EQ(status_of(r), 401) << r.out;
  EXPECT_NE(body_of(r).find("the ledger has no such certificate"), std::string::npos) << r.out;
}

TEST_F(EstTest, ExpiredImportedIdevidIsRefused) {
  csr_b64("old", "/serialNumber=OLD-1");
  const auto ca = file("ca");
  write_text(file("ca.cnf"), "[ca]\ndefault_ca=d\n[d]\ndatabase=" + ca +
                                 "-index.txt\nnew_certs_dir=" + m_tmp.path().string() + "\nserial=" + ca +
                                 "-serial\ndefault_md=sha256\npolicy=p\n[p]\nserialNumber=optional\n");
  ASSERT_EQ(run("touch " + ca + "-index.txt && echo 01 > " + ca + "-serial").exit_code, 0);
  ASSERT_EQ(run("openssl req -inform DER -in " + file("old.der") + " -out " + file("old.csr.pem")).exit_code, 0);
  auto r = run("openssl ca -batch -config " + file("ca.cnf") + " -cert " + dir() + "/trust/idevid/acme.pem -keyfile " +
               file("tpca.key") + " -in " + file("old.csr.pem") +
               " -startdate 20200101000000Z -enddate 20210101000000Z -notext -out " + file("old.pem"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto e = enroll_with(file("old.pem"), file("old.key"), csr_b64("oldl", "/serialNumber=OLD-1"));
  EXPECT_EQ(status_of(e), 401);
  EXPECT_NE(body_of(e).find("expired"), std::string::npos) << e.out;
}

TEST_F(EstTest, DeviceCliEnrollsAndRenewsOverTheWire) {
  auto ca = hallmark("device est cacerts --server " + server_root() + " --cacert " + file("root.pem"));
  ASSERT_EQ(ca.exit_code, 0) << ca.err;
  EXPECT_NE(ca.out.find("BEGIN CERTIFICATE"), std::string::npos);
  auto e = hallmark("device est enroll --server " + server_root() + " --cacert " + file("root.pem") + " --cert " +
                    file("dev.pem") + " --key " + file("dev.key") + " --out " + file("d-ld.pem"));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(openssl_verify(file("d-ld.pem"), file("runtime.pem")).exit_code, 0);
  auto rr = hallmark("device est reenroll --server " + server_root() + " --cacert " + file("root.pem") + " --cert " +
                     file("d-ld.pem") + " --key " + file("d-ld.pem.key") + " --out " + file("d-ld2.pem"));
  ASSERT_EQ(rr.exit_code, 0) << rr.err;
  // A key already certified for another device is refused.
  idevid("dev2", "SN-2");
  auto dup = hallmark("device est enroll --server " + server_root() + " --cacert " + file("root.pem") + " --cert " +
                      file("dev2.pem") + " --key " + file("dev2.key") + " --csr-key " + file("d-ld.pem.key") +
                      " --out " + file("x.pem"));
  EXPECT_EQ(dup.exit_code, 3) << dup.err;
  EXPECT_NE(dup.err.find("another device"), std::string::npos) << dup.err;
}

TEST_F(EstTest, DeviceCliTakesTheIdevidWithItsChainAsABundleHoldsIt) {
  // `station bundle get` writes the IDevID, then its chain and the root: the leaf names the device.
  idevid("dev3", "SN-3");
  write_text(file("bundle.pem"), read_text(file("dev3.pem")) + read_text(file("root.pem")));
  auto e = hallmark("device est enroll --server " + server_root() + " --cacert " + file("root.pem") + " --cert " +
                    file("bundle.pem") + " --key " + file("dev3.key") + " --out " + file("b-ld.pem"));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(run("openssl x509 -noout -subject -in " + file("b-ld.pem")).out.find("serialNumber = SN-3"),
            std::string::npos);
}

// HTTP Basic (RFC 7030 §3.2.3): off by default, per device and single use
// where a label enables it; driven by curl.
class EstBasicTest : public EstTest {
 protected:
  void before_start() override {
    std::ofstream(dir() + "/hallmark.toml", std::ios::app) << "\n[est.labels.boot]\nprofile = \"ldevid\"\n"
                                                           << "http_basic = true\n";
  }
  std::string credential(const std::string& device) {
    auto r = hallmark("est credential add --dir " + dir() + " --device " + device + " --json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out).at("password").get<std::string>();
  }
  CommandResult basic_enroll(const std::string& label_op, const std::string& user_pass, const std::string& csr) {
    return curl(label_op, "-u '" + user_pass + "' -H 'Content-Type: application/pkcs10' --data-binary @" + csr);
  }
  std::string certificates_of(const std::string& device) {
    return run("sqlite3 " + dir() + "/hallmark.db \"SELECT count(*) FROM certificates WHERE device_serial='" + device +
               "'\"")
        .out;
  }
};

TEST_F(EstBasicTest, ASingleUseCredentialEnrollsOnceAndItsReuseIsRefusedAndAudited) {
  const auto password = credential("SN-9");
  const auto csr = csr_b64("b1", "/serialNumber=SN-9");
  auto ok = basic_enroll("boot/simpleenroll", "SN-9:" + password, csr);
  ASSERT_EQ(status_of(ok), 200) << ok.out;
  save_certs(ok, file("b1.pem"));
  EXPECT_EQ(openssl_verify(file("b1.pem"), file("runtime.pem")).exit_code, 0);
  EXPECT_NE(run("openssl x509 -noout -subject -in " + file("b1.pem")).out.find("serialNumber = SN-9"),
            std::string::npos);
  // The same credential again, with a fresh key: refused, audited, nothing issued.
  auto again = basic_enroll("boot/simpleenroll", "SN-9:" + password, csr_b64("b2", "/serialNumber=SN-9"));
  EXPECT_EQ(status_of(again), 401);
  EXPECT_NE(body_of(again).find("already used"), std::string::npos) << again.out;
  EXPECT_EQ(certificates_of("SN-9"), "1\n");
  auto exported = hallmark("audit export --dir " + dir() + " --out " + file("audit.jsonl"));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(read_text(file("audit.jsonl")).find("credential-reused"), std::string::npos);
  EXPECT_EQ(hallmark("audit verify --dir " + dir()).exit_code, 0);
}

TEST_F(EstBasicTest, WrongOrDisabledBasicIsRefusedWith401AndBurnsNothing) {
  const auto password = credential("SN-9");
  const auto csr = csr_b64("b1", "/serialNumber=SN-9");
  // Not enabled on the default label, even with a valid credential.
  auto off = basic_enroll("simpleenroll", "SN-9:" + password, csr);
  EXPECT_EQ(status_of(off), 401);
  EXPECT_NE(body_of(off).find("not enabled"), std::string::npos) << off.out;
  // Wrong password, unknown device: one message (no oracle), and the challenge header.
  auto wrong = run("curl -sS -i --cacert " + file("root.pem") +
                   " -u SN-9:nope -H 'Content-Type: application/pkcs10' --data-binary @" + csr + " " + m_url +
                   "boot/simpleenroll");
  EXPECT_NE(wrong.out.find("401"), std::string::npos) << wrong.out;
  EXPECT_NE(wrong.out.find("WWW-Authenticate: Basic"), std::string::npos) << wrong.out;
  EXPECT_NE(wrong.out.find("unknown device or wrong password"), std::string::npos) << wrong.out;
  auto unknown = basic_enroll("boot/simpleenroll", "SN-404:" + password, csr_b64("u", "/serialNumber=SN-404"));
  EXPECT_EQ(status_of(unknown), 401);
  // A stranger's CSR is not even looked at: the wrong password comes first (401, not 403).
  auto stranger = basic_enroll("boot/simpleenroll", "SN-9:nope", csr_b64("s", "/serialNumber=SN-1"));
  EXPECT_EQ(status_of(stranger), 401) << stranger.out;
  // A user name that cannot be a device serial.
  EXPECT_EQ(status_of(basic_enroll("boot/simpleenroll", "SN 9\x01:" + password, csr)), 401);
  // A CSR naming another device: 403, and the credential is not spent by it.
  auto forged = basic_enroll("boot/simpleenroll", "SN-9:" + password, csr_b64("f", "/serialNumber=SN-1"));
  EXPECT_EQ(status_of(forged), 403) << forged.out;
  EXPECT_NE(body_of(forged).find("the HTTP Basic credential authenticates device 'SN-9'"), std::string::npos)
      << forged.out;
  EXPECT_EQ(certificates_of("SN-9"), "0\n");
  // An Authorization header that is not user:password in base64: 401 naming the header.
  auto garbled = run("curl -sS -i --cacert " + file("root.pem") +
                     " -H 'Authorization: Basic !!notbase64' -H 'Content-Type: application/pkcs10' --data-binary @" +
                     csr + " " + m_url + "boot/simpleenroll");
  EXPECT_NE(garbled.out.find("401"), std::string::npos) << garbled.out;
  EXPECT_NE(garbled.out.find("the Authorization header is not HTTP Basic"), std::string::npos) << garbled.out;
  auto ok = basic_enroll("boot/simpleenroll", "SN-9:" + password, csr);
  EXPECT_EQ(status_of(ok), 200) << ok.out;
}

// A running server signs audit checkpoints on its own (every N records / T seconds).
class EstCheckpointTest : public EstTest {
 protected:
  void before_start() override {
    ASSERT_EQ(run("sed -i 's/^checkpoint_every_seconds = .*/checkpoint_every_seconds = 1/' " + dir() + "/hallmark.toml")
                  .exit_code,
              0);
  }
};

TEST_F(EstCheckpointTest, AServerSignsACheckpointOverItsNewRecordsWithoutAnExport) {
  auto ok = enroll_with(file("dev.pem"), file("dev.key"), csr_b64("ld", "/serialNumber=SN-1"));
  ASSERT_EQ(status_of(ok), 200) << ok.out;
  const auto db = dir() + "/hallmark.db";
  const auto head = run("sqlite3 " + db + " 'SELECT max(sequence) FROM audit_records'").out;
  std::string covered;
  for (int i = 0; i < 100 && covered != head; ++i) {  // bounded wait, not a timing assertion
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    covered = run("sqlite3 " + db + " 'SELECT max(sequence) FROM audit_checkpoints'").out;
  }
  EXPECT_EQ(covered, head);
  EXPECT_EQ(hallmark("audit verify --dir " + dir()).exit_code, 0);
}

// /serverkeygen with `hallmark device est serverkeygen`; the key is checked
// against the certificate with openssl (RFC 7030 §4.4).
class EstServerKeygenTest : public EstTest {
 protected:
  // `hallmark device est serverkeygen` for dev.pem with extra arguments; key -> <name>.key.
  CommandResult keygen(const std::string& name, const std::string& args = "") {
    return hallmark("device est serverkeygen --server " + server_root() + " --cacert " + file("root.pem") + " --cert " +
                    file("dev.pem") + " --key " + file("dev.key") + " --out " + file(name + ".pem") +
                    " --new-key-out " + file(name + ".key") + " " + args);
  }
  // The public key of a certificate and of a DER/PEM private key, as openssl prints them.
  std::string cert_pubkey(const std::string& cert) { return run("openssl x509 -noout -pubkey -in " + cert).out; }
  std::string key_pubkey(const std::string& key, const std::string& form) {
    return run("openssl pkey -pubout -inform " + form + " -in " + key).out;
  }
  // Decrypted AsymmetricKeyPackage (RFC 5958) -> the PKCS#8 inside, as <out>.
  void unpack(const std::string& package, const std::string& out) {
    auto r =
        run("python3 -c \"import sys; d=open(sys.argv[1],'rb').read(); assert d[0]==0x30; "
            "n=d[1]; h=2 if n<0x80 else 2+(n&0x7f); open(sys.argv[2],'wb').write(d[h:])\" " +
            package + " " + out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
};

TEST_F(EstServerKeygenTest, PlainKeyComesAsPkcs8MatchingTheCertificate) {
  auto r = keygen("plain");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(openssl_verify(file("plain.pem"), file("runtime.pem")).exit_code, 0);
  const auto pub = cert_pubkey(file("plain.pem"));
  ASSERT_NE(pub.find("BEGIN PUBLIC KEY"), std::string::npos);
  EXPECT_EQ(key_pubkey(file("plain.key"), "PEM"), pub);
  // The raw response: multipart/mixed, the application/pkcs8 part first (curl).
  auto c = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("t.key") +
               " -subj '/serialNumber=SN-1' -outform DER -out " + file("t.der") + " && base64 " + file("t.der") +
               " > " + file("t.b64"));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto http = curl("serverkeygen", "-D " + file("h.txt") + " --cert " + file("dev.pem") + " --key " + file("dev.key") +
                                       " -H 'Content-Type: application/pkcs10' --data-binary @" + file("t.b64"));
  EXPECT_EQ(status_of(http), 200) << http.out;
  EXPECT_NE(read_text(file("h.txt")).find("multipart/mixed; boundary="), std::string::npos);
  const auto body = body_of(http);
  EXPECT_LT(body.find("Content-Type: application/pkcs8"),
            body.find("Content-Type: application/pkcs7-mime; smime-type=certs-only"));
}

TEST_F(EstServerKeygenTest, SymmetricKeyEncryptedKeyDecryptsWithOpensslCms) {
  const std::string kek = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  ASSERT_EQ(run("mkdir -p " + dir() + "/est/kek").exit_code, 0);
  write_text(dir() + "/est/kek/c0ffee.key", kek + "\n");
  auto r = keygen("sym", "--decrypt-key-id c0ffee");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("CMS EnvelopedData"), std::string::npos) << r.err;
  // The key file is not a usable plain key...
  EXPECT_NE(run("openssl pkey -inform DER -in " + file("sym.key") + " -noout").exit_code, 0);
  // ...a wrong KEK cannot open it...
  EXPECT_NE(run("openssl cms -decrypt -inform DER -in " + file("sym.key") + " -secretkeyid c0ffee -secretkey " +
                std::string(64, 'a') + " -out " + file("bad.der"))
                .exit_code,
            0);
  // ...and the right one gives the PKCS#8 of the certified key.
  auto d = run("openssl cms -decrypt -inform DER -in " + file("sym.key") + " -secretkeyid c0ffee -secretkey " + kek +
               " -out " + file("sym.pkg"));
  ASSERT_EQ(d.exit_code, 0) << d.err;
  unpack(file("sym.pkg"), file("sym.p8"));
  EXPECT_EQ(key_pubkey(file("sym.p8"), "DER"), cert_pubkey(file("sym.pem")));
}

TEST_F(EstServerKeygenTest, CertificateEncryptedKeyDecryptsWithOpensslCms) {
  ASSERT_EQ(run("mkdir -p " + dir() + "/est/recipients").exit_code, 0);
  for (const std::string alg : {"rsa:2048", "ec -pkeyopt ec_paramgen_curve:P-256"}) {
    SCOPED_TRACE(alg);
    auto mk = run("openssl req -x509 -newkey " + alg + " -nodes -keyout " + file("rc.key") +
                  " -subj '/CN=device encryption key' -days 30 -out " + file("rc.pem"));
    ASSERT_EQ(mk.exit_code, 0) << mk.err;
    auto ski = run("openssl x509 -noout -ext subjectKeyIdentifier -in " + file("rc.pem") +
                   " | tail -1 | tr -d ' :\\n' | tr A-F a-f");
    ASSERT_EQ(ski.exit_code, 0);
    ASSERT_EQ(ski.out.size(), 40u) << ski.out;
    ASSERT_EQ(run("cp " + file("rc.pem") + " " + dir() + "/est/recipients/" + ski.out + ".pem").exit_code, 0);
    auto r = keygen("asym", "--recipient-key-id " + ski.out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto d = run("openssl cms -decrypt -inform DER -in " + file("asym.key") + " -recip " + file("rc.pem") + " -inkey " +
                 file("rc.key") + " -out " + file("asym.pkg"));
    ASSERT_EQ(d.exit_code, 0) << d.err;
    unpack(file("asym.pkg"), file("asym.p8"));
    EXPECT_EQ(key_pubkey(file("asym.p8"), "DER"), cert_pubkey(file("asym.pem")));
  }
}

TEST_F(EstServerKeygenTest, UnknownKeyIdentifiersAreRefusedBeforeAnythingIsIssued) {
  const auto before = hallmark("cert list --dir " + dir() + " --json");
  ASSERT_EQ(before.exit_code, 0) << before.err;
  auto sym = keygen("u1", "--decrypt-key-id 0badc0de");
  EXPECT_EQ(sym.exit_code, 3) << sym.err;
  EXPECT_NE(sym.err.find("400"), std::string::npos) << sym.err;
  EXPECT_NE(sym.err.find("names no pre-provisioned key"), std::string::npos) << sym.err;
  auto asym = keygen("u2", "--recipient-key-id 0badc0de");
  EXPECT_EQ(asym.exit_code, 3) << asym.err;
  EXPECT_NE(asym.err.find("names no registered encryption certificate"), std::string::npos) << asym.err;
  EXPECT_EQ(hallmark("cert list --dir " + dir() + " --json").out, before.out);
  // Without a client certificate: 401, and nothing about which identifiers exist.
  auto c = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("t.key") +
               " -subj '/serialNumber=SN-1' -outform DER -out " + file("t.der") + " && base64 " + file("t.der") +
               " > " + file("t.b64"));
  ASSERT_EQ(c.exit_code, 0);
  auto anon = enroll_with("", "", file("t.b64"), "serverkeygen");
  EXPECT_EQ(status_of(anon), 401) << anon.out;
}

}  // namespace
}  // namespace hallmark::testing
