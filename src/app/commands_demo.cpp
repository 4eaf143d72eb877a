// `hallmark demo`: the whole story on the embedded defaults, through the real
// command line and the real server:
//   1. an operator PKI;  2. a contract-manufacturer site and its station;
//   3. a factory batch (keys made in each emulated device's secure element, and
//      for a few devices in a TPM: swtpm instances the demo runs, through the
//      station's credential activation round trip), with a few deliberately bad
//      devices;  4. the station's ledger exported and reconciled at the operator;
//   5. `hallmark serve` and the fleet enrolling LDevIDs over EST with their
//      IDevIDs (the device client for most, curl for a few, the TPM-backed ones
//      with their TLS key in the TPM), one re-enrollment and three refused
//      devices (one whose IDevID the CLI revoked while the server runs);
//   6. the audit chain verified and a summary;  7. the server kept running until Ctrl-C.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "app/cli.h"
#include "app/demo_process.h"
#include "app/demo_tpm.h"
#include "base/files.h"
#include "base/rng.h"
#include "device/est_client.h"
#include "device/secure_element.h"
#include "keys/software_key_store.h"
#include "pkix/certificate.h"
#include "pkix/pem.h"

namespace hallmark::app {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct DemoOptions {
  std::string dir = "./demo-data";
  int devices = 1000;
  int tpm_devices = 3;  // of `devices`, TPM-backed on swtpm
  bool json = false;
  bool exit_when_done = false;
};

constexpr char kMarker[] = ".hallmark-demo";
constexpr char kProduct[] = "sensor-v2";
constexpr int kFirstSerial = 1000;

struct Device {
  std::string serial;
  std::unique_ptr<keys::Signer> key;  // generated "in the secure element"
  std::string key_pem;                // for the TLS client (emulation only)
  std::string idevid_pem;             // from the station's batch stream
  std::string ldevid_pem;
  std::vector<base::Bytes> se_chain;  // the SE vendor's attestation certificate for the key, then its root
  std::string tcti;                   // TPM-backed: the swtpm holding its keys (no `key` then)
  std::string idevid_serial;          // the IDevID's certificate serial (hex)
};

class Demo {
 public:
  explicit Demo(DemoOptions o) : m_o(std::move(o)), m_root(m_o.dir) {}

  int run() {
    if (auto s = prepare_folder(); !s.ok()) return report(s.error());
    plan_tpms();
    for (auto step : {&Demo::operator_pki, &Demo::site_and_station, &Demo::factory_batch, &Demo::reconcile,
                      &Demo::runtime, &Demo::audit}) {
      if (auto s = (this->*step)(); !s.ok()) return report(s.error());
    }
    print_summary();
    if (!m_o.exit_when_done) {
      say("");
      say("The server keeps running at " + m_url + " — press Ctrl-C to stop it.");
      wait_for_interrupt();
    }
    m_server.reset();
    m_swtpm.reset();  // (also on every early return: the destructor; and with the demo's death: PDEATHSIG)
    return m_ok ? kExitOk : kExitFindings;
  }

 private:
  void say(const std::string& line) { (m_o.json ? std::cerr : std::cout) << line << std::endl; }
  fs::path path(const std::string& name) const { return m_root / name; }

  // A command as a user would type it (arguments with spaces quoted).
  void say_command(const std::string& program, const std::vector<std::string>& args) {
    std::string line = "   $ " + program;
    for (const auto& a : args) line += a.find(' ') == std::string::npos ? " " + a : " '" + a + "'";
    say(line);
  }

  // A step of the CLI, shown as the command a user would type.
  base::Result<demo::Run> hallmark(const std::vector<std::string>& args, bool show = true) {
    if (show) say_command("hallmark", args);
    HM_TRY(auto r, demo::run_self(args));
    if (r.exit_code != 0) {
      return base::make_error(base::ErrorCode::Internal, "`hallmark " + args.front() + " " +
                                                             (args.size() > 1 ? args[1] : "") + "` failed (exit " +
                                                             std::to_string(r.exit_code) + "): " + r.err);
    }
    return r;
  }

  base::Status prepare_folder() {
    if (fs::exists(m_root) && !fs::is_empty(m_root)) {
      if (!fs::exists(m_root / kMarker)) {
        return base::make_error(base::ErrorCode::AlreadyExists,
                                "'" + m_root.string() + "' exists and was not made by the demo; choose another --dir");
      }
      fs::remove_all(m_root);
    }
    fs::create_directories(m_root);
    return base::write_file(m_root / kMarker, std::string_view("made by `hallmark demo`; removed by the next run\n"));
  }

