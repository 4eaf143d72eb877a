// TPM attestation at the factory station (issue 8): a site whose authorization
// requires attestation and names the swtpm's EK CA root (swtpm_localca) as TPM
// manufacturer root; the device is the fixture's swtpm (tpm_device.sh: TPM2_Certify
// of its IDevID key by its IAK over the station's nonce, a CSR signed inside the
// TPM by tpm2_sign), and the TPM itself activates the station's credential
// (tpm2_activatecredential with its EK). Flows through `station tpm-activate` +
// `station provision` and through `station serve`; every refusal names its check.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include <tss2/tss2_mu.h>

#include "attest/tcg_csr_idevid.h"
#include "base/crypto.h"
#include "integration/factory_fixture.h"

namespace hallmark::testing {
namespace {

using nlohmann::json;

constexpr char kToken[] = "tpm-line-mes-token-0123456789";
const std::string kSwtpm = HALLMARK_SWTPM_DIR;

class FactoryTpmTest : public FactoryTest {
 protected:
  void SetUp() override {
    FactoryTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(run("openssl x509 -inform der -in " + kSwtpm + "/tpm_root.der -out " + file("tpm-root.pem")).exit_code,
              0);
    m_auth = create_site("tpm", "SN-00003000..SN-00003099", 50,
                         "--attestation required --tpm-roots " + file("tpm-root.pem"));
    m_station = init_station("st", m_auth);
  }
  void TearDown() override {
    for (const pid_t pid : {m_pid, m_est_pid}) {
      if (pid > 0) {
        ::kill(pid, SIGTERM);
        int status = 0;
        ::waitpid(pid, &status, 0);
      }
    }
  }

  static std::string tcti() {
    auto port = read_text(kSwtpm + "/port");
    port.erase(port.find_last_not_of("\n ") + 1);
    return "swtpm:host=127.0.0.1,port=" + port;
  }

  // `hallmark serve` (EST) on port 0 over the operator PKI; its https://host:port.
  std::string start_est() {
    const auto out = file("est.out");
    m_est_pid = ::fork();
    if (m_est_pid == 0) {
      const std::string cmd =
          "exec " + bin() + " serve --dir " + dir() + " --listen 127.0.0.1:0 > " + out + " 2> " + file("est.err");
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 300; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto text = read_text(out);
      const auto at = text.find("https://");
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        const auto url = text.substr(at, text.find(' ', at) - at);
        return url.substr(0, url.find("/.well-known"));
      }
    }
    ADD_FAILURE() << read_text(file("est.err"));
    return "";
  }

  // `device tpm make` + `device tpm activate` + provisioning: the TPM's IDevID bundle (PEM) in <name>.
  void tpm_idevid(const std::string& serial_number, const std::string& name) {
    ASSERT_EQ(run("openssl x509 -inform der -in " + kSwtpm + "/ek_issuer.der -out " + file("ek-ca.pem")).exit_code, 0);
    auto made = hallmark("device tpm make --tcti '" + tcti() + "' --serial " + serial_number +
                         " --product sensor-v2 --nonce " + challenge() + " --ek-chain " + file("ek-ca.pem"));
    ASSERT_EQ(made.exit_code, 0) << made.err;
    auto line = json::parse(made.out);
    const auto answer = offline_activate({{"evidence", line["evidence"]}, {"csr", line["csr"]}});
    ASSERT_EQ(answer["status"], "ready") << answer.dump();
    write_text(file("answer.json"), answer.dump());
    auto act = hallmark("device tpm activate --tcti '" + tcti() + "' --answer " + file("answer.json"));
    ASSERT_EQ(act.exit_code, 0) << act.err;
    line["evidence"]["activated_secret"] = act.out.substr(0, act.out.find('\n'));
    ASSERT_EQ(provision_line(line, "b-" + name)["status"], "issued");
    auto pem = run(bin() + " station bundle get --dir " + m_station + " " + serial_number);
    ASSERT_EQ(pem.exit_code, 0) << pem.err;
    write_text(file(name), pem.out);
  }

  std::string challenge(const std::string& station = "") {
    auto r = hallmark("station challenge --dir " + (station.empty() ? m_station : station));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }

  // The device answers `nonce`: {"evidence", "csr"} made on the swtpm with key `handle`.
  json device(const std::string& nonce, const std::string& handle = "0x81000003") {
    const auto out = file("dev-" + std::to_string(++m_devices));
    auto r = run(std::string(HALLMARK_TPM_DEVICE) + " " + kSwtpm + " " + HALLMARK_TPM_CERTIFY + " " + nonce + " " +
                 out + " " + handle);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return {{"evidence", json::parse(read_text(out + "/evidence.json"))}, {"csr", tpm_csr(out, handle)}};
  }

