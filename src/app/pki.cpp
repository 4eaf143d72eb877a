#include "app/pki.h"

#include <sys/stat.h>

#include "base/files.h"
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

}  // namespace

std::string Pki::default_issuer_for(const std::string& profile) {
  return profile == "idevid" ? "factory" : "runtime";
}

base::Status Pki::init(const fs::path& dir, const std::optional<fs::path>& config_file,
                       std::vector<std::string>& messages) {
  Paths paths{dir};
  if (fs::exists(paths.database())) {
    return make_error(ErrorCode::AlreadyExists, "'" + dir.string() + "' already holds a Hallmark PKI");
  }
  std::string config_text = default_config_text();
  if (config_file) {
    HM_TRY(auto data, base::read_file(*config_file, 1 << 20));
    config_text = base::to_string(data);
  }
  HM_TRY(auto config, parse_config(config_text, config_file ? config_file->string() : "embedded defaults"));
  HM_TRY(auto profiles, ca::ProfileRegistry::build(config.ca.profiles));

  std::error_code ec;
  fs::create_directories(paths.keys(), ec);
  if (ec) return make_error(ErrorCode::Io, "cannot create '" + paths.keys().string() + "'", ec.message());
  ::chmod(dir.c_str(), 0700);
  ::chmod(paths.keys().c_str(), 0700);
  HM_CHECK(base::write_file(paths.config(), config_text, 0644));

  HM_TRY(auto pass, keys::resolve_passphrase({dir, config.passphrase_file}, true));
  if (pass.generated) {
    messages.push_back("generated a random key passphrase in " + pass.origin +
                       " (mode 0600); keep it safe or set HALLMARK_KEY_PASSPHRASE instead");
  } else {
    messages.push_back("keys are encrypted with the passphrase from " + pass.origin);
  }
  keys::SoftwareKeyStore key_store(paths.keys(), pass.value);
  HM_TRY(auto root_key, key_store.generate("root", config.ca.root.key));
  HM_TRY(auto factory_key, key_store.generate("factory", config.ca.factory.key));
  HM_TRY(auto runtime_key, key_store.generate("runtime", config.ca.runtime.key));
  HM_TRY(auto audit_key, key_store.generate(kAuditKey, base::KeyAlgorithm::EcP256));
  HM_CHECK(
      base::write_file(paths.audit_public_key(), pkix::pem_encode(audit_key->public_key_der(), "PUBLIC KEY"), 0644));

  HM_TRY(auto pki, open(dir, true));
  auto& issuer = pki->issuer();
  HM_TRY(auto root,
         issuer.issue({"root", std::nullopt, root_key.get()}, ca_request(config.ca.root, "root", *root_key)));
  HM_CHECK(pki->ledger().add_issuer({"root", "root", "", root.certificate.der(), root_key->reference(), "active"}));
  for (auto [name, settings, key] : {std::tuple{"factory", &config.ca.factory, factory_key.get()},
                                     std::tuple{"runtime", &config.ca.runtime, runtime_key.get()}}) {
    HM_TRY(auto cert,
           issuer.issue({"root", root.certificate, root_key.get()}, ca_request(*settings, "intermediate", *key)));
    for (const auto& w : cert.warnings) messages.push_back(std::string(name) + ": " + w);
    HM_CHECK(pki->ledger().add_issuer({name, name, "root", cert.certificate.der(), key->reference(), "active"}));
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

base::Result<std::unique_ptr<Pki>> Pki::open(const fs::path& dir, bool need_keys) {
  std::unique_ptr<Pki> pki(new Pki());
  pki->m_paths = Paths{dir};
  if (!fs::exists(pki->m_paths.config())) {
    return make_error(
        ErrorCode::NotFound,
        "'" + dir.string() + "' is not a Hallmark data folder: run `hallmark init --dir " + dir.string() + "`");
  }
  HM_TRY(pki->m_config, load_config(pki->m_paths.config()));
  HM_TRY(pki->m_profiles, ca::ProfileRegistry::build(pki->m_config.ca.profiles));
  HM_TRY(pki->m_db, store::SqliteDatabase::open(pki->m_paths.database(), pki->m_config.durability == "full"
                                                                             ? store::Durability::Full
                                                                             : store::Durability::Normal));
  pki->m_audit_store = std::make_unique<store::SqliteAuditStore>(*pki->m_db);
  pki->m_ledger = std::make_unique<store::SqliteLedger>(*pki->m_db, *pki->m_audit_store, pki->m_clock);
  pki->m_revocations = std::make_unique<store::SqliteRevocationStore>(*pki->m_db, *pki->m_audit_store);
  if (need_keys) {
    HM_TRY(auto pass, keys::resolve_passphrase({dir, pki->m_config.passphrase_file}, false));
    pki->m_keys = std::make_unique<keys::SoftwareKeyStore>(pki->m_paths.keys(), pass.value);
    HM_TRY(auto audit_key, pki->m_keys->load(kAuditKey));
    pki->m_checkpoint_signer = std::make_unique<SignerCheckpointAdapter>(std::move(audit_key));
  }
  pki->m_audit = std::make_unique<audit::AuditLog>(*pki->m_audit_store, pki->m_checkpoint_signer.get(), pki->m_clock,
                                                   pki->m_config.checkpoints);
  auto* audit_log = pki->m_audit.get();
  pki->m_issuer =
      std::make_unique<ca::Issuer>(pki->m_config.ca, pki->m_profiles, *pki->m_ledger, pki->m_clock, pki->m_rng,
                                   [audit_log](std::uint64_t n) { audit_log->note_appended(n); });
  return pki;
}

base::Result<ca::SigningAuthority> Pki::authority(const std::string& name) {
  HM_TRY(auto record, m_ledger->find_issuer(name));
  if (!record) {
    std::string known;
    HM_TRY(auto all, m_ledger->issuers());
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
