// The runtime server's wiring (composition root for `hallmark serve`): the
// server's own TLS certificate, the device trust anchors, the RA and the EST
// front end on top of http::Server.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/pki.h"
#include "attest/idevid_verifier.h"
#include "base/clock.h"
#include "http/server.h"
#include "proto/est/est_service.h"
#include "ra/enrollment_service.h"

namespace hallmark::app {

struct TlsIdentity {
  std::string chain_pem;             // leaf then the issuing CA
  std::shared_ptr<evp_pkey_st> key;  // our encrypted key file, decrypted in memory
  std::string key_pem;               // or a configured unencrypted PEM key
  std::string origin;                // what a person should know (issued now, reused, configured)
};

// The server certificate: configured ([server] tls_cert/tls_key), or the one in
// <dir>/server/tls-server.pem when it still covers `listen` and localhost and
// is valid for 30 more days, else a new one from the runtime CA (tls-server
// profile) for a key kept encrypted in <dir>/keys/tls-server.key.
base::Result<TlsIdentity> ensure_tls_identity(Pki& pki, const std::string& listen);

// IDevID trust anchors: active factory and site CAs from the issuer registry,
// plus imported manufacturer CA certificates ([est] idevid_anchors and every
// *.pem in idevid_anchor_dir).
base::Result<std::vector<attest::TrustAnchor>> idevid_anchors(Pki& pki);

class EstServer {
 public:
  // Requests `other` answers (e.g. /crl/, /ocsp) never reach EST.
  using OtherRoutes = std::function<std::optional<http::Response>(const http::Request&)>;
  static base::Result<std::unique_ptr<EstServer>> start(Pki& pki, const std::string& listen, OtherRoutes other = {});
  std::uint16_t port() const { return m_server->port(); }
  std::size_t anchor_count() const { return m_devices->anchor_count(); }
  void stop() { m_server->stop(); }

 private:
  EstServer() = default;
  base::SystemClock m_clock;
  std::unique_ptr<attest::IdevidVerifier> m_devices;
  std::unique_ptr<attest::IdevidVerifier> m_renewals;
  std::unique_ptr<ra::EnrollmentService> m_enrollment;
  std::unique_ptr<proto::est::EstService> m_est;
  std::unique_ptr<http::Server> m_server;
};

}  // namespace hallmark::app