  // A CSR for the TPM key `handle` (SPKI in <out>/key.der), its signature made by the TPM (tpm2_sign).
  std::string tpm_csr(const std::string& out, const std::string& handle) {
    pkix::Name subject;
    EXPECT_TRUE(subject.add(pkix::oid::kCommonName, "tpm-device").ok());
    const auto spki = base::to_bytes(read_text(out + "/key.der"));
    auto info = pkix::encode_csr_info(subject, spki);
    EXPECT_TRUE(info.ok());
    write_text(out + "/info.der", base::to_string(info.value()));
    auto r = run("export TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=$(cat " + kSwtpm + "/port); openssl dgst -sha256 " +
                 "-binary " + out + "/info.der > " + out + "/info.sha256 && tpm2_sign -c " + handle +
                 " -g sha256 -d -f plain -o " + out + "/info.sig " + out + "/info.sha256");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto raw = base::ecdsa_der_to_raw(base::to_bytes(read_text(out + "/info.sig")), 32);
    EXPECT_TRUE(raw.ok());
    auto der = pkix::assemble_csr(info.value(), base::SignatureAlgorithm::EcdsaSha256, raw.value());
    EXPECT_TRUE(der.ok());
    return base::base64_encode(der.value());
  }

  // The TPM's TPM2_ActivateCredential of the station's answer; the secret as base64 ("" when refused).
  std::string tpm_activate(const json& answer) {
    auto blob = base::base64_decode(answer["credential_blob"].get<std::string>()).value();
    auto secret = base::base64_decode(answer["encrypted_secret"].get<std::string>()).value();
    base::Bytes f = {0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1};  // tpm2-tools' credential file header
    f.insert(f.end(), blob.begin(), blob.end());
    f.insert(f.end(), secret.begin(), secret.end());
    write_text(file("cred.bin"), base::to_string(f));
    auto r = run(std::string(HALLMARK_TPM_ACTIVATE) + " " + kSwtpm + " " + file("cred.bin") + " " + file("act.bin"));
    if (r.exit_code != 0) return "";
    return run("base64 -w0 " + file("act.bin")).out;
  }

  // `station tpm-activate` of one request; its output row.
  json offline_activate(const json& request) {
    write_lines(file("act.jsonl"), {request.dump()});
    auto r = hallmark("station tpm-activate --dir " + m_station + " --input " + file("act.jsonl"));
    return json::parse(r.out.substr(0, r.out.find('\n')), nullptr, false);
  }

  json manifest_line(const std::string& serial_number, const json& dev, const std::string& activated,
                     const json& extra = json::object()) {
    json ev = dev["evidence"];
    if (!activated.empty()) ev["activated_secret"] = activated;
    json l = {{"serial", serial_number}, {"product", "sensor-v2"}, {"csr", dev["csr"]}, {"evidence", ev}};
    l.update(extra);
    return l;
  }

