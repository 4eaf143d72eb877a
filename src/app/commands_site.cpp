// `hallmark site create|list|show|retire` (operator side of the factory channel).
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <optional>
#include <sstream>

#include "app/cli.h"
#include "app/pki.h"
#include "app/station.h"
#include "base/files.h"
#include "factory/authorization.h"
#include "factory/ledger_bundle.h"
#include "factory/serial_range.h"
#include "pkix/csr.h"
#include "pkix/pem.h"

namespace hallmark::app {

using base::ErrorCode;
using base::make_error;
namespace fs = std::filesystem;

int import_and_report(Pki& pki, const std::string& bundle, bool json);  // commands_ledger.cpp

namespace {

struct SiteOptions {
  std::string dir, id, quota_text, not_before, not_after, products, profiles = "idevid", attestation = "required", out,
                                                                    site_csr;
  std::string se_roots;   // PEM file of SE vendor roots (SE attestation)
  std::string tpm_roots;  // PEM file of TPM manufacturer roots (TPM attestation)
  std::vector<std::string> ranges;
  int stations = 1;
  bool json = false;
};

// The roots named by --se-roots / --tpm-roots: CA certificates (empty without the option).
base::Result<std::vector<base::Bytes>> read_roots(const std::string& path, const char* option) {
  std::vector<base::Bytes> out;
  if (path.empty()) return out;
  HM_TRY(auto pem, base::read_file(path, 1 << 20));
  HM_TRY(auto ders, pkix::pem_decode_all(pem, {"CERTIFICATE"}));
  for (auto& der : ders) {
    HM_TRY(auto cert, pkix::Certificate::parse(der));
    if (!cert.is_ca()) {
      return make_error(ErrorCode::InvalidArgument,
                        std::string(option) + ": '" + cert.subject().to_string() + "' is not a CA");
    }
    out.push_back(std::move(der));
  }
  return out;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::chrono::seconds calendar_years(int years) {
  using namespace std::chrono;
  const auto now = time_point_cast<seconds>(system_clock::now());
  const auto day = floor<days>(now);
  auto ymd = year_month_day{day} + std::chrono::years{years};
  if (!ymd.ok()) ymd = ymd.year() / ymd.month() / last;
  return sys_days{ymd} + (now - day) - now;
}

std::vector<factory::SerialRange> scope_ranges(const std::string& scope) {
  std::vector<factory::SerialRange> out;
  const auto j = nlohmann::json::parse(scope, nullptr, false);
  if (j.is_discarded()) return out;
  for (const auto& r : j.value("serial_ranges", nlohmann::json::array())) {
    auto parsed = factory::SerialRange::parse(r.get<std::string>());
    if (parsed.ok()) out.push_back(parsed.value());
  }
  return out;
}

base::Status create_site(const SiteOptions& o, std::vector<std::string>& messages, nlohmann::json& doc) {
  // --- validate everything before any key is made --------------------------
  if (o.id.empty() || o.id.size() > 32 || !std::all_of(o.id.begin(), o.id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      })) {
    return make_error(ErrorCode::InvalidArgument, "--id must be 1 to 32 letters, digits, '-' or '_'");
  }
  if (o.stations < 1 || o.stations > 64) return make_error(ErrorCode::InvalidArgument, "--stations must be 1..64");
  std::uint64_t quota = 0;
  try {
    // stoull takes "-5" as 2^64 - 5: digits only.
    if (o.quota_text.empty() || o.quota_text.find_first_not_of("0123456789") != std::string::npos) {
      throw std::invalid_argument("not a number");
    }
    std::size_t used = 0;
    quota = std::stoull(o.quota_text, &used);
    if (used != o.quota_text.size() || quota > 1'000'000'000'000ULL) throw std::invalid_argument("x");
  } catch (const std::exception&) {
    return make_error(ErrorCode::InvalidArgument, "--quota must be a positive number of devices");
  }
  if (quota < static_cast<std::uint64_t>(o.stations)) {
    return make_error(ErrorCode::InvalidArgument, "--quota must be at least the number of stations");
  }
  std::vector<factory::SerialRange> ranges;
  for (const auto& text : o.ranges) {
    HM_TRY(auto r, factory::SerialRange::parse(text));
    for (const auto& other : ranges) {
      if (r.overlaps(other)) {
        return make_error(ErrorCode::InvalidArgument,
                          "serial ranges " + other.to_string() + " and " + r.to_string() + " overlap");
      }
    }
    ranges.push_back(r);
  }
  HM_TRY(auto attestation, factory::parse_attestation(o.attestation));
  HM_TRY(auto se_roots, read_roots(o.se_roots, "--se-roots"));
  HM_TRY(auto tpm_roots, read_roots(o.tpm_roots, "--tpm-roots"));
  HM_TRY(auto pki_ptr, Pki::open(o.dir));
  auto& pki = *pki_ptr;
  auto& sites = pki.store().sites();
  base::SystemClock clock;
  HM_TRY(auto existing, sites.sites());
  for (const auto& s : existing) {
    if (s.id == o.id) return make_error(ErrorCode::AlreadyExists, "site '" + o.id + "' already exists");
    if (s.status != "active") continue;
    for (const auto& theirs : scope_ranges(s.scope)) {
      for (const auto& mine : ranges) {
        if (mine.overlaps(theirs)) {
          return make_error(ErrorCode::PolicyDenied, "serial range " + mine.to_string() + " overlaps " +
                                                         theirs.to_string() + " of active site '" + s.id + "'");
        }
      }
    }
  }
  std::map<std::string, ca::Product> products;
  for (const auto& p : split_list(o.products)) {
    auto it = pki.config().ca.products.find(p);
    if (it == pki.config().ca.products.end()) {
      return make_error(ErrorCode::InvalidArgument,
                        "product '" + p + "' is not in the product table ([products] in hallmark.toml)");
    }
    products[p] = it->second;
  }
  if (products.empty()) return make_error(ErrorCode::InvalidArgument, "--products names at least one product");
  auto profiles = split_list(o.profiles);
  if (std::find(profiles.begin(), profiles.end(), "idevid") == profiles.end()) {
    return make_error(ErrorCode::InvalidArgument, "--profiles must include idevid");
  }
  for (const auto& p : profiles) {
    HM_TRY(const ca::Profile* profile, pki.profiles().find(p));
    if (!profile->channels.contains(audit::Channel::Factory)) {
      return make_error(ErrorCode::PolicyDenied, "profile '" + p + "' cannot be issued by the factory channel");
    }
  }
  const auto now = clock.now();
  base::TimePoint not_before = now;
  if (!o.not_before.empty()) {
    HM_TRY(not_before, base::parse_date(o.not_before));
  }
  HM_TRY(auto not_after, base::parse_date(o.not_after));
  if (not_after <= not_before || not_after <= now) {
    return make_error(ErrorCode::InvalidArgument, "--not-after must be later than now and than --not-before");
  }
  const fs::path out = o.out;
  if (fs::exists(out) && !fs::is_empty(out)) {
    return make_error(ErrorCode::AlreadyExists, "--out '" + o.out + "' exists and is not empty");
  }
  // --site-csr: the site CA key was made in the site's own token (`station
  // keygen`); the CSR's self-signature proves the site holds it, and no key
  // goes into the authorization folder.
  std::optional<base::Bytes> site_spki;
  if (!o.site_csr.empty()) {
    HM_TRY(auto csr_data, base::read_file(o.site_csr, pkix::kMaxCsrSize));
    auto csr = pkix::Csr::parse(csr_data);
    if (!csr) {
      return make_error(csr.error().code, "--site-csr '" + o.site_csr + "': " + csr.error().detail, csr.error().cause);
    }
    site_spki = csr->public_key().spki_der();
  }

  // --- keys and the site CA -------------------------------------------------
  std::error_code ec;
  fs::create_directories(out / "keys", ec);
  if (ec) return make_error(ErrorCode::Io, "cannot create '" + o.out + "'", ec.message());
  ::chmod(out.c_str(), 0700);
  HM_TRY(auto pass, keys::resolve_passphrase({out, ""}, true));
  if (pass.generated) {
    messages.push_back(std::string(site_spki ? "the station keys (the site CA key stays where `station keygen` made it)"
                                             : "the site's keys") +
                       " are encrypted with a random passphrase, written to " + pass.origin +
                       " and into each station folder so that `station init` can read it: treat the folders as "
                       "secret as the keys; to keep the passphrase apart, set HALLMARK_KEY_PASSPHRASE here and "
                       "at the station instead");
  }
  keys::SoftwareKeyStore site_keys(out / "keys", pass.value);
  if (!site_spki) {
    HM_TRY(auto site_key, site_keys.generate(kSiteCaKey, base::KeyAlgorithm::EcP256));
    site_spki = site_key->public_key_der();
  }
  HM_TRY(auto factory_auth, pki.authority("factory"));
  ca::IssuanceRequest req;
  req.profile = "intermediate";
  req.public_key_der = *site_spki;
  req.common_name = pki.config().ca.factory.common_name + " Site " + o.id;
  req.validity_cap = calendar_years(pki.config().ca.factory.validity_years);
  req.path_len = 0;
  req.actor = "cli:site-create";
  req.origin = "site-create:" + o.id;
  HM_TRY(auto site_ca, pki.issuer().issue(factory_auth, req));
  const auto& site_cert = site_ca.certificate;
  const std::string issuer_name = "site:" + o.id;
  HM_CHECK(
      pki.issuer_registry().add_issuer({issuer_name, "site", "factory", site_cert.der(), "offline:" + o.id, "active"}));

  const auto site_end = site_cert.not_after().time;
  if (not_after > site_end) {
    messages.push_back("the window end " + base::format_rfc3339(not_after) +
                       " is after the site CA's notAfter; clamped to " + base::format_rfc3339(site_end));
    not_after = site_end;
  }

  // The OCSP responder key stays with the operator; its public key goes into the
  // authorization so that the station can certify it under the site CA.
  // With keys.store it is generated in the operator's token like every CA key.
  HM_TRY(auto ocsp_ref, Pki::key_reference(pki.config(), "ocsp-site-" + o.id));
  HM_TRY(auto ocsp_key, pki.key_store()->generate(ocsp_ref, base::KeyAlgorithm::EcP256));

  HM_TRY(auto shares, factory::split_ranges(ranges, static_cast<std::size_t>(o.stations)));
  const auto quotas = factory::split_quota(quota, static_cast<std::size_t>(o.stations));
  HM_TRY(auto root_rec, pki.issuer_registry().find_issuer("root"));
  const auto root_pem = pkix::pem_encode(root_rec->cert_der, "CERTIFICATE");
  const auto factory_pem = factory_auth.certificate->pem();

  std::vector<factory::StationRecord> station_records;
  nlohmann::json station_docs = nlohmann::json::array();
  for (int n = 1; n <= o.stations; ++n) {
    const auto sdir = out / ("station-" + std::to_string(n));
    fs::create_directories(sdir / "keys", ec);
    fs::create_directories(sdir / "ca", ec);
    if (ec) return make_error(ErrorCode::Io, "cannot create '" + sdir.string() + "'", ec.message());
    ::chmod(sdir.c_str(), 0700);
    keys::SoftwareKeyStore station_keys(sdir / "keys", pass.value);
    HM_TRY(auto station_key, station_keys.generate(kStationKey, base::KeyAlgorithm::EcP256));
    if (o.site_csr.empty()) {
      HM_TRY(auto key_file, base::read_file(site_keys.path_of(kSiteCaKey), 1 << 20));
      HM_CHECK(base::write_file(sdir / "keys" / (std::string(kSiteCaKey) + ".key"), base::ByteView(key_file), 0600));
    }
    if (pass.generated) HM_CHECK(base::write_file(sdir / "passphrase", pass.value + "\n", 0600));
    HM_CHECK(base::write_file(sdir / "ca" / "root.pem", root_pem));
    HM_CHECK(base::write_file(sdir / "ca" / "factory.pem", factory_pem));
    HM_CHECK(base::write_file(sdir / "ca" / "site-ca.pem", site_cert.pem()));

    factory::Authorization a;
    a.site = o.id;
    a.station = n;
    a.stations = o.stations;
    a.issuer = issuer_name;
    a.site_ca_der = site_cert.der();
    a.profiles = profiles;
    a.products = products;
    a.serial_ranges = shares[static_cast<std::size_t>(n - 1)];
    a.quota = quotas[static_cast<std::size_t>(n - 1)];
    a.not_before = not_before;
    a.not_after = not_after;
    a.attestation = attestation;
    a.se_roots = se_roots;
    a.tpm_roots = tpm_roots;
    a.organization = pki.config().ca.organization;
    a.country = pki.config().ca.country;
    a.profile_settings = pki.config().ca.profiles;
    a.station_key_spki = station_key->public_key_der();
    a.ocsp_key_spki = ocsp_key->public_key_der();
    a.issued_at = now;
    HM_TRY(auto signed_auth, factory::sign_authorization(a, *factory_auth.signer));
    HM_CHECK(factory::write_authorization(sdir, signed_auth));
    station_records.push_back({o.id, n, signed_auth.statement, signed_auth.signature, 0, {}});
    nlohmann::json rs = nlohmann::json::array();
    for (const auto& r : a.serial_ranges) rs.push_back(r.to_string());
    station_docs.push_back({{"station", n}, {"folder", sdir.string()}, {"serial_ranges", rs}, {"quota", a.quota}});
  }

  nlohmann::json range_list = nlohmann::json::array();
  for (const auto& r : ranges) range_list.push_back(r.to_string());
  nlohmann::json product_list = nlohmann::json::array();
  for (const auto& [name, _] : products) product_list.push_back(name);
  doc = {{"site", o.id},
         {"issuer", issuer_name},
         {"site_ca_serial", site_cert.serial_hex()},
         {"serial_ranges", range_list},
         {"quota", quota},
         {"not_before", base::format_rfc3339(not_before)},
         {"not_after", base::format_rfc3339(not_after)},
         {"products", product_list},
         {"profiles", profiles},
         {"attestation", std::string(factory::to_string(attestation))},
         {"stations", o.stations}};
  if (!se_roots.empty()) doc["se_roots"] = se_roots.size();
  if (!tpm_roots.empty()) doc["tpm_roots"] = tpm_roots.size();
  factory::SiteRecord site{o.id, "active", doc.dump(), now, std::nullopt};
  HM_CHECK(sites.add_site(site, station_records));
  doc["station_folders"] = station_docs;
  doc["out"] = o.out;
  audit::Event ev;
  ev.actor = "cli:site-create";
  ev.channel = audit::Channel::Admin;
  ev.action = "site-create";
  ev.cert_serial = site_cert.serial_hex();
  ev.detail = "site " + o.id + ": " + std::to_string(o.stations) + " station(s), quota " + std::to_string(quota);
  HM_TRY(auto rec, pki.audit().append(ev));
  (void)rec;
  return pki.finish();
}

nlohmann::json site_doc(store::Store& store, const factory::SiteRecord& s) {
  auto doc = nlohmann::json::parse(s.scope, nullptr, false);
  if (doc.is_discarded()) doc = nlohmann::json::object();
  doc["site"] = s.id;
  doc["status"] = s.status;
  doc["created"] = base::format_rfc3339(s.created);
  if (s.retired) doc["retired"] = base::format_rfc3339(*s.retired);
  // `site revoke` (compromise) retires the site and revokes its CA: say which.
  if (auto issuer = store.issuers().find_issuer("site:" + s.id); issuer.ok() && issuer.value()) {
    if (auto cert = pkix::Certificate::parse(issuer.value()->cert_der); cert.ok()) {
      auto record = store.certificates().by_serial(cert->serial_hex());
      doc["ca_revoked"] = record.ok() && record.value() && record.value()->status == "revoked";
    }
  }
  auto used = store.imports().devices_with_origin("site:" + s.id + "/");
  doc["devices_imported"] = used.ok() ? used.value() : 0;
  nlohmann::json st = nlohmann::json::array();
  auto stations = store.sites().stations(s.id);
  if (stations.ok()) {
    for (const auto& x : stations.value()) {
      auto a = factory::decode_statement(x.statement);
      nlohmann::json row = {{"station", x.station}, {"records_imported", x.last_sequence}};
      if (a.ok()) {
        nlohmann::json rs = nlohmann::json::array();
        for (const auto& r : a->serial_ranges) rs.push_back(r.to_string());
        row["serial_ranges"] = rs;
        row["quota"] = a->quota;
      }
      auto u = store.imports().devices_with_origin("site:" + s.id + "/station:" + std::to_string(x.station) + "/");
      row["devices_imported"] = u.ok() ? u.value() : 0;
      st.push_back(row);
    }
  }
  doc["station_detail"] = st;
  return doc;
}

}  // namespace

void add_site_commands(CommandRegistry reg) {
  auto* site = reg.app.add_subcommand(
      "site", "Factory sites: create a site CA and its station authorizations; list, show, retire");
  site->require_subcommand(1);

  auto o = std::make_shared<SiteOptions>();
  auto* create = site->add_subcommand("create", "Create a site issuing CA and a signed authorization per station");
  create->add_option("--dir", o->dir, "Operator data folder")->required();
  create->add_option("--id", o->id, "Site id (letters, digits, '-', '_')")->required();
  create
      ->add_option("--serial-range", o->ranges,
                   "Device serial range PREFIX+digits..PREFIX+digits, e.g. SN-00001000..SN-00001999; repeatable")
      ->required();
  create->add_option("--quota", o->quota_text, "Devices the site may provision in total")->required();
  create->add_option("--not-before", o->not_before, "Start of the window (YYYY-MM-DD or RFC 3339; default now)");
  create->add_option("--not-after", o->not_after, "End of the window (YYYY-MM-DD or RFC 3339)")->required();
  create->add_option("--products", o->products, "Products the site may provision, comma-separated")->required();
  create->add_option("--profiles", o->profiles, "Profiles the stations may issue, comma-separated (default idevid)");
  create->add_option("--attestation", o->attestation, "required (default) or none");
  create->add_option("--se-roots", o->se_roots,
                     "PEM file of secure-element vendor root CAs the stations trust for SE attestation");
  create->add_option("--tpm-roots", o->tpm_roots,
                     "PEM file of TPM manufacturer root CAs the stations trust for EK certificates (TPM attestation)");
  create->add_option("--stations", o->stations, "Split ranges and quota between this many stations (default 1)");
  create->add_option("--out", o->out, "Folder for the site CA key and one station-N folder per station")->required();
  create->add_option("--site-csr", o->site_csr,
                     "Certify the site CA key in this CSR (made by `station keygen` in the site's HSM); the "
                     "authorization then holds no site key");
  create->add_flag("--json", o->json, "Print one JSON document");
  create->callback([o, &exit_code = reg.exit_code] {
    std::vector<std::string> messages;
    nlohmann::json doc;
    auto s = create_site(*o, messages, doc);
    for (const auto& m : messages) std::cerr << m << "\n";
    if (!s.ok()) {
      exit_code = report(s.error());
      return;
    }
    if (o->json) {
      print_json(doc);
      return;
    }
    std::cout << "site " << o->id << ": CA " << doc["site_ca_serial"].get<std::string>() << ", window "
              << doc["not_before"].get<std::string>() << " .. " << doc["not_after"].get<std::string>() << "\n";
    for (const auto& st : doc["station_folders"]) {
      std::cout << "  station " << st["station"].get<int>() << ": " << st["folder"].get<std::string>() << "  serials "
                << st["serial_ranges"].dump() << "  quota " << st["quota"].get<std::uint64_t>() << "\n";
    }
  });

  auto ldir = std::make_shared<std::string>();
  auto ljson = std::make_shared<bool>(false);
  auto* list = site->add_subcommand("list", "List sites with their scope and usage");
  list->add_option("--dir", *ldir, "Operator data folder")->required();
  list->add_flag("--json", *ljson, "Print one JSON document");
  list->callback([=, &exit_code = reg.exit_code] {
    auto pki = Pki::open(*ldir, false);
    if (!pki.ok()) {
      exit_code = report(pki.error());
      return;
    }
    auto& store = pki.value()->store();
    auto sites = store.sites().sites();
    if (!sites.ok()) {
      exit_code = report(sites.error());
      return;
    }
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& s : sites.value()) doc.push_back(site_doc(store, s));
    if (*ljson) {
      print_json(doc);
      return;
    }
    for (const auto& s : doc) {
      std::cout << s["site"].get<std::string>() << "\t" << s["status"].get<std::string>()
                << (s.value("ca_revoked", false) ? " (CA revoked)" : "") << "\t"
                << s["devices_imported"].get<std::uint64_t>() << "/" << s.value("quota", 0ull) << " devices\t"
                << s.value("serial_ranges", nlohmann::json::array()).dump() << "\tuntil " << s.value("not_after", "")
                << "\n";
    }
  });

