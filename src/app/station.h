// Station: one opened station folder — the site authorization, the site CA key
// and the station key (encrypted), the station's own SQLite ledger and audit
// chain — wired together. The composition root of `hallmark station …`. A station
// never talks to the operator: everything it needs is in its folder.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "app/pki.h"
#include "factory/authorization.h"
#include "store/sqlite/sqlite_factory_store.h"

namespace hallmark::app {

struct StationPaths {
  std::filesystem::path dir;
  std::filesystem::path config() const { return dir / "station.toml"; }
  std::filesystem::path database() const { return dir / "station.db"; }
  std::filesystem::path keys() const { return dir / "keys"; }
  std::filesystem::path chain_dir() const { return dir / "ca"; }
};

struct StationConfig {
  unsigned workers = 0;  // 0: one per core
  std::string durability = "normal";
  std::string serve_token;  // bearer token for `station serve` (empty: mTLS only)
  audit::CheckpointPolicy checkpoints;
};

// File names in an authorization folder made by `site create` (and in a station folder).
inline constexpr char kSiteCaKey[] = "site-ca";
inline constexpr char kStationKey[] = "station";

class Station {
 public:
  // Prepares a station folder from an authorization folder (`site create --out`,
  // or one of its station-N subfolders; with one station the folder itself).
  static base::Status init(const std::filesystem::path& dir, const std::filesystem::path& authorization,
                           std::vector<std::string>& messages);
  static base::Result<std::unique_ptr<Station>> open(const std::filesystem::path& dir, bool need_keys = true);

  const StationPaths& paths() const { return m_paths; }
  const StationConfig& config() const { return m_config; }
  const factory::SignedAuthorization& authorization() const { return m_auth; }
  const factory::Authorization& scope() const { return m_auth.value; }
  ca::Issuer& issuer() { return *m_issuer; }
  store::SqliteLedger& ledger() { return *m_ledger; }
  store::SqliteFactoryStore& records() { return *m_records; }
  store::SqliteAuditStore& audit_store() { return *m_audit_store; }
  store::SqliteDatabase& database() { return *m_db; }
  audit::AuditLog& audit() { return *m_audit; }
  // The site CA as a signing authority (needs keys).
  base::Result<ca::SigningAuthority> authority();
  const keys::Signer* station_key() const { return m_station_key; }
  // PEM of the site CA, factory CA and root (the chain and trust anchor devices get).
  std::string site_ca_pem() const;
  std::string factory_pem() const;
  std::string root_pem() const;
  unsigned workers() const;

  base::Status finish();

 private:
  Station() = default;
  StationPaths m_paths;
  StationConfig m_config;
  factory::SignedAuthorization m_auth;
  ca::Settings m_settings;
  ca::ProfileRegistry m_profiles;
  base::SystemClock m_clock;
  base::SystemRng m_rng;
  std::unique_ptr<store::SqliteDatabase> m_db;
  std::unique_ptr<store::SqliteAuditStore> m_audit_store;
  std::unique_ptr<store::SqliteLedger> m_ledger;
  std::unique_ptr<store::SqliteFactoryStore> m_records;
  std::unique_ptr<keys::Signer> m_site_key;
  const keys::Signer* m_station_key = nullptr;
  std::unique_ptr<SignerCheckpointAdapter> m_checkpoint_signer;
  std::unique_ptr<audit::AuditLog> m_audit;
  std::unique_ptr<ca::Issuer> m_issuer;
  std::unique_ptr<keys::Signer> m_station_key_owned;
  std::string m_site_pem, m_factory_pem, m_root_pem;
};

}  // namespace hallmark::app
