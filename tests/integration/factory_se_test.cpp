// Secure-element attestation at the factory station (issue 8): a site whose
// authorization requires attestation and names an SE vendor root; devices made
// by the software SE (`hallmark device se make`) answer the station's nonce
// (`hallmark station challenge`). The SE chain and signature are checked with
// the openssl CLI; every refusal names its check and leaves nothing behind.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "integration/factory_fixture.h"

namespace hallmark::testing {
namespace {

using nlohmann::json;

constexpr char kToken[] = "se-line-mes-token-0123456789";

class FactorySeTest : public FactoryTest {
 protected:
  void SetUp() override {
    FactoryTest::SetUp();
    if (HasFatalFailure()) return;
    auto v = hallmark("device se vendor-init --dir " + file("vendor") + " --name 'Acme Secure'");
    ASSERT_EQ(v.exit_code, 0) << v.err;
    m_auth = create_site("se", "SN-00002000..SN-00002099", 50,
                         "--attestation required --se-roots " + file("vendor") + "/root.pem");
    m_station = init_station("st", m_auth);
  }
  void TearDown() override {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      int status = 0;
      ::waitpid(m_pid, &status, 0);
    }
  }

  std::string challenge(const std::string& extra = "") {
    auto r = hallmark("station challenge --dir " + m_station + " " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto nonce = r.out.substr(0, r.out.find('\n'));
    EXPECT_EQ(nonce.size(), 64u) << r.out;
    return nonce;
  }

  json se_line(const std::string& serial_number, const std::string& nonce, const std::string& vendor = "vendor") {
    auto r = hallmark("device se make --vendor " + file(vendor) + " --serial " + serial_number +
                      " --product sensor-v2 --nonce " + nonce);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }

  std::vector<json> provision_lines(const std::vector<json>& lines, const std::string& name) {
    std::vector<std::string> text;
    for (const auto& l : lines) text.push_back(l.dump());
    write_lines(file(name + ".jsonl"), text);
    auto r = provision(m_station, file(name + ".jsonl"), file(name));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return results(file(name));
  }

  // The certificates the station holds, as its export says.
  // The device certificates in an export (the station's OCSP responder certificate left out).
  std::vector<json> exported_certificates() {
    auto r = hallmark("station export --dir " + m_station + " --out " + file("st.bundle"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<json> out;
    for (const auto& l : read_lines(file("st.bundle"))) {
      auto j = json::parse(l);
      if (j["type"] == "certificate" && j.value("profile", "") != "ocsp-signing") out.push_back(j);
    }
    return out;
  }

  void expect_nothing_issued(const std::vector<std::string>& serials) {
    for (const auto& s : serials) {
      EXPECT_EQ(hallmark("station bundle get --dir " + m_station + " " + s).exit_code, 4) << s;
    }
  }

  void start_serve() {
    const auto tls =
        run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("tls.key") +
            " -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -days 30 -out " + file("tls.pem"));
    ASSERT_EQ(tls.exit_code, 0) << tls.err;
    const auto out = file("serve.out");
    m_pid = ::fork();
    if (m_pid == 0) {
      const std::string cmd = "HALLMARK_STATION_TOKEN='" + std::string(kToken) + "' exec " + bin() +
                              " station serve --dir " + m_station + " --listen 127.0.0.1:0 --tls-cert " +
                              file("tls.pem") + " --tls-key " + file("tls.key") + " > " + out + " 2> " +
                              file("serve.err");
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 300 && m_base.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto text = read_text(out);
      const auto at = text.find("https://");
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        const auto url = text.substr(at, text.find(';', at) - at);
        m_base = url.substr(0, url.find("/factory/"));
      }
    }
    ASSERT_FALSE(m_base.empty()) << read_text(file("serve.err"));
  }

  std::pair<int, json> post(const std::string& path, const std::string& body, const std::string& token = kToken) {
    write_text(file("req.json"), body);
    std::string cmd = "curl -sS --cacert " + file("tls.pem") + " -o " + file("resp.json") +
                      " -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @" + file("req.json");
    if (!token.empty()) cmd += " -H 'Authorization: Bearer " + token + "'";
    auto r = run(cmd + " " + m_base + path);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return {std::stoi(r.out), json::parse(read_text(file("resp.json")), nullptr, false)};
  }

  std::string m_auth, m_station, m_base;
  pid_t m_pid = -1;
};

TEST_F(FactorySeTest, IssuesAnIdevidForAKeyAttestedBySeEvidenceAndRecordsTheEvidenceDigest) {
  const auto nonce = challenge();
  const auto device = se_line(serial(2000), nonce);
  const auto rows = provision_lines({device}, "b1");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["status"], "issued") << rows[0].dump();

