// Pki: one opened data folder — configuration, keys, store, audit log and the
// CA hierarchy — wired together. The composition root for every CLI command.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/config.h"
#include "audit/audit_log.h"
#include "base/clock.h"
#include "base/rng.h"
#include "ca/issuer.h"
#include "ca/profile.h"
#include "keys/key_store.h"
#include "keys/signer.h"
#include "keys/software_key_store.h"
#include "store/store.h"

namespace hallmark::app {

// Adapts a keys::Signer to the audit module's checkpoint port.
class SignerCheckpointAdapter final : public audit::CheckpointSigner {
 public:
  explicit SignerCheckpointAdapter(std::unique_ptr<keys::Signer> signer) : m_signer(std::move(signer)) {}
  base::SignatureAlgorithm algorithm() const override { return m_signer->signature_algorithm(); }
  const base::Bytes& public_key_der() const override { return m_signer->public_key_der(); }
  base::Result<base::Bytes> sign(base::ByteView message) const override { return m_signer->sign(message); }

 private:
  std::unique_ptr<keys::Signer> m_signer;
};

struct Paths {
  std::filesystem::path dir;
  std::filesystem::path config() const { return dir / "hallmark.toml"; }
  std::filesystem::path database() const { return dir / "hallmark.db"; }
  std::filesystem::path keys() const { return dir / "keys"; }
  std::filesystem::path audit_public_key() const { return dir / "audit-public.pem"; }
};

class Pki {
 public:
  // Creates the data folder, keys and CA hierarchy. `messages` receives what a
  // person should know (e.g. where a generated passphrase was written).
  // `keystore` (a pkcs11: URI naming a token, or empty) overrides keys.store:
  // the CA and audit keys are then generated in the token, and no key file is written.
  // `store` (a postgresql:// DSN) puts the store in PostgreSQL instead of
  // <dir>/hallmark.db and is written to the configuration's [store] dsn.
  static base::Status init(const std::filesystem::path& dir, const std::optional<std::filesystem::path>& config_file,
                           const std::string& keystore, std::vector<std::string>& messages,
                           const std::string& store = {});
  // Opens an initialised folder. With `need_keys` false, no private key is loaded
  // (read-only commands run without the passphrase). A non-empty `store`
  // overrides the configured store location (`--store`).
  static base::Result<std::unique_ptr<Pki>> open(const std::filesystem::path& dir, bool need_keys = true,
                                                 const std::string& store = {});

  const Config& config() const { return m_config; }
  const Paths& paths() const { return m_paths; }
  ca::Issuer& issuer() { return *m_issuer; }
  const ca::ProfileRegistry& profiles() const { return m_profiles; }
  ca::Ledger& ledger() { return m_store->ledger(); }
  ca::IssuerRegistry& issuer_registry() { return m_store->issuers(); }
  audit::AuditLog& audit() { return *m_audit; }
  // Every storage port (SQLite file or PostgreSQL).
  store::Store& store() { return *m_store; }
  ca::RevocationStore& revocations() { return m_store->revocations(); }

  // The issuer a profile uses when none is named: idevid -> factory, others -> runtime.
  static std::string default_issuer_for(const std::string& profile);
  // The named issuer's certificate and signer (the key is loaded on first use).
  base::Result<ca::SigningAuthority> authority(const std::string& issuer_name);
  base::Result<std::vector<ca::IssuerRecord>> issuers() const { return m_store->issuers().issuers(); }
  // The audit public key (DER SPKI) written at init.
  base::Result<base::Bytes> audit_public_key() const;

  // Where the key `name` (root, factory, runtime, audit...) lives: a file name
  // under keys/, or the keys.store token with object "<prefix>-<name>".
  static base::Result<std::string> key_reference(const Config& config, const std::string& name);
  // The key store (files and PKCS#11); null when keys were not loaded.
  keys::KeyStore* key_store() { return m_keys.get(); }

  // Signs a checkpoint over what this command appended; called at the end of each command.
  base::Status finish();

 private:
  Pki() = default;
  Paths m_paths;
  Config m_config;
  ca::ProfileRegistry m_profiles;
  base::SystemClock m_clock;
  base::SystemRng m_rng;
  std::unique_ptr<keys::KeyStore> m_keys;
  std::unique_ptr<store::Store> m_store;
  std::unique_ptr<SignerCheckpointAdapter> m_checkpoint_signer;
  std::unique_ptr<audit::AuditLog> m_audit;
  std::unique_ptr<ca::Issuer> m_issuer;
  std::map<std::string, std::unique_ptr<keys::Signer>> m_signers;
};

}  // namespace hallmark::app