  auto sdir = std::make_shared<std::string>();
  auto sid = std::make_shared<std::string>();
  auto sjson = std::make_shared<bool>(false);
  auto* show = site->add_subcommand("show", "Show one site's scope, stations and usage");
  show->add_option("--dir", *sdir, "Operator data folder")->required();
  show->add_option("id", *sid, "Site id")->required();
  show->add_flag("--json", *sjson, "Print one JSON document");
  show->callback([=, &exit_code = reg.exit_code] {
    auto pki = Pki::open(*sdir, false);
    if (!pki.ok()) {
      exit_code = report(pki.error());
      return;
    }
    auto& store = pki.value()->store();
    auto s = store.sites().find_site(*sid);
    if (!s.ok() || !s.value()) {
      exit_code = report(s.ok() ? make_error(ErrorCode::NotFound, "no site '" + *sid + "'") : s.error());
      return;
    }
    const auto doc = site_doc(store, *s.value());
    if (*sjson) {
      print_json(doc);
      return;
    }
    for (const auto& [k, v] : doc.items()) {
      if (k == "station_detail") continue;
      std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    }
    for (const auto& st : doc["station_detail"]) std::cout << "station: " << st.dump() << "\n";
  });

  auto rdir = std::make_shared<std::string>();
  auto rid = std::make_shared<std::string>();
  auto rbundle = std::make_shared<std::string>();
  auto* retire = site->add_subcommand("retire", "End a site's authority (its devices stay valid)");
  retire->add_option("--dir", *rdir, "Operator data folder")->required();
  retire->add_option("id", *rid, "Site id")->required();
  retire->add_option("--final-bundle", *rbundle,
                     "Import the station's final ledger bundle first (repeatable per station)");
  retire->callback([=, &exit_code = reg.exit_code] {
    auto pki = Pki::open(*rdir);
    if (!pki.ok()) {
      exit_code = report(pki.error());
      return;
    }
    if (!rbundle->empty()) {
      const int rc = import_and_report(*pki.value(), *rbundle, false);
      if (rc != kExitOk && rc != kExitFindings) {
        exit_code = rc;
        return;
      }
    }
    auto& store = pki.value()->store();
    base::SystemClock clock;
    const auto when = clock.now();
    auto s = store.sites().retire_site(*rid, when);
    if (!s.ok()) {
      exit_code = report(s.error());
      return;
    }
    audit::Event ev;
    ev.actor = "cli:site-retire";
    ev.action = "site-retire";
    ev.detail = "site " + *rid + " retired; its devices stay valid; later issuance is flagged at import";
    auto rec = pki.value()->audit().append(ev);
    auto fin = pki.value()->finish();
    if (!rec.ok() || !fin.ok()) {
      exit_code = report(!rec.ok() ? rec.error() : fin.error());
      return;
    }
    std::cout << "site " << *rid << " retired at " << base::format_rfc3339(when)
              << "; certificates it issued stay valid, issuance dated later is flagged at import\n";
  });
}

}  // namespace hallmark::app
