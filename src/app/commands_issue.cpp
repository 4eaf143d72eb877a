// `hallmark issue` (admin channel) and `hallmark cert show`.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>

#include "app/cli.h"
#include "app/pki.h"
#include "app/station.h"
#include "base/crypto.h"
#include "base/files.h"
#include "factory/evidence.h"
#include "pkix/csr.h"
#include "pkix/extensions.h"
#include "pkix/oid.h"
#include "pkix/pem.h"

namespace hallmark::app {

// Serials as `openssl x509 -serial` prints them: any case, colons optional, an
// optional "serial=" prefix; leading zero octets are not significant.
std::string normalize_serial(std::string text) {
  if (text.rfind("serial=", 0) == 0) text = text.substr(7);
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (out.size() % 2 == 1) out = "0" + out;
  while (out.size() > 2 && out.compare(0, 2, "00") == 0) out = out.substr(2);
  return out;
}

namespace {

struct IssueOptions {
  std::string dir, profile, csr, device_serial, product, issuer, common_name, out;
  std::vector<std::string> dns, ip;
  bool json = false, reissue = false;
};

// --out must be writable before anything is issued: a certificate signed and
// recorded but not delivered would make the retry issue a second one.
base::Status check_out_path(const std::string& out) {
  if (out.empty()) return {};
  const std::filesystem::path path(out);
  const auto parent = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (!std::filesystem::is_directory(parent, ec)) {
    return base::make_error(base::ErrorCode::Io,
                            "cannot write --out " + out + ": folder " + parent.string() + " does not exist");
  }
  if (std::filesystem::is_directory(path, ec)) {
    return base::make_error(base::ErrorCode::Io, "cannot write --out " + out + ": it is a folder");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    return base::make_error(base::ErrorCode::Io,
                            "cannot write --out " + out + ": folder " + parent.string() + " is not writable");
  }
  return {};
}

// One key belongs to one device, and a key revoked for keyCompromise is never
// certified again — on the admin channel too (the station and EST refuse both).
base::Status check_key_history(Pki& pki, const std::string& fingerprint, const std::string& device_serial) {
  HM_TRY(auto same_key, pki.store().certificates().by_key_fingerprint(fingerprint));
  for (const auto& r : same_key) {
    if (r.status == "pending") continue;
    if (r.status == "revoked") {
      HM_TRY(auto state, pki.revocations().state(r.issuer, r.serial));
      if (state.revocation && state.revocation->reason == ca::RevocationReason::KeyCompromise) {
        return base::make_error(base::ErrorCode::PolicyDenied,
                                "this key's certificate " + r.serial +
                                    " was revoked for keyCompromise: a compromised " +
                                    "key is never certified again; the device needs a new key");
      }
    }
    if (!device_serial.empty() && !r.device_serial.empty() && r.device_serial != device_serial) {
      return base::make_error(base::ErrorCode::AlreadyExists, "this key is already certified for device " +
                                                                  r.device_serial + " (certificate " + r.serial +
                                                                  "): one key belongs to one device");
    }
  }
  return {};
}

int run_issue(const IssueOptions& o) {
  auto pki_r = Pki::open(o.dir);
  if (!pki_r.ok()) return report(pki_r.error());
  auto& pki = *pki_r.value();
  auto data = base::read_file(o.csr, pkix::kMaxCsrSize);
  if (!data.ok()) return report(data.error());
  auto csr = pkix::Csr::parse(data.value());
  if (!csr.ok()) return report(csr.error());
  if (auto w = check_out_path(o.out); !w.ok()) return report(w.error());
  if (auto history =
          check_key_history(pki, base::hex_encode(base::sha256(csr->public_key().spki_der())), o.device_serial);
      !history.ok()) {
    return report(history.error());
  }
  if (o.profile == "idevid" && !o.device_serial.empty() && !o.reissue) {
    // A device has one birth certificate; a second one for another key is
    // almost always a mistake (or a clone), so it takes --reissue.
    auto existing = pki.ledger().by_device(o.device_serial);
    if (!existing.ok()) return report(existing.error());
    const auto fingerprint = base::hex_encode(base::sha256(csr->public_key().spki_der()));
    for (const auto& e : existing.value()) {
      if (e.profile == "idevid" && e.status != ca::CertificateStatus::Pending && e.key_fingerprint != fingerprint) {
        return report(base::make_error(base::ErrorCode::AlreadyExists,
                                       "device " + o.device_serial + " already has IDevID " + e.serial +
                                           " for another key; give --reissue to issue a second one"));
      }
    }
  }

  ca::IssuanceRequest req;
  req.profile = o.profile;
  req.public_key_der = csr->public_key().spki_der();
  req.device_serial = o.device_serial;
  req.product = o.product;
  req.common_name = o.common_name;
  req.dns_names = o.dns;
  req.ip_addresses = o.ip;
  req.channel = audit::Channel::Admin;
  req.actor = "cli:" + std::string(std::getenv("USER") ? std::getenv("USER") : "admin");
  req.origin = "cli";
  auto authority = pki.authority(o.issuer.empty() ? Pki::default_issuer_for(o.profile) : o.issuer);
  if (!authority.ok()) return report(authority.error());
  auto issued = pki.issuer().issue(authority.value(), req);
  auto finished = pki.finish();
  if (!issued.ok()) return report(issued.error());
  if (!finished.ok()) return report(finished.error());
  for (const auto& w : issued->warnings) std::cerr << "warning: " << w << "\n";
  const auto& cert = issued->certificate;
  const auto pem = cert.pem();
  if (!o.out.empty()) {
    auto w = base::write_file(o.out, pem, 0644);
    if (!w.ok()) return report(w.error());
  }
  if (o.json) {
    print_json({{"serial", cert.serial_hex()},
                {"profile", o.profile},
                {"issuer", authority->name},
                {"subject", cert.subject().to_string()},
                {"not_after", cert.not_after().text},
                {"warnings", issued->warnings},
                {"pem", pem}});
  } else if (o.out.empty()) {
    std::cout << pem;
  } else {
    std::cerr << "issued " << cert.serial_hex() << " (" << o.profile << ") to " << o.out << "\n";
  }
  return kExitOk;
}

bool is_serial(const std::string& serial) {
  return !serial.empty() && std::all_of(serial.begin(), serial.end(), [](char c) { return std::isxdigit(c) != 0; });
}

int bad_serial(const std::string& serial_text) {
  std::cerr << "error: '" << serial_text << "' is not a certificate serial (hex, colons optional, as "
            << "`openssl x509 -noout -serial` prints it)\n";
  return kExitUsage;
}

// What `cert show` and `cert evidence` read: an operator folder, or a station
// folder (its station.db holds the same ledger and evidence tables), without keys.
class Records {
 public:
  static base::Result<Records> open(const std::string& dir) {
    Records r;
    const StationPaths station{dir};
    std::error_code ec;
    if (std::filesystem::exists(station.config(), ec) && std::filesystem::exists(station.database(), ec)) {
      HM_TRY(r.m_station, store::open_store({station.database().string()}, clock()));
    } else {
      HM_TRY(r.m_pki, Pki::open(dir, false));
    }
    return r;
  }
  store::Store& store() { return m_pki ? m_pki->store() : *m_station; }

