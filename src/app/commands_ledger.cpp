// `hallmark ledger import` (operator side: station bundles in, reconciliation out).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "app/cli.h"
#include "app/pki.h"
#include "base/files.h"
#include "factory/ledger_bundle.h"
#include "pkix/pem.h"

namespace hallmark::app {

using nlohmann::json;

namespace {

// Imports into one data folder run one after the other: a second import of the
// same bundle then finds it imported instead of racing the first (a blocking
// flock, released by the kernel if the holder dies).
class ImportLock {
 public:
  explicit ImportLock(const std::filesystem::path& dir)
      : m_fd(::open((dir / "import.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (m_fd >= 0) (void)::flock(m_fd, LOCK_EX);
  }
  ~ImportLock() {
    if (m_fd >= 0) ::close(m_fd);
  }
  ImportLock(const ImportLock&) = delete;
  ImportLock& operator=(const ImportLock&) = delete;

 private:
  int m_fd;
};

}  // namespace

int import_and_report(Pki& pki, const std::string& bundle, bool json_out) {
  const ImportLock lock(pki.paths().dir);
  auto factory_rec = pki.issuer_registry().find_issuer("factory");
  if (!factory_rec.ok()) return report(factory_rec.error());
  if (!factory_rec.value()) return report(base::make_error(base::ErrorCode::NotFound, "no factory CA in this PKI"));
  auto factory_ca = pkix::Certificate::parse(factory_rec.value()->cert_der);
  if (!factory_ca.ok()) return report(factory_ca.error());
  factory::ImportContext ctx{factory_ca.value(), pki.store().sites(), pki.store().imports(), pki.store().evidence(),
                             "cli:ledger-import"};
  auto rep = factory::import_bundle(bundle, ctx);
  if (!rep.ok()) return report(rep.error());
  const auto& r = rep.value();
  pki.audit().note_appended(r.imported);
  audit::Event ev;
  ev.actor = "cli:ledger-import";
  ev.channel = audit::Channel::Factory;
  ev.action = "ledger-import";
  ev.detail = "site:" + r.site + "/station:" + std::to_string(r.station) + ": " + std::to_string(r.imported) +
              " imported, " + std::to_string(r.findings.size()) + " findings";
  if (auto a = pki.audit().append(ev); !a.ok()) return report(a.error());
  if (r.site_crl_der) {
    // Served by `serve` at /crl/site:<id>.crl (the operator never holds the site CA key).
    auto g = pki.revocations().generation();
    if (!g.ok()) return report(g.error());
    auto stored = pki.revocations().store_next_crl("site:" + r.site, [&](std::int64_t number) {
      return base::Result<ca::StoredCrl>(ca::StoredCrl{"site:" + r.site, number, g.value(), r.site_crl_this_update,
                                                       r.site_crl_next_update, *r.site_crl_der});
    });
    if (!stored.ok()) return report(stored.error());
  }
  if (r.ocsp_responder_der) {
    // Read by `serve` (app/revocation.cpp) to answer OCSP for the site's certificates.
    const auto file = pki.paths().dir / "ocsp" / ("site-" + r.site + ".pem");
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    if (auto w = base::write_file(file, pkix::pem_encode(*r.ocsp_responder_der, "CERTIFICATE"), 0644); !w.ok()) {
      return report(w.error());
    }
  }
  if (auto f = pki.finish(); !f.ok()) return report(f.error());

  std::map<std::string, std::uint64_t> by_code;
  json findings = json::array();
  for (const auto& f : r.findings) {
    ++by_code[f.code];
    findings.push_back(
        {{"code", f.code}, {"cert_serial", f.cert_serial}, {"device_serial", f.device_serial}, {"detail", f.detail}});
  }
  if (json_out) {
    print_json({{"site", r.site},
                {"station", r.station},
                {"records", r.records},
                {"new_records", r.new_records},
                {"certificates", r.certificates},
                {"imported", r.imported},
                {"already_imported", r.already_imported},
                {"evidence_stored", r.evidence_stored},
                {"findings_by_code", by_code},
                {"findings", findings}});
  } else {
    std::cout << "site " << r.site << " station " << r.station << ": " << r.imported << " certificates imported, "
              << r.already_imported << " already known, " << r.new_records << " new audit records, "
              << r.evidence_stored << " with their evidence\n";
    for (const auto& f : r.findings) {
      std::cout << "  " << f.code << (f.cert_serial.empty() ? "" : " " + f.cert_serial)
                << (f.device_serial.empty() ? "" : " (" + f.device_serial + ")") << ": " << f.detail << "\n";
    }
    if (r.findings.empty()) std::cout << "  reconciled: no findings\n";
  }
  return r.findings.empty() ? kExitOk : kExitFindings;
}

void add_ledger_commands(CommandRegistry reg) {
  auto* ledger = reg.app.add_subcommand("ledger", "Factory ledger sync at the operator");
  ledger->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  auto bundle = std::make_shared<std::string>();
  auto js = std::make_shared<bool>(false);
  auto* imp = ledger->add_subcommand("import", "Verify and import a station's ledger bundle, and reconcile it");
  imp->add_option("--dir", *dir, "Operator data folder")->required();
  imp->add_option("bundle", *bundle, "Bundle from `station export`")->required();
  imp->add_flag("--json", *js, "Print one JSON document");
  imp->footer(
      "Exit 0 when reconciled without findings (also when nothing was new), 1 with findings, "
      "3 when the bundle is refused (bad signature, unknown station).");
  imp->callback([=, &exit_code = reg.exit_code] {
    auto pki = Pki::open(*dir);
    if (!pki.ok()) {
      exit_code = report(pki.error());
      return;
    }
    exit_code = import_and_report(*pki.value(), *bundle, *js);
  });
}

}  // namespace hallmark::app
