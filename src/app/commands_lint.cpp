// `hallmark lint FILE [--profile P] [--issuer F]`.
#include <iostream>

#include "app/cli.h"
#include "base/files.h"
#include "ca/linter.h"
#include "ca/profile.h"

namespace hallmark::app {

namespace {

int run_lint(const std::string& file, const std::string& profile_name, const std::string& issuer_file, bool json,
             bool list_rules) {
  if (list_rules) {
    for (const auto& r : ca::lint_rules()) std::cout << r.id << "\t" << r.description << "\n";
    return kExitOk;
  }
  if (file.empty()) {
    std::cerr << "error: give a certificate file (or --rules)\n";
    return kExitUsage;
  }
  auto data = base::read_file(file, 1 << 20);
  if (!data.ok()) return report(data.error());
  // A chain file (a device bundle: leaf first) lints its leaf, with the next certificate as its issuer.
  auto all = pkix::Certificate::parse_all(data.value());
  if (!all.ok()) return report(all.error());
  if (all->empty()) return report(base::make_error(base::ErrorCode::Malformed, file + " holds no certificate"));
  const pkix::Certificate cert = all->front();
  if (all->size() > 1) {
    std::cerr << "note: " << file << " holds " << all->size() << " certificates: linting the first (the leaf)"
              << (issuer_file.empty() ? ", with the second as its issuer" : "") << "\n";
  }
  auto registry = ca::ProfileRegistry::build({});
  if (!registry.ok()) return report(registry.error());
  ca::LintContext ctx;
  if (!profile_name.empty()) {
    auto p = registry->find(profile_name);
    if (!p.ok()) return report(p.error());
    ctx.profile = p.value();
  }
  std::optional<pkix::Certificate> issuer;
  if (!issuer_file.empty()) {
    auto idata = base::read_file(issuer_file, 1 << 20);
    if (!idata.ok()) return report(idata.error());
    auto icert = pkix::Certificate::parse(idata.value());
    if (!icert.ok()) return report(icert.error());
    issuer = icert.value();
  } else if (all->size() > 1) {
    issuer = (*all)[1];
  }
  if (issuer) ctx.issuer = &*issuer;
  const auto findings = ca::lint(cert, ctx);
  if (json) {
    nlohmann::json doc = {{"file", file}, {"clean", findings.empty()}, {"findings", nlohmann::json::array()}};
    for (const auto& f : findings) doc["findings"].push_back({{"rule", f.rule}, {"message", f.message}});
    print_json(doc);
  } else {
    for (const auto& f : findings) std::cout << f.rule << ": " << f.message << "\n";
    if (findings.empty()) {
      std::cerr << file << ": clean (" << ca::lint_rules().size() << " rules"
                << (profile_name.empty() ? "" : ", profile " + profile_name) << ")\n";
    }
  }
  return findings.empty() ? kExitOk : kExitFindings;
}

}  // namespace

void add_lint_command(CommandRegistry reg) {
  auto* cmd = reg.app.add_subcommand(
      "lint", "Lint a certificate (ours or foreign): exit 0 when clean, 1 with one finding per line");
  auto file = std::make_shared<std::string>();
  auto profile = std::make_shared<std::string>();
  auto issuer = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto rules = std::make_shared<bool>(false);
  cmd->add_option("file", *file, "Certificate, PEM or DER");
  cmd->add_option("--profile", *profile,
                  "Also apply a profile's rules: root, intermediate, idevid, ldevid, tls-server");
  cmd->add_option("--issuer", *issuer, "Issuer certificate, to check that the validity nests inside it");
  cmd->add_flag("--json", *json, "Print one JSON document");
  cmd->add_flag("--rules", *rules, "List the rules and their IDs");
  cmd->callback([=, &exit_code = reg.exit_code] { exit_code = run_lint(*file, *profile, *issuer, *json, *rules); });
}

}  // namespace hallmark::app
