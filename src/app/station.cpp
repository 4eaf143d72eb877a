#include "app/station.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <sys/stat.h>
#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include <thread>

#include "base/files.h"
#include "pkix/pem.h"

namespace hallmark::app {

using base::ErrorCode;
using base::make_error;
namespace fs = std::filesystem;

namespace {

constexpr char kDefaultStationConfig[] = R"toml(# Hallmark station configuration.
[station]
workers = 0               # threads verifying CSRs and signing; 0 = one per core

[store]
durability = "normal"     # SQLite WAL synchronous=NORMAL survives kill -9; "full" survives power loss

[audit]
checkpoint_every_records = 1000
checkpoint_every_seconds = 60

[serve]
# token = "…"            # bearer token the line's MES presents to `station serve`
)toml";

base::Result<StationConfig> load_station_config(const fs::path& path) {
  HM_TRY(auto data, base::read_file(path, 1 << 20));
  toml::table root;
  try {
    root = toml::parse(base::to_string(data), path.string());
  } catch (const toml::parse_error& e) {
    return make_error(ErrorCode::InvalidArgument,
                      "station configuration " + path.string() + " is not valid TOML: " + std::string(e.description()));
  }
  StationConfig c;
  if (auto v = root["station"]["workers"].value<std::int64_t>()) {
    if (*v < 0 || *v > 256) return make_error(ErrorCode::InvalidArgument, "station.workers must be 0..256");
    c.workers = static_cast<unsigned>(*v);
  }
  if (auto v = root["store"]["durability"].value<std::string>()) {
    if (*v != "normal" && *v != "full")
      return make_error(ErrorCode::InvalidArgument, "store.durability must be normal or full");
    c.durability = *v;
  }
  if (auto v = root["audit"]["checkpoint_every_records"].value<std::int64_t>())
    c.checkpoints.every_records = static_cast<std::uint64_t>(*v);
  if (auto v = root["audit"]["checkpoint_every_seconds"].value<std::int64_t>())
    c.checkpoints.every_seconds = std::chrono::seconds(*v);
  if (auto v = root["serve"]["token"].value<std::string>()) c.serve_token = *v;
  if (auto v = root["keys"]["site_ca"].value<std::string>()) c.site_key = *v;
  return c;
}

base::Status copy_file(const fs::path& from, const fs::path& to, unsigned mode) {
  HM_TRY(auto data, base::read_file(from, 1 << 20));
  return base::write_file(to, base::ByteView(data), mode);
}

// The authorization folder to use: the folder itself, or its only station-N subfolder.
base::Result<fs::path> authorization_folder(const fs::path& dir) {
  if (fs::exists(dir / factory::kStatementFile)) return dir;
  std::vector<fs::path> stations;
  for (int n = 1; fs::exists(dir / ("station-" + std::to_string(n)) / factory::kStatementFile); ++n) {
    stations.push_back(dir / ("station-" + std::to_string(n)));
  }
  if (stations.size() == 1) return stations.front();
  if (stations.empty()) {
    return make_error(ErrorCode::NotFound,
                      "'" + dir.string() + "' holds no site authorization (made by `hallmark site create --out`)");
  }
  return make_error(ErrorCode::InvalidArgument, "'" + dir.string() + "' holds authorizations for " +
                                                    std::to_string(stations.size()) +
                                                    " stations: pass one of its station-N folders");
}

}  // namespace