  // A third party checks the evidence: the SE chain to the vendor root, the
  // signature over "hallmark-se-attestation-v1" || nonce with the attested key.
  const auto& ev = device["evidence"];
  write_text(file("se-leaf.b64"), ev["chain"][0].get<std::string>());
  ASSERT_EQ(
      run("base64 -d " + file("se-leaf.b64") + " | openssl x509 -inform DER -out " + file("se-leaf.pem")).exit_code, 0);
  auto chain = run("openssl verify -x509_strict -CAfile " + file("vendor") + "/root.pem " + file("se-leaf.pem"));
  EXPECT_EQ(chain.exit_code, 0) << chain.out << chain.err;
  write_text(file("sig.b64"), ev["signature"].get<std::string>());
  ASSERT_EQ(run("base64 -d " + file("sig.b64") + " > " + file("sig.der")).exit_code, 0);
  {
    std::ofstream msg(file("msg.bin"), std::ios::binary | std::ios::trunc);
    msg << "hallmark-se-attestation-v1";
    const auto octets = base::hex_decode(nonce).value();
    msg.write(reinterpret_cast<const char*>(octets.data()), static_cast<std::streamsize>(octets.size()));
  }
  ASSERT_EQ(run("openssl x509 -in " + file("se-leaf.pem") + " -pubkey -noout > " + file("se-pub.pem")).exit_code, 0);
  auto sig = run("openssl dgst -sha256 -verify " + file("se-pub.pem") + " -signature " + file("sig.der") + " " +
                 file("msg.bin"));
  EXPECT_EQ(sig.exit_code, 0) << sig.out << sig.err;

