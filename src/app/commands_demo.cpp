// `hallmark demo`: the foundation's end-to-end tour on the embedded defaults.
// It creates a PKI, issues IDevIDs and LDevIDs for a small fleet of emulated
// devices (keys generated per device, CSRs signed by them), lints every
// certificate, checks each chain and verifies the audit trail.
#include <chrono>
#include <filesystem>
#include <iostream>

#include "app/cli.h"
#include "app/pki.h"
#include "base/files.h"
#include "ca/linter.h"
#include "keys/software_key_store.h"
#include "pkix/csr.h"
#include "pkix/name.h"
#include "pkix/oid.h"
#include "pkix/pem.h"

namespace hallmark::app {

namespace {

struct DemoOptions {
  std::string dir = "./demo-data";
  int devices = 20;
  bool json = false;
};

base::Result<pkix::Csr> device_csr(const keys::Signer& key, const std::string& serial) {
  pkix::Name subject;
  HM_CHECK(subject.add(pkix::oid::kSerialNumber, serial));
  HM_TRY(auto info, pkix::encode_csr_info(subject, key.public_key_der()));
  HM_TRY(auto sig, key.sign(info));
  HM_TRY(auto der, pkix::assemble_csr(info, key.signature_algorithm(), sig));
  return pkix::Csr::parse(der);
}

int run_demo(const DemoOptions& o) {
  namespace fs = std::filesystem;
  auto say = [&](const std::string& line) { (o.json ? std::cerr : std::cout) << line << "\n"; };
  if (!fs::exists(fs::path(o.dir) / "hallmark.db")) {
    std::vector<std::string> messages;
    auto s = Pki::init(o.dir, std::nullopt, messages);
    for (const auto& m : messages) say("  " + m);
    if (!s.ok()) return report(s.error());
    say("1. created a PKI in " + o.dir + " (root P-384, factory and runtime CAs P-256, SQLite ledger)");
  } else {
    say("1. reusing the PKI in " + o.dir);
  }
  auto pki_r = Pki::open(o.dir);
  if (!pki_r.ok()) return report(pki_r.error());
  auto& pki = *pki_r.value();
  auto factory = pki.authority("factory");
  auto runtime = pki.authority("runtime");
  if (!factory.ok()) return report(factory.error());
  if (!runtime.ok()) return report(runtime.error());

  const auto run_id = std::to_string(std::chrono::system_clock::now().time_since_epoch().count() / 1000000 % 100000000);
  int idevids = 0, ldevids = 0, lint_findings = 0, chain_failures = 0;
  const auto start = std::chrono::steady_clock::now();
  const fs::path out_dir = fs::path(o.dir) / "demo-out";
  fs::create_directories(out_dir);
  for (int i = 0; i < o.devices; ++i) {
    const std::string serial = "SN-" + run_id + "-" + std::to_string(1000 + i);
    auto key = keys::generate_ephemeral(base::KeyAlgorithm::EcP256);
    if (!key.ok()) return report(key.error());
    auto csr = device_csr(*key.value(), serial);
    if (!csr.ok()) return report(csr.error());
    for (const auto& [profile, authority] : {std::pair{"idevid", &factory.value()}, std::pair{"ldevid", &runtime.value()}}) {
      ca::IssuanceRequest req;
      req.profile = profile;
      req.public_key_der = csr->public_key().spki_der();
      req.device_serial = serial;
      req.product = "sensor-v2";
      req.actor = "cli:demo";
      req.origin = "demo";
      auto issued = pki.issuer().issue(*authority, req);
      if (!issued.ok()) return report(issued.error());
      const auto& cert = issued->certificate;
      auto issuer_key = authority->certificate->public_key();
      if (!issuer_key.ok() || !cert.verify_signature(issuer_key.value()).ok()) ++chain_failures;
      auto p = pki.profiles().find(profile);
      lint_findings += static_cast<int>(ca::lint(cert, {p.value(), &*authority->certificate}).size());
      (std::string(profile) == "idevid" ? idevids : ldevids)++;
      if (i == 0) {
        auto w = base::write_file(out_dir / (std::string(profile) + ".pem"), cert.pem());
        if (!w.ok()) return report(w.error());
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  say("2. issued " + std::to_string(idevids) + " IDevIDs (factory CA, HardwareModuleName, notAfter 99991231235959Z) and " +
      std::to_string(ldevids) + " LDevIDs (runtime CA, 90 days) for " + std::to_string(o.devices) + " devices");
  say("3. linted every certificate: " + std::to_string(lint_findings) + " findings; chain signature failures: " +
      std::to_string(chain_failures));
  auto fin = pki.finish();
  if (!fin.ok()) return report(fin.error());
  auto verified = pki.audit().verify();
  if (!verified.ok()) return report(verified.error());
  say("4. audit chain: " + std::string(verified->ok ? "verified, " : "BROKEN, ") + std::to_string(verified->records) +
      " records, " + std::to_string(verified->checkpoints) + " signed checkpoints");
  {
    std::string chain;
    auto issuers = pki.issuers();
    if (issuers.ok()) {
      for (const auto& i : issuers.value()) chain += pkix::pem_encode(i.cert_der, "CERTIFICATE");
    }
    auto w = base::write_file(out_dir / "ca-chain.pem", chain);
    if (!w.ok()) return report(w.error());
  }
  say("next: openssl verify -x509_strict -CAfile " + (out_dir / "ca-chain.pem").string() + " " +
      (out_dir / "idevid.pem").string());
  say("      hallmark ca list --dir " + o.dir + "; hallmark audit verify --dir " + o.dir +
      "; hallmark lint " + (out_dir / "idevid.pem").string() + " --profile idevid");
  if (o.json) {
    print_json({{"devices", o.devices},
                {"issued", {{"idevid", idevids}, {"ldevid", ldevids}}},
                {"lint_findings", lint_findings},
                {"chain_failures", chain_failures},
                {"certificates_per_second", seconds > 0 ? (idevids + ldevids) / seconds : 0.0},
                {"audit", {{"verified", verified->ok}, {"records", verified->records}}}});
  }
  return verified->ok && lint_findings == 0 && chain_failures == 0 ? kExitOk : kExitFindings;
}

}  // namespace

void add_demo_command(CommandRegistry reg) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = reg.app.add_subcommand("demo", "Run the end-to-end tour on the embedded defaults");
  cmd->add_option("--dir", o->dir, "Data folder (created when missing)");
  cmd->add_option("--devices", o->devices, "Number of emulated devices")->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", o->json, "Print one JSON summary on stdout (progress goes to stderr)");
  auto exit_flag = std::make_shared<bool>(false);
  cmd->add_flag("--exit", *exit_flag, "End when done (the foundation demo always does)");
  cmd->callback([o, exit_flag, &exit_code = reg.exit_code] { exit_code = run_demo(*o); });
}

}  // namespace hallmark::app