base::Status Station::init(const fs::path& dir, const fs::path& authorization, const std::string& site_key,
                           std::vector<std::string>& messages) {
  StationPaths paths{dir};
  if (fs::exists(paths.database())) {
    return make_error(ErrorCode::AlreadyExists, "'" + dir.string() + "' already holds a station");
  }
  HM_TRY(auto src, authorization_folder(authorization));
  HM_TRY(auto files, factory::read_authorization(src));
  HM_TRY(auto root_pem, base::read_file(src / "ca" / "root.pem", 1 << 20));
  HM_TRY(auto factory_pem, base::read_file(src / "ca" / "factory.pem", 1 << 20));
  HM_TRY(auto root, pkix::Certificate::parse(root_pem));
  HM_TRY(auto factory_ca, pkix::Certificate::parse(factory_pem));
  HM_TRY(auto root_key, root.public_key());
  if (!factory_ca.verify_signature(root_key).ok()) {
    return make_error(ErrorCode::BadSignature,
                      "the factory CA certificate in the authorization is not signed by its root");
  }
  HM_TRY(auto auth, factory::verify_authorization(files.first, files.second, factory_ca));
  const bool key_in_folder = fs::exists(src / "keys" / (std::string(kSiteCaKey) + ".key"));
  if (key_in_folder && !site_key.empty()) {
    return make_error(ErrorCode::InvalidArgument, "the authorization carries its site CA key; --key is not needed");
  }
  if (!key_in_folder) {
    if (site_key.empty()) {
      return make_error(ErrorCode::InvalidArgument,
                        "the authorization carries no site CA key (it was made with `station keygen`): pass --key "
                        "<pkcs11: URI or key file>");
    }
    // Check the key before anything is written: it must be the certified one.
    HM_TRY(auto pass, keys::resolve_passphrase({src, ""}, false));
    keys::KeyStore store(src / "keys", pass.value);
    HM_TRY(auto key, store.load(site_key));
    HM_TRY(auto site_ca, pkix::Certificate::parse(auth.value.site_ca_der));
    HM_TRY(auto site_public, site_ca.public_key());
    if (key->public_key_der() != site_public.spki_der()) {
      return make_error(ErrorCode::InvalidArgument,
                        "the key '" + site_key + "' is not the one the site CA certificate certifies");
    }
  }

  std::error_code ec;
  fs::create_directories(paths.keys(), ec);
  fs::create_directories(paths.chain_dir(), ec);
  if (ec) return make_error(ErrorCode::Io, "cannot create '" + dir.string() + "'", ec.message());
  ::chmod(dir.c_str(), 0700);
  ::chmod(paths.keys().c_str(), 0700);
  for (const char* name : {kSiteCaKey, kStationKey}) {
    if (name == std::string(kSiteCaKey) && !key_in_folder) continue;
    const auto file = std::string(name) + ".key";
    HM_CHECK(copy_file(src / "keys" / file, paths.keys() / file, 0600));
  }
  if (fs::exists(src / "passphrase")) HM_CHECK(copy_file(src / "passphrase", dir / "passphrase", 0600));
  HM_CHECK(factory::write_authorization(dir, auth));
  HM_CHECK(base::write_file(paths.chain_dir() / "root.pem", root.pem()));
  HM_CHECK(base::write_file(paths.chain_dir() / "factory.pem", factory_ca.pem()));
  HM_CHECK(
      base::write_file(paths.chain_dir() / "site-ca.pem", pkix::pem_encode(auth.value.site_ca_der, "CERTIFICATE")));
  std::string config_text = kDefaultStationConfig;
  if (!key_in_folder) config_text += "\n[keys]\nsite_ca = \"" + site_key + "\"   # the site CA key (site's HSM)\n";
  HM_CHECK(base::write_file(paths.config(), config_text));

  HM_TRY(auto station, open(dir, true));
  const std::string key_ref = key_in_folder ? (paths.keys() / (std::string(kSiteCaKey) + ".key")).string() : site_key;
  HM_CHECK(
      station->ledger().add_issuer({auth.value.issuer, "site", "factory", auth.value.site_ca_der, key_ref, "active"}));
  if (!auth.value.ocsp_key_spki.empty()) {
    // The site's delegated OCSP responder (RFC 6960 §4.2.2.2): its key stays with
    // the operator (public key in the authorization); the site CA certifies it
    // here, through the ledger and audit chain, so the first export carries the
    // certificate and `ledger import` files it for the operator's responder.
    HM_TRY(auto site, station->authority());
    ca::IssuanceRequest req;
    req.profile = "ocsp-signing";
    req.public_key_der = auth.value.ocsp_key_spki;
    req.common_name = "Site " + auth.value.site + " OCSP Responder";
    req.channel = audit::Channel::Factory;
    req.actor = auth.value.station_id();
    req.origin = auth.value.station_id() + "/ocsp-responder";
    HM_TRY(auto issued, station->issuer().issue(site, req));
    messages.push_back("certified the site's OCSP responder key: " + issued.certificate.serial_hex() +
                       " (the next export carries it to the operator)");
  }
  audit::Event ev;
  ev.actor = auth.value.station_id();
  ev.channel = audit::Channel::Factory;
  ev.action = "station-init";
  ev.detail = "authorization " + base::hex_encode(base::sha256(base::view(auth.statement)));
  HM_TRY(auto rec, station->audit().append(ev));
  (void)rec;
  HM_CHECK(station->finish());
  const auto& a = auth.value;
  std::string ranges;
  for (const auto& r : a.serial_ranges) ranges += (ranges.empty() ? "" : ", ") + r.to_string();
  messages.push_back("station " + a.station_id() + " ready in " + dir.string() + ": serials " + ranges + ", quota " +
                     std::to_string(a.quota) + ", until " + base::format_rfc3339(a.not_after) + ", attestation " +
                     std::string(factory::to_string(a.attestation)));
  return {};
}

namespace {

// flock() is released by the kernel when the process dies (kill -9 included),
// so a crashed run never leaves the station locked.
base::Result<int> lock_station(const fs::path& dir) {
  const auto path = dir / "station.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::Io, "cannot open " + path.string(), std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[64] = {};
    const auto n = ::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return make_error(ErrorCode::Unavailable, "station '" + dir.string() +
                                                  "' is in use by another hallmark process (pid " + pid +
                                                  "); a station runs one provisioning process at a time");
  }
  const auto me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The pid is only for the message above; the lock itself is held.
  }
  return fd;
}

}  // namespace

Station::~Station() {
  if (m_lock_fd >= 0) ::close(m_lock_fd);
}

