// `hallmark station init|provision|bundle get|export` (the offline factory station).
#include <chrono>
#include <fstream>
#include <iostream>

#include "app/cli.h"
#include "app/station.h"
#include "base/files.h"
#include "ca/revocation.h"
#include "factory/ledger_bundle.h"
#include "factory/provisioning.h"
#include "keys/pkcs11_uri.h"
#include "pkix/csr.h"
#include "pkix/name.h"
#include "pkix/oid.h"
#include "pkix/pem.h"
#include "store/sqlite/sqlite_revocation_store.h"

namespace hallmark::app {

using base::ErrorCode;
using base::make_error;
namespace fs = std::filesystem;
using nlohmann::json;

std::string normalize_serial(std::string text);  // commands_issue.cpp

namespace {

// `station keygen`: the site CA key made where it will stay (the site's token,
// or an encrypted file), and a CSR for `site create --site-csr`.
base::Status keygen(const std::string& key_ref, const std::string& alg_name, const std::string& site,
                    const std::string& csr_out) {
  if (fs::exists(csr_out)) return make_error(ErrorCode::AlreadyExists, "'" + csr_out + "' already exists");
  HM_TRY(auto alg, base::parse_key_algorithm(alg_name));
  std::string passphrase;
  if (!keys::is_pkcs11_uri(key_ref)) {
    // The station reads the file with the same passphrase: only the environment is shared.
    const char* env = std::getenv("HALLMARK_KEY_PASSPHRASE");
    if (env == nullptr || *env == '\0') {
      return make_error(ErrorCode::InvalidArgument, "a site CA key file needs HALLMARK_KEY_PASSPHRASE");
    }
    if (key_ref.find('/') == std::string::npos) {
      return make_error(ErrorCode::InvalidArgument, "--key is a pkcs11: URI or a key file path (with a '/')");
    }
    passphrase = env;
  }
  keys::KeyStore store(fs::path(key_ref).parent_path(), passphrase);
  HM_TRY(auto key, store.generate(key_ref, alg));
  pkix::Name subject;
  HM_CHECK(subject.add(pkix::oid::kCommonName, "Hallmark site CA key" + (site.empty() ? "" : " " + site)));
  HM_TRY(auto info, pkix::encode_csr_info(subject, key->public_key_der()));
  HM_TRY(auto sig, key->sign(info));
  HM_TRY(auto csr, pkix::assemble_csr(info, key->signature_algorithm(), sig));
  return base::write_file(csr_out, pkix::pem_encode(csr, "CERTIFICATE REQUEST"), 0644);
}

// Writes results.jsonl (one object per line, in order) and devices.jsonl (the
// per-batch stream of device bundles: a chain header, then one line per device).
class BatchOutput final : public factory::ResultSink {
 public:
  base::Status open(const fs::path& dir, const Station& station, const std::string& batch) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(ErrorCode::Io, "cannot create '" + dir.string() + "'", ec.message());
    m_results.open(dir / "results.jsonl", std::ios::trunc);
    m_devices.open(dir / "devices.jsonl", std::ios::trunc);
    if (!m_results || !m_devices) return make_error(ErrorCode::Io, "cannot write into '" + dir.string() + "'");
    m_devices << json{{"type", "chain"},
                      {"batch", batch},
                      {"station", station.scope().station_id()},
                      {"site_ca", station.site_ca_pem()},
                      {"factory_ca", station.factory_pem()},
                      {"trust_anchors", json::array({station.root_pem()})}}
                     .dump()
              << "\n";
    return {};
  }
  base::Status accept(const factory::ProvisionResult& r) override {
    json line = {{"line", r.line},
                 {"serial", r.serial},
                 {"status", r.status},
                 {"reason_code", r.reason_code.empty() ? json(nullptr) : json(r.reason_code)},
                 {"reason", r.reason.empty() ? json(nullptr) : json(r.reason)},
                 {"cert_serial", r.certificates.empty() ? json(nullptr) : json(r.certificates.front().serial)}};
    m_results << line.dump() << "\n";
    if (!r.certificates.empty()) {
      json certs = json::array();
      for (const auto& c : r.certificates) {
        certs.push_back(
            {{"profile", c.profile}, {"serial", c.serial}, {"pem", pkix::pem_encode(c.der, "CERTIFICATE")}});
      }
      m_devices << json{{"type", "device"},
                        {"line", r.line},
                        {"serial", r.serial},
                        {"status", r.status},
                        {"certificates", certs}}
                       .dump()
                << "\n";
    }
    if (!m_results || !m_devices) return make_error(ErrorCode::Io, "writing the batch output failed");
    return {};
  }
  void flush() {
    m_results.flush();
    m_devices.flush();
  }

