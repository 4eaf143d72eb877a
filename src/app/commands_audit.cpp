// `hallmark audit verify|export`.
#include <fstream>
#include <iostream>

#include "app/cli.h"
#include "app/pki.h"
#include "base/files.h"
#include "pkix/pem.h"

namespace hallmark::app {

namespace {

int print_report(const audit::VerifyReport& r, bool json) {
  if (json) {
    nlohmann::json doc = {{"verified", r.ok},
                          {"records", r.records},
                          {"checkpoints", r.checkpoints},
                          {"last_checkpoint", r.last_checkpoint_sequence}};
    if (!r.ok) {
      doc["problem"] = r.problem;
      if (r.first_bad_sequence) doc["first_bad_record"] = *r.first_bad_sequence;
    }
    print_json(doc);
  } else if (r.ok) {
    // The newest signed checkpoint says how far the chain is proven: an export
    // cut back to an older checkpoint verifies too, so show where it ends.
    std::cout << "audit chain verified: " << r.records << " records, " << r.checkpoints
              << " signed checkpoints (last at record " << r.last_checkpoint_sequence
              << (r.last_checkpoint_time ? ", signed " + base::format_rfc3339(*r.last_checkpoint_time) : "") << ")\n";
    if (r.last_checkpoint_sequence < r.records) {
      std::cout << "note: records " << r.last_checkpoint_sequence + 1 << ".." << r.records
                << " are chained but not yet under a signed checkpoint (the next export or serve's schedule signs "
                   "one)\n";
    }
  } else {
    std::cout << "audit chain BROKEN";
    if (r.first_bad_sequence) std::cout << " at record " << *r.first_bad_sequence;
    std::cout << ": " << r.problem << "\n";
  }
  return r.ok ? kExitOk : kExitFindings;
}

// The chain proves the records it holds, not that none were cut away: an
// emptied table verifies as an empty chain. init writes records, so a PKI
// without any has lost them. (A cut tail shows only against a checkpoint kept
// elsewhere: `audit export` files, verified with --export.)
void check_not_emptied(audit::VerifyReport& r) {
  if (r.ok && r.records == 0) {
    r.ok = false;
    r.problem = "the audit trail holds no records, but `hallmark init` writes some: they were deleted";
  }
}

int run_verify(const std::string& dir, const std::string& export_file, const std::string& pubkey_file, bool json) {
  if (!export_file.empty()) {
    if (pubkey_file.empty()) {
      std::cerr << "error: --export needs --pubkey (the audit public key, e.g. <dir>/audit-public.pem)\n";
      return kExitUsage;
    }
    auto key_pem = base::read_file(pubkey_file, 1 << 16);
    if (!key_pem.ok()) return report(key_pem.error());
    auto key = pkix::to_der(key_pem.value(), {"PUBLIC KEY"});
    if (!key.ok()) return report(key.error());
    std::ifstream in(export_file, std::ios::binary);
    if (!in) return report(base::make_error(base::ErrorCode::NotFound, "cannot read '" + export_file + "'"));
    auto r = audit::verify_export(in, key.value());
    if (!r.ok()) return report(r.error());
    return print_report(r.value(), json);
  }
  if (dir.empty()) {
    std::cerr << "error: give --dir D, or --export FILE --pubkey F\n";
    return kExitUsage;
  }
  auto pki = Pki::open(dir, false);
  if (!pki.ok()) return report(pki.error());
  // Read-only: the public key written at init is enough, no passphrase needed.
  auto key = pki.value()->audit_public_key();
  if (!key.ok()) return report(key.error());
  auto r = pki.value()->audit().verify(key.value());
  if (!r.ok()) return report(r.error());
  check_not_emptied(r.value());
  return print_report(r.value(), json);
}

int run_export(const std::string& dir, const std::string& out_file) {
  auto pki = Pki::open(dir, true);
  if (!pki.ok()) return report(pki.error());
  if (out_file.empty()) {
    auto s = pki.value()->audit().export_jsonl(std::cout);
    return s.ok() ? kExitOk : report(s.error());
  }
  std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
  if (!out) return report(base::make_error(base::ErrorCode::Io, "cannot write '" + out_file + "'"));
  auto s = pki.value()->audit().export_jsonl(out);
  if (!s.ok()) return report(s.error());
  std::cerr << "exported the audit log to " << out_file << "; check it with `hallmark audit verify --export "
            << out_file << " --pubkey " << pki.value()->paths().audit_public_key().string() << "`\n";
  return kExitOk;
}

}  // namespace

void add_audit_commands(CommandRegistry reg) {
  auto* audit_cmd = reg.app.add_subcommand("audit", "Verify or export the tamper-evident audit trail");
  audit_cmd->require_subcommand(1);

  auto* verify = audit_cmd->add_subcommand(
      "verify", "Verify the hash chain and signed checkpoints; names the first broken record");
  auto dir = std::make_shared<std::string>();
  auto exp = std::make_shared<std::string>();
  auto pub = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  verify->add_option("--dir", *dir, "Data folder");
  verify->add_option("--export", *exp, "Verify an exported JSON-lines file offline instead");
  verify->add_option("--pubkey", *pub, "Audit public key (PEM) for --export");
  verify->add_flag("--json", *json, "Print one JSON document");
  verify->callback([=, &exit_code = reg.exit_code] { exit_code = run_verify(*dir, *exp, *pub, *json); });

  auto* exp_cmd = audit_cmd->add_subcommand("export", "Sign a checkpoint and write the audit log as JSON lines");
  auto edir = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  exp_cmd->add_option("--dir", *edir, "Data folder")->required();
  exp_cmd->add_option("--out", *out, "Output file (default: stdout)");
  exp_cmd->callback([=, &exit_code = reg.exit_code] { exit_code = run_export(*edir, *out); });
}

}  // namespace hallmark::app