base::Result<std::unique_ptr<Station>> Station::open(const fs::path& dir, bool need_keys) {
  std::unique_ptr<Station> s(new Station());
  s->m_paths = StationPaths{dir};
  if (!fs::exists(s->m_paths.database()) && !fs::exists(s->m_paths.config())) {
    return make_error(ErrorCode::NotFound, "'" + dir.string() +
                                               "' is not a station folder: run `hallmark station init --dir " +
                                               dir.string() + " --authorization AUTH`");
  }
  if (need_keys) {
    HM_TRY(s->m_lock_fd, lock_station(dir));
  }
  HM_TRY(s->m_config, load_station_config(s->m_paths.config()));
  HM_TRY(auto files, factory::read_authorization(dir));
  HM_TRY(auto factory_pem, base::read_file(s->m_paths.chain_dir() / "factory.pem", 1 << 20));
  HM_TRY(auto root_pem, base::read_file(s->m_paths.chain_dir() / "root.pem", 1 << 20));
  HM_TRY(auto factory_ca, pkix::Certificate::parse(factory_pem));
  HM_TRY(s->m_auth, factory::verify_authorization(files.first, files.second, factory_ca));
  s->m_factory_pem = base::to_string(factory_pem);
  s->m_root_pem = base::to_string(root_pem);
  s->m_site_pem = pkix::pem_encode(s->m_auth.value.site_ca_der, "CERTIFICATE");
  if (fs::exists(s->m_paths.site_revoked())) {
    HM_TRY(auto text, base::read_file(s->m_paths.site_revoked(), 1 << 16));
    const auto doc = nlohmann::json::parse(base::to_string(text), nullptr, false);
    const std::string when = doc.is_object() ? doc.value("revoked_at", std::string("?")) : std::string("?");
    s->m_auth.value.revoked = "the operator revoked this site's CA (" + when +
                              ", applied by `station sync`): this station issues nothing more";
  }
  const auto& a = s->m_auth.value;
  s->m_settings.organization = a.organization;
  s->m_settings.country = a.country;
  s->m_settings.products = a.products;
  s->m_settings.profiles = a.profile_settings;
  HM_TRY(s->m_profiles, ca::ProfileRegistry::build(a.profile_settings));
  HM_TRY(s->m_db, store::SqliteDatabase::open(s->m_paths.database(), s->m_config.durability == "full"
                                                                         ? store::Durability::Full
                                                                         : store::Durability::Normal));
  s->m_audit_store = std::make_unique<store::SqliteAuditStore>(*s->m_db);
  s->m_ledger = std::make_unique<store::SqliteLedger>(*s->m_db, *s->m_audit_store, s->m_clock);
  s->m_records = std::make_unique<store::SqliteFactoryStore>(*s->m_db, *s->m_audit_store, s->m_clock);
  if (need_keys) {
    HM_TRY(auto pass, keys::resolve_passphrase({dir, ""}, false));
    keys::KeyStore store(s->m_paths.keys(), pass.value);
    HM_TRY(s->m_site_key, store.load(s->m_config.site_key));
    HM_TRY(auto station_key, store.load(kStationKey));
    if (station_key->public_key_der() != a.station_key_spki) {
      return make_error(ErrorCode::InvalidArgument, "the station key does not match the one in the site authorization");
    }
    s->m_station_key = station_key.get();
    s->m_checkpoint_signer = std::make_unique<SignerCheckpointAdapter>(std::move(station_key));
  }
  s->m_audit = std::make_unique<audit::AuditLog>(*s->m_audit_store, s->m_checkpoint_signer.get(), s->m_clock,
                                                 s->m_config.checkpoints);
  auto* audit_log = s->m_audit.get();
  s->m_issuer = std::make_unique<ca::Issuer>(s->m_settings, s->m_profiles, *s->m_ledger, s->m_clock, s->m_rng,
                                             [audit_log](std::uint64_t n) { audit_log->note_appended(n); });
  return s;
}

base::Result<ca::SigningAuthority> Station::authority() {
  if (!m_site_key) return make_error(ErrorCode::Internal, "keys were not loaded for this command");
  HM_TRY(auto cert, pkix::Certificate::parse(m_auth.value.site_ca_der));
  if (m_site_key->public_key_der() != cert.public_key()->spki_der()) {
    return make_error(ErrorCode::InvalidArgument, "the site CA key does not match the site CA certificate");
  }
  return ca::SigningAuthority{m_auth.value.issuer, cert, m_site_key.get()};
}

std::string Station::site_ca_pem() const {
  return m_site_pem;
}
std::string Station::factory_pem() const {
  return m_factory_pem;
}
std::string Station::root_pem() const {
  return m_root_pem;
}

unsigned Station::workers() const {
  if (m_config.workers > 0) return m_config.workers;
  return std::max(1u, std::thread::hardware_concurrency());
}

base::Status Station::finish() {
  if (m_checkpoint_signer == nullptr) return {};
  return m_audit->checkpoint();
}

}  // namespace hallmark::app