  json provision_line(const json& l, const std::string& name) {
    write_lines(file(name + ".jsonl"), {l.dump()});
    auto r = provision(m_station, file(name + ".jsonl"), file(name));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto rows = results(file(name));
    return rows.empty() ? json() : rows[0];
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

  std::pair<int, json> post(const std::string& path, const std::string& body) {
    write_text(file("req.json"), body);
    auto r = run("curl -sS --cacert " + file("tls.pem") + " -o " + file("resp.json") +
                 " -w '%{http_code}' -H 'Content-Type: application/json' -H 'Authorization: Bearer " + kToken +
                 "' --data-binary @" + file("req.json") + " " + m_base + path);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return {std::stoi(r.out), json::parse(read_text(file("resp.json")), nullptr, false)};
  }

  // `device tpm make --format tcg-csr-idevid` for `serial_number` over a fresh station nonce: its manifest line.
  json tcg_device(const std::string& serial_number) {
    if (!std::filesystem::exists(file("ek-ca.pem"))) {
      EXPECT_EQ(run("openssl x509 -inform der -in " + kSwtpm + "/ek_issuer.der -out " + file("ek-ca.pem")).exit_code,
                0);
    }
    auto made = hallmark("device tpm make --format tcg-csr-idevid --tcti '" + tcti() + "' --serial " + serial_number +
                         " --product sensor-v2 --nonce " + challenge() + " --ek-chain " + file("ek-ca.pem"));
    EXPECT_EQ(made.exit_code, 0) << made.err;
    return json::parse(made.out, nullptr, false);
  }

  // The line's TCG-CSR-IDEVID octets, and the line with them replaced.
  static base::Bytes tcg_bytes(const json& line) {
    return base::base64_decode(line["evidence"]["tcg_csr_idevid"].get<std::string>()).value();
  }
  static json with_tcg(json line, const base::Bytes& csr) {
    line["evidence"]["tcg_csr_idevid"] = base::base64_encode(csr);
    return line;
  }

  std::string m_auth, m_station, m_base;
  pid_t m_pid = -1, m_est_pid = -1;
  int m_devices = 0;
};

TEST_F(FactoryTpmTest, BatchIssuesAnIdevidWithTcgHardwareModuleNameAfterTheTpmActivatesTheCredential) {
  const auto dev = device(challenge());
  const auto answer = offline_activate(dev);
  ASSERT_EQ(answer["status"], "ready") << answer.dump();
  const auto secret = tpm_activate(answer);
  ASSERT_FALSE(secret.empty()) << "the TPM did not activate the station's credential";

  const auto row = provision_line(manifest_line(serial(3000), dev, secret), "b1");
  ASSERT_EQ(row["status"], "issued") << row.dump();
  auto pem = run(bin() + " station bundle get --dir " + m_station + " " + serial(3000));
  ASSERT_EQ(pem.exit_code, 0) << pem.err;
  write_text(file("bundle.pem"), pem.out);
  // openssl: the IDevID certifies the TPM's key and carries hwType tcg-sv-tpm20.
  auto key = run("openssl x509 -in " + file("bundle.pem") +
                 " -pubkey -noout | openssl pkey -pubin -outform der | cmp - " + kSwtpm + "/idevid_spki.der");
  EXPECT_EQ(key.exit_code, 0) << key.out << key.err;
  // hwType 2.23.133.1.2 is DER 06 05 67 81 05 01 02 (standards.md §1), inside the SAN's HardwareModuleName.
  auto der = run("openssl x509 -in " + file("bundle.pem") + " -outform der | od -An -tx1 -v | tr -d ' \\n'");
  // hwSerialNum (docs/factory.md): "<manufacturer>:<EK AKI>:<EK serial>", each read here by openssl from the
  // EK certificate: tcg-at-tpmManufacturer (swtpm's id:00001014 is no ASCII code: its 8 digits), the
  // authorityKeyIdentifier and the serial, lower-case hex without separators.
  const std::string ek = kSwtpm + "/ek.der";
  auto manufacturer = run("openssl x509 -inform der -in " + ek +
                          " -noout -ext subjectAltName | grep -o '2.23.133.2.1=id:[0-9A-Fa-f]*' | cut -d: -f2");
  auto aki = run("openssl x509 -inform der -in " + ek +
                 " -noout -ext authorityKeyIdentifier | tail -n 1 | sed 's/keyid://' | tr -d ' :\\n' | tr A-F a-f");
  auto ek_serial =
      run("openssl x509 -inform der -in " + ek + " -noout -serial | cut -d= -f2 | tr -d '\\n' | tr A-F a-f");
  ASSERT_EQ(manufacturer.exit_code, 0);
  ASSERT_EQ(manufacturer.out, "00001014\n");
  ASSERT_FALSE(aki.out.empty());
  const auto hw_serial = "00001014:" + aki.out + ":" + ek_serial.out;
  EXPECT_NE(der.out.find("06056781050102"
                         "04" +
                         base::hex_encode(base::Bytes{static_cast<std::uint8_t>(hw_serial.size())}) +
                         base::hex_encode(base::to_bytes(hw_serial))),
            std::string::npos)
      << hw_serial << "\n"
      << der.out;
  auto san = run("openssl x509 -in " + file("bundle.pem") + " -noout -ext subjectAltName");
  EXPECT_NE(san.out.find("othername"), std::string::npos) << san.out;
}

TEST_F(FactoryTpmTest, RefusesAWrongOrMissingActivationSecretAndLeavesTheNonceUsable) {
  const auto dev = device(challenge());
  auto row = provision_line(manifest_line(serial(3001), dev, ""), "b1");
  EXPECT_EQ(row["reason_code"], "tpm_activation_required") << row.dump();
  const auto answer = offline_activate(dev);
  ASSERT_EQ(answer["status"], "ready") << answer.dump();
  row = provision_line(manifest_line(serial(3001), dev, base::base64_encode(base::Bytes(32, 7))), "b2");
  EXPECT_EQ(row["reason_code"], "tpm_activation_wrong") << row.dump();
  // The genuine activation still works: nothing was consumed by the refusals.
  row = provision_line(manifest_line(serial(3001), dev, tpm_activate(answer)), "b3");
  EXPECT_EQ(row["status"], "issued") << row.dump();
}

TEST_F(FactoryTpmTest, RefusesAReplayedActivationAndAReusedNonce) {
  const auto dev = device(challenge());
  // Two activations of one TPM2_Certify before provisioning: the nonce is checked, not consumed.
  const auto first = tpm_activate(offline_activate(dev));
  const auto second = tpm_activate(offline_activate(dev));
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  ASSERT_EQ(provision_line(manifest_line(serial(3002), dev, first), "b1")["status"], "issued");
  // The same activation again (asking for one more certificate, so the station must attest again).
  auto row = provision_line(manifest_line(serial(3002), dev, first, {{"profiles", {"ldevid"}}}), "b2");
  EXPECT_EQ(row["reason_code"], "tpm_activation_replayed") << row.dump();
  // The other activation of the same TPM2_Certify: its nonce is spent.
  row = provision_line(manifest_line(serial(3002), dev, second, {{"profiles", {"ldevid"}}}), "b3");
  EXPECT_EQ(row["reason_code"], "nonce_reused") << row.dump();
  // And no activation is made any more for it.
  EXPECT_EQ(offline_activate(dev)["reason_code"], "nonce_reused");
}

TEST_F(FactoryTpmTest, TheActivationCallRefusesANonceThisStationDidNotIssue) {
  const auto dev = device(base::hex_encode(base::Bytes(32, 0x3c)));
  const auto answer = offline_activate(dev);
  EXPECT_EQ(answer["reason_code"], "nonce_unknown") << answer.dump();
  // Another station's nonce is unknown here too.
  const auto other = init_station("st-other", m_auth);
  EXPECT_EQ(offline_activate(device(challenge(other)))["reason_code"], "nonce_unknown");
  // An expired one is refused as such.
  auto r = hallmark("station challenge --ttl 1 --dir " + m_station);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto expiring = r.out.substr(0, r.out.find('\n'));
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(offline_activate(device(expiring))["reason_code"], "nonce_expired");
}

TEST_F(FactoryTpmTest, RefusesKeysTheTpmCouldExportOrUseToDecrypt) {
  const auto nonce = challenge();
  auto answer = offline_activate(device(nonce, "0x81000004"));  // sign|decrypt
  EXPECT_EQ(answer["reason_code"], "tpm_idevid_attributes") << answer.dump();
  answer = offline_activate(device(nonce, "0x81000005"));  // no fixedTPM / fixedParent
  EXPECT_EQ(answer["reason_code"], "tpm_idevid_attributes") << answer.dump();
}

TEST_F(FactoryTpmTest, RefusesAWrongNameAForgedCertifyAndACsrForAnotherKey) {
  const auto nonce = challenge();
  auto dev = device(nonce);
  auto other = device(nonce, "0x81000005");
  // The IDevID's public area with the certify of another key: the Name differs.
  auto req = dev;
  req["evidence"]["certify_info"] = other["evidence"]["certify_info"];
  req["evidence"]["certify_signature"] = other["evidence"]["certify_signature"];
  EXPECT_EQ(offline_activate(req)["reason_code"], "tpm_name_mismatch");
  // A software key claiming to be the IAK signs the TPM's structure: not this IAK's signature.
  req = dev;
  req["evidence"]["certify_signature"] = other["evidence"]["certify_signature"];
  EXPECT_EQ(offline_activate(req)["reason_code"], "tpm_signature");
  // The CSR of a software key with the TPM's evidence.
  req = dev;
  req["csr"] = fresh_csr();
  EXPECT_EQ(offline_activate(req)["reason_code"], "tpm_key_mismatch");
}

TEST_F(FactoryTpmTest, RefusesAnEkThatDoesNotChainToTheConfiguredManufacturerRoots) {
  const auto auth = create_site("other", "SN-00004000..SN-00004099", 5, "--attestation required");
  const auto st = init_station("st2", auth);
  write_lines(file("act.jsonl"), {device(challenge(st)).dump()});
  auto r = hallmark("station tpm-activate --dir " + st + " --input " + file("act.jsonl"));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(json::parse(r.out)["reason_code"], "tpm_ek_untrusted") << r.out;
}

TEST_F(FactoryTpmTest, StationServeRunsChallengeActivationAndProvisioning) {
  start_serve();
  if (HasFatalFailure()) return;
  auto [cs, ch] = post("/factory/v1/challenge", "");
  ASSERT_EQ(cs, 201) << ch.dump();
  const auto dev = device(ch["nonce"].get<std::string>());
  auto [as, answer] = post("/factory/v1/tpm/activate", dev.dump());
  ASSERT_EQ(as, 201) << answer.dump();
  const auto secret = tpm_activate(answer);
  ASSERT_FALSE(secret.empty());
  auto [ps, issued] = post("/factory/v1/provision", manifest_line(serial(3010), dev, secret).dump());
  EXPECT_EQ(ps, 201) << issued.dump();
  EXPECT_EQ(issued["status"], "issued");
  // The same activation again is refused.
  auto [rs, replay] =
      post("/factory/v1/provision", manifest_line(serial(3010), dev, secret, {{"profiles", {"ldevid"}}}).dump());
  EXPECT_EQ(rs, 403);
  EXPECT_EQ(replay["reason_code"], "tpm_activation_replayed") << replay.dump();
  // Evidence of a decrypt-capable key is refused at the activation call.
  auto [ds, refused] = post("/factory/v1/tpm/activate", device(ch["nonce"].get<std::string>(), "0x81000004").dump());
  EXPECT_EQ(ds, 403);
  EXPECT_EQ(refused["reason_code"], "tpm_idevid_attributes") << refused.dump();
  // A body that names a key twice is ambiguous: refused before anything is verified.
  auto body = dev.dump();
  body.insert(body.size() - 1, ",\"csr\":" + dev["csr"].dump());
  auto [twice_status, twice] = post("/factory/v1/tpm/activate", body);
  EXPECT_EQ(twice_status, 400);
  EXPECT_EQ(twice["reason_code"], "invalid_json") << twice.dump();
}

TEST_F(FactoryTpmTest, TheBatchActivationAnswersEveryLineAndRefusesAmbiguousOrMistypedOnes) {
  const auto dev = device(challenge());
  auto twice = dev.dump();
  twice.insert(twice.size() - 1, ",\"csr\":" + dev["csr"].dump());
  auto mistyped = dev;
  mistyped["csr"] = 123;
  write_lines(file("mixed.jsonl"), {dev.dump(), "", twice, mistyped.dump(), std::string(70 * 1024, 'x')});
  auto r = hallmark("station tpm-activate --dir " + m_station + " --input " + file("mixed.jsonl"));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("5 lines: 1 ready, 4 refused"), std::string::npos) << r.err;
  std::vector<json> rows;
  std::istringstream out(r.out);
  for (std::string l; std::getline(out, l);) rows.push_back(json::parse(l));
  ASSERT_EQ(rows.size(), 5u) << r.out;
  const std::vector<std::string> expected{"", "invalid_json", "invalid_json", "invalid_field", "line_too_long"};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["line"], i + 1);
    EXPECT_EQ(rows[i].value("reason_code", ""), expected[i]) << rows[i].dump();
  }
  EXPECT_EQ(rows[0]["status"], "ready");
}

