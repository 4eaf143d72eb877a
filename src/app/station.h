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
  // Written by `station sync` when the operator revoked the site CA: the station issues nothing more.
  std::filesystem::path site_revoked() const { return dir / "site-revoked.json"; }
};

struct StationConfig {
  unsigned workers = 0;  // 0: one per core
  std::string durability = "normal";
  std::string serve_token;           // bearer token for `station serve` (empty: mTLS only)
  std::string site_key = "site-ca";  // [keys] site_ca: a key file under keys/ or a pkcs11: URI (the site's HSM)
  audit::CheckpointPolicy checkpoints;
};

// File names in an authorization folder made by `site create` (and in a station folder).
inline constexpr char kSiteCaKey[] = "site-ca";
inline constexpr char kStationKey[] = "station";

class Station {
 public:
  // Prepares a station folder from an authorization folder (`site create --out`,
  // or one of its station-N subfolders; with one station the folder itself).
  // `site_key`: where the site CA key is when the authorization carries none
  // (`station keygen` made it in the site's token or a file); empty otherwise.
  static base::Status init(const std::filesystem::path& dir, const std::filesystem::path& authorization,
                           const std::string& site_key, std::vector<std::string>& messages);
  // With `need_keys` (every command that issues or signs) the folder is locked
  // for this process until the Station is destroyed: a station's decisions
  // (serial not yet issued, key not yet used, quota) are made in its memory in
  // input order, so two processes on one station could both issue the same
  // serial. A second one is refused with Unavailable naming the holder.
  static base::Result<std::unique_ptr<Station>> open(const std::filesystem::path& dir, bool need_keys = true);
  ~Station();

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
  int m_lock_fd = -1;  // flock(LOCK_EX) on <dir>/station.lock while open with keys
};

}  // namespace hallmark::app
