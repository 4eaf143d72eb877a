#include "app/ceremony.h"

#include <toml++/toml.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/config.h"
#include "base/files.h"
#include "ca/issuer.h"
#include "keys/pkcs11_key_store.h"
#include "keys/pkcs11_uri.h"
#include "pkix/crl.h"
#include "pkix/csr.h"
#include "pkix/pem.h"

namespace hallmark::app {

using base::ErrorCode;
using base::make_error;
namespace fs = std::filesystem;

namespace {

// The ceremony keeps its ledger in memory: its lasting record is the signed
// audit file, and the certificates it writes.
class CeremonyLedger final : public ca::Ledger {
 public:
  base::Status reserve(const ca::LedgerEntry& pending, const audit::Event& signing) override {
    if (m_entries.count(pending.serial)) return make_error(ErrorCode::AlreadyExists, "serial taken");
    m_entries[pending.serial] = pending;
    events.push_back(signing);
    return {};
  }
  base::Status complete(const std::string& serial, base::ByteView der, const audit::Event& signed_event) override {
    auto& e = m_entries.at(serial);
    e.der.assign(der.begin(), der.end());
    e.status = ca::CertificateStatus::Issued;
    events.push_back(signed_event);
    return {};
  }
  base::Result<std::optional<ca::LedgerEntry>> find(const std::string& serial) const override {
    auto it = m_entries.find(serial);
    if (it == m_entries.end()) return std::optional<ca::LedgerEntry>{};
    return std::optional<ca::LedgerEntry>{it->second};
  }
  base::Result<std::vector<ca::LedgerEntry>> list(std::string_view, std::size_t) const override {
    std::vector<ca::LedgerEntry> out;
    for (const auto& [_, e] : m_entries) out.push_back(e);
    return out;
  }
  base::Result<std::vector<ca::LedgerEntry>> by_device(const std::string&) const override {
    return std::vector<ca::LedgerEntry>{};
  }
  std::vector<audit::Event> events;

 private:
  std::map<std::string, ca::LedgerEntry> m_entries;
};

struct IssuingSpec {
  std::string name, common_name, csr, key;
  base::KeyAlgorithm algorithm = base::KeyAlgorithm::EcP256;
  int validity_years = 10;
  std::optional<int> path_len;
};

struct CeremonySpec {
  fs::path out;
  std::string organization = "Hallmark Example Devices", country = "US";
  std::string root_key, root_common_name = "Hallmark Root CA";
  base::KeyAlgorithm root_algorithm = base::KeyAlgorithm::EcP384;
  int root_validity_years = 30;
  int crl_next_update_days = 365;
  std::vector<IssuingSpec> issuing;
};

std::chrono::seconds years(int n) {
  return std::chrono::seconds(static_cast<std::int64_t>(n) * 31556952);
}

base::Result<CeremonySpec> parse_spec(const fs::path& file) {
  HM_TRY(auto data, base::read_file(file, 1 << 20));
  toml::table root;
  try {
    root = toml::parse(base::to_string(data), file.string());
  } catch (const toml::parse_error& e) {
    return make_error(ErrorCode::InvalidArgument, "ceremony configuration " + file.string() +
                                                      " is not valid TOML: " + std::string(e.description()));
  }
  const fs::path base = file.parent_path();
  auto rel = [&](const std::string& p) { return fs::path(p).is_absolute() ? fs::path(p) : base / p; };
  CeremonySpec s;
  auto out = root["out"].value<std::string>();
  if (!out) return make_error(ErrorCode::InvalidArgument, "ceremony: `out` (the folder to write) is required");
  s.out = rel(*out);
  if (auto v = root["organization"].value<std::string>()) s.organization = *v;
  if (auto v = root["country"].value<std::string>()) s.country = *v;
  auto key = root["root"]["key"].value<std::string>();
  if (!key || !keys::is_pkcs11_uri(*key)) {
    return make_error(ErrorCode::InvalidArgument, "ceremony: root.key must be a pkcs11: URI (the root key's token)");
  }
  s.root_key = *key;
  if (auto v = root["root"]["common_name"].value<std::string>()) s.root_common_name = *v;
  if (auto v = root["root"]["algorithm"].value<std::string>()) {
    HM_TRY(s.root_algorithm, base::parse_key_algorithm(*v));
  }
  if (auto v = root["root"]["validity_years"].value<std::int64_t>()) s.root_validity_years = static_cast<int>(*v);
  if (auto v = root["crl"]["next_update_days"].value<std::int64_t>()) s.crl_next_update_days = static_cast<int>(*v);
  if (s.crl_next_update_days < 1) return make_error(ErrorCode::InvalidArgument, "crl.next_update_days must be >= 1");
  if (auto* arr = root["issuing"].as_array()) {
    for (auto& node : *arr) {
      auto* t = node.as_table();
      if (t == nullptr) return make_error(ErrorCode::InvalidArgument, "ceremony: [[issuing]] entries are tables");
      IssuingSpec i;
      i.name = (*t)["name"].value_or(std::string());
      i.common_name = (*t)["common_name"].value_or(std::string());
      if (auto v = (*t)["csr"].value<std::string>()) i.csr = rel(*v).string();
      i.key = (*t)["key"].value_or(std::string());
      if (auto v = (*t)["algorithm"].value<std::string>()) {
        HM_TRY(i.algorithm, base::parse_key_algorithm(*v));
      }
      if (auto v = (*t)["validity_years"].value<std::int64_t>()) i.validity_years = static_cast<int>(*v);
      if (auto v = (*t)["path_len"].value<std::int64_t>()) i.path_len = static_cast<int>(*v);
      if (i.name.empty() || i.common_name.empty()) {
        return make_error(ErrorCode::InvalidArgument, "ceremony: each [[issuing]] needs name and common_name");
      }
      if (i.csr.empty() == i.key.empty()) {
        return make_error(ErrorCode::InvalidArgument, "ceremony: issuing CA '" + i.name +
                                                          "' needs exactly one of csr (a file) or key (a pkcs11: URI)");
      }
      if (!i.key.empty() && !keys::is_pkcs11_uri(i.key)) {
        return make_error(ErrorCode::InvalidArgument,
                          "ceremony: issuing CA '" + i.name + "': key must be a pkcs11: URI");
      }
      s.issuing.push_back(std::move(i));
    }
  }
  return s;
}

nlohmann::json to_json(const audit::Event& e) {
  return {{"actor", e.actor},
          {"action", e.action},
          {"cert_serial", e.cert_serial},
          {"profile", e.profile},
          {"detail", e.detail}};
}

}  // namespace

std::string ceremony_config_example() {
  return R"toml(out = "ceremony-2026"          # folder to create: certificates, CRL, signed audit record
organization = "Hallmark Example Devices"
country = "US"

[root]
key = "pkcs11:token=offline-root;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/media/pin"
algorithm = "p384"
common_name = "Hallmark Root CA"
validity_years = 30

[crl]
next_update_days = 365

[[issuing]]                   # an issuing CA whose key is in the online HSM: certify its CSR
name = "factory"
common_name = "Hallmark Factory CA"
csr = "factory.csr"
path_len = 1
validity_years = 25

[[issuing]]                   # or generate its key in a token during the ceremony
name = "runtime"
common_name = "Hallmark Runtime CA"
key = "pkcs11:token=online;object=runtime?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/media/pin2"
algorithm = "p256"
path_len = 0
validity_years = 5
)toml";
}