 private:
  static const base::Clock& clock() {
    static const base::SystemClock c;
    return c;
  }
  std::unique_ptr<Pki> m_pki;
  std::unique_ptr<store::Store> m_station;
};

base::Result<ca::LedgerEntry> find_entry(Records& records, const std::string& serial) {
  HM_TRY(auto entry, records.store().ledger().find(serial));
  if (!entry)
    return base::make_error(base::ErrorCode::NotFound, "no certificate with serial " + serial + " in the ledger");
  return std::move(*entry);
}

// Why a certificate has evidence "none" (issue 8: both are recorded, and shown).
std::string none_reason(const ca::LedgerEntry& e) {
  switch (e.channel) {
    case audit::Channel::Factory:
      return "the site authorization opted out of hardware attestation (--attestation none)";
    case audit::Channel::Admin:
      return "issued over the admin channel (hallmark issue), which takes no hardware evidence";
    case audit::Channel::Runtime:
      break;
  }
  return "issued over the runtime channel, which records no hardware evidence";
}

// The evidence summary of `cert show` (docs/factory.md "Evidence records").
base::Result<nlohmann::json> evidence_summary(Records& records, const ca::LedgerEntry& e) {
  using nlohmann::json;
  if (e.evidence_digest == "none") return json{{"type", "none"}, {"reason", none_reason(e)}};
  HM_TRY(auto stored, records.store().evidence().find_evidence(e.evidence_digest));
  if (!stored) {
    return json{{"type", "unknown"},
                {"digest", e.evidence_digest},
                {"stored", false},
                {"reason",
                 "only the digest is recorded here: the evidence was not kept (issued before evidence was stored, or "
                 "imported from a format 1 ledger bundle)"}};
  }
  json out = {{"type", stored->type},
              {"digest", stored->digest},
              {"stored", true},
              {"digest_matches", factory::evidence_digest(stored->content) == e.evidence_digest},
              {"hardware_id", stored->hardware_id},
              {"verified_at", base::format_rfc3339(stored->verified_at)}};
  auto summary = factory::summarize_evidence(*stored);
  if (!summary.ok()) {
    out["summary_error"] = summary.error().detail;
    return out;
  }
  out["vendor_chain"] = summary->chain_subjects;
  out["attestation_certificate"] = {{"serial", summary->attestation_serial},
                                    {"sha256_fingerprint", summary->attestation_fingerprint}};
  out["nonce"] = summary->nonce;
  return out;
}

void print_evidence(const nlohmann::json& ev, const std::string& serial) {
  std::cout << "evidence: " << ev["type"].get<std::string>() << "\n";
  if (ev.contains("reason")) std::cout << "  " << ev["reason"].get<std::string>() << "\n";
  if (!ev.value("stored", false)) return;
  std::cout << "  digest: " << ev["digest"].get<std::string>()
            << (ev["digest_matches"].get<bool>() ? " (matches the stored octets)"
                                                 : " (DOES NOT match the stored octets)")
            << "\n";
  std::cout << "  verified at: " << ev["verified_at"].get<std::string>() << "\n";
  if (!ev["hardware_id"].get<std::string>().empty()) {
    std::cout << "  hardware identity: " << ev["hardware_id"].get<std::string>() << "\n";
  }
  if (ev.contains("summary_error"))
    std::cout << "  cannot summarize: " << ev["summary_error"].get<std::string>() << "\n";
  if (ev.contains("nonce")) std::cout << "  nonce: " << ev["nonce"].get<std::string>() << "\n";
  if (ev.contains("attestation_certificate")) {
    const auto& a = ev["attestation_certificate"];
    std::cout << "  attestation certificate: serial " << a["serial"].get<std::string>() << ", SHA-256 "
              << a["sha256_fingerprint"].get<std::string>() << "\n";
  }
  if (ev.contains("vendor_chain")) {
    std::cout << "  vendor chain (leaf first):\n";
    for (const auto& subject : ev["vendor_chain"]) std::cout << "    " << subject.get<std::string>() << "\n";
  }
  std::cout << "  (the octets: hallmark cert evidence --dir DIR " << serial << " --out FILE)\n";
}

int run_show(const std::string& dir, const std::string& serial_text, bool json) {
  auto records = Records::open(dir);
  if (!records.ok()) return report(records.error());
  const auto serial = normalize_serial(serial_text);
  if (!is_serial(serial)) return bad_serial(serial_text);
  auto entry = find_entry(records.value(), serial);
  if (!entry.ok()) return report(entry.error());
  const auto& e = entry.value();
  nlohmann::json doc = {{"serial", e.serial},
                        {"status", std::string(ca::to_string(e.status))},
                        {"profile", e.profile},
                        {"issuer", e.issuer},
                        {"subject", e.subject},
                        {"device_serial", e.device_serial},
                        {"product", e.product},
                        {"channel", std::string(audit::to_string(e.channel))},
                        {"origin", e.origin},
                        {"evidence_digest", e.evidence_digest},
                        {"key_fingerprint", e.key_fingerprint},
                        {"created", base::format_rfc3339(e.created)},
                        {"not_after", base::format_rfc3339(e.not_after)}};
  if (!e.der.empty()) {
    doc["pem"] = pkix::pem_encode(e.der, "CERTIFICATE");
    // The HardwareModuleName (RFC 4108 §5), which `openssl x509 -text` shows as <unsupported>.
    auto cert = pkix::Certificate::parse(e.der);
    auto san = cert.ok() ? cert->find_extension(pkix::oid::kSubjectAltName) : std::nullopt;
    auto names = san ? pkix::decode_subject_alt_name(san->value)
                     : base::Result<pkix::SubjectAltNames>(base::make_error(base::ErrorCode::NotFound, ""));
    if (names.ok() && !names->hardware_modules.empty()) {
      const auto& hw = names->hardware_modules.front();
      const bool printable = !hw.hw_serial.empty() && std::all_of(hw.hw_serial.begin(), hw.hw_serial.end(),
                                                                  [](std::uint8_t c) { return c >= 0x20 && c < 0x7f; });
      doc["hardware_module"] = {
          {"hw_type", hw.hw_type},
          {"hw_serial", printable ? base::to_string(hw.hw_serial) : base::hex_encode(hw.hw_serial)},
          {"hw_serial_encoding", printable ? "ascii" : "hex"}};
    }
  }
  auto evidence = evidence_summary(records.value(), e);
  if (!evidence.ok()) return report(evidence.error());
  if (json) {
    doc["evidence"] = evidence.value();
    print_json(doc);
    return kExitOk;
  }
  for (const auto& [k, v] : doc.items()) {
    if (k == "pem" || k == "hardware_module") continue;
    std::cout << k << ": " << v.get<std::string>() << "\n";
  }
  if (doc.contains("hardware_module")) {
    const auto& hw = doc["hardware_module"];
    const auto type = hw["hw_type"].get<std::string>();
    std::cout << "hardware_module: hwType " << type << (type == "2.23.133.1.2" ? " (tcg-sv-tpm20)" : "")
              << ", hwSerialNum " << hw["hw_serial"].get<std::string>() << " ("
              << hw["hw_serial_encoding"].get<std::string>() << ")\n";
  }
  print_evidence(evidence.value(), e.serial);
  if (e.der.empty()) {
    std::cout << "(pending: recorded before signing; no certificate was produced)\n";
  } else {
    std::cout << doc["pem"].get<std::string>();
  }
  return kExitOk;
}

// `cert evidence`: the stored octets, byte for byte, so that `sha256sum` of
// the output is the certificate's evidence_digest and an auditor can re-verify.
int run_evidence(const std::string& dir, const std::string& serial_text, const std::string& out) {
  auto records = Records::open(dir);
  if (!records.ok()) return report(records.error());
  const auto serial = normalize_serial(serial_text);
  if (!is_serial(serial)) return bad_serial(serial_text);
  auto entry = find_entry(records.value(), serial);
  if (!entry.ok()) return report(entry.error());
  const auto& e = entry.value();
  if (e.evidence_digest == "none") {
    return report(base::make_error(base::ErrorCode::NotFound,
                                   "certificate " + serial + " has evidence 'none': " + none_reason(e)));
  }
  auto stored = records.value().store().evidence().find_evidence(e.evidence_digest);
  if (!stored.ok()) return report(stored.error());
  if (!stored.value()) {
    return report(base::make_error(base::ErrorCode::NotFound, "the evidence of certificate " + serial + " (digest " +
                                                                  e.evidence_digest + ") is not stored here"));
  }
  const auto& content = stored.value()->content;
  if (out.empty() || out == "-") {
    std::cout.write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
    std::cout.flush();
    return std::cout ? kExitOk : kExitFailure;
  }
  if (auto w = check_out_path(out); !w.ok()) return report(w.error());
  if (auto w = base::write_file(out, base::ByteView(content), 0644); !w.ok()) return report(w.error());
  std::cerr << "wrote the " << stored.value()->type << " evidence of " << serial << " (" << content.size()
            << " octets, SHA-256 " << e.evidence_digest << ") to " << out << "\n";
  return kExitOk;
}

int run_list(const std::string& dir, const std::string& status, std::size_t limit, bool json) {
  if (!status.empty() && status != "pending" && status != "issued" && status != "revoked") {
    std::cerr << "error: --status must be pending, issued or revoked\n";
    return kExitUsage;
  }
  auto pki = Pki::open(dir, false);
  if (!pki.ok()) return report(pki.error());
  auto rows = pki.value()->ledger().list(status, limit);
  if (!rows.ok()) return report(rows.error());
  nlohmann::json doc = nlohmann::json::array();
  for (const auto& e : rows.value()) {
    doc.push_back({{"serial", e.serial},
                   {"status", std::string(ca::to_string(e.status))},
                   {"profile", e.profile},
                   {"issuer", e.issuer},
                   {"device_serial", e.device_serial},
                   {"channel", std::string(audit::to_string(e.channel))},
                   {"created", base::format_rfc3339(e.created)}});
  }
  if (json) {
    print_json(doc);
    return kExitOk;
  }
  if (doc.empty()) std::cerr << "no certificates" << (status.empty() ? "" : " with status " + status) << "\n";
  for (const auto& r : doc) {
    std::cout << r["serial"].get<std::string>() << "\t" << r["status"].get<std::string>() << "\t"
              << r["profile"].get<std::string>() << "\t" << r["device_serial"].get<std::string>() << "\t"
              << r["created"].get<std::string>() << "\n";
  }
  return kExitOk;
}

}  // namespace

void add_issue_commands(CommandRegistry reg) {
  auto o = std::make_shared<IssueOptions>();
  auto* cmd = reg.app.add_subcommand("issue", "Issue a certificate from a CSR over the admin channel");
  cmd->add_option("--dir", o->dir, "Data folder")->required();
  cmd->add_option("--profile", o->profile, "Profile: idevid, ldevid, tls-server")->required();
  cmd->add_option("--csr", o->csr, "CSR file, PEM or DER (the format is detected from the content)")->required();
  cmd->add_option("--serial-number,--device", o->device_serial, "Device serial number (idevid, ldevid)");
  cmd->add_option("--product", o->product, "Product name from the configuration's product table (idevid)");
  cmd->add_option("--issuer", o->issuer, "Issuer name (default: factory for idevid, runtime otherwise)");
  cmd->add_option("--cn", o->common_name, "Common name (tls-server)");
  cmd->add_option("--dns", o->dns, "DNS name for the SAN (tls-server); repeatable");
  cmd->add_option("--ip", o->ip, "IP address for the SAN (tls-server); repeatable");
  cmd->add_option("--out", o->out, "Write the certificate (PEM) here instead of stdout");
  cmd->add_flag("--json", o->json, "Print one JSON document");
  cmd->add_flag("--reissue", o->reissue, "Allow a second IDevID for a device that has one for another key");
  cmd->footer(
      "The certificate is built from the profile, never copied from the CSR. The admin channel may issue "
      "idevid from any key; such certificates are recorded with evidence 'none'.");
  cmd->callback([o, &exit_code = reg.exit_code] { exit_code = run_issue(*o); });

  auto* cert = reg.app.add_subcommand("cert", "Inspect certificates in the ledger");
  cert->require_subcommand(1);
  auto* show = cert->add_subcommand(
      "show", "Show a certificate's ledger record and evidence summary (serial in hex, colons optional)");
  auto dir = std::make_shared<std::string>();
  auto serial = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  show->add_option("--dir", *dir, "Data folder, or a station folder")->required();
  show->add_option("serial", *serial, "Certificate serial as `openssl x509 -serial` prints it")->required();
  show->add_flag("--json", *json, "Print one JSON document");
  show->callback([dir, serial, json, &exit_code = reg.exit_code] { exit_code = run_show(*dir, *serial, *json); });

  auto* evidence = cert->add_subcommand(
      "evidence", "Write a certificate's stored hardware evidence, byte for byte (to re-verify it)");
  auto edir = std::make_shared<std::string>();
  auto eserial = std::make_shared<std::string>();
  auto eout = std::make_shared<std::string>();
  evidence->add_option("--dir", *edir, "Data folder, or a station folder")->required();
  evidence->add_option("serial", *eserial, "Certificate serial as `openssl x509 -serial` prints it")->required();
  evidence->add_option("--out", *eout, "Write it here (default: stdout)");
  evidence->footer(
      "The output is exactly the octets whose SHA-256 is the certificate's evidence_digest (for SE evidence the "
      "manifest line's \"evidence\" as compact JSON with sorted keys); exit 4 when the certificate has evidence "
      "'none' or only its digest is stored.");
  evidence->callback(
      [edir, eserial, eout, &exit_code = reg.exit_code] { exit_code = run_evidence(*edir, *eserial, *eout); });

  auto* list = cert->add_subcommand("list", "List ledger records (pending ones were recorded but never signed)");
  auto ldir = std::make_shared<std::string>();
  auto status = std::make_shared<std::string>();
  auto limit = std::make_shared<std::size_t>(1000);
  auto ljson = std::make_shared<bool>(false);
  list->add_option("--dir", *ldir, "Data folder")->required();
  list->add_option("--status", *status, "Only pending, issued or revoked");
  list->add_option("--limit", *limit, "At most this many (default 1000)");
  list->add_flag("--json", *ljson, "Print one JSON document");
  list->callback([=, &exit_code = reg.exit_code] { exit_code = run_list(*ldir, *status, *limit, *ljson); });
}

}  // namespace hallmark::app
