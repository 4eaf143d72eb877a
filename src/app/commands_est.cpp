// `hallmark est credential add`: a single-use HTTP Basic credential for one
// device that has no IDevID yet (RFC 7030 §3.2.3). Off unless a label sets
// http_basic = true; the secret is printed once and only its hash is stored.
#include <iostream>

#include "app/cli.h"
#include "app/pki.h"
#include "base/crypto.h"
#include "base/rng.h"
#include "ra/enrollment_service.h"

namespace hallmark::app {

namespace {

struct CredentialOptions {
  std::string dir, device;
  int valid_hours = 24;
  bool json = false;
};

int run_credential_add(const CredentialOptions& o) {
  if (!ra::is_valid_basic_user(o.device)) {
    std::cerr << "error: --device must be the device serial: 1 to 64 printable characters, no spaces or ':'\n";
    return kExitUsage;
  }
  if (o.valid_hours < 1 || o.valid_hours > 24 * 90) {
    std::cerr << "error: --valid-hours must be 1..2160\n";
    return kExitUsage;
  }
  auto pki_r = Pki::open(o.dir);
  if (!pki_r.ok()) return report(pki_r.error());
  auto& pki = *pki_r.value();
  base::SystemRng rng;
  // 128 random bits: a hash of the secret is as good as a slow KDF here.
  const auto secret = base::hex_encode(rng.bytes(16));
  const auto now = base::SystemClock().now();
  const auto expires = now + std::chrono::hours(o.valid_hours);
  if (auto p = pki.store().credentials().put_credential(
          o.device, base::hex_encode(base::sha256(base::to_bytes(secret))), now, expires);
      !p.ok()) {
    return report(p.error());
  }
  audit::Event ev;
  ev.actor = "cli:est-credential";
  ev.channel = audit::Channel::Admin;
  ev.action = "credential-add";
  ev.detail = "device " + o.device + ": single-use EST credential valid " + std::to_string(o.valid_hours) + " h";
  if (auto a = pki.audit().append(ev); !a.ok()) return report(a.error());
  if (auto f = pki.finish(); !f.ok()) return report(f.error());
  if (o.json) {
    print_json({{"device", o.device}, {"user", o.device}, {"password", secret}, {"valid_hours", o.valid_hours}});
  } else {
    std::cout << "user " << o.device << "\npassword " << secret << "\n";
    std::cerr << "single use, valid " << o.valid_hours << " h; only labels with http_basic = true accept it\n";
  }
  return kExitOk;
}

}  // namespace

void add_est_commands(CommandRegistry reg) {
  auto* est = reg.app.add_subcommand("est", "EST server administration");
  est->require_subcommand(1);
  auto* cred = est->add_subcommand("credential", "Single-use HTTP Basic credentials for devices without an IDevID");
  cred->require_subcommand(1);
  auto o = std::make_shared<CredentialOptions>();
  auto* add = cred->add_subcommand("add", "Create (or replace) a device's single-use credential and print it once");
  add->add_option("--dir", o->dir, "Data folder")->required();
  add->add_option("--device", o->device, "Device serial (the HTTP Basic user name)")->required();
  add->add_option("--valid-hours", o->valid_hours, "Hours until it expires (default 24)");
  add->add_flag("--json", o->json, "Print one JSON document");
  add->footer(
      "Accepted only by EST labels with http_basic = true in the configuration, for simpleenroll by a client "
      "without a certificate; a second use is refused (401) and audited.");
  add->callback([o, &exit_code = reg.exit_code] { exit_code = run_credential_add(*o); });
}

}  // namespace hallmark::app
