// IdevidVerifier: authenticates a device from the certificate chain it presented
// in the TLS handshake (raw DER, leaf first), by our own path validation over
// pkix::Certificate against configured trust anchors — our factory and site CAs
// and imported third-party manufacturer IDevID CAs (or, for renewal, the
// runtime CA that issued the LDevID). Pure: no store, no network.
//
// Checks: those of validate_path() (attest/path_validator.h), and the leaf's
// subject carries serialNumber (2.5.4.5).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "attest/path_validator.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"
#include "pkix/certificate.h"

namespace hallmark::attest {

// The authenticated device.
struct DeviceIdentity {
  std::string serial_number;     // subject serialNumber of the leaf
  std::string issuer;            // printable issuer name of the leaf
  std::string anchor;            // TrustAnchor::name the path ended at
  std::string leaf_serial;       // upper-case hex certificate serial
  std::string leaf_fingerprint;  // lower-case hex SHA-256 of the leaf DER
  pkix::Certificate leaf;
  // The certificates of the path below the anchor, leaf first (for revocation checks).
  std::vector<pkix::Certificate> path;
  // The anchor's own certificate: a site CA revoked after compromise is still
  // an anchor until the server restarts, so the RA checks it too.
  std::optional<pkix::Certificate> anchor_certificate;
};

class IdevidVerifier {
 public:
  IdevidVerifier(std::vector<TrustAnchor> anchors, const base::Clock& clock)
      : m_anchors(std::move(anchors)), m_clock(clock) {}

  // Unauthenticated with a reason a client can act on: no certificate, not
  // DER, no path to a trust anchor, expired or not yet valid, bad signature,
  // not an end-entity certificate, unknown critical extension, no serialNumber.
  [[nodiscard]] base::Result<DeviceIdentity> verify(const std::vector<base::Bytes>& chain_der) const;

  std::size_t anchor_count() const { return m_anchors.size(); }
  // The certificate of the anchor called `name` ("factory", "site:<id>"), if configured.
  const pkix::Certificate* anchor(std::string_view name) const {
    for (const auto& a : m_anchors) {
      if (a.name == name) return &a.certificate;
    }
    return nullptr;
  }

 private:
  std::vector<TrustAnchor> m_anchors;
  const base::Clock& m_clock;
};

}  // namespace hallmark::attest