// A TPMT_PUBLIC (ECC P-256, SHA-256 Name) for a software key's P-256 SPKI, and its Name.
std::pair<base::Bytes, base::Bytes> software_public(const base::Bytes& spki, std::uint32_t attributes) {
  TPMT_PUBLIC pub{};
  pub.type = TPM2_ALG_ECC;
  pub.nameAlg = TPM2_ALG_SHA256;
  pub.objectAttributes = attributes;
  pub.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  pub.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  pub.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  pub.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  pub.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  // A P-256 SPKI is a 26-octet prefix, then 04 || X || Y.
  pub.unique.ecc.x.size = 32;
  std::copy(spki.begin() + 27, spki.begin() + 59, pub.unique.ecc.x.buffer);
  pub.unique.ecc.y.size = 32;
  std::copy(spki.begin() + 59, spki.begin() + 91, pub.unique.ecc.y.buffer);
  base::Bytes out(sizeof(TPMT_PUBLIC));
  std::size_t off = 0;
  EXPECT_EQ(Tss2_MU_TPMT_PUBLIC_Marshal(&pub, out.data(), out.size(), &off), TSS2_RC_SUCCESS);
  out.resize(off);
  base::Bytes name = {0x00, 0x0b};
  const auto h = base::sha256(out);
  name.insert(name.end(), h.begin(), h.end());
  return {out, name};
}

