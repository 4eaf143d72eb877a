#include "app/revocation.h"

#include <filesystem>
#include <set>

#include "base/files.h"
#include "base/log.h"
#include "pkix/oid.h"

namespace hallmark::app {

using base::ErrorCode;
using base::make_error;
namespace fs = std::filesystem;

namespace {

constexpr char kCrlType[] = "application/pkix-crl";

fs::path responder_cert_path(const Pki& pki, const std::string& issuer) {
  return pki.paths().dir / "ocsp" / (file_name_of(issuer) + ".pem");
}

std::string responder_key_name(const std::string& issuer) {
  return "ocsp-" + file_name_of(issuer);
}

// A responder certificate on file that still fits: issued by `ca`, for `spki`,
// with more than a third of its life left.
std::optional<pkix::Certificate> usable_responder(const fs::path& file, const pkix::Certificate& ca,
                                                  const base::Bytes& spki, base::TimePoint now) {
  if (!fs::exists(file)) return std::nullopt;
  auto data = base::read_file(file, 1 << 20);
  if (!data.ok()) return std::nullopt;
  auto cert = pkix::Certificate::parse(data.value());
  if (!cert.ok() || cert->subject_public_key_info() != spki || cert->issuer() != ca.subject()) return std::nullopt;
  const auto nb = cert->not_before().time;
  const auto na = cert->not_after().time;
  if (now + (na - nb) / 3 > na) return std::nullopt;
  return std::move(cert).value();
}

}  // namespace

bool holds_key(const ca::IssuerRecord& issuer) {
  return issuer.key_ref.rfind("offline:", 0) != 0;
}

std::string file_name_of(const std::string& issuer) {
  std::string out = issuer;
  for (auto& c : out) {
    if (c == ':' || c == '/') c = '-';
  }
  return out;
}

ca::CrlSettings crl_settings_for(const Pki& pki, const ca::IssuerRecord& issuer) {
  ca::CrlSettings s;
  s.validity = std::chrono::hours(pki.config().revocation.crl_validity_hours);
  auto cert = pkix::Certificate::parse(issuer.cert_der);
  if (cert.ok()) {
    const auto bc = cert->basic_constraints();
    // pathLen 0: it cannot certify CAs, so the CRL covers end-entity
    // certificates only (RFC 5280 §5.2.5). Other issuers' certificates carry
    // no CRL distribution point, so an IDP naming one would put them out of
    // the CRL's scope; their CRLs go without IDP.
    s.only_user_certs = bc && bc->path_len && *bc->path_len == 0;
  }
  if (issuer.role == "runtime" && !pki.config().ca.revocation_base_url.empty()) {
    s.distribution_point = pki.config().ca.revocation_base_url + "/crl/" + issuer.name + ".crl";
  }
  return s;
}

base::Result<ca::StoredCrl> issue_crl_now(Pki& pki, const std::string& issuer) {
  HM_TRY(auto record, pki.issuer_registry().find_issuer(issuer));
  if (!record) return make_error(ErrorCode::NotFound, "no issuer named '" + issuer + "' (see `hallmark ca list`)");
  if (!holds_key(*record)) {
    return make_error(ErrorCode::PolicyDenied,
                      "the key of '" + issuer + "' stays at its site: the station signs that CRL at its next export");
  }
  HM_TRY(auto authority, pki.authority(issuer));
  base::SystemClock clock;
  return ca::issue_crl(authority, pki.revocations(), clock, crl_settings_for(pki, *record));
}

base::Result<RevokeOutcome> revoke_and_publish(Pki& pki, const std::vector<std::string>& serials,
                                               ca::RevocationReason reason, const std::string& actor,
                                               const std::string& comment, const std::string& action,
                                               const std::string& detail) {
  RevokeOutcome out;
  std::set<std::string> issuers;
  for (const auto& s : serials) {
    HM_TRY(auto entry, pki.ledger().find(s));
    if (!entry) return make_error(ErrorCode::NotFound, "certificate " + s + " is not in the ledger");
    issuers.insert(entry->issuer);
  }
  audit::Event ev;
  ev.actor = actor;
  ev.channel = audit::Channel::Admin;
  ev.action = action;
  ev.cert_serial = serials.size() == 1 ? serials.front() : "";
  ev.detail = detail + "; reason " + std::string(ca::to_string(reason)) + (comment.empty() ? "" : "; " + comment);
  base::SystemClock clock;
  HM_TRY(out.newly_revoked, pki.revocations().revoke(serials, reason, clock.now(), actor, comment, ev));
  pki.audit().note_appended(1);
  out.serials = serials;
  for (const auto& name : issuers) {
    HM_TRY(auto record, pki.issuer_registry().find_issuer(name));
    if (!record) continue;
    if (!holds_key(*record)) {
      out.notes.push_back(
          "the CRL of '" + name +
          "' is signed at its site at the next station export; until then runtime authentication refuses "
          "at once and OCSP answers revoked (a `hallmark serve` started before the site was created "
          "answers its OCSP only after a restart)");
      continue;
    }
    if (record->status != "active") continue;
    HM_TRY(auto crl, issue_crl_now(pki, name));
    out.crls.push_back(std::move(crl));
  }
  return out;
}

base::Result<std::vector<proto::ocsp::ResponderAuthority>> ensure_responders(Pki& pki,
                                                                             std::vector<std::string>& messages) {
  std::vector<proto::ocsp::ResponderAuthority> out;
  auto* keys = pki.key_store();
  if (keys == nullptr) return make_error(ErrorCode::Internal, "keys were not loaded");
  HM_TRY(auto issuers, pki.issuers());
  base::SystemClock clock;
  std::error_code ec;
  fs::create_directories(pki.paths().dir / "ocsp", ec);
  for (const auto& i : issuers) {
    HM_TRY(auto ca_cert, pkix::Certificate::parse(i.cert_der));
    const auto file = responder_cert_path(pki, i.name);
    HM_TRY(const auto key_name, Pki::key_reference(pki.config(), responder_key_name(i.name)));
    HM_TRY(const bool have_key, keys->exists(key_name));
    if (!holds_key(i)) {
      // A site CA: the station certified our responder key; `ledger import` filed it.
      if (!fs::exists(file) || !have_key) continue;
      HM_TRY(auto signer, keys->load(key_name));
      // The station cannot renew it from here: used until it expires.
      auto cert = usable_responder(file, ca_cert, signer->public_key_der(), base::TimePoint{});
      if (cert && cert->not_after().time <= clock.now()) {
        messages.push_back("the OCSP responder certificate of " + i.name + " in " + file.string() +
                           " has expired; the site's station must certify the responder key again");
        continue;
      }
      if (!cert) {
        messages.push_back("ignoring " + file.string() + ": not a responder certificate of " + i.name);
        continue;
      }
      out.push_back({i.name, ca_cert, *cert, std::shared_ptr<const keys::Signer>(std::move(signer))});
      continue;
    }
    if (i.status != "active") continue;
    std::unique_ptr<keys::Signer> signer;
    if (have_key) {
      HM_TRY(signer, keys->load(key_name));
    } else {
      HM_TRY(signer, keys->generate(key_name, base::KeyAlgorithm::EcP256));
    }
    auto cert = usable_responder(file, ca_cert, signer->public_key_der(), clock.now());
    if (!cert) {
      HM_TRY(auto authority, pki.authority(i.name));
      ca::IssuanceRequest req;
      req.profile = "ocsp-signing";
      req.public_key_der = signer->public_key_der();
      req.common_name = ca_cert.subject().get(pkix::oid::kCommonName).value_or(i.name) + " OCSP Responder";
      req.actor = "serve";
      req.origin = "ocsp-responder:" + i.name;
      HM_TRY(auto issued, pki.issuer().issue(authority, req));
      HM_CHECK(base::write_file(file, issued.certificate.pem(), 0644));
      messages.push_back("issued OCSP responder " + issued.certificate.serial_hex() + " for " + i.name + " into " +
                         file.string());
      cert = issued.certificate;
    }
    out.push_back({i.name, ca_cert, *cert, std::shared_ptr<const keys::Signer>(std::move(signer))});
  }
  return out;
}

base::Result<std::unique_ptr<RevocationService>> RevocationService::start(Pki& pki,
                                                                          std::vector<std::string>& messages) {
  std::unique_ptr<RevocationService> s(new RevocationService(pki));
  HM_TRY(auto responders, ensure_responders(pki, messages));
  proto::ocsp::ResponderConfig rc;
  rc.validity = std::chrono::minutes(pki.config().revocation.ocsp_validity_minutes);
  rc.refresh_margin = std::min<std::chrono::seconds>(std::chrono::minutes(5), rc.validity / 4);
  HM_TRY(s->m_ocsp, proto::ocsp::OcspResponder::create(std::move(responders), pki.revocations(), s->m_clock, rc));
  HM_TRY(auto issuers, pki.issuers());
  for (const auto& i : issuers) {
    s->m_issuers[i.name] = i;
    // Loaded here, on the main thread, so that handler threads only read. The
    // root is offline: its CRL comes from `crl issue --issuer root` on the
    // ceremony host, and `serve` serves the latest one stored.
    if (holds_key(i) && i.status == "active" && i.role != "root") {
      HM_TRY(auto authority, pki.authority(i.name));
      s->m_signing[i.name] = authority;
    }
  }
  for (const auto& [name, _] : s->m_signing) (void)s->crl(name);  // the first CRLs, when due
  s->m_scheduler = std::thread([raw = s.get()] { raw->schedule(); });
  return s;
}

RevocationService::~RevocationService() {
  {
    std::lock_guard lock(m_stop_mutex);
    m_stopping = true;
  }
  m_stop_cv.notify_all();
  if (m_scheduler.joinable()) m_scheduler.join();
}

void RevocationService::schedule() {
  // Re-issue on schedule (RFC 5280 §5.1.2.5: a new CRL before nextUpdate, even
  // when nothing changed) and after revocations made by other processes.
  std::unique_lock lock(m_stop_mutex);
  while (!m_stop_cv.wait_for(lock, std::chrono::seconds(30), [this] { return m_stopping; })) {
    lock.unlock();
    for (const auto& [name, _] : m_signing) (void)crl(name);
    lock.lock();
  }
}

http::Response RevocationService::crl(const std::string& name) {
  auto it = m_issuers.find(name);
  if (it == m_issuers.end()) {
    return http::Response::text(404, "no issuer named '" + name +
                                         "' (this server reads its issuers at start: restart `hallmark serve` after "
                                         "`site create`)\n");
  }
  std::lock_guard lock(m_crl_mutex);
  auto latest = m_pki.revocations().latest_crl(name);
  auto generation = m_pki.revocations().generation();
  if (!latest.ok() || !generation.ok()) return http::Response::text(503, "the revocation store is unavailable\n");
  auto signing = m_signing.find(name);
  if (signing != m_signing.end()) {
    const auto now = m_clock.now();
    const auto reissue = std::chrono::hours(m_pki.config().revocation.crl_reissue_hours);
    const auto& l = latest.value();
    if (!l || l->generation < generation.value() || now >= l->this_update + reissue || now >= l->next_update) {
      auto fresh = ca::issue_crl(signing->second, m_pki.revocations(), m_clock, crl_settings_for(m_pki, it->second));
      if (!fresh.ok()) {
        base::log::error("crl: cannot issue the CRL of " + name + ": " + fresh.error().describe());
        if (!l) return http::Response::text(503, "no CRL for '" + name + "' yet\n");
      } else {
        latest = std::optional<ca::StoredCrl>(std::move(fresh).value());
      }
    }
  }
  if (!latest.value()) {
    return http::Response::text(404, "no CRL for '" + name +
                                         "' yet: a site's station signs it at its next export; the root's comes "
                                         "from `hallmark crl issue --issuer root`\n");
  }
  return http::Response::with(200, kCrlType, base::to_string(latest.value()->der));
}

std::optional<http::Response> RevocationService::handle(const http::Request& request) {
  if (request.path == "/ocsp" || request.path.rfind("/ocsp/", 0) == 0) return m_ocsp->handle(request);
  if (request.path.rfind("/crl/", 0) != 0) return std::nullopt;
  if (request.method != "GET" && request.method != "HEAD") return http::Response::text(405, "CRLs take GET\n");
  std::string name = request.path.substr(5);
  // Issuer names may contain ':' (site:<id>), sent as is or as %3A.
  for (auto pos = name.find("%3A"); pos != std::string::npos; pos = name.find("%3A")) name.replace(pos, 3, ":");
  for (auto pos = name.find("%3a"); pos != std::string::npos; pos = name.find("%3a")) name.replace(pos, 3, ":");
  if (name.size() < 5 || name.substr(name.size() - 4) != ".crl") {
    return http::Response::text(404, "CRLs are at /crl/<issuer>.crl (see `hallmark ca list`)\n");
  }
  return crl(name.substr(0, name.size() - 4));
}

}  // namespace hallmark::app
