// `hallmark station serve`: the station's per-device operation over HTTPS for
// the line's MES. POST /factory/v1/provision with one manifest line as the JSON
// body; the answer is the line's result plus the device bundle. Authenticated
// by a bearer token from station.toml ([serve] token) or HALLMARK_STATION_TOKEN.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "app/station.h"
#include "base/rng.h"
#include "factory/provisioning.h"
#include "http/message.h"
#include "http/server.h"

namespace hallmark::app {

inline constexpr char kProvisionPath[] = "/factory/v1/provision";
// POST with an empty body: {"nonce": hex, "expires": RFC 3339} for SE evidence (factory/evidence.h).
inline constexpr char kChallengePath[] = "/factory/v1/challenge";
// POST {"evidence": {"type":"tpm",...} without "activated_secret", "csr"?: PEM or base64 DER}:
// the station verifies the TPM evidence and answers 201 {"credential_blob", "encrypted_secret"
// (base64 TPM2B_ID_OBJECT / TPM2B_ENCRYPTED_SECRET), "expires"} for TPM2_ActivateCredential.
inline constexpr char kTpmActivatePath[] = "/factory/v1/tpm/activate";

class StationServer {
 public:
  struct Options {
    std::string listen = "127.0.0.1:8444";
    std::string tls_cert_file;  // PEM chain, leaf first (the line's own TLS certificate)
    std::string tls_key_file;   // its unencrypted PEM key
    std::string token;          // required: no unauthenticated issuance
  };
  static base::Result<std::unique_ptr<StationServer>> start(Station& station, Options options);
  std::uint16_t port() const { return m_server->port(); }
  void stop() { m_server->stop(); }

  // The handler (tests call it in-process too).
  http::Response handle(const http::Request& request);

 private:
  StationServer(Station& station, std::string token, ca::SigningAuthority authority);
  Station& m_station;
  std::string m_token;
  base::SystemClock m_clock;
  base::SystemRng m_rng;
  std::unique_ptr<factory::ProvisioningEngine> m_engine;
  std::unique_ptr<attest::TpmAttestationVerifier> m_tpm;
  http::Response tpm_activate(const http::Request& request);
  std::mutex m_mutex;  // the engine decides one device at a time (like a batch, in arrival order)
  std::unique_ptr<http::Server> m_server;
};

// HTTP status for a refused line: 400 for a malformed request, 409 for a
// conflict with an earlier device, 403 for everything the authorization forbids.
int status_for_reason(const std::string& reason_code);

}  // namespace hallmark::app