TEST_F(FactoryTpmTest, RefusesSoftwareKeysWithAForgedCertifyBecauseTheyCannotActivateTheCredential) {
  // An attacker with a copy of a genuine EK certificate and two software keys: a fake "IAK"
  // claiming every TPM attribute, certifying a software "IDevID" key over the station's nonce.
  const auto nonce = base::hex_decode(challenge()).value();
  auto iak = keys::generate_ephemeral(base::KeyAlgorithm::EcP256).value();
  auto key = keys::generate_ephemeral(base::KeyAlgorithm::EcP256).value();
  const std::uint32_t common =
      TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_SIGN_ENCRYPT;
  const auto [iak_pub, iak_name] = software_public(iak->public_key_der(), common | TPMA_OBJECT_RESTRICTED);
  const auto [key_pub, key_name] = software_public(key->public_key_der(), common);
  TPMS_ATTEST attest{};
  attest.magic = TPM2_GENERATED_VALUE;
  attest.type = TPM2_ST_ATTEST_CERTIFY;
  attest.qualifiedSigner.size = static_cast<UINT16>(iak_name.size());
  std::copy(iak_name.begin(), iak_name.end(), attest.qualifiedSigner.name);
  attest.extraData.size = 32;
  std::copy(nonce.begin(), nonce.end(), attest.extraData.buffer);
  attest.attested.certify.name.size = static_cast<UINT16>(key_name.size());
  std::copy(key_name.begin(), key_name.end(), attest.attested.certify.name.name);
  attest.attested.certify.qualifiedName = attest.attested.certify.name;
  base::Bytes attest_bytes(sizeof(TPMS_ATTEST));
  std::size_t off = 0;
  ASSERT_EQ(Tss2_MU_TPMS_ATTEST_Marshal(&attest, attest_bytes.data(), attest_bytes.size(), &off), TSS2_RC_SUCCESS);
  attest_bytes.resize(off);
  const auto raw = iak->sign(attest_bytes).value();  // ECDSA-SHA256, raw r || s
  TPMT_SIGNATURE sig{};
  sig.sigAlg = TPM2_ALG_ECDSA;
  sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
  sig.signature.ecdsa.signatureR.size = 32;
  std::copy(raw.begin(), raw.begin() + 32, sig.signature.ecdsa.signatureR.buffer);
  sig.signature.ecdsa.signatureS.size = 32;
  std::copy(raw.begin() + 32, raw.end(), sig.signature.ecdsa.signatureS.buffer);
  base::Bytes sig_bytes(sizeof(TPMT_SIGNATURE));
  off = 0;
  ASSERT_EQ(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sig_bytes.data(), sig_bytes.size(), &off), TSS2_RC_SUCCESS);
  sig_bytes.resize(off);

  pkix::Name subject;
  ASSERT_TRUE(subject.add(pkix::oid::kCommonName, "forged").ok());
  auto info = pkix::encode_csr_info(subject, key->public_key_der()).value();
  auto csr = pkix::assemble_csr(info, key->signature_algorithm(), key->sign(info).value()).value();
  auto b64 = [](const base::Bytes& b) { return base::base64_encode(b); };
  json ev = {{"type", "tpm"},
             {"nonce", base::hex_encode(nonce)},
             {"ek_certificate", b64(base::to_bytes(read_text(kSwtpm + "/ek.der")))},
             {"ek_chain", {b64(base::to_bytes(read_text(kSwtpm + "/ek_issuer.der")))}},
             {"ek_public", b64(base::to_bytes(read_text(kSwtpm + "/ek.pub")))},
             {"iak_public", b64(iak_pub)},
             {"idevid_public", b64(key_pub)},
             {"certify_info", b64(attest_bytes)},
             {"certify_signature", b64(sig_bytes)}};
  const json dev = {{"evidence", ev}, {"csr", base::base64_encode(csr)}};
  // Structurally the forgery is perfect: only the credential activation can tell.
  const auto answer = offline_activate(dev);
  ASSERT_EQ(answer["status"], "ready") << answer.dump();
  // The genuine TPM holding that EK cannot activate it for its own IAK (the credential names the fake one)…
  EXPECT_EQ(tpm_activate(answer), "");
  // … and without the EK's private key the attacker can only guess the secret.
  const auto row = provision_line(manifest_line(serial(3030), dev, base::base64_encode(base::Bytes(32, 1))), "b1");
  EXPECT_EQ(row["reason_code"], "tpm_activation_wrong") << row.dump();
}