 private:
  std::ofstream m_results, m_devices;
};

std::string utc_stamp() {
  auto t = base::format_rfc3339(base::SystemClock().now());  // 2026-01-02T03:04:05Z
  std::string out;
  for (char c : t) {
    if (c != '-' && c != ':') out.push_back(c);
  }
  return out;
}

struct ProvisionOptions {
  std::string dir, input, out, batch;
  unsigned workers = 0;
  bool quiet = false;
};

int run_provision(const ProvisionOptions& o) {
  // An earlier batch's results are the line's record of what it issued: never overwritten.
  if (std::error_code ec; fs::exists(fs::path(o.out) / "results.jsonl", ec)) {
    return report(make_error(ErrorCode::AlreadyExists, "'" + o.out +
                                                           "' holds an earlier batch's results; give a new --out "
                                                           "folder (a rerun of a manifest is safe there)"));
  }
  auto st = Station::open(o.dir);
  if (!st.ok()) return report(st.error());
  auto& station = *st.value();
  auto authority = station.authority();
  if (!authority.ok()) return report(authority.error());
  if (std::error_code ec; fs::is_directory(o.input, ec)) {
    return report(make_error(ErrorCode::InvalidArgument, "'" + o.input + "' is a folder; give the manifest file"));
  }
  std::ifstream in(o.input, std::ios::binary);
  if (!in) return report(make_error(ErrorCode::NotFound, "cannot read manifest '" + o.input + "'"));
  const auto batch = o.batch.empty() ? fs::path(o.input).stem().string() + "-" + utc_stamp() : o.batch;
  BatchOutput output;
  if (auto s = output.open(o.out, station, batch); !s.ok()) return report(s.error());

  base::SystemClock clock;
  const auto started = std::chrono::steady_clock::now();
  auto last_progress = started;
  factory::EngineOptions opts;
  if (o.workers > 256) {
    std::cerr << "error: --workers must be 1..256 (threads that sign; more than the cores gains nothing)\n";
    return kExitUsage;
  }
  opts.workers = o.workers > 0 ? o.workers : station.workers();
  opts.batch_id = batch;
  opts.nonces = &station.records();
  opts.evidence = &station.records();
  opts.after_chunk = [&] {
    output.flush();
    auto c = station.audit().checkpoint_if_due();
    if (!c.ok()) std::cerr << "warning: audit checkpoint failed: " << c.error().detail << "\n";
  };
  opts.on_chunk = [&](const factory::BatchCounts& c) {
    const auto now = std::chrono::steady_clock::now();
    if (o.quiet || now - last_progress < std::chrono::seconds(2)) return;
    last_progress = now;
    const double secs = std::chrono::duration<double>(now - started).count();
    std::cerr << "provision: " << c.lines << " lines (" << c.issued << " issued, " << c.existing << " existing, "
              << c.refused << " refused), " << static_cast<long>(c.lines / std::max(secs, 1e-3)) << " lines/s\n";
  };
  factory::ProvisioningEngine engine(station.scope(), station.issuer(), authority.value(), station.ledger(),
                                     station.records(), clock, opts);
  auto counts = engine.run(in, output);
  output.flush();
  auto fin = station.finish();
  if (!counts.ok()) return report(counts.error());
  if (!fin.ok()) return report(fin.error());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto& c = counts.value();
  json summary = {{"batch", batch},
                  {"station", station.scope().station_id()},
                  {"manifest", o.input},
                  {"lines", c.lines},
                  {"issued", c.issued},
                  {"existing", c.existing},
                  {"refused", c.refused},
                  {"refused_by_reason", c.by_reason},
                  {"workers", opts.workers},
                  {"seconds", secs},
                  {"lines_per_second", secs > 0 ? c.lines / secs : 0.0}};
  auto w = base::write_file(fs::path(o.out) / "summary.json", summary.dump(2) + "\n");
  if (!w.ok()) return report(w.error());
  std::cerr << "batch " << batch << ": " << c.lines << (c.lines == 1 ? " line, " : " lines, ") << c.issued
            << " issued, " << c.existing << " existing, " << c.refused << " refused";
  for (const auto& [code, n] : c.by_reason)
    std::cerr << (code == c.by_reason.begin()->first ? " (" : ", ") << code << " " << n;
  std::cerr << (c.by_reason.empty() ? "" : ")") << " in " << static_cast<long>(secs * 1000) / 1000.0 << " s\n";
  return kExitOk;
}

int run_bundle_get(const std::string& dir, const std::string& serial, const std::string& out) {
  auto st = Station::open(dir, false);
  if (!st.ok()) return report(st.error());
  auto& station = *st.value();
  auto entries = station.ledger().by_device(serial);
  if (!entries.ok()) return report(entries.error());
  std::string pem, others;
  for (const auto& e : entries.value()) {
    if (e.status != ca::CertificateStatus::Issued || e.der.empty()) continue;
    (e.profile == "idevid" ? pem : others) += pkix::pem_encode(e.der, "CERTIFICATE");
  }
  if (pem.empty()) {
    return report(make_error(ErrorCode::NotFound, "device " + serial + " has no IDevID at this station"));
  }
  pem += others + station.site_ca_pem() + station.factory_pem() + station.root_pem();
  if (out.empty()) {
    std::cout << pem;
    return kExitOk;
  }
  auto w = base::write_file(out, pem);
  return w.ok() ? kExitOk : report(w.error());
}

int run_export(const std::string& dir, const std::string& out, bool final, bool json_out) {
  // Each bundle carries only the records since the last export: overwriting one
  // the operator has not imported yet would lose them.
  if (fs::exists(out)) {
    return report(make_error(ErrorCode::AlreadyExists, "'" + out +
                                                           "' already exists (an earlier bundle, perhaps not imported "
                                                           "yet); give a new name for this one"));
  }
  auto st = Station::open(dir);
  if (!st.ok()) return report(st.error());
  auto& station = *st.value();
  auto from = station.records().exported_up_to();
  if (!from.ok()) return report(from.error());
  audit::Event ev;
  ev.actor = station.scope().station_id();
  ev.channel = audit::Channel::Factory;
  ev.action = final ? "final-export" : "export";
  ev.detail = "ledger bundle after record " + std::to_string(from.value());
  if (auto r = station.audit().append(ev); !r.ok()) return report(r.error());
  if (auto c = station.audit().checkpoint(); !c.ok()) return report(c.error());
  const fs::path tmp = out + ".partial";
  factory::ExportSummary summary;
  {
    std::ofstream file(tmp, std::ios::trunc | std::ios::binary);
    if (!file) return report(make_error(ErrorCode::Io, "cannot write '" + tmp.string() + "'"));
    base::SystemClock clock;
    // The site CA's CRL (issue 6): signed here, where the key is, from the
    // revocations `station sync` brought from the operator; every export re-issues it.
    auto site = station.authority();
    if (!site.ok()) return report(site.error());
    store::SqliteRevocationStore revocations(station.database(), station.audit_store());
    ca::CrlSettings crl_settings;
    crl_settings.validity = std::chrono::hours(24 * 7);
    crl_settings.only_user_certs = true;  // a site CA has pathLen 0
    auto crl = ca::issue_crl(site.value(), revocations, clock, crl_settings);
    if (!crl.ok()) return report(crl.error());
    auto s = factory::write_bundle(file, station.authorization(), station.audit_store(), station.ledger(),
                                   station.records(), *station.station_key(), clock, from.value(), final, &crl->der);
    if (!s.ok()) return report(s.error());
    summary = s.value();
  }
  std::error_code ec;
  fs::rename(tmp, out, ec);
  if (ec) return report(make_error(ErrorCode::Io, "cannot write '" + out + "'", ec.message()));
  if (auto s = station.records().set_exported_up_to(summary.to_sequence); !s.ok()) return report(s.error());
  json doc = {{"bundle", out},
              {"station", station.scope().station_id()},
              {"from_sequence", summary.from_sequence},
              {"to_sequence", summary.to_sequence},
              {"records", summary.records},
              {"certificates", summary.certificates},
              {"final", final}};
  if (json_out)
    print_json(doc);
  else
    std::cerr << "exported " << summary.certificates << " certificates and " << summary.records << " audit records ("
              << summary.from_sequence << ".." << summary.to_sequence << ") to " << out << "\n";
  return kExitOk;
}

}  // namespace