  // How many devices are TPM-backed; their swtpms are manufactured in the
  // background while the operator's PKI is made (step 2 needs the TPM
  // manufacturer's root for the site).
  void plan_tpms() {
    m_tpm_count = std::clamp(m_o.tpm_devices, 0, std::max(m_o.devices - 1, 0));
    if (m_tpm_count < m_o.tpm_devices) {
      m_tpm_note = "--tpm-devices " + std::to_string(m_o.tpm_devices) + " lowered to " + std::to_string(m_tpm_count) +
                   " (at least one device has a secure element)";
    }
    if (m_tpm_count == 0) return;
    if (const auto missing = demo::missing_swtpm_program(); !missing.empty()) {
      m_tpm_note = missing +
                   " is not installed (Debian packages swtpm, swtpm-tools; `make deps`): going on with 0 "
                   "TPM-backed devices";
      m_tpm_count = 0;
      return;
    }
    m_tpm_factory = std::make_unique<demo::SwtpmFactory>(path("swtpm"), m_tpm_count);
  }

  // The TPM manufacturer's root for the site, once the first swtpm_setup made it ("" without TPMs).
  base::Result<std::string> tpm_root() {
    if (!m_tpm_note.empty()) say("   " + m_tpm_note);
    if (!m_tpm_factory) return std::string();
    HM_CHECK(m_tpm_factory->wait_for_ca());
    say("   " + std::to_string(m_tpm_count) + " devices have a TPM instead: software TPMs (swtpm_setup, state in " +
        m_tpm_factory->layout().dir.string() +
        ") whose EK certificates one TPM manufacturer CA (swtpm_localca) signs; the site trusts its root");
    return m_tpm_factory->layout().root_pem.string();
  }

  // Starts the manufactured swtpms (on this thread, the main one: the kernel ends them with it).
  base::Status start_tpms() {
    if (!m_tpm_factory) return {};
    HM_TRY(m_swtpm, m_tpm_factory->start());
    say("   (" + std::to_string(m_swtpm->tctis().size()) + " swtpm processes running, TCTI " +
        m_swtpm->tctis().front() + " …; stopped when the demo ends)");
    return {};
  }

  base::Status operator_pki() {
    say("1. The operator's PKI (root P-384, factory and runtime CAs P-256, SQLite ledger, encrypted file keys)");
    HM_TRY(auto r, hallmark({"init", "--dir", path("operator")}));
    (void)r;
    return {};
  }

  base::Status site_and_station() {
    say("2. A contract-manufacturer site with a serial range and quota, and its offline station");
    const int span = std::max(2 * m_o.devices, 1000);
    m_range_end = kFirstSerial + span - 1;
    const std::string range = serial(kFirstSerial) + ".." + serial(m_range_end);
    const auto not_after =
        base::format_rfc3339(std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()) +
                             std::chrono::days(365))
            .substr(0, 10);
    // The devices' secure elements come from one (software) SE vendor, whose root the site trusts.
    HM_TRY(auto v, hallmark({"device", "se", "vendor-init", "--dir", path("se-vendor")}));
    (void)v;
    HM_TRY(const auto tpm_roots, tpm_root());
    std::vector<std::string> site = {"site",           "create",
                                     "--dir",          path("operator"),
                                     "--id",           "cm-shenzhen-1",
                                     "--serial-range", range,
                                     "--quota",        std::to_string(m_o.devices + 5),
                                     "--not-after",    not_after,
                                     "--products",     kProduct,
                                     "--attestation",  "required",
                                     "--se-roots",     (path("se-vendor") / device::kSeVendorRoot).string()};
    if (!tpm_roots.empty()) site.insert(site.end(), {"--tpm-roots", tpm_roots});
    site.insert(site.end(), {"--out", path("site-cm-shenzhen-1")});
    HM_TRY(auto r, hallmark(site));
    (void)r;
    HM_TRY(auto s,
           hallmark({"station", "init", "--dir", path("station"), "--authorization", path("site-cm-shenzhen-1")}));
    (void)s;
    return {};
  }