TEST_F(FactoryTpmTest, TheDeviceTpmCommandsMakeEvidenceAndActivateTheStationsCredential) {
  auto port = read_text(kSwtpm + "/port");
  port.erase(port.find_last_not_of("\n ") + 1);
  const std::string tcti = "swtpm:host=127.0.0.1,port=" + port;
  ASSERT_EQ(run("openssl x509 -inform der -in " + kSwtpm + "/ek_issuer.der -out " + file("ek-ca.pem")).exit_code, 0);
  auto made = hallmark("device tpm make --tcti '" + tcti + "' --serial " + serial(3020) +
                       " --product sensor-v2 --nonce " + challenge() + " --ek-chain " + file("ek-ca.pem"));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto line = json::parse(made.out);
  EXPECT_EQ(line["evidence"]["type"], "tpm");
  // The station's half, offline; then the device's TPM activates it.
  const auto answer = offline_activate({{"evidence", line["evidence"]}, {"csr", line["csr"]}});
  ASSERT_EQ(answer["status"], "ready") << answer.dump();
  write_text(file("answer.json"), answer.dump());
  auto act = hallmark("device tpm activate --tcti '" + tcti + "' --answer " + file("answer.json"));
  ASSERT_EQ(act.exit_code, 0) << act.err;
  line["evidence"]["activated_secret"] = act.out.substr(0, act.out.find('\n'));
  const auto row = provision_line(line, "b1");
  EXPECT_EQ(row["status"], "issued") << row.dump();
  // No transient object or session is left in the TPM (there is no resource manager).
  auto left = run("TPM2TOOLS_TCTI='" + tcti + "' tpm2_getcap handles-transient; TPM2TOOLS_TCTI='" + tcti +
                  "' tpm2_getcap handles-loaded-session");
  EXPECT_EQ(left.exit_code, 0) << left.err;
  EXPECT_EQ(left.out.find("0x"), std::string::npos) << left.out;
}

// Issue 8, runtime side: the IDevID the station issued to the TPM's key authenticates
// EST over mutual TLS with its private key in the TPM (`--key tpm:<tcti>`: TPM2_Sign
// of the handshake), and the LDevID certifies the TPM's LDevID key, which then
// renews over TLS from the TPM too. No key file is written.
TEST_F(FactoryTpmTest, EstEnrollsAndRenewsAnLdevidWithTheTlsClientKeyInTheTpm) {
  tpm_idevid(serial(3040), "idevid.pem");
  if (HasFatalFailure()) return;
  const auto server = start_est();
  ASSERT_FALSE(server.empty());
  const auto est = "--server " + server + " --cacert " + file("root.pem") + " --key 'tpm:" + tcti() + "'";
  auto e = hallmark("device est enroll " + est + " --cert " + file("idevid.pem") + " --out " + file("ld.pem"));
  ASSERT_EQ(e.exit_code, 0) << e.err << read_text(file("est.err"));
  EXPECT_EQ(openssl_verify(file("ld.pem"), file("runtime.pem")).exit_code, 0);
  EXPECT_NE(run("openssl x509 -noout -subject -in " + file("ld.pem")).out.find("serialNumber = " + serial(3040)),
            std::string::npos);
  // The LDevID's key is a TPM key other than the IDevID key, and nothing private reached the disk.
  auto spki = [&](const std::string& pem) {
    return run("openssl x509 -in " + pem + " -pubkey -noout | openssl pkey -pubin -outform der | base64 -w0").out;
  };
  EXPECT_NE(spki(file("ld.pem")), spki(file("idevid.pem")));
  EXPECT_FALSE(std::filesystem::exists(file("ld.pem.key")));
  // Renewal (over TLS 1.2 this time) authenticates with the LDevID, whose key only the TPM can use.
  auto rr =
      hallmark("device est reenroll " + est + " --tls 1.2 --cert " + file("ld.pem") + " --out " + file("ld2.pem"));
  ASSERT_EQ(rr.exit_code, 0) << rr.err << read_text(file("est.err"));
  EXPECT_EQ(openssl_verify(file("ld2.pem"), file("runtime.pem")).exit_code, 0);
  EXPECT_EQ(spki(file("ld2.pem")), spki(file("ld.pem")));
  // /serverkeygen authenticates the same way (the key it returns is the server's, by design).
  auto kg = hallmark("device est serverkeygen " + est + " --cert " + file("idevid.pem") + " --out " + file("kg.pem"));
  ASSERT_EQ(kg.exit_code, 0) << kg.err << read_text(file("est.err"));
  EXPECT_EQ(openssl_verify(file("kg.pem"), file("runtime.pem")).exit_code, 0);
  // Every transient object was flushed (there is no resource manager).
  auto left = run("TPM2TOOLS_TCTI='" + tcti() + "' tpm2_getcap handles-transient");
  EXPECT_EQ(left.exit_code, 0) << left.err;
  EXPECT_EQ(left.out.find("0x"), std::string::npos) << left.out;
}