  // The IDevID certifies the attested key and chains to the operator's root.
  auto got = hallmark("station bundle get --dir " + m_station + " " + serial(2000) + " --out " + file("bundle.pem"));
  ASSERT_EQ(got.exit_code, 0) << got.err;
  ASSERT_EQ(run("openssl x509 -in " + file("bundle.pem") + " -pubkey -noout > " + file("idevid-pub.pem")).exit_code, 0);
  EXPECT_EQ(read_text(file("idevid-pub.pem")), read_text(file("se-pub.pem")));
  auto v = run("openssl verify -x509_strict -CAfile " + file("root.pem") + " -untrusted " + file("bundle.pem") + " " +
               file("bundle.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  // The ledger carries SHA-256 of the canonical evidence (compact JSON, sorted keys).
  write_text(file("evidence.json"), ev.dump());
  const auto digest = run("sha256sum " + file("evidence.json") + " | cut -c1-64").out.substr(0, 64);
  const auto certs = exported_certificates();
  ASSERT_EQ(certs.size(), 1u);
  EXPECT_EQ(certs[0]["evidence_digest"], digest);

  // Rerunning the manifest is safe: existing, without using the nonce again.
  const auto again = provision_lines({device}, "b2");
  EXPECT_EQ(again[0]["status"], "existing") << again[0].dump();
}

TEST_F(FactorySeTest, RefusesAReusedNonce) {
  const auto nonce = challenge();
  const auto rows = provision_lines({se_line(serial(2000), nonce), se_line(serial(2001), nonce)}, "b1");
  EXPECT_EQ(rows[0]["status"], "issued");
  EXPECT_EQ(rows[1]["status"], "refused");
  EXPECT_EQ(rows[1]["reason_code"], "nonce_reused") << rows[1].dump();
  // Also across batches.
  const auto later = provision_lines({se_line(serial(2002), nonce)}, "b2");
  EXPECT_EQ(later[0]["reason_code"], "nonce_reused");
  expect_nothing_issued({serial(2001), serial(2002)});
}

TEST_F(FactorySeTest, RefusesANonceTheStationNeverIssuedAndAnExpiredOne) {
  const auto rows = provision_lines({se_line(serial(2000), std::string(64, 'a'))}, "b1");
  EXPECT_EQ(rows[0]["reason_code"], "nonce_unknown") << rows[0].dump();

  const auto nonce = challenge("--ttl 1");
  const auto device = se_line(serial(2001), nonce);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  const auto late = provision_lines({device}, "b2");
  EXPECT_EQ(late[0]["reason_code"], "nonce_expired") << late[0].dump();
  expect_nothing_issued({serial(2000), serial(2001)});
  EXPECT_TRUE(exported_certificates().empty());
}

TEST_F(FactorySeTest, RefusesAChainToAnUnknownVendorRoot) {
  ASSERT_EQ(hallmark("device se vendor-init --dir " + file("rogue") + " --name Rogue").exit_code, 0);
  const auto nonce = challenge();
  const auto rows = provision_lines({se_line(serial(2000), nonce, "rogue")}, "b1");
  EXPECT_EQ(rows[0]["reason_code"], "se_chain_untrusted") << rows[0].dump();
  EXPECT_NE(rows[0]["reason"].get<std::string>().find("SE vendor root"), std::string::npos);
  // A refusal does not use the nonce: the genuine device still gets it.
  const auto ok = provision_lines({se_line(serial(2001), nonce)}, "b2");
  EXPECT_EQ(ok[0]["status"], "issued") << ok[0].dump();
  expect_nothing_issued({serial(2000)});
}

TEST_F(FactorySeTest, RefusesASignatureByAnotherKeyAndAnAttestedKeyThatIsNotTheCsrKey) {
  const auto nonce = challenge();
  const auto a = se_line(serial(2000), nonce);
  const auto b = se_line(serial(2001), nonce);
  auto forged_sig = a;
  forged_sig["evidence"]["signature"] = b["evidence"]["signature"];
  auto other_csr = a;
  other_csr["csr"] = b["csr"];  // the SE attested a's key; the CSR asks for b's
  auto csr_only = a;
  csr_only["csr"] = fresh_csr();
  const auto rows = provision_lines({forged_sig, other_csr, csr_only}, "b1");
  EXPECT_EQ(rows[0]["reason_code"], "se_signature") << rows[0].dump();
  EXPECT_EQ(rows[1]["reason_code"], "se_key_mismatch") << rows[1].dump();
  EXPECT_EQ(rows[2]["reason_code"], "se_key_mismatch") << rows[2].dump();
  expect_nothing_issued({serial(2000)});
  EXPECT_TRUE(exported_certificates().empty());
}

TEST_F(FactorySeTest, RefusesMissingAndMalformedEvidenceWithTheFieldAtFault) {
  const auto nonce = challenge();
  const auto good = se_line(serial(2000), nonce);
  auto with = [&](const std::string& serial_number, const json& evidence) {
    auto l = good;
    l["serial"] = serial_number;
    if (evidence.is_null())
      l.erase("evidence");
    else
      l["evidence"] = evidence;
    return l;
  };
  auto ev = good["evidence"];
  auto short_nonce = ev;
  short_nonce["nonce"] = "abcd";
  auto not_hex = ev;
  not_hex["nonce"] = std::string(64, 'z');
  auto bad_sig = ev;
  bad_sig["signature"] = "!!!";
  auto empty_chain = ev;
  empty_chain["chain"] = json::array();
  auto junk_cert = ev;
  junk_cert["chain"] = json::array({"aGVsbG8="});
  auto no_chain = ev;
  no_chain.erase("chain");
  const std::vector<std::pair<json, std::string>> cases = {
      {json(nullptr), "attestation_required"},
      {json("se"), "evidence_malformed"},
      {json::object({{"nonce", nonce}}), "evidence_malformed"},
      {json::object({{"type", "android-key"}}), "evidence_unsupported"},
      {short_nonce, "evidence_malformed"},
      {not_hex, "evidence_malformed"},
      {bad_sig, "evidence_malformed"},
      {empty_chain, "evidence_malformed"},
      {junk_cert, "evidence_malformed"},
      {no_chain, "evidence_malformed"},
  };
  std::vector<json> lines;
  std::vector<std::string> serials;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    serials.push_back(serial(2010 + static_cast<int>(i)));
    lines.push_back(with(serials.back(), cases[i].first));
  }
  const auto rows = provision_lines(lines, "b1");
  ASSERT_EQ(rows.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(rows[i]["status"], "refused") << i;
    EXPECT_EQ(rows[i]["reason_code"], cases[i].second) << i << ": " << rows[i].dump();
    EXPECT_FALSE(rows[i]["reason"].get<std::string>().empty());
  }
  expect_nothing_issued(serials);
  EXPECT_TRUE(exported_certificates().empty());
  // None of these used the nonce.
  EXPECT_EQ(provision_lines({good}, "b2")[0]["status"], "issued");
}

TEST_F(FactorySeTest, StationServeHandsOutNoncesAndVerifiesSeEvidenceInTheBody) {
  start_serve();
  EXPECT_EQ(post("/factory/v1/challenge", "", "").first, 401);
  auto [status, body] = post("/factory/v1/challenge", "");
  ASSERT_EQ(status, 201) << body.dump();
  const auto nonce = body["nonce"].get<std::string>();
  EXPECT_EQ(nonce.size(), 64u);
  EXPECT_FALSE(body["expires"].get<std::string>().empty());

  auto [issued, issued_body] = post("/factory/v1/provision", se_line(serial(2000), nonce).dump());
  ASSERT_EQ(issued, 201) << issued_body.dump();
  EXPECT_EQ(issued_body["status"], "issued");
  write_text(file("dev.pem"), issued_body["certificates"][0]["pem"].get<std::string>());
  write_text(file("chain.pem"), issued_body["chain"].get<std::string>());
  auto v = run("openssl verify -x509_strict -CAfile " + file("root.pem") + " -untrusted " + file("chain.pem") + " " +
               file("dev.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  auto [reused, reused_body] = post("/factory/v1/provision", se_line(serial(2001), nonce).dump());
  EXPECT_EQ(reused, 403);
  EXPECT_EQ(reused_body["reason_code"], "nonce_reused");
  auto [plain, plain_body] = post("/factory/v1/provision", line(serial(2002), fresh_csr()));
  EXPECT_EQ(plain, 403);
  EXPECT_EQ(plain_body["reason_code"], "attestation_required");
  auto [bad, bad_body] = post("/factory/v1/provision", line(serial(2003), fresh_csr(), "sensor-v2",
                                                            R"({"evidence":{"type":"se","nonce":"00"}})"));
  EXPECT_EQ(bad, 400);
  EXPECT_EQ(bad_body["reason_code"], "evidence_malformed");
  expect_nothing_issued({serial(2001), serial(2002), serial(2003)});
}

TEST_F(FactorySeTest, TheSignedAuthorizationNamesTheSeRootsOnlyWhenGiven) {
  const auto with = json::parse(read_text(m_station + "/authorization.json"));
  ASSERT_TRUE(with.contains("se_roots"));
  ASSERT_EQ(with["se_roots"].size(), 1u);
  const auto plain = create_site("plain", "SN-00003000..SN-00003009", 5);
  const auto without = json::parse(read_text(plain + "/station-1/authorization.json"));
  EXPECT_FALSE(without.contains("se_roots"));
  // A file that holds no CA certificate is refused by site create.
  write_text(file("not-roots.pem"), "hello\n");
  auto r = hallmark("site create --dir " + dir() +
                    " --id bad --serial-range SN-00004000..SN-00004009 --quota 5 --not-after 2040-01-01 "
                    "--products sensor-v2 --se-roots " +
                    file("not-roots.pem") + " --out " + file("auth-bad"));
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace hallmark::testing