  static std::string serial(int n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "SN-%08d", n);
    return buf;
  }

  static base::Result<std::string> csr_line(const Device& d, const std::string& serial_number) {
    HM_TRY(auto csr, device::make_csr(*d.key, serial_number));
    return json{{"serial", serial_number}, {"product", kProduct}, {"csr", base::base64_encode(csr)}}.dump();
  }

  // A manifest line with SE evidence: the SE signed the station's nonce with the key it wants certified.
  static base::Result<std::string> se_line(const Device& d, const std::string& serial_number,
                                           const std::string& nonce_hex) {
    HM_TRY(auto csr, device::make_csr(*d.key, serial_number));
    HM_TRY(auto nonce, base::hex_decode(nonce_hex));
    HM_TRY(auto signature, device::se_sign_nonce(*d.key, nonce));
    json chain = json::array();
    for (const auto& der : d.se_chain) chain.push_back(base::base64_encode(der));
    return json{
        {"serial", serial_number},
        {"product", kProduct},
        {"csr", base::base64_encode(csr)},
        {"evidence",
         {{"type", "se"}, {"nonce", nonce_hex}, {"signature", base::base64_encode(signature)}, {"chain", chain}}}}
        .dump();
  }

  // `count` single-use nonces from the station (`station challenge`, at most 10,000 per call).
  base::Result<std::vector<std::string>> station_nonces(int count) {
    std::vector<std::string> out;
    bool shown = false;
    while (static_cast<int>(out.size()) < count) {
      const int k = std::min(10000, count - static_cast<int>(out.size()));
      HM_TRY(auto r,
             hallmark({"station", "challenge", "--dir", path("station"), "--count", std::to_string(k)}, !shown));
      shown = true;
      std::istringstream in(r.out);
      for (std::string l; std::getline(in, l);) {
        if (!l.empty()) out.push_back(l);
      }
    }
    return out;
  }

  base::Status factory_batch() {
    const int se_count = m_o.devices - m_tpm_count;
    say("3. The factory line: " + std::to_string(se_count) +
        " devices generate their keys in a (software) secure element, which attests them to the station's "
        "nonces" +
        (m_tpm_count > 0 ? ", and " + std::to_string(m_tpm_count) +
                               " in their TPM, which certifies them with its IAK over the nonce and proves IAK and EK "
                               "share one TPM by activating the station's credential"
                         : std::string()) +
        "; the station verifies that and issues their IDevIDs");
    HM_TRY(const auto nonces, station_nonces(m_o.devices + 2));
    base::SystemRng rng;
    base::SystemClock clock;
    std::ofstream manifest(path("manifest.jsonl"));
    auto se_device = [&](const std::string& serial_number, const std::string& nonce) -> base::Result<Device> {
      HM_TRY(auto nonce_bytes, base::hex_decode(nonce));
      HM_TRY(auto se, device::se_make_device(path("se-vendor"), serial_number, nonce_bytes, rng, clock));
      Device d;
      d.serial = serial_number;
      d.key = std::move(se.key);
      d.se_chain = std::move(se.chain);
      return d;
    };
    for (int i = 0; i < se_count; ++i) {
      HM_TRY(auto d, se_device(serial(kFirstSerial + i), nonces[static_cast<std::size_t>(i)]));
      HM_TRY(d.key_pem, keys::export_unencrypted_pem(*d.key));
      HM_TRY(auto line, se_line(d, d.serial, nonces[static_cast<std::size_t>(i)]));
      manifest << line << "\n";
      m_devices.push_back(std::move(d));
    }
    HM_CHECK(start_tpms());
    for (int i = 0; i < m_tpm_count; ++i) {
      Device d;
      d.serial = serial(kFirstSerial + se_count + i);
      d.tcti = m_swtpm->tctis()[static_cast<std::size_t>(i)];
      m_tpm_devices.push_back(std::move(d));
    }
    HM_CHECK(tpm_round_trip(nonces, static_cast<std::size_t>(se_count), manifest));
    // Deliberately bad devices: out of the site's range, a cloned SE (the first
    // device's key and attestation under another serial), and a key in software
    // that no SE attests.
    HM_TRY(auto outside, se_device(serial(m_range_end + 5000), nonces[static_cast<std::size_t>(m_o.devices)]));
    HM_TRY(auto out_line, se_line(outside, outside.serial, nonces[static_cast<std::size_t>(m_o.devices)]));
    manifest << out_line << "\n";
    HM_TRY(auto clone_line,
           se_line(m_devices.front(), serial(m_range_end), nonces[static_cast<std::size_t>(m_o.devices + 1)]));
    manifest << clone_line << "\n";
    Device software;
    HM_TRY(software.key, keys::generate_ephemeral(base::KeyAlgorithm::EcP256));
    HM_TRY(auto software_line, csr_line(software, serial(m_range_end - 1)));
    manifest << software_line << "\n";
    manifest.close();
    say("   (plus 3 bad devices: one serial outside the site's range, one cloned secure element, one key in "
        "software without attestation)");
    const auto start = std::chrono::steady_clock::now();
    HM_TRY(auto r, hallmark({"station", "provision", "--dir", path("station"), "--input", path("manifest.jsonl"),
                             "--out", path("batch-1"), "--quiet"}));
    (void)r;
    m_factory_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    HM_TRY(auto results, base::read_file(path("batch-1") / "results.jsonl", 1u << 30));
    std::istringstream in(base::to_string(results));
    std::map<std::string, std::string> tpm_serials;  // device serial -> IDevID serial
    for (const auto& d : m_tpm_devices) tpm_serials[d.serial];
    for (std::string line; std::getline(in, line);) {
      const auto doc = json::parse(line, nullptr, false);
      if (doc.is_discarded()) continue;
      if (doc["status"] == "issued" || doc["status"] == "existing") {
        ++m_factory_issued;
        // Every issued line carried evidence (the site requires attestation): TPM for the TPM devices, SE otherwise.
        if (auto it = tpm_serials.find(doc.value("serial", "")); it != tpm_serials.end()) {
          ++m_factory_evidence["tpm"];
          if (doc["cert_serial"].is_string()) it->second = doc["cert_serial"].get<std::string>();
        } else {
          ++m_factory_evidence["se"];
        }
      } else {
        ++m_factory_refused[doc["reason_code"].is_string() ? doc["reason_code"].get<std::string>() : "unknown"];
      }
    }
    // Each device takes its IDevID from the batch stream (the line writes it into the device).
    std::map<std::string, std::string> idevids;
    HM_TRY(auto stream, base::read_file(path("batch-1") / "devices.jsonl", 1u << 30));
    std::istringstream bundles(base::to_string(stream));
    for (std::string line; std::getline(bundles, line);) {
      const auto doc = json::parse(line, nullptr, false);
      if (doc.is_discarded()) continue;
      if (doc.value("type", "") == "chain" && doc.contains("site_ca"))
        m_site_ca_pem = doc["site_ca"].get<std::string>();
      if (doc.value("type", "") != "device" || !doc.contains("certificates")) continue;
      for (const auto& c : doc["certificates"]) {
        if (c.value("profile", "") == "idevid") idevids[doc["serial"].get<std::string>()] = c["pem"].get<std::string>();
      }
    }
    for (auto& d : m_devices) {
      if (auto it = idevids.find(d.serial); it != idevids.end()) d.idevid_pem = it->second;
    }
    for (std::size_t i = 0; i < m_tpm_devices.size(); ++i) {
      auto& d = m_tpm_devices[i];
      d.idevid_serial = tpm_serials[d.serial];
      if (auto it = idevids.find(d.serial); it != idevids.end()) {
        d.idevid_pem = it->second;
        HM_CHECK(
            base::write_file(path("tpm-device-" + std::to_string(i + 1)) / "idevid.pem", d.idevid_pem + m_site_ca_pem));
      }
    }
    std::string refusals;
    for (const auto& [code, n] : m_factory_refused) refusals += " " + code + "=" + std::to_string(n);
    say("   issued " + std::to_string(m_factory_issued) + " IDevIDs (" + evidence_counts() + ") in " +
        fixed(m_factory_seconds) + " s (" + fixed(m_factory_issued / std::max(m_factory_seconds, 1e-6)) +
        " devices/s); refused:" + (refusals.empty() ? " none" : refusals));
    if (!m_tpm_devices.empty() && !m_tpm_devices.front().idevid_serial.empty()) {
      say("   a TPM device's IDevID names its TPM (HardwareModuleName tcg-sv-tpm20 with its EK certificate's "
          "manufacturer, AKI and serial); after step 4 the operator shows it with its TPM evidence:");
      say("   $ hallmark cert show --dir " + path("operator").string() + " " + m_tpm_devices.front().idevid_serial);
    }
    return {};
  }

  std::string evidence_counts() const {
    auto n = [&](const char* type) {
      auto it = m_factory_evidence.find(type);
      return std::to_string(it == m_factory_evidence.end() ? 0 : it->second);
    };
    return n("se") + " with SE evidence, " + n("tpm") + " with TPM evidence";
  }

  // The TCG DevID round trip of the TPM-backed devices, through the real CLI:
  // each TPM certifies its IDevID key with its IAK over a station nonce and
  // signs the CSR (`device tpm make`); the station verifies all it can and makes
  // a credential for the EK and the IAK's Name (`station tpm-activate`, batch
  // mode); the TPM activates it (`device tpm activate`), which only the TPM
  // holding both keys can; the manifest line carries the secret.
  base::Status tpm_round_trip(const std::vector<std::string>& nonces, std::size_t first_nonce,
                              std::ofstream& manifest) {
    if (m_tpm_devices.empty()) return {};
    const auto start = std::chrono::steady_clock::now();
    std::vector<json> lines;
    std::ofstream requests(path("tpm-activate.jsonl"));
    for (std::size_t i = 0; i < m_tpm_devices.size(); ++i) {
      const auto& d = m_tpm_devices[i];
      HM_TRY(auto made,
             hallmark({"device", "tpm", "make", "--tcti", d.tcti, "--serial", d.serial, "--product", kProduct,
                       "--nonce", nonces[first_nonce + i], "--ek-chain", m_tpm_factory->layout().ek_ca_pem.string()},
                      i == 0));
      auto line = json::parse(made.out, nullptr, false);
      if (line.is_discarded() || !line.contains("evidence") || !line.contains("csr")) {
        return base::make_error(base::ErrorCode::Internal, "`device tpm make` printed no manifest line");
      }
      requests << json{{"evidence", line["evidence"]}, {"csr", line["csr"]}}.dump() << "\n";
      lines.push_back(std::move(line));
    }
    requests.close();
    HM_TRY(auto act,
           hallmark({"station", "tpm-activate", "--dir", path("station"), "--input", path("tpm-activate.jsonl")}));
    std::istringstream answers(act.out);
    std::size_t i = 0;
    for (std::string text; std::getline(answers, text) && i < lines.size(); ++i) {
      auto answer = json::parse(text, nullptr, false);
      if (answer.is_discarded() || answer.value("status", "") != "ready") {
        return base::make_error(base::ErrorCode::Internal, "the station refused a TPM's evidence: " + text);
      }
      answer.erase("line");
      const auto dir = path("tpm-device-" + std::to_string(i + 1));
      fs::create_directories(dir);
      HM_CHECK(base::write_file(dir / "answer.json", answer.dump()));
      HM_TRY(auto secret, hallmark({"device", "tpm", "activate", "--tcti", m_tpm_devices[i].tcti, "--answer",
                                    (dir / "answer.json").string()},
                                   i == 0));
      lines[i]["evidence"]["activated_secret"] = secret.out.substr(0, secret.out.find('\n'));
      manifest << lines[i].dump() << "\n";
    }
    if (i != lines.size()) return base::make_error(base::ErrorCode::Internal, "`station tpm-activate` answered less");
    say("   " + std::to_string(lines.size()) + " TPM round trips (certify, credential, activation) in " +
        fixed(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()) + " s");
    return {};
  }

  base::Status reconcile() {
    say("4. The station's signed ledger goes back to the operator and is reconciled");
    HM_TRY(auto e, hallmark({"station", "export", "--dir", path("station"), "--out", path("ledger-bundle-1")}));
    (void)e;
    HM_TRY(auto r, hallmark({"ledger", "import", "--dir", path("operator"), path("ledger-bundle-1"), "--json"}));
    m_reconciliation = json::parse(r.out, nullptr, false);
    if (m_reconciliation.is_discarded())
      return base::make_error(base::ErrorCode::Internal, "ledger import printed no JSON");
    say("   reconciliation: " + m_reconciliation.dump().substr(0, 300));
    return {};
  }

  base::Status runtime() {
    say("5. `hallmark serve` runs EST; the fleet enrolls LDevIDs with their IDevIDs");
    std::string first;
    auto server =
        demo::Background::start_self({"serve", "--dir", path("operator").string(), "--listen", "127.0.0.1:0"}, first);
    if (!server.ok()) return server.take_error();
    m_server = std::make_unique<demo::Background>(std::move(server).value());
    const auto at = first.find("https://");
    if (at == std::string::npos)
      return base::make_error(base::ErrorCode::Internal, "unexpected server banner: " + first);
    m_url = first.substr(at, first.find('/', at + 8) - at);
    say("   server: " + m_url);
    HM_TRY(auto ca, hallmark({"ca", "export", "--dir", path("operator")}, false));
    m_trust_pem = ca.out;
    HM_CHECK(base::write_file(path("ca-chain.pem"), m_trust_pem));

    const auto start = std::chrono::steady_clock::now();
    constexpr int kCurlDevices = 3;
    std::atomic<std::size_t> next{kCurlDevices};
    std::mutex mu;
    auto worker = [&] {
      for (std::size_t i = next++; i < m_devices.size(); i = next++) {
        auto result = enroll(m_devices[i]);
        std::lock_guard lock(mu);
        if (result.ok()) {
          ++m_enrolled;
        } else {
          ++m_runtime_refused[status_of(result.error())];
        }
      }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    m_runtime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m_enrolled_with_client = m_enrolled;
    say("   " + std::to_string(m_enrolled) + " devices enrolled with the device client in " + fixed(m_runtime_seconds) +
        " s (" + fixed(m_enrolled / std::max(m_runtime_seconds, 1e-6)) + " enrollments/s)");
    HM_CHECK(enroll_tpm_devices());
    HM_CHECK(enroll_with_curl(kCurlDevices));
    HM_CHECK(reenroll_one());
    HM_CHECK(refused_devices());
    return {};
  }

  // The TPM-backed devices enroll through the device CLI with their TLS client
  // key in the TPM (`--key tpm:<tcti>`): TPM2_Sign signs the handshake, and the
  // LDevID certifies the TPM's own LDevID key, so only certificates reach disk.
  base::Status enroll_tpm_devices() {
    for (std::size_t i = 0; i < m_tpm_devices.size(); ++i) {
      const auto& d = m_tpm_devices[i];
      const auto dir = path("tpm-device-" + std::to_string(i + 1));
      HM_TRY(auto r, demo::run_self({"device", "est", "enroll", "--server", m_url, "--cacert",
                                     path("ca-chain.pem").string(), "--cert", (dir / "idevid.pem").string(), "--key",
                                     "tpm:" + d.tcti, "--out", (dir / "ldevid.pem").string()}));
      if (r.exit_code == 0) {
        ++m_enrolled;
        ++m_enrolled_with_tpm;
      } else {
        say("   TPM device " + d.serial + " was refused: " + r.err);
        ++m_runtime_refused["tpm-exit-" + std::to_string(r.exit_code)];
      }
    }
    if (m_tpm_devices.empty()) return {};
    say("   " + std::to_string(m_enrolled_with_tpm) +
        " TPM-backed devices enrolled with their TLS client key in the TPM (LDevIDs in " +
        path("tpm-device-1").string() + "):");
    say_command("hallmark", {"device", "est", "enroll", "--server", m_url, "--cacert", path("ca-chain.pem").string(),
                             "--cert", path("tpm-device-1/idevid.pem").string(), "--key",
                             "tpm:" + m_tpm_devices.front().tcti, "--out", path("tpm-device-1/ldevid.pem").string()});
    return {};
  }

  base::Result<pkix::Certificate> enroll(Device& d, bool reenroll = false) {
    if (d.idevid_pem.empty()) return base::make_error(base::ErrorCode::NotFound, "no IDevID");
    if (!d.key) return base::make_error(base::ErrorCode::Unsupported, "no TLS client key for a TPM-held IDevID key");
    device::EstClientConfig c;
    c.server_url = m_url;
    c.trust_anchors_pem = m_trust_pem;
    c.cert_chain_pem = reenroll ? d.ldevid_pem : d.idevid_pem + m_site_ca_pem;
    c.key_pem = d.key_pem;
    HM_TRY(auto client, device::EstClient::connect(c));
    HM_TRY(auto csr, device::make_csr(*d.key, d.serial));
    HM_TRY(auto cert, reenroll ? client->simple_reenroll(csr) : client->simple_enroll(csr));
    d.ldevid_pem = cert.pem();
    return cert;
  }

  base::Status enroll_with_curl(int count) {
    for (int i = 0; i < count && i < static_cast<int>(m_devices.size()); ++i) {
      auto& d = m_devices[static_cast<std::size_t>(i)];
      const auto dir = path("curl-device-" + std::to_string(i + 1));
      fs::create_directories(dir);
      HM_CHECK(base::write_file(dir / "idevid.pem", d.idevid_pem + m_site_ca_pem));
      HM_CHECK(base::write_file(dir / "device.key", d.key_pem, 0600));
      HM_TRY(auto csr, device::make_csr(*d.key, d.serial));
      HM_CHECK(base::write_file(dir / "csr.b64", base::base64_encode(csr)));
      std::vector<std::string> args = {"-sS",
                                       "--fail-with-body",
                                       "--cacert",
                                       path("ca-chain.pem").string(),
                                       "--cert",
                                       (dir / "idevid.pem").string(),
                                       "--key",
                                       (dir / "device.key").string(),
                                       "-H",
                                       "Content-Type: application/pkcs10",
                                       "--data-binary",
                                       "@" + (dir / "csr.b64").string(),
                                       "-o",
                                       (dir / "ldevid.p7b64").string(),
                                       m_url + "/.well-known/est/simpleenroll"};
      if (i == 0) say_command("curl", args);  // rerunnable while the demo's server runs
      HM_TRY(auto r, demo::run_program("curl", args));
      if (r.exit_code == 0) {
        ++m_enrolled;
        ++m_enrolled_with_curl;
      } else {
        ++m_runtime_refused["curl-" + std::to_string(r.exit_code)];
      }
    }
    say("   " + std::to_string(m_enrolled_with_curl) + " devices enrolled with curl (responses in " +
        path("curl-device-1").string() + ")");
    return {};
  }

  base::Status reenroll_one() {
    for (auto& d : m_devices) {
      if (d.ldevid_pem.empty()) continue;
      auto r = enroll(d, true);
      if (r.ok()) {
        ++m_reenrolled;
        say("   " + d.serial + " renewed its LDevID with simplereenroll (authenticated by its current LDevID)");
      } else {
        ++m_runtime_refused["reenroll"];
        say("   re-enrollment of " + d.serial + " failed: " + r.error().detail);
      }
      return {};
    }
    return {};
  }

  // Two devices the runtime must refuse: one without a factory identity (its
  // certificate is self-made), and one that claims another device's serial.
  base::Status refused_devices() {
    auto& victim = m_devices.back();
    auto key = keys::generate_ephemeral(base::KeyAlgorithm::EcP256);
    if (!key.ok()) return key.take_error();
    // (a) a forged serial: a genuine device asks for an LDevID naming another device.
    {
      device::EstClientConfig c;
      c.server_url = m_url;
      c.trust_anchors_pem = m_trust_pem;
      c.cert_chain_pem = victim.idevid_pem + m_site_ca_pem;
      c.key_pem = victim.key_pem;
      auto client = device::EstClient::connect(c);
      if (client.ok()) {
        auto csr = device::make_csr(*victim.key, m_devices.front().serial);
        auto r = csr.ok() ? client.value()->simple_enroll(csr.value()) : base::Result<pkix::Certificate>(csr.error());
        const std::string code = r.ok() ? "accepted!" : status_of(r.error());
        ++m_runtime_refused[code == "403" ? "forged-serial" : code];
        say("   a device claiming another device's serial: " +
            (r.ok() ? std::string("ACCEPTED (bug)") : r.error().detail));
      }
    }
    // (b) no factory identity: a TLS client without a certificate.
    {
      device::EstClientConfig c;
      c.server_url = m_url;
      c.trust_anchors_pem = m_trust_pem;
      auto client = device::EstClient::connect(c);
      if (client.ok()) {
        auto csr = device::make_csr(*key.value(), serial(kFirstSerial + 1));
        auto r = csr.ok() ? client.value()->simple_enroll(csr.value()) : base::Result<pkix::Certificate>(csr.error());
        const std::string code = r.ok() ? "accepted!" : status_of(r.error());
        ++m_runtime_refused[code == "401" ? "no-client-certificate" : code];
        say("   a client without an IDevID: " + (r.ok() ? std::string("ACCEPTED (bug)") : r.error().detail));
      }
    }
    // (c) a revoked IDevID: the operator revokes one device's IDevID with the
    // CLI while the server runs; its next enrollment is refused.
    {
      auto& revoked = m_devices[m_devices.size() >= 2 ? m_devices.size() - 2 : 0];
      HM_TRY(auto cert, pkix::Certificate::parse(base::view(revoked.idevid_pem)));
      HM_TRY(auto r, hallmark({"revoke", "--dir", path("operator").string(), "--serial", cert.serial_hex(), "--reason",
                               "keyCompromise", "--comment", "demo: device reported stolen", "--json"}));
      (void)r;
      std::string code = "none";
      // The server checks the revocation generation per request: a second at most.
      for (int attempt = 0; attempt < 20; ++attempt) {
        auto again = enroll(revoked);
        code = again.ok() ? "accepted!" : status_of(again.error());
        if (code == "401") {
          say("   the device whose IDevID was revoked: " + again.error().detail);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      ++m_runtime_refused[code == "401" ? "revoked-idevid" : code];
      m_revocation = {{"device", revoked.serial},
                      {"idevid_serial", cert.serial_hex()},
                      {"reason", "keyCompromise"},
                      {"reason_code", 1},
                      {"http_status", code}};
    }
    return {};
  }

  base::Status audit() {
    say("6. The operator's audit chain is verified");
    HM_TRY(auto r, hallmark({"audit", "verify", "--dir", path("operator"), "--json"}));
    m_audit = json::parse(r.out, nullptr, false);
    HM_TRY(auto sites, hallmark({"site", "list", "--dir", path("operator"), "--json"}, false));
    m_sites = json::parse(sites.out, nullptr, false);
    return {};
  }

  // The HTTP status in a device-client error ("EST server answered 403: …").
  static std::string status_of(const base::Error& e) {
    const auto at = e.detail.find("answered ");
    return at == std::string::npos ? std::string(base::to_string(e.code)) : e.detail.substr(at + 9, 3);
  }

  static std::string fixed(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
  }

  void print_summary() {
    const bool audit_ok = m_audit.is_object() && m_audit.value("verified", false);
    const std::size_t tpm_issued = m_factory_evidence.count("tpm") ? m_factory_evidence.at("tpm") : 0;
    m_ok = audit_ok && m_factory_issued == m_devices.size() + m_tpm_devices.size() &&
           tpm_issued == m_tpm_devices.size() && m_enrolled == m_devices.size() + m_tpm_devices.size() &&
           m_enrolled_with_tpm == m_tpm_devices.size() && m_reenrolled == 1 && m_runtime_refused.size() == 3;
    json factory_refused = json::object(), runtime_refused = json::object();
    for (const auto& [k, v] : m_factory_refused) factory_refused[k] = v;
    for (const auto& [k, v] : m_runtime_refused) runtime_refused[k] = v;
    json tpm_list = json::array();
    for (const auto& d : m_tpm_devices) {
      tpm_list.push_back({{"serial", d.serial}, {"idevid_serial", d.idevid_serial}, {"tcti", d.tcti}});
    }
    json doc = {{"factory",
                 {{"issued", m_factory_issued},
                  {"evidence", {{"se", m_factory_evidence["se"]}, {"tpm", m_factory_evidence["tpm"]}}},
                  {"refused", factory_refused},
                  {"devices_per_second", m_factory_issued / std::max(m_factory_seconds, 1e-6)}}},
                {"runtime",
                 {{"enrolled", m_enrolled},
                  {"enrolled_with_curl", m_enrolled_with_curl},
                  {"reenrolled", m_reenrolled},
                  {"refused", runtime_refused},
                  {"enrolled_with_tpm", m_enrolled_with_tpm},
                  {"revoked", m_revocation},
                  {"enrollments_per_second", m_enrolled_with_client / std::max(m_runtime_seconds, 1e-6)}}},
                {"tpm",
                 {{"devices", m_tpm_devices.size()},
                  {"requested", m_o.tpm_devices},
                  {"swtpm", demo::missing_swtpm_program().empty()},
                  {"note", m_tpm_note},
                  {"issued", tpm_list}}},
                {"reconciliation", m_reconciliation},
                {"audit", {{"verified", audit_ok}, {"records", m_audit.is_object() ? m_audit.value("records", 0) : 0}}},
                {"sites", m_sites.is_discarded() ? json::array() : m_sites},
                {"server", m_url},
                {"data", m_root.string()}};
    say("7. Summary");
    say("   factory: " + std::to_string(m_factory_issued) + " IDevIDs issued at site cm-shenzhen-1 (" +
        evidence_counts() + "), " + std::to_string(count(m_factory_refused)) + " refused");
    say("   runtime: " + std::to_string(m_enrolled) + " LDevIDs enrolled over EST (" +
        std::to_string(m_enrolled_with_curl) + " with curl, " + std::to_string(m_enrolled_with_tpm) +
        " with a TLS key in a TPM), " + std::to_string(m_reenrolled) + " re-enrolled, " +
        std::to_string(count(m_runtime_refused)) + " refused");
    say(std::string("   audit:   ") + (audit_ok ? "verified" : "NOT verified") + ", " +
        std::to_string(m_audit.is_object() ? m_audit.value("records", 0) : 0) + " records");
    say("   revocation: IDevID " + m_revocation.value("idevid_serial", std::string("?")) + " of " +
        m_revocation.value("device", std::string("?")) + " revoked (keyCompromise), its enrollment answered " +
        m_revocation.value("http_status", std::string("?")));
    const auto bin = std::filesystem::path(demo::self_path()).parent_path().string();
    say("   next:    export PATH=" + bin + ":$PATH   # hallmark is " + demo::self_path());
    say("            hallmark ca list --dir " + path("operator").string() + "; hallmark site list --dir " +
        path("operator").string());
    const auto idevid = (path("curl-device-1") / "idevid.pem").string();
    say("            openssl verify -x509_strict -CAfile " + path("ca-chain.pem").string() + " -untrusted " + idevid +
        " " + idevid);
    say("            hallmark audit verify --dir " + path("operator").string());
    if (!m_tpm_devices.empty()) {
      say("            hallmark cert show --dir " + path("operator").string() + " " +
          m_tpm_devices.front().idevid_serial + "   # a TPM device: its HardwareModuleName and TPM evidence");
    }
    if (m_o.json) print_json(doc);
  }

  static std::size_t count(const std::map<std::string, std::size_t>& m) {
    std::size_t n = 0;
    for (const auto& [k, v] : m) n += v;
    return n;
  }

  static void wait_for_interrupt() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    int sig = 0;
    sigwait(&set, &sig);
  }

  DemoOptions m_o;
  fs::path m_root;
  int m_range_end = 0;
  std::vector<Device> m_devices;      // secure-element devices
  std::vector<Device> m_tpm_devices;  // TPM-backed devices (on m_swtpm)
  int m_tpm_count = 0;
  std::string m_tpm_note;
  std::unique_ptr<demo::SwtpmFactory> m_tpm_factory;
  std::unique_ptr<demo::SwtpmFleet> m_swtpm;
  std::size_t m_enrolled_with_tpm = 0, m_enrolled_with_client = 0;
  std::map<std::string, std::size_t> m_factory_evidence;  // issued IDevIDs by evidence type
  std::string m_site_ca_pem, m_trust_pem, m_url;
  std::size_t m_factory_issued = 0, m_enrolled = 0, m_enrolled_with_curl = 0, m_reenrolled = 0;
  std::map<std::string, std::size_t> m_factory_refused, m_runtime_refused;
  json m_revocation = json::object();
  double m_factory_seconds = 0, m_runtime_seconds = 0;
  json m_reconciliation, m_audit, m_sites;
  std::unique_ptr<demo::Background> m_server;
  bool m_ok = false;
};

}  // namespace

void add_demo_command(CommandRegistry reg) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = reg.app.add_subcommand("demo", "Run the end-to-end story: factory batch, reconciliation, EST enrollment");
  cmd->add_option("--dir", o->dir, "Folder for everything the demo makes (recreated on each run)");
  cmd->add_option("--devices", o->devices, "Number of emulated devices (default 1000)")->check(CLI::Range(1, 100000));
  cmd->add_option("--tpm-devices", o->tpm_devices,
                  "How many of them are TPM-backed, each on a swtpm the demo runs (default 3; 0 without swtpm)")
      ->check(CLI::Range(0, 32));
  cmd->add_flag("--json", o->json, "Print one JSON summary on stdout (the story goes to stderr)");
  cmd->add_flag("--exit", o->exit_when_done, "Stop the server and exit when done instead of waiting for Ctrl-C");
  cmd->footer("Runs on the embedded defaults: SQLite stores, encrypted file keys with generated passphrases.");
  cmd->callback([o, &exit_code = reg.exit_code] { exit_code = Demo(*o).run(); });
}

}  // namespace hallmark::app