TEST_F(FactoryTpmTest, EstWithATpmKeyRefusesAnUnreachableTpmACertificateForAnotherKeyAndARekey) {
  // A certificate whose key is not in this TPM (a software key): found before any connection.
  ASSERT_EQ(run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("sw.key") +
                " -subj /serialNumber=SN-00003041 -days 3 -out " + file("sw.pem"))
                .exit_code,
            0);
  const std::string est = "--server https://127.0.0.1:9 --cacert " + file("root.pem");
  auto other = hallmark("device est enroll " + est + " --cert " + file("sw.pem") + " --key 'tpm:" + tcti() + "'" +
                        " --out " + file("x.pem"));
  EXPECT_EQ(other.exit_code, 4) << other.err;
  EXPECT_NE(other.err.find("neither the TPM's IDevID key nor its LDevID key"), std::string::npos) << other.err;
  // No TPM behind the TCTI.
  auto gone = hallmark("device est enroll " + est + " --cert " + file("sw.pem") +
                       " --key tpm:swtpm:host=127.0.0.1,port=9 --out " + file("x.pem"));
  EXPECT_EQ(gone.exit_code, 5) << gone.err;
  EXPECT_NE(gone.err.find("TPM: opening TCTI 'swtpm:host=127.0.0.1,port=9' failed"), std::string::npos) << gone.err;
  auto empty =
      hallmark("device est enroll " + est + " --cert " + file("sw.pem") + " --key tpm: --out " + file("x.pem"));
  EXPECT_EQ(empty.exit_code, 3) << empty.err;
  // The TPM's LDevID key comes from a fixed template: there is no other key to rekey to.
  auto rekey = hallmark("device est reenroll " + est + " --cert " + file("sw.pem") + " --key 'tpm:" + tcti() + "'" +
                        " --rekey --out " + file("x.pem"));
  EXPECT_EQ(rekey.exit_code, 2) << rekey.err;
  EXPECT_FALSE(std::filesystem::exists(file("x.pem")));
}

}  // namespace
}  // namespace hallmark::testing