void add_station_commands(CommandRegistry reg) {
  auto* station =
      reg.app.add_subcommand("station", "The offline factory station: init, provision, serve, bundle get, export");
  station->require_subcommand(1);

  auto idir = std::make_shared<std::string>();
  auto iauth = std::make_shared<std::string>();
  auto* init = station->add_subcommand("init", "Prepare a station folder from a site authorization");
  init->add_option("--dir", *idir, "Station folder to create")->required();
  init->add_option("--authorization", *iauth, "Authorization folder from `site create --out` (or its station-N folder)")
      ->required();
  auto ikey = std::make_shared<std::string>();
  init->add_option("--key", *ikey,
                   "The site CA key when the authorization carries none: a pkcs11: URI (the site's HSM) or a key file");
  init->callback([=, &exit_code = reg.exit_code] {
    std::vector<std::string> messages;
    auto s = Station::init(*idir, *iauth, *ikey, messages);
    for (const auto& m : messages) std::cerr << m << "\n";
    if (!s.ok()) exit_code = report(s.error());
  });

  auto kref = std::make_shared<std::string>();
  auto kalg = std::make_shared<std::string>("p256");
  auto ksite = std::make_shared<std::string>();
  auto kcsr = std::make_shared<std::string>();
  auto* kg = station->add_subcommand(
      "keygen", "Generate the site CA key in the site's token (or a file) and a CSR for `site create --site-csr`");
  kg->add_option("--key", *kref,
                 "pkcs11:token=<label>;object=<label>?module-path=<.so>&pin-source=file:<pin> (PIN also from "
                 "HALLMARK_PKCS11_PIN), or a key file path (encrypted with HALLMARK_KEY_PASSPHRASE)")
      ->required();
  kg->add_option("--algorithm", *kalg, "p256 (default), p384, rsa2048, rsa3072");
  kg->add_option("--site", *ksite, "Site id, for the CSR's subject");
  kg->add_option("--csr", *kcsr, "CSR file to write (PEM)")->required();
  kg->callback([=, &exit_code = reg.exit_code] {
    auto s = keygen(*kref, *kalg, *ksite, *kcsr);
    if (!s.ok()) {
      exit_code = report(s.error());
      return;
    }
    std::cout << "site CA key " << *kref << "; CSR in " << *kcsr << "\n";
  });

  auto po = std::make_shared<ProvisionOptions>();
  auto* prov = station->add_subcommand("provision", "Issue IDevIDs for a manifest of devices (JSON lines)");
  prov->add_option("--dir", po->dir, "Station folder")->required();
  prov->add_option("--input", po->input,
                   "Manifest: one {\"serial\",\"product\",\"csr\",\"evidence\"?,\"profiles\"?} per line")
      ->required();
  prov->add_option("--out", po->out, "Output folder: results.jsonl, devices.jsonl, summary.json")->required();
  prov->add_option("--batch", po->batch,
                   "Batch id recorded with every certificate (default: manifest name + start time)");
  prov->add_option("--workers", po->workers, "Threads (default: station.workers, else one per core)");
  prov->add_flag("--quiet", po->quiet, "No progress lines");
  prov->footer(
      "Every manifest line gets exactly one result line (issued, existing or refused with a reason code); "
      "rerunning a manifest is safe: devices already issued come back as existing. Exit 0 when the batch ran.");
  prov->callback([po, &exit_code = reg.exit_code] { exit_code = run_provision(*po); });

  auto* bundle = station->add_subcommand("bundle", "Device bundles");
  bundle->require_subcommand(1);
  auto bdir = std::make_shared<std::string>();
  auto bserial = std::make_shared<std::string>();
  auto bout = std::make_shared<std::string>();
  auto* get = bundle->add_subcommand(
      "get", "Print one device's bundle: its certificates, the chain and the trust anchor (PEM)");
  get->add_option("--dir", *bdir, "Station folder")->required();
  get->add_option("serial", *bserial, "Device serial number")->required();
  get->add_option("--out", *bout, "Write to this file instead of stdout");
  get->callback([=, &exit_code = reg.exit_code] { exit_code = run_bundle_get(*bdir, *bserial, *bout); });

  auto edir = std::make_shared<std::string>();
  auto eout = std::make_shared<std::string>();
  auto efinal = std::make_shared<bool>(false);
  auto ejson = std::make_shared<bool>(false);
  auto* exp = station->add_subcommand("export",
                                      "Write a signed ledger bundle for the operator (records since the last export)");
  exp->add_option("--dir", *edir, "Station folder")->required();
  exp->add_option("--out", *eout, "Bundle file to write")->required();
  exp->add_flag("--final", *efinal, "Mark the bundle as the station's last (contract end)");
  exp->add_flag("--json", *ejson, "Print one JSON document");
  exp->callback([=, &exit_code = reg.exit_code] { exit_code = run_export(*edir, *eout, *efinal, *ejson); });

  add_station_serve_command(*station, reg.exit_code);
  add_station_challenge_command(*station, reg.exit_code);
  add_station_tpm_activate_command(*station, reg.exit_code);
}

}  // namespace hallmark::app
