// `hallmark init`, `hallmark ca list|export`.
#include <iostream>

#include "app/ceremony.h"
#include "app/cli.h"
#include "app/pki.h"
#include "pkix/certificate.h"
#include "pkix/pem.h"

namespace hallmark::app {

void add_init_commands(CommandRegistry reg) {
  auto* cmd = reg.app.add_subcommand("init", "Create a PKI (keys, root, factory and runtime CAs) in a data folder");
  auto dir = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  cmd->add_option("--dir", *dir, "Data folder to create")->required();
  cmd->add_option("--config", *config, "TOML configuration (default: the embedded defaults)");
  auto store = std::make_shared<std::string>();
  cmd->add_option("--store", *store,
                  "postgresql:// DSN: keep the store in PostgreSQL (written to [store] dsn) instead of "
                  "<dir>/hallmark.db");
  auto keystore = std::make_shared<std::string>();
  cmd->add_option("--keystore", *keystore,
                  "Generate the CA and audit keys in a PKCS#11 token: pkcs11:token=<label>[;object=<prefix>]"
                  "?module-path=<.so>&pin-source=file:<pin file> (PIN also from HALLMARK_PKCS11_PIN)");
  cmd->footer(
      "Keys are PKCS#8 files encrypted with the passphrase from HALLMARK_KEY_PASSPHRASE, keys.passphrase_file, "
      "or a random one generated into <dir>/passphrase (0600), or keys in a PKCS#11 token with --keystore. "
      "With --store, further nodes are copies of this folder (keys, configuration) pointing at the same database.");
  cmd->callback([dir, config, store, keystore, &exit_code = reg.exit_code] {
    std::vector<std::string> messages;
    std::optional<std::filesystem::path> cfg;
    if (!config->empty()) cfg = *config;
    auto status = Pki::init(*dir, cfg, *keystore, messages, *store);
    for (const auto& m : messages) std::cerr << m << "\n";
    if (!status.ok()) {
      exit_code = report(status.error());
      return;
    }
    std::cout << "initialised " << *dir << "\n";
  });
}

void add_ceremony_command(CommandRegistry reg) {
  auto* cmd = reg.app.add_subcommand(
      "ceremony", "Offline root key ceremony: root key generated in its token, root, issuing CAs and first CRL");
  auto config = std::make_shared<std::string>();
  cmd->add_option("--config", *config, "Ceremony description (TOML); `hallmark ceremony --example` prints one");
  auto example = std::make_shared<bool>(false);
  cmd->add_flag("--example", *example, "Print an example ceremony description and exit");
  cmd->footer(
      "Writes only certificates, the CRL and a root-signed audit record (ceremony-audit.json + .sig, check "
      "with `openssl dgst -verify`); no key leaves its token. PINs come from pin-source files or "
      "HALLMARK_PKCS11_PIN.");
  cmd->callback([config, example, &exit_code = reg.exit_code] {
    if (*example) {
      std::cout << ceremony_config_example();
      return;
    }
    if (config->empty()) {
      std::cerr << "error: --config is required\n";
      exit_code = kExitUsage;
      return;
    }
    std::vector<std::string> messages;
    auto s = run_ceremony(*config, messages);
    for (const auto& m : messages) std::cerr << m << "\n";
    if (!s.ok()) exit_code = report(s.error());
  });
}

void add_ca_commands(CommandRegistry reg) {
  auto* ca = reg.app.add_subcommand("ca", "Inspect the CA hierarchy");
  ca->require_subcommand(1);

  auto* list = ca->add_subcommand("list", "List every issuer with its subject, validity and key");
  auto dir = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  list->add_option("--dir", *dir, "Data folder")->required();
  list->add_flag("--json", *json, "Print one JSON document");
  list->callback([dir, json, &exit_code = reg.exit_code] {
    auto pki = Pki::open(*dir, false);
    if (!pki.ok()) {
      exit_code = report(pki.error());
      return;
    }
    auto issuers = pki.value()->issuers();
    if (!issuers.ok()) {
      exit_code = report(issuers.error());
      return;
    }
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& i : issuers.value()) {
      auto cert = pkix::Certificate::parse(i.cert_der);
      if (!cert.ok()) {
        exit_code = report(cert.error());
        return;
      }
      auto key = cert->public_key();
      std::string key_alg =
          key.ok() && key->algorithm().ok() ? std::string(base::to_string(key->algorithm().value())) : "?";
      const auto bc = cert->basic_constraints();
      nlohmann::json row = {{"name", i.name},
                            {"role", i.role},
                            {"parent", i.parent},
                            {"status", i.status},
                            {"subject", cert->subject().to_string()},
                            {"serial", cert->serial_hex()},
                            {"not_before", base::format_rfc3339(cert->not_before().time)},
                            {"not_after", base::format_rfc3339(cert->not_after().time)},
                            {"key", key_alg},
                            {"key_ref", i.key_ref}};
      if (bc && bc->path_len) row["path_len"] = *bc->path_len;
      // A retired issuer may also be revoked (site revoke): the ledger says.
      auto record = pki.value()->store().certificates().by_serial(cert->serial_hex());
      row["revoked"] = record.ok() && record.value() && record.value()->status == "revoked";
      doc.push_back(row);
    }
    if (*json) {
      print_json(doc);
      return;
    }
    for (const auto& row : doc) {
      std::cout << row["name"].get<std::string>() << "\t" << row["status"].get<std::string>()
                << (row["revoked"].get<bool>() ? " (revoked)" : "") << "\t" << row["key"].get<std::string>()
                << "\tuntil " << row["not_after"].get<std::string>() << "\t" << row["subject"].get<std::string>()
                << "\n";
    }
  });

  auto* exp = ca->add_subcommand("export", "Print CA certificates as PEM on stdout (all, or one with --issuer)");
  auto edir = std::make_shared<std::string>();
  auto issuer = std::make_shared<std::string>();
  exp->add_option("--dir", *edir, "Data folder")->required();
  exp->add_option("--issuer", *issuer, "Only this issuer (see `hallmark ca list`)");
  exp->callback([edir, issuer, &exit_code = reg.exit_code] {
    auto pki = Pki::open(*edir, false);
    if (!pki.ok()) {
      exit_code = report(pki.error());
      return;
    }
    auto issuers = pki.value()->issuers();
    if (!issuers.ok()) {
      exit_code = report(issuers.error());
      return;
    }
    bool found = false;
    for (const auto& i : issuers.value()) {
      if (!issuer->empty() && i.name != *issuer) continue;
      found = true;
      std::cout << pkix::pem_encode(i.cert_der, "CERTIFICATE");
    }
    if (!found) {
      exit_code = report(base::make_error(base::ErrorCode::NotFound, "no issuer named '" + *issuer + "'"));
    }
  });
}

}  // namespace hallmark::app