namespace hallmark::testing {
namespace {

TEST_F(FactoryTpmTest, ATcgCsrIdevidFromTheDeviceTpmIsActivatedAndIssuedForSigningPubWithTheSerialFromProdSerial) {
  const auto line = tcg_device(serial(3040));
  ASSERT_TRUE(line.is_object());
  EXPECT_FALSE(line.contains("csr"));
  // The structure the device emits: outer structVer 0x01000100, contents structVer 0x00000100.
  const auto csr = tcg_bytes(line);
  ASSERT_GT(csr.size(), 28u);
  EXPECT_EQ(base::hex_encode(base::ByteView(csr).subspan(0, 4)), "01000100");
  EXPECT_EQ(base::hex_encode(base::ByteView(csr).subspan(12, 4)), "00000100");
  EXPECT_EQ((csr.size() - 12 - (static_cast<std::size_t>(csr[8]) << 24 | csr[9] << 16 | csr[10] << 8 | csr[11])) % 16,
            0u);

  // The activation request is the evidence alone; the device's TPM activates the credential.
  const auto answer = offline_activate({{"evidence", line["evidence"]}});
  ASSERT_EQ(answer["status"], "ready") << answer.dump();
  write_text(file("answer.json"), answer.dump());
  auto act = hallmark("device tpm activate --tcti '" + tcti() + "' --answer " + file("answer.json"));
  ASSERT_EQ(act.exit_code, 0) << act.err;
  json l = {{"product", "sensor-v2"}, {"evidence", line["evidence"]}};  // no serial: prodSerial says it
  l["evidence"]["activated_secret"] = act.out.substr(0, act.out.find('\n'));
  const auto row = provision_line(l, "b1");
  ASSERT_EQ(row["status"], "issued") << row.dump();
  EXPECT_EQ(row["serial"], serial(3040));

  // openssl: the IDevID chains to the operator's root and certifies the TPM's IDevID key.
  auto got = hallmark("station bundle get --dir " + m_station + " " + serial(3040) + " --out " + file("bundle.pem"));
  ASSERT_EQ(got.exit_code, 0) << got.err;
  auto v = run("openssl verify -x509_strict -CAfile " + file("root.pem") + " -untrusted " + file("bundle.pem") + " " +
               file("bundle.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto key = run("openssl x509 -in " + file("bundle.pem") +
                 " -pubkey -noout | openssl pkey -pubin -outform der | cmp - " + kSwtpm + "/idevid_spki.der");
  EXPECT_EQ(key.exit_code, 0) << key.out << key.err;
  auto subject = run("openssl x509 -in " + file("bundle.pem") + " -noout -subject -nameopt RFC2253");
  EXPECT_NE(subject.out.find("serialNumber=" + serial(3040)), std::string::npos) << subject.out;

  // The evidence kept is the TCG-CSR-IDEVID form, read back at the station and imported by the operator.
  auto shown = hallmark("cert show --json --dir " + m_station + " " + row["cert_serial"].get<std::string>());
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const auto doc = json::parse(shown.out);
  EXPECT_EQ(doc["evidence"]["type"], "tpm") << doc.dump();
  EXPECT_EQ(doc["evidence"]["digest_matches"], true);
  const auto ek_digest = run("openssl x509 -inform der -in " + kSwtpm +
                             "/ek.der -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -c1-64");
  EXPECT_EQ(doc["evidence"]["hardware_id"], "tpm-ek:" + ek_digest.out.substr(0, 64));
  auto exported = hallmark("station export --dir " + m_station + " --out " + file("st.bundle"));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  auto imported = hallmark("ledger import --json --dir " + dir() + " " + file("st.bundle"));
  EXPECT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  const auto report = json::parse(imported.out, nullptr, false);
  EXPECT_EQ(report["imported"], 1) << imported.out;
  EXPECT_EQ(report["evidence_stored"], 1) << imported.out;

  // Through station serve the same way.
  start_serve();
  if (HasFatalFailure()) return;
  const auto other = tcg_device(serial(3041));
  auto [as, ans] = post("/factory/v1/tpm/activate", json{{"evidence", other["evidence"]}}.dump());
  ASSERT_EQ(as, 201) << ans.dump();
  write_text(file("answer2.json"), ans.dump());
  act = hallmark("device tpm activate --tcti '" + tcti() + "' --answer " + file("answer2.json"));
  ASSERT_EQ(act.exit_code, 0) << act.err;
  json l2 = other;
  l2["evidence"]["activated_secret"] = act.out.substr(0, act.out.find('\n'));
  auto [ps, issued] = post("/factory/v1/provision", l2.dump());
  // The same TPM key: the station refuses to certify it for a second serial.
  EXPECT_EQ(ps, 409) << issued.dump();
  EXPECT_EQ(issued["reason_code"], "duplicate_key") << issued.dump();
}

TEST_F(FactoryTpmTest, RefusesAMalformedTcgCsrIdevidEachWithItsReasonCode) {
  const auto line = tcg_device(serial(3042));
  const auto csr = tcg_bytes(line);
  auto activate = [&](const base::Bytes& b) {
    return offline_activate({{"evidence", with_tcg(line, b)["evidence"]}})["reason_code"];
  };
  auto b = csr;
  b.resize(b.size() - 10);
  EXPECT_EQ(activate(b), "tcg_csr_truncated");
  b = csr;
  b.push_back(0);
  EXPECT_EQ(activate(b), "tcg_csr_trailing_data");
  b = csr;
  b[0] = 0x02;  // structVer 0x02000100
  EXPECT_EQ(activate(b), "tcg_csr_struct_ver");
  b = csr;
  {
    // ekCertSz one short: the sizes no longer add up to contents.
    constexpr std::size_t at = 12 + 12 + 4 * 4;
    std::uint32_t v = static_cast<std::uint32_t>(b[at]) << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3];
    --v;
    for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  }
  EXPECT_EQ(activate(b), "tcg_csr_size_overflow");
  b = csr;
  b[12 + 4 * 16] ^= 0x20;  // a letter of prodModel: csrContents no longer match the signature
  EXPECT_EQ(activate(b), "tcg_csr_signature");
  b = csr;
  b.back() ^= 0xff;  // the signature itself: no longer a TPMT_SIGNATURE of this key, or not one at all
  EXPECT_EQ(activate(b), "tcg_csr_signature");

  // The IAK-only flow (no signingPub / sgnCertifyInfo) is not supported.
  auto decoded = attest::decode_tcg_csr_idevid(csr);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  auto iak_only = decoded.csr;
  iak_only.signing_pub.clear();
  iak_only.sgn_certify_info.clear();
  iak_only.sgn_certify_info_signature.clear();
  iak_only.pad = attest::tcg_csr_pad_for(iak_only);
  EXPECT_EQ(activate(attest::encode_tcg_csr_idevid(iak_only)), "tcg_csr_iak_only_unsupported");
  // A request with a CSR besides the TCG-CSR-IDEVID says the key twice.
  EXPECT_EQ(offline_activate({{"evidence", line["evidence"]}, {"csr", fresh_csr()}})["reason_code"], "invalid_field");

  // The line's serial must be the prodSerial, and the line carries no CSR.
  auto l = line;
  l["serial"] = serial(3043);
  l["evidence"]["activated_secret"] = base::base64_encode(base::Bytes(32, 1));
  EXPECT_EQ(provision_line(l, "b1")["reason_code"], "tcg_csr_serial_mismatch");
  l["serial"] = serial(3042);
  l["csr"] = fresh_csr();
  EXPECT_EQ(provision_line(l, "b2")["reason_code"], "invalid_field");
  l.erase("csr");
  EXPECT_EQ(provision_line(l, "b3")["reason_code"], "tpm_activation_wrong");
  // Only TPM evidence is a TCG-CSR-IDEVID: an SE line still needs its CSR.
  l["evidence"]["type"] = "se";
  EXPECT_EQ(provision_line(l, "b4")["reason_code"], "missing_field");
}

}  // namespace
}  // namespace hallmark::testing
