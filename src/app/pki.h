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
#include "keys/signer.h"
#include "keys/software_key_store.h"
#include "store/sqlite/sqlite_database.h"
#include "store/sqlite/sqlite_revocation_store.h"
#include "store/sqlite/sqlite_store.h"

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
  static base::Status init(const std::filesystem::path& dir, const std::optional<std::filesystem::path>& config_file,
                           std::vector<std::string>& messages);
  // Opens an initialised folder. With `need_keys` false, no private key is loaded
  // (read-only commands run without the passphrase).
  static base::Result<std::unique_ptr<Pki>> open(const std::filesystem::path& dir, bool need_keys = true);

  const Config& config() const { return m_config; }
  const Paths& paths() const { return m_paths; }
  ca::Issuer& issuer() { return *m_issuer; }
  const ca::ProfileRegistry& profiles() const { return m_profiles; }
  store::SqliteLedger& ledger() { return *m_ledger; }
  audit::AuditLog& audit() { return *m_audit; }
  store::SqliteDatabase& database() { return *m_db; }
  store::SqliteRevocationStore& revocations() { return *m_revocations; }
  // The operator's key store; null when opened without keys.
  keys::SoftwareKeyStore* key_store() { return m_keys.get(); }

  // The issuer a profile uses when none is named: idevid -> factory, others -> runtime.
  static std::string default_issuer_for(const std::string& profile);
  // The named issuer's certificate and signer (the key is loaded on first use).
  base::Result<ca::SigningAuthority> authority(const std::string& issuer_name);
  base::Result<std::vector<ca::IssuerRecord>> issuers() const { return m_ledger->issuers(); }
  // The audit public key (DER SPKI) written at init.
  base::Result<base::Bytes> audit_public_key() const;

  // Signs a checkpoint over what this command appended; called at the end of each command.
  base::Status finish();

 private:
  Pki() = default;
  Paths m_paths;
  Config m_config;
  ca::ProfileRegistry m_profiles;
  base::SystemClock m_clock;
  base::SystemRng m_rng;
  std::unique_ptr<keys::SoftwareKeyStore> m_keys;
  std::unique_ptr<store::SqliteDatabase> m_db;
  std::unique_ptr<store::SqliteAuditStore> m_audit_store;
  std::unique_ptr<store::SqliteLedger> m_ledger;
  std::unique_ptr<store::SqliteRevocationStore> m_revocations;
  std::unique_ptr<SignerCheckpointAdapter> m_checkpoint_signer;
  std::unique_ptr<audit::AuditLog> m_audit;
  std::unique_ptr<ca::Issuer> m_issuer;
  std::map<std::string, std::unique_ptr<keys::Signer>> m_signers;
};

}  // namespace hallmark::app
