#include "app/pki.h"

#include <sys/stat.h>

#include "base/files.h"
#include "keys/pkcs11_key_store.h"
#include "keys/pkcs11_uri.h"
#include "pkix/pem.h"

namespace hallmark::app {

using base::ErrorCode;
using base::make_error;
namespace fs = std::filesystem;

namespace {

constexpr char kAuditKey[] = "audit";

// Calendar years from now (so a 30-year root ends on the same day and time of day).
std::chrono::seconds calendar_years(int years) {
  using namespace std::chrono;
  const auto now = time_point_cast<seconds>(system_clock::now());
  const auto day = floor<days>(now);
  auto ymd = year_month_day{day} + std::chrono::years{years};
  if (!ymd.ok()) ymd = ymd.year() / ymd.month() / last;  // 29 February
  return sys_days{ymd} + (now - day) - now;
}

ca::IssuanceRequest ca_request(const ca::CaSettings& s, const std::string& profile, const keys::Signer& key) {
  ca::IssuanceRequest r;
  r.profile = profile;
  r.public_key_der = key.public_key_der();
  r.common_name = s.common_name;
  r.validity_cap = calendar_years(s.validity_years);
  r.path_len = s.path_len;
  r.actor = "cli:init";
  r.origin = "init";
  return r;
}

// The configuration text with [store] dsn set (inserted at the top of the
// [store] table, or as a new table).
std::string with_store_dsn(const std::string& text, const std::string& dsn) {
  std::string escaped;
  for (char c : dsn) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  const std::string line = "dsn = \"" + escaped + "\"   # set by `hallmark init --store`\n";
  const auto table = text.find("\n[store]\n");
  if (table == std::string::npos) return text + "\n[store]\n" + line;
  std::string out = text;
  out.insert(table + 9, line);
  return out;
}

}  // namespace

std::string Pki::default_issuer_for(const std::string& profile) {
  return profile == "idevid" ? "factory" : "runtime";
}

base::Result<std::string> Pki::key_reference(const Config& config, const std::string& name) {
  if (config.keystore.empty()) return name;
  HM_TRY(auto uri, keys::Pkcs11Uri::parse(config.keystore));
  const std::string prefix = uri.object.empty() ? "hallmark" : uri.object;
  return uri.with_object(prefix + "-" + name).text();
}

namespace {
// Records the token in the written configuration: `store = ...` under [keys].
base::Result<std::string> with_keystore(std::string text, const std::string& uri) {
  const std::string line = "store = \"" + uri + "\"\n";
  const auto at = text.find("\n[keys]\n");
  if (at != std::string::npos) {
    text.insert(at + 8, line);
  } else if (text.starts_with("[keys]\n")) {
    text.insert(7, line);
  } else {
    text += "\n[keys]\n" + line;
  }
  return text;
}
}  // namespace

base::Status Pki::init(const fs::path& dir, const std::optional<fs::path>& config_file, const std::string& keystore,
                       std::vector<std::string>& messages, const std::string& store) {
  Paths paths{dir};
  if (dir.empty()) return make_error(ErrorCode::InvalidArgument, "--dir is empty: name the data folder to create");
  if (fs::exists(paths.database()) || fs::exists(paths.config())) {
    return make_error(ErrorCode::AlreadyExists, "'" + dir.string() + "' already holds a Hallmark PKI");
  }
  // A folder with other files in it is someone else's: keys and a database
  // would be mixed into it (and `init` tightens its mode to 0700).
  std::error_code dir_ec;
  if (fs::exists(dir, dir_ec) && (!fs::is_directory(dir, dir_ec) || !fs::is_empty(dir, dir_ec))) {
    return make_error(ErrorCode::AlreadyExists,
                      "'" + dir.string() + "' exists and is not an empty folder: init needs a new or empty folder");
  }
  std::string config_text = default_config_text();
  if (config_file) {
    HM_TRY(auto data, base::read_file(*config_file, 1 << 20));
    config_text = base::to_string(data);
  }
  if (!store.empty()) {
    if (!store::is_postgres_location(store)) {
      return make_error(ErrorCode::InvalidArgument,
                        "--store must be a postgresql:// DSN (the SQLite store is always <dir>/hallmark.db)");
    }
    config_text = with_store_dsn(config_text, store);
  }
  HM_TRY(auto config, parse_config(config_text, config_file ? config_file->string() : "embedded defaults"));
  if (!keystore.empty()) {
    if (!config.keystore.empty() && config.keystore != keystore) {
      return make_error(ErrorCode::InvalidArgument, "--keystore differs from keys.store in the configuration");
    }
    HM_TRY(auto uri, keys::Pkcs11Uri::parse(keystore));
    (void)uri;
    if (config.keystore.empty()) {
      HM_TRY(config_text, with_keystore(config_text, keystore));
      HM_TRY(config, parse_config(config_text, "configuration with --keystore"));
    }
  }
  HM_TRY(auto profiles, ca::ProfileRegistry::build(config.ca.profiles));
  if (!config.store_dsn.empty()) {
    // A shared database already initialised by another node: refuse before
    // creating keys that would not match its CAs.
    base::SystemClock clock;
    HM_TRY(auto existing, store::open_store({config.store_dsn}, clock));
    HM_TRY(auto known, existing->issuers().issuers());
    if (!known.empty()) {
      return make_error(ErrorCode::AlreadyExists,
                        existing->location() +
                            " already holds a Hallmark PKI: copy the data folder of a node that "
                            "uses it instead of running init");
    }
  }

  // A token that cannot be used, or already holds these keys, is refused
  // before anything is written (to the folder or to the token).
  for (const char* name : {"root", "factory", "runtime", kAuditKey}) {
    HM_TRY(auto ref, key_reference(config, name));
    if (!keys::is_pkcs11_uri(ref)) continue;
    HM_TRY(const bool exists, keys::pkcs11_key_exists(ref));
    if (exists) {
      return make_error(ErrorCode::AlreadyExists, "the PKCS#11 token already holds a key labelled '" +
                                                      keys::Pkcs11Uri::parse(ref).value().object +
                                                      "': choose another object= prefix in --keystore");
    }
  }

  std::error_code ec;
  fs::create_directories(paths.keys(), ec);
  if (ec) return make_error(ErrorCode::Io, "cannot create '" + paths.keys().string() + "'", ec.message());
  ::chmod(dir.c_str(), 0700);
  ::chmod(paths.keys().c_str(), 0700);
  // A DSN may carry a password: then the configuration is readable by its owner only.
  const bool secret = config.store_dsn != store::printable_location(config.store_dsn);
  HM_CHECK(base::write_file(paths.config(), config_text, secret ? 0600 : 0644));

  // The passphrase also protects the HTTPS server's own TLS key file, which
  // stays a file even when the CA keys live in a token.
  HM_TRY(auto pass, keys::resolve_passphrase({dir, config.passphrase_file}, true));
  const std::string what = config.keystore.empty() ? "keys are" : "the TLS key file is";
  if (pass.generated) {
    messages.push_back("generated a random key passphrase in " + pass.origin + " (mode 0600) for the " +
                       (config.keystore.empty() ? std::string("key files")
                                                : std::string("TLS key file (the CA keys are in the token)")) +
                       "; keep it safe or set HALLMARK_KEY_PASSPHRASE instead");
  } else {
    messages.push_back(what + " encrypted with the passphrase from " + pass.origin);
  }
  keys::KeyStore key_store(paths.keys(), pass.value);
  HM_TRY(auto root_ref, key_reference(config, "root"));
  HM_TRY(auto factory_ref, key_reference(config, "factory"));
  HM_TRY(auto runtime_ref, key_reference(config, "runtime"));
  HM_TRY(auto audit_ref, key_reference(config, kAuditKey));
  HM_TRY(auto root_key, key_store.generate(root_ref, config.ca.root.key));
  HM_TRY(auto factory_key, key_store.generate(factory_ref, config.ca.factory.key));
  HM_TRY(auto runtime_key, key_store.generate(runtime_ref, config.ca.runtime.key));
  HM_TRY(auto audit_key, key_store.generate(audit_ref, base::KeyAlgorithm::EcP256));
  if (!config.keystore.empty()) messages.push_back("generated the CA and audit keys in the PKCS#11 token");
  HM_CHECK(
      base::write_file(paths.audit_public_key(), pkix::pem_encode(audit_key->public_key_der(), "PUBLIC KEY"), 0644));

  HM_TRY(auto pki, open(dir, true));
  auto& issuer = pki->issuer();
  HM_TRY(auto root,
         issuer.issue({"root", std::nullopt, root_key.get()}, ca_request(config.ca.root, "root", *root_key)));
  HM_CHECK(
      pki->issuer_registry().add_issuer({"root", "root", "", root.certificate.der(), root_key->reference(), "active"}));
  for (auto [name, settings, key] : {std::tuple{"factory", &config.ca.factory, factory_key.get()},
                                     std::tuple{"runtime", &config.ca.runtime, runtime_key.get()}}) {
    HM_TRY(auto cert,
           issuer.issue({"root", root.certificate, root_key.get()}, ca_request(*settings, "intermediate", *key)));
    for (const auto& w : cert.warnings) messages.push_back(std::string(name) + ": " + w);
    HM_CHECK(
        pki->issuer_registry().add_issuer({name, name, "root", cert.certificate.der(), key->reference(), "active"}));
  }
  audit::Event created;
  created.actor = "cli:init";
  created.action = "init";
  created.detail = "created root, factory and runtime CAs";
  HM_TRY(auto rec, pki->audit().append(created));
  (void)rec;
  HM_CHECK(pki->audit().checkpoint());
  messages.push_back("created root (" + std::string(base::to_string(config.ca.root.key)) +
                     "), factory and runtime CAs in " + dir.string());
  return {};
}

base::Result<std::unique_ptr<Pki>> Pki::open(const fs::path& dir, bool need_keys, const std::string& store) {
  std::unique_ptr<Pki> pki(new Pki());
  pki->m_paths = Paths{dir};
  if (!fs::exists(pki->m_paths.config())) {
    return make_error(
        ErrorCode::NotFound,
        "'" + dir.string() + "' is not a Hallmark data folder: run `hallmark init --dir " + dir.string() + "`");
  }
  HM_TRY(pki->m_config, load_config(pki->m_paths.config()));
  HM_TRY(pki->m_profiles, ca::ProfileRegistry::build(pki->m_config.ca.profiles));
  if (!store.empty() && !store::is_postgres_location(store)) {
    return make_error(ErrorCode::InvalidArgument, "--store must be a postgresql:// DSN");
  }
  store::StoreOptions so;
  so.location = !store.empty()                     ? store
                : !pki->m_config.store_dsn.empty() ? pki->m_config.store_dsn
                                                   : pki->m_paths.database().string();
  so.full_durability = pki->m_config.durability == "full";
  so.pool_size = pki->m_config.store_pool;
  HM_TRY(pki->m_store, store::open_store(so, pki->m_clock));
  if (need_keys) {
    HM_TRY(auto pass, keys::resolve_passphrase({dir, pki->m_config.passphrase_file}, false));
    pki->m_keys = std::make_unique<keys::KeyStore>(pki->m_paths.keys(), pass.value);
    HM_TRY(auto audit_ref, key_reference(pki->m_config, kAuditKey));
    HM_TRY(auto audit_key, pki->m_keys->load(audit_ref));
    pki->m_checkpoint_signer = std::make_unique<SignerCheckpointAdapter>(std::move(audit_key));
  }
  pki->m_audit = std::make_unique<audit::AuditLog>(pki->m_store->audit(), pki->m_checkpoint_signer.get(), pki->m_clock,
                                                   pki->m_config.checkpoints);
  auto* audit_log = pki->m_audit.get();
  pki->m_issuer =
      std::make_unique<ca::Issuer>(pki->m_config.ca, pki->m_profiles, pki->m_store->ledger(), pki->m_clock, pki->m_rng,
                                   [audit_log](std::uint64_t n) { audit_log->note_appended(n); });
  return pki;
}

base::Result<ca::SigningAuthority> Pki::authority(const std::string& name) {
  HM_TRY(auto record, m_store->issuers().find_issuer(name));
  if (!record) {
    std::string known;
    HM_TRY(auto all, m_store->issuers().issuers());
    for (const auto& i : all) known += (known.empty() ? "" : ", ") + i.name;
    return make_error(ErrorCode::NotFound, "no issuer named '" + name + "' (known: " + known + ")");
  }
  if (record->status != "active") {
    return make_error(ErrorCode::PolicyDenied, "issuer '" + name + "' is " + record->status);
  }
  if (!m_keys) return make_error(ErrorCode::Internal, "keys were not loaded for this command");
  auto it = m_signers.find(name);
  if (it == m_signers.end()) {
    HM_TRY(auto signer, m_keys->load(record->key_ref));
    it = m_signers.emplace(name, std::move(signer)).first;
  }
  HM_TRY(auto cert, pkix::Certificate::parse(record->cert_der));
  return ca::SigningAuthority{name, cert, it->second.get()};
}

base::Result<base::Bytes> Pki::audit_public_key() const {
  HM_TRY(auto pem, base::read_file(m_paths.audit_public_key(), 1 << 16));
  return pkix::to_der(pem, {"PUBLIC KEY"});
}

base::Status Pki::finish() {
  if (m_checkpoint_signer == nullptr) return {};
  // A short-lived command checkpoints what it appended, so that deleting the
  // newest records is always detectable; `serve` follows the policy instead.
  return m_audit->checkpoint();
}

}  // namespace hallmark::app