base::Status run_ceremony(const fs::path& config_file, std::vector<std::string>& messages) {
  HM_TRY(auto spec, parse_spec(config_file));
  if (fs::exists(spec.out)) {
    return make_error(ErrorCode::AlreadyExists, "'" + spec.out.string() + "' exists: a ceremony writes a new folder");
  }
  // Everything is checked before the first key is generated or file written.
  HM_TRY(const bool root_exists, keys::pkcs11_key_exists(spec.root_key));
  if (root_exists) {
    return make_error(ErrorCode::AlreadyExists, "the root token already holds a key labelled '" +
                                                    keys::Pkcs11Uri::parse(spec.root_key).value().object + "'");
  }
  std::vector<base::Bytes> issuing_spki(spec.issuing.size());
  for (std::size_t i = 0; i < spec.issuing.size(); ++i) {
    const auto& is = spec.issuing[i];
    if (!is.csr.empty()) {
      HM_TRY(auto data, base::read_file(is.csr, pkix::kMaxCsrSize));
      auto csr = pkix::Csr::parse(data);
      if (!csr) {
        return make_error(csr.error().code, "issuing CA '" + is.name + "' CSR: " + csr.error().detail);
      }
      issuing_spki[i] = csr->public_key().spki_der();
    } else {
      HM_TRY(const bool exists, keys::pkcs11_key_exists(is.key));
      if (exists) {
        return make_error(ErrorCode::AlreadyExists, "issuing CA '" + is.name + "': its token already holds that key");
      }
    }
  }

  ca::Settings settings;
  settings.organization = spec.organization;
  settings.country = spec.country;
  HM_TRY(auto defaults, parse_config(default_config_text(), "embedded defaults"));
  settings.profiles = defaults.ca.profiles;
  HM_TRY(auto profiles, ca::ProfileRegistry::build(settings.profiles));
  CeremonyLedger ledger;
  base::SystemClock clock;
  base::SystemRng rng;
  ca::Issuer issuer(settings, profiles, ledger, clock, rng);

  HM_TRY(auto root_key, keys::pkcs11_generate(spec.root_key, spec.root_algorithm));
  ca::IssuanceRequest rr;
  rr.profile = "root";
  rr.public_key_der = root_key->public_key_der();
  rr.common_name = spec.root_common_name;
  rr.validity_cap = years(spec.root_validity_years);
  rr.actor = "ceremony";
  rr.origin = "ceremony";
  HM_TRY(auto root, issuer.issue({"root", std::nullopt, root_key.get()}, rr));
  const ca::SigningAuthority root_auth{"root", root.certificate, root_key.get()};

  std::vector<std::pair<std::string, pkix::Certificate>> issued;
  for (std::size_t i = 0; i < spec.issuing.size(); ++i) {
    const auto& is = spec.issuing[i];
    if (!is.key.empty()) {
      HM_TRY(auto key, keys::pkcs11_generate(is.key, is.algorithm));
      issuing_spki[i] = key->public_key_der();
    }
    ca::IssuanceRequest r;
    r.profile = "intermediate";
    r.public_key_der = issuing_spki[i];
    r.common_name = is.common_name;
    r.validity_cap = years(is.validity_years);
    r.path_len = is.path_len;
    r.actor = "ceremony";
    r.origin = "ceremony:" + is.name;
    HM_TRY(auto cert, issuer.issue(root_auth, r));
    for (const auto& w : cert.warnings) messages.push_back(is.name + ": " + w);
    issued.emplace_back(is.name, cert.certificate);
  }

  // The root's first CRL: no revoked certificate, number 1.
  pkix::CrlSpec crl;
  crl.signature_algorithm = root_key->signature_algorithm();
  crl.issuer = root.certificate.subject();
  crl.this_update = clock.now();
  crl.next_update = crl.this_update + std::chrono::hours(24) * spec.crl_next_update_days;
  crl.crl_number = 1;
  crl.authority_key_id = root.certificate.subject_key_identifier().value_or(base::Bytes{});
  HM_TRY(auto tbs_crl, pkix::encode_tbs_cert_list(crl));
  HM_TRY(auto crl_sig, root_key->sign(tbs_crl));
  HM_TRY(auto crl_der, pkix::assemble_crl(tbs_crl, crl.signature_algorithm, crl_sig));
  audit::Event crl_event{"ceremony", audit::Channel::Admin, "crl", "", "", "none", "root CRL number 1"};
  ledger.events.push_back(crl_event);

  // The audit record: what happened, signed by the root key; anyone can check it
  // with the root certificate (openssl dgst -verify).
  nlohmann::json record = {{"ceremony", config_file.filename().string()},
                           {"time", base::format_rfc3339(crl.this_update)},
                           {"root",
                            {{"key", root_key->reference()},
                             {"serial", root.certificate.serial_hex()},
                             {"sha256", base::hex_encode(root.certificate.fingerprint_sha256())}}},
                           {"crl_number", 1}};
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [name, cert] : issued) {
    list.push_back(
        {{"name", name}, {"serial", cert.serial_hex()}, {"sha256", base::hex_encode(cert.fingerprint_sha256())}});
  }
  record["issuing"] = list;
  nlohmann::json events = nlohmann::json::array();
  for (const auto& e : ledger.events) events.push_back(to_json(e));
  record["events"] = events;
  const std::string record_text = record.dump(2) + "\n";
  HM_TRY(auto record_sig, root_key->sign(base::view(record_text)));
  base::Bytes record_sig_der = record_sig;
  if (crl.signature_algorithm == base::SignatureAlgorithm::EcdsaSha256 ||
      crl.signature_algorithm == base::SignatureAlgorithm::EcdsaSha384) {
    HM_TRY(record_sig_der, base::ecdsa_raw_to_der(record_sig));
  }

  std::error_code ec;
  fs::create_directories(spec.out, ec);
  if (ec) return make_error(ErrorCode::Io, "cannot create '" + spec.out.string() + "'", ec.message());
  HM_CHECK(base::write_file(spec.out / "root.pem", root.certificate.pem()));
  for (const auto& [name, cert] : issued) HM_CHECK(base::write_file(spec.out / (name + ".pem"), cert.pem()));
  HM_CHECK(base::write_file(spec.out / "root.crl", pkix::pem_encode(crl_der, "X509 CRL")));
  HM_CHECK(base::write_file(spec.out / "ceremony-audit.json", record_text));
  HM_CHECK(base::write_file(spec.out / "ceremony-audit.sig", base::ByteView(record_sig_der)));
  messages.push_back("root " + root.certificate.serial_hex() + " in its token (" + root_key->reference() + "), " +
                     std::to_string(issued.size()) + " issuing CA(s), CRL 1; written to " + spec.out.string());
  return {};
}

}  // namespace hallmark::app
