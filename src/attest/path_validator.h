// Certificate path validation shared by the verifiers of this module: from a
// leaf and the intermediates presented with it to one of the configured trust
// anchors, over pkix::Certificate (RFC 5280 §6 reduced to what device and
// secure-element chains need).
//
// Checks: the signature of each link; validity at `now` of every certificate
// (an 802.1AR no-expiry notAfter 99991231235959Z never expires); intermediates
// and anchors are CAs (basicConstraints cA) with keyCertSign when keyUsage is
// present and a pathLenConstraint that the path respects; the leaf is not a CA;
// a critical extension we do not process is refused (RFC 5280 §6.1.4 (o)).
#pragma once

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "pkix/certificate.h"

namespace hallmark::attest {

struct TrustAnchor {
  std::string name;  // where it came from: "factory", "site-1", "imported:acme.pem"
  pkix::Certificate certificate;
};

inline constexpr std::size_t kMaxPath = 8;

// How errors name the chain: "client certificate" / "trusted device CA" for a
// TLS client, "SE attestation certificate" / "configured SE vendor root" for SE evidence.
struct PathWording {
  std::string leaf = "client certificate";
  std::string anchor = "trusted device CA";
};

struct ValidatedPath {
  const TrustAnchor* anchor = nullptr;  // points into the anchors passed in
  // The certificates of the path below the anchor, leaf first.
  std::vector<pkix::Certificate> path;
};

// `presented` is leaf first, then intermediates in any order (at most
// kMaxPath). Unauthenticated with a readable reason when no valid path exists.
[[nodiscard]] base::Result<ValidatedPath> validate_path(const std::vector<pkix::Certificate>& presented,
                                                        const std::vector<TrustAnchor>& anchors, base::TimePoint now,
                                                        const PathWording& wording = {});

// "'<subject>'" for messages.
std::string describe(const pkix::Certificate& c);

}  // namespace hallmark::attest
