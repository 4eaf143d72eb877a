// Revocation wiring (composition root): revoking through the store and
// re-issuing the CRLs concerned, the operator's delegated OCSP responders, and
// the HTTP side of `serve` (/crl/<issuer>.crl, /ocsp) with its CRL schedule.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/pki.h"
#include "ca/revocation.h"
#include "http/message.h"
#include "proto/ocsp/ocsp_responder.h"

namespace hallmark::app {

// Whether this folder holds the issuer's key (site CAs' keys stay at the site).
bool holds_key(const ca::IssuerRecord& issuer);
// "site:acme" -> "site-acme": file and key names.
std::string file_name_of(const std::string& issuer);

// The CRL settings for an issuer: validity from [revocation], the distribution
// point when base_url is set and the issuer's certificates carry it (runtime
// profiles), onlyContainsUserCerts for issuers with pathLen 0.
ca::CrlSettings crl_settings_for(const Pki& pki, const ca::IssuerRecord& issuer);
// Signs and stores the next CRL of `issuer` (which must be one whose key we hold).
base::Result<ca::StoredCrl> issue_crl_now(Pki& pki, const std::string& issuer);

struct RevokeOutcome {
  std::size_t newly_revoked = 0;
  std::vector<std::string> serials;
  std::vector<ca::StoredCrl> crls;  // re-issued
  std::vector<std::string> notes;   // e.g. a site CA's CRL waits for the station
};
// Revokes `serials` (one transaction, audited with `actor`, `comment` and
// `detail`) and re-issues the CRL of every issuer concerned whose key we hold.
base::Result<RevokeOutcome> revoke_and_publish(Pki& pki, const std::vector<std::string>& serials,
                                               ca::RevocationReason reason, const std::string& actor,
                                               const std::string& comment, const std::string& action,
                                               const std::string& detail);

// The delegated responder for every issuer we can answer for: root, factory,
// runtime (certificate <dir>/ocsp/<issuer>.pem issued here with key
// ocsp-<issuer>, renewed when a third of its life is left), and each site
// whose responder certificate the station issued (<dir>/ocsp/site-<id>.pem,
// stored by `ledger import`, key ocsp-site-<id> generated at `site create`).
base::Result<std::vector<proto::ocsp::ResponderAuthority>> ensure_responders(Pki& pki,
                                                                             std::vector<std::string>& messages);

// /crl/<issuer>.crl and /ocsp for `serve` (TLS and plain-HTTP listeners).
class RevocationService {
 public:
  static base::Result<std::unique_ptr<RevocationService>> start(Pki& pki, std::vector<std::string>& messages);
  ~RevocationService();

  // The response when the request is for /crl/ or /ocsp, else nullopt.
  std::optional<http::Response> handle(const http::Request& request);
  std::size_t responder_count() const { return m_ocsp->authority_count(); }

 private:
  RevocationService(Pki& pki) : m_pki(pki) {}
  http::Response crl(const std::string& issuer);
  void schedule();

  Pki& m_pki;
  base::SystemClock m_clock;
  std::unique_ptr<proto::ocsp::OcspResponder> m_ocsp;
  std::map<std::string, ca::IssuerRecord> m_issuers;
  std::map<std::string, ca::SigningAuthority> m_signing;  // issuers whose key we hold
  std::mutex m_crl_mutex;
  std::map<std::string, ca::StoredCrl> m_crls;  // latest per issuer
  std::mutex m_stop_mutex;
  std::condition_variable m_stop_cv;
  bool m_stopping = false;
  std::thread m_scheduler;
};

}  // namespace hallmark::app
