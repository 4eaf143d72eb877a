#include "attest/idevid_verifier.h"

#include <set>

#include "pkix/extensions.h"
#include "pkix/oid.h"

namespace hallmark::attest {

using base::ErrorCode;
using base::make_error;

namespace {

constexpr std::size_t kMaxPath = 8;

base::Error refuse(std::string why) {
  return make_error(ErrorCode::Unauthenticated, std::move(why));
}

// Extensions whose semantics this verifier processes or that carry no
// constraint on the path (RFC 5280 §6.1.4 (o): a critical one we do not know fails).
bool understood(const std::string& oid) {
  static const std::set<std::string> known = {pkix::oid::kBasicConstraints,     pkix::oid::kKeyUsage,
                                              pkix::oid::kExtKeyUsage,          pkix::oid::kSubjectAltName,
                                              pkix::oid::kSubjectKeyIdentifier, pkix::oid::kAuthorityKeyIdentifier,
                                              pkix::oid::kCertificatePolicies};
  return known.contains(oid);
}

std::string who(const pkix::Certificate& c) {
  return "'" + c.subject().to_string() + "'";
}

base::Status check_common(const pkix::Certificate& c, base::TimePoint now) {
  const auto nb = c.not_before();
  const auto na = c.not_after();
  if (now < nb.time) return refuse("certificate " + who(c) + " is not yet valid (notBefore " + nb.text + ")");
  // 802.1AR: 99991231235959Z means "no well-defined expiration".
  if (!na.no_expiry && now > na.time) return refuse("certificate " + who(c) + " expired (notAfter " + na.text + ")");
  for (const auto& e : c.extensions()) {
    if (e.critical && !understood(e.oid)) {
      return refuse("certificate " + who(c) + " carries an unsupported critical extension " + e.oid);
    }
  }
  return {};
}

// `below` = number of CA certificates between this CA and the leaf.
base::Status check_ca(const pkix::Certificate& c, std::size_t below) {
  const auto bc = c.basic_constraints();
  if (!bc || !bc->ca) return refuse("certificate " + who(c) + " issues certificates but is not a CA");
  if (const auto ku = c.key_usage(); ku && (*ku & pkix::kKeyCertSign) == 0) {
    return refuse("CA " + who(c) + " lacks keyUsage keyCertSign");
  }
  if (bc->path_len && static_cast<std::size_t>(*bc->path_len) < below) {
    return refuse("CA " + who(c) + " has pathLen " + std::to_string(*bc->path_len) + " but " + std::to_string(below) +
                  " CA certificate(s) follow it");
  }
  return {};
}

bool signed_by(const pkix::Certificate& child, const pkix::Certificate& parent) {
  if (!(child.issuer() == parent.subject())) return false;
  auto key = parent.public_key();
  return key.ok() && child.verify_signature(key.value()).ok();
}

}  // namespace

base::Result<DeviceIdentity> IdevidVerifier::verify(const std::vector<base::Bytes>& chain_der) const {
  if (chain_der.empty()) {
    return refuse("no client certificate: present the device's IDevID (or current LDevID) in the TLS handshake");
  }
  if (chain_der.size() > kMaxPath) return refuse("client certificate chain is longer than " + std::to_string(kMaxPath));
  std::vector<pkix::Certificate> presented;
  for (const auto& der : chain_der) {
    auto c = pkix::Certificate::parse(der);
    if (!c.ok()) return refuse("client certificate chain does not decode: " + c.error().detail);
    presented.push_back(std::move(c.value()));
  }
  const auto now = m_clock.now();
  const auto& leaf = presented.front();
  HM_CHECK(check_common(leaf, now));
  if (leaf.is_ca()) return refuse("client certificate " + who(leaf) + " is a CA certificate, not a device identity");

  std::vector<pkix::Certificate> path{leaf};
  const TrustAnchor* anchor = nullptr;
  while (anchor == nullptr) {
    const auto& current = path.back();
    for (const auto& a : m_anchors) {
      if (signed_by(current, a.certificate)) {
        anchor = &a;
        break;
      }
    }
    if (anchor != nullptr) break;
    if (path.size() >= kMaxPath)
      return refuse("no path to a trusted anchor within " + std::to_string(kMaxPath) + " certificates");
    const pkix::Certificate* next = nullptr;
    for (std::size_t i = 1; i < presented.size(); ++i) {
      if (!presented[i].is_self_issued() && signed_by(current, presented[i])) {
        next = &presented[i];
        break;
      }
    }
    if (next == nullptr) {
      return refuse("client certificate " + who(leaf) + " (issuer '" + current.issuer().to_string() +
                    "') does not chain to a trusted device CA");
    }
    HM_CHECK(check_common(*next, now));
    HM_CHECK(check_ca(*next, path.size() - 1));
    path.push_back(*next);
  }
  HM_CHECK(check_common(anchor->certificate, now));
  HM_CHECK(check_ca(anchor->certificate, path.size() - 1));

  auto serial = leaf.subject().get(pkix::oid::kSerialNumber);
  if (!serial || serial->empty()) {
    return refuse("client certificate " + who(leaf) + " has no serialNumber in its subject (802.1AR)");
  }
  DeviceIdentity id{*serial,
                    leaf.issuer().to_string(),
                    anchor->name,
                    leaf.serial_hex(),
                    base::hex_encode(leaf.fingerprint_sha256()),
                    leaf,
                    std::move(path),
                    anchor->certificate};
  return id;
}

}  // namespace hallmark::attest
