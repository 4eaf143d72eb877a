// `hallmark revoke` (a certificate, all of a device's, a factory batch),
// `hallmark crl issue` and `hallmark site revoke` (a compromised site CA).
#include <iostream>

#include "app/cli.h"
#include "app/pki.h"
#include "app/revocation.h"
#include "app/station.h"
#include "base/files.h"
#include "pkix/certificate.h"
#include "store/sqlite/sqlite_factory_store.h"
#include "store/sqlite/sqlite_revocation_store.h"

namespace hallmark::app {

namespace {

using base::ErrorCode;
using base::make_error;

struct RevokeOptions {
  std::string dir, serial, device, batch, reason = "unspecified", comment, by;
  bool json = false;
};

std::string actor_of(const std::string& by) {
  if (!by.empty()) return "cli:" + by;
  const char* user = std::getenv("USER");
  return "cli:" + std::string(user != nullptr ? user : "admin");
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

nlohmann::json outcome_doc(const RevokeOutcome& o, ca::RevocationReason reason) {
  nlohmann::json crls = nlohmann::json::array();
  for (const auto& c : o.crls) crls.push_back({{"issuer", c.issuer}, {"crl_number", c.number}});
  return {{"revoked", o.newly_revoked},
          {"serials", o.serials},
          {"reason", std::string(ca::to_string(reason))},
          {"reason_code", static_cast<int>(reason)},
          {"crls", crls},
          {"notes", o.notes}};
}

void print_outcome(const RevokeOutcome& o, ca::RevocationReason reason) {
  std::cout << "revoked " << o.newly_revoked << " certificate(s)";
  if (o.newly_revoked != o.serials.size())
    std::cout << " (" << o.serials.size() - o.newly_revoked << " already revoked)";
  std::cout << ", reason " << ca::to_string(reason) << "\n";
  for (const auto& c : o.crls) std::cout << "CRL of " << c.issuer << " re-issued: cRLNumber " << c.number << "\n";
  for (const auto& n : o.notes) std::cout << "note: " << n << "\n";
}

int run_revoke(const RevokeOptions& o) {
  const int given = !o.serial.empty() + !o.device.empty() + !o.batch.empty();
  if (given != 1) {
    std::cerr << "error: give exactly one of --serial, --device or --batch\n";
    return kExitUsage;
  }
  auto reason = ca::parse_revocation_reason(o.reason);
  if (!reason.ok()) return report(reason.error());
  auto pki_r = Pki::open(o.dir);
  if (!pki_r.ok()) return report(pki_r.error());
  auto& pki = *pki_r.value();
  std::vector<std::string> serials;
  std::string detail;
  if (!o.serial.empty()) {
    serials.push_back(upper(o.serial));
    detail = "certificate " + serials.front();
  } else if (!o.device.empty()) {
    auto entries = pki.ledger().by_device(o.device);
    if (!entries.ok()) return report(entries.error());
    for (const auto& e : entries.value()) {
      if (e.status != ca::CertificateStatus::Pending) serials.push_back(e.serial);
    }
    if (serials.empty())
      return report(make_error(ErrorCode::NotFound, "no certificates for device '" + o.device + "'"));
    detail = "every certificate of device " + o.device;
  } else {
    auto found = pki.revocations().batch_serials(o.batch);
    if (!found.ok()) return report(found.error());
    serials = std::move(found).value();
    if (serials.empty()) return report(make_error(ErrorCode::NotFound, "no certificates from batch '" + o.batch + "'"));
    detail = "factory batch " + o.batch;
  }
  auto outcome = revoke_and_publish(pki, serials, reason.value(), actor_of(o.by), o.comment, "revoke", detail);
  if (!outcome.ok()) return report(outcome.error());
  if (auto f = pki.finish(); !f.ok()) return report(f.error());
  if (o.json) {
    print_json(outcome_doc(outcome.value(), reason.value()));
  } else {
    print_outcome(outcome.value(), reason.value());
  }
  return kExitOk;
}

int run_site_revoke(const RevokeOptions& o, const std::string& id) {
  auto reason = ca::parse_revocation_reason(o.reason);
  if (!reason.ok()) return report(reason.error());
  auto pki_r = Pki::open(o.dir);
  if (!pki_r.ok()) return report(pki_r.error());
  auto& pki = *pki_r.value();
  auto issuer = pki.issuer_registry().find_issuer("site:" + id);
  if (!issuer.ok()) return report(issuer.error());
  if (!issuer.value())
    return report(make_error(ErrorCode::NotFound, "no site '" + id + "' (see `hallmark site list`)"));
  auto cert = pkix::Certificate::parse(issuer.value()->cert_der);
  if (!cert.ok()) return report(cert.error());
  auto devices = pki.store().imports().devices_with_origin("site:" + id + "/");
  if (!devices.ok()) return report(devices.error());
  const auto detail = "site " + id + " CA " + cert->serial_hex() + " (compromise): " + std::to_string(devices.value()) +
                      " device IDevID(s) stop authenticating";
  auto outcome =
      revoke_and_publish(pki, {cert->serial_hex()}, reason.value(), actor_of(o.by), o.comment, "site-revoke", detail);
  if (!outcome.ok()) return report(outcome.error());
  // Its authority ends too, so that a later import flags anything dated after now.
  if (issuer.value()->status == "active") {
    if (auto r = pki.store().sites().retire_site(id, base::SystemClock().now()); !r.ok()) return report(r.error());
  }
  if (auto f = pki.finish(); !f.ok()) return report(f.error());
  if (o.json) {
    auto doc = outcome_doc(outcome.value(), reason.value());
    doc["site"] = id;
    doc["site_ca_serial"] = cert->serial_hex();
    doc["devices_affected"] = devices.value();
    print_json(doc);
    return kExitOk;
  }
  std::cout << "site " << id << ": CA " << cert->serial_hex() << " revoked (" << ca::to_string(reason.value()) << "); "
            << devices.value() << " device(s) affected: their IDevIDs no longer authenticate at runtime\n";
  for (const auto& c : outcome->crls)
    std::cout << "CRL of " << c.issuer << " re-issued: cRLNumber " << c.number << "\n";
  return kExitOk;
}

int run_crl_issue(const std::string& dir, const std::string& issuer, const std::string& out, bool json) {
  auto pki_r = Pki::open(dir);
  if (!pki_r.ok()) return report(pki_r.error());
  auto& pki = *pki_r.value();
  auto crl = issue_crl_now(pki, issuer);
  if (!crl.ok()) return report(crl.error());
  const std::filesystem::path file =
      out.empty() ? pki.paths().dir / "crl" / (file_name_of(issuer) + ".crl") : std::filesystem::path(out);
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  if (auto w = base::write_file(file, base::ByteView(crl->der), 0644); !w.ok()) return report(w.error());
  if (auto f = pki.finish(); !f.ok()) return report(f.error());
  if (json) {
    print_json({{"issuer", issuer},
                {"crl_number", crl->number},
                {"this_update", base::format_rfc3339(crl->this_update)},
                {"next_update", base::format_rfc3339(crl->next_update)},
                {"file", file.string()}});
  } else {
    std::cout << "CRL of " << issuer << ": cRLNumber " << crl->number << ", next update "
              << base::format_rfc3339(crl->next_update) << ", written to " << file.string() << "\n";
  }
  return kExitOk;
}

constexpr char kSiteUpdateFormat[] = "hallmark-site-update-v1";

// `site update`: the operator's revocations of a site's certificates, signed
// with the factory CA key (which signed the station's authorization too).
int run_site_update(const std::string& dir, const std::string& id, const std::string& out) {
  auto pki_r = Pki::open(dir);
  if (!pki_r.ok()) return report(pki_r.error());
  auto& pki = *pki_r.value();
  auto revoked = pki.revocations().revoked_by("site:" + id);
  if (!revoked.ok()) return report(revoked.error());
  auto site = pki.issuer_registry().find_issuer("site:" + id);
  if (!site.ok()) return report(site.error());
  if (!site.value()) return report(make_error(ErrorCode::NotFound, "no site '" + id + "' (see `hallmark site list`)"));
  auto factory = pki.authority("factory");
  if (!factory.ok()) return report(factory.error());
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : revoked.value()) {
    list.push_back(
        {{"serial", r.serial},
         {"reason", static_cast<int>(r.reason)},
         {"revoked_at", std::chrono::duration_cast<std::chrono::seconds>(r.revoked_at.time_since_epoch()).count()}});
  }
  // A revoked site CA (`site revoke`) travels too: the station then stops issuing.
  nlohmann::json site_ca_revoked = nullptr;
  if (auto cert = pkix::Certificate::parse(site.value()->cert_der); cert.ok()) {
    auto state = pki.revocations().state("factory", cert->serial_hex());
    if (state.ok() && state->revocation) {
      site_ca_revoked = {{"serial", cert->serial_hex()},
                         {"revoked_at", base::format_rfc3339(state->revocation->revoked_at)}};
    }
  }
  base::SystemClock clock;
  auto statement_doc = nlohmann::json{{"format", kSiteUpdateFormat},
                                      {"site", id},
                                      {"created", base::format_rfc3339(clock.now())},
                                      {"revocations", list}};
  if (!site_ca_revoked.is_null()) statement_doc["site_ca_revoked"] = site_ca_revoked;
  const auto statement = statement_doc.dump();
  auto sig = factory->signer->sign(base::view(statement));
  if (!sig.ok()) return report(sig.error());
  const nlohmann::json doc = {{"statement", statement},
                              {"algorithm", std::string(base::to_string(factory->signer->signature_algorithm()))},
                              {"signature", base::base64_encode(sig.value())}};
  if (auto w = base::write_file(out, doc.dump() + "\n", 0644); !w.ok()) return report(w.error());
  if (auto f = pki.finish(); !f.ok()) return report(f.error());
  std::cout << "site update for " << id << ": " << list.size() << " revocation(s) in " << out
            << "; at the site: hallmark station sync --dir <station> " << out << "\n";
  if (!site_ca_revoked.is_null()) {
    std::cout << "note: the site CA " << site_ca_revoked["serial"].get<std::string>()
              << " is revoked (site revoke): the update says so, and a station that syncs it stops issuing\n";
  }
  return kExitOk;
}

// `station sync`: applies a site update at the station (after checking the
// factory CA's signature), so that its next export signs the site CA's CRL.
int run_station_sync(const std::string& dir, const std::string& file) {
  auto st = Station::open(dir);
  if (!st.ok()) return report(st.error());
  auto& station = *st.value();
  auto data = base::read_file(file, 16 << 20);
  if (!data.ok()) return report(data.error());
  const auto doc = nlohmann::json::parse(base::to_string(data.value()), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("statement") || !doc["statement"].is_string()) {
    return report(make_error(ErrorCode::Malformed, "'" + file + "' is not a site update (`hallmark site update`)"));
  }
  const auto statement = doc["statement"].get<std::string>();
  auto alg = base::parse_signature_algorithm(doc.value("algorithm", ""));
  auto sig = base::base64_decode(doc.value("signature", ""));
  auto factory = pkix::Certificate::parse(base::view(station.factory_pem()));
  if (!alg.ok() || !sig.ok() || !factory.ok() ||
      !base::verify_signature(factory->subject_public_key_info(), alg.value(), base::view(statement), sig.value())
           .ok()) {
    return report(make_error(ErrorCode::BadSignature, "the site update is not signed by the factory CA"));
  }
  const auto s = nlohmann::json::parse(statement, nullptr, false);
  if (s.is_discarded() || s.value("format", "") != kSiteUpdateFormat || !s.contains("revocations") ||
      !s["revocations"].is_array()) {
    return report(
        make_error(ErrorCode::Malformed, "the site update's statement is not " + std::string(kSiteUpdateFormat)));
  }
  if (s.value("site", "") != station.scope().site) {
    return report(make_error(ErrorCode::PolicyDenied, "the site update is for site '" + s.value("site", "") +
                                                          "', this station belongs to '" + station.scope().site + "'"));
  }
  store::SqliteRevocationStore revocations(station.database(), station.audit_store());
  std::size_t applied = 0, unknown = 0;
  for (const auto& r : s["revocations"]) {
    const auto serial = r.value("serial", "");
    auto reason = ca::parse_revocation_reason(std::to_string(r.value("reason", 0)));
    auto entry = station.ledger().find(serial);
    if (!reason.ok() || !entry.ok() || !entry.value()) {
      ++unknown;  // issued by another station of the site
      continue;
    }
    audit::Event ev;
    ev.actor = station.scope().station_id();
    ev.channel = audit::Channel::Factory;
    ev.action = "revocation-sync";
    ev.cert_serial = serial;
    ev.detail = "revoked by the operator (" + std::string(ca::to_string(reason.value())) + ")";
    const base::TimePoint at{std::chrono::seconds(r.value("revoked_at", std::int64_t{0}))};
    auto n = revocations.revoke({serial}, reason.value(), at, "operator", "site update", ev);
    if (!n.ok()) return report(n.error());
    applied += n.value();
  }
  if (s.contains("site_ca_revoked") && s["site_ca_revoked"].is_object()) {
    const auto& r = s["site_ca_revoked"];
    auto site_ca = pkix::Certificate::parse(station.scope().site_ca_der);
    if (site_ca.ok() && r.value("serial", "") == site_ca->serial_hex()) {
      const nlohmann::json marker = {{"site_ca_serial", site_ca->serial_hex()},
                                     {"revoked_at", r.value("revoked_at", "")}};
      if (auto w = base::write_file(station.paths().site_revoked(), marker.dump() + "\n", 0644); !w.ok()) {
        return report(w.error());
      }
      std::cout << "station " << station.scope().station_id() << ": the operator revoked the site CA "
                << site_ca->serial_hex() << "; this station now refuses every line (site_revoked)\n";
    }
  }
  if (auto f = station.finish(); !f.ok()) return report(f.error());
  std::cout << "station " << station.scope().station_id() << ": " << applied << " new revocation(s) applied, "
            << unknown << " not issued here; the next `station export` carries the site CA's CRL\n";
  return kExitOk;
}

}  // namespace

void add_revoke_commands(CommandRegistry reg) {
  const char* reasons =
      "RFC 5280 reason name or number: unspecified (0), keyCompromise (1), cACompromise (2), affiliationChanged "
      "(3), superseded (4), cessationOfOperation (5), certificateHold (6), privilegeWithdrawn (9), aACompromise (10)";
  auto o = std::make_shared<RevokeOptions>();
  auto* revoke = reg.app.add_subcommand("revoke", "Revoke a certificate, all of a device's, or a factory batch");
  revoke->add_option("--dir", o->dir, "Data folder")->required();
  revoke->add_option("--serial", o->serial, "Certificate serial (hex, as `openssl x509 -serial` prints it)");
  revoke->add_option("--device", o->device, "Device serial number: every certificate of that device");
  revoke->add_option("--batch", o->batch, "Factory batch id: every certificate provisioned in that batch");
  revoke->add_option("--reason", o->reason, reasons);
  revoke->add_option("--comment", o->comment, "Why (recorded in the audit trail)");
  revoke->add_option("--by", o->by, "Who (recorded in the audit trail; default $USER)");
  revoke->add_flag("--json", o->json, "Print one JSON document");
  revoke->footer(
      "Takes effect at once everywhere: OCSP and EST authentication of a running `hallmark serve` (any node) "
      "refuse within a second; the CRLs of the issuers concerned are re-issued when their key is here.");
  revoke->callback([o, &exit_code = reg.exit_code] { exit_code = run_revoke(*o); });

  auto cdir = std::make_shared<std::string>();
  auto cissuer = std::make_shared<std::string>();
  auto cout_file = std::make_shared<std::string>();
  auto cjson = std::make_shared<bool>(false);
  auto* crl = reg.app.add_subcommand("crl", "Certificate revocation lists");
  crl->require_subcommand(1);
  auto* issue = crl->add_subcommand("issue", "Sign the next CRL of an issuer whose key is here (e.g. the root)");
  issue->add_option("--dir", *cdir, "Data folder")->required();
  issue->add_option("--issuer", *cissuer, "Issuer name (see `hallmark ca list`)")->required();
  issue->add_option("--out", *cout_file, "DER file to write (default <dir>/crl/<issuer>.crl)");
  issue->add_flag("--json", *cjson, "Print one JSON document");
  issue->callback([=, &exit_code = reg.exit_code] { exit_code = run_crl_issue(*cdir, *cissuer, *cout_file, *cjson); });

  auto s = std::make_shared<RevokeOptions>();
  s->reason = "cACompromise";
  auto sid = std::make_shared<std::string>();
  if (auto* site = reg.app.get_subcommand_ptr("site").get(); site != nullptr) {
    auto* srevoke = site->add_subcommand(
        "revoke", "Compromise: revoke a site CA; every IDevID it issued stops authenticating (unlike retire)");
    srevoke->add_option("--dir", s->dir, "Operator data folder")->required();
    srevoke->add_option("id", *sid, "Site id")->required();
    srevoke->add_option("--reason", s->reason, std::string(reasons) + "; default cACompromise");
    srevoke->add_option("--comment", s->comment, "Why (recorded in the audit trail)");
    srevoke->add_option("--by", s->by, "Who (recorded in the audit trail; default $USER)");
    srevoke->add_flag("--json", s->json, "Print one JSON document");
    srevoke->callback([s, sid, &exit_code = reg.exit_code] { exit_code = run_site_revoke(*s, *sid); });

    auto udir = std::make_shared<std::string>();
    auto uid = std::make_shared<std::string>();
    auto uout = std::make_shared<std::string>();
    auto* update = site->add_subcommand(
        "update", "Write the operator's revocations of a site's certificates for its stations (signed)");
    update->add_option("--dir", *udir, "Operator data folder")->required();
    update->add_option("id", *uid, "Site id")->required();
    update->add_option("--out", *uout, "File to carry to the site")->required();
    update->callback([=, &exit_code = reg.exit_code] { exit_code = run_site_update(*udir, *uid, *uout); });
  }
  if (auto* station = reg.app.get_subcommand_ptr("station").get(); station != nullptr) {
    auto ydir = std::make_shared<std::string>();
    auto yfile = std::make_shared<std::string>();
    auto* sync = station->add_subcommand(
        "sync", "Apply a site update from the operator; the next export signs the site CA's CRL");
    sync->add_option("--dir", *ydir, "Station folder")->required();
    sync->add_option("update", *yfile, "File from `hallmark site update`")->required();
    sync->callback([=, &exit_code = reg.exit_code] { exit_code = run_station_sync(*ydir, *yfile); });
  }
}

}  // namespace hallmark::app
