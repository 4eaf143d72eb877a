#include "attest/path_validator.h"

#include <set>

#include "pkix/extensions.h"
#include "pkix/oid.h"

namespace hallmark::attest {

using base::ErrorCode;
using base::make_error;

namespace {

base::Error refuse(std::string why) {
  return make_error(ErrorCode::Unauthenticated, std::move(why));
}

// Extensions whose semantics this validator processes or that carry no
// constraint on the path (RFC 5280 §6.1.4 (o): a critical one we do not know fails).
bool understood(const std::string& oid) {
  static const std::set<std::string> known = {pkix::oid::kBasicConstraints,     pkix::oid::kKeyUsage,
                                              pkix::oid::kExtKeyUsage,          pkix::oid::kSubjectAltName,
                                              pkix::oid::kSubjectKeyIdentifier, pkix::oid::kAuthorityKeyIdentifier,
                                              pkix::oid::kCertificatePolicies};
  return known.contains(oid);
}

base::Status check_common(const pkix::Certificate& c, base::TimePoint now) {
  const auto nb = c.not_before();
  const auto na = c.not_after();
  if (now < nb.time) return refuse("certificate " + describe(c) + " is not yet valid (notBefore " + nb.text + ")");
  // 802.1AR: 99991231235959Z means "no well-defined expiration".
  if (!na.no_expiry && now > na.time)
    return refuse("certificate " + describe(c) + " expired (notAfter " + na.text + ")");
  for (const auto& e : c.extensions()) {
    if (e.critical && !understood(e.oid)) {
      return refuse("certificate " + describe(c) + " carries an unsupported critical extension " + e.oid);
    }
  }
  return {};
}

// `below` = number of CA certificates between this CA and the leaf.
base::Status check_ca(const pkix::Certificate& c, std::size_t below) {
  const auto bc = c.basic_constraints();
  if (!bc || !bc->ca) return refuse("certificate " + describe(c) + " issues certificates but is not a CA");
  if (const auto ku = c.key_usage(); ku && (*ku & pkix::kKeyCertSign) == 0) {
    return refuse("CA " + describe(c) + " lacks keyUsage keyCertSign");
  }
  if (bc->path_len && static_cast<std::size_t>(*bc->path_len) < below) {
    return refuse("CA " + describe(c) + " has pathLen " + std::to_string(*bc->path_len) + " but " +
                  std::to_string(below) + " CA certificate(s) follow it");
  }
  return {};
}

bool signed_by(const pkix::Certificate& child, const pkix::Certificate& parent) {
  if (!(child.issuer() == parent.subject())) return false;
  auto key = parent.public_key();
  return key.ok() && child.verify_signature(key.value()).ok();
}

}  // namespace

std::string describe(const pkix::Certificate& c) {
  return "'" + c.subject().to_string() + "'";
}

base::Result<ValidatedPath> validate_path(const std::vector<pkix::Certificate>& presented,
                                          const std::vector<TrustAnchor>& anchors, base::TimePoint now,
                                          const PathWording& wording) {
  if (presented.empty()) return refuse("no " + wording.leaf);
  if (presented.size() > kMaxPath) {
    return refuse(wording.leaf + " chain is longer than " + std::to_string(kMaxPath));
  }
  const auto& leaf = presented.front();
  HM_CHECK(check_common(leaf, now));
  if (leaf.is_ca()) {
    return refuse(wording.leaf + " " + describe(leaf) + " is a CA certificate, not a device identity");
  }
  ValidatedPath out;
  out.path.push_back(leaf);
  while (out.anchor == nullptr) {
    const auto& current = out.path.back();
    for (const auto& a : anchors) {
      if (signed_by(current, a.certificate)) {
        out.anchor = &a;
        break;
      }
    }
    if (out.anchor != nullptr) break;
    if (out.path.size() >= kMaxPath)
      return refuse("no path to a trusted anchor within " + std::to_string(kMaxPath) + " certificates");
    const pkix::Certificate* next = nullptr;
    for (std::size_t i = 1; i < presented.size(); ++i) {
      if (!presented[i].is_self_issued() && signed_by(current, presented[i])) {
        next = &presented[i];
        break;
      }
    }
    if (next == nullptr) {
      // Name where the walk stopped: the leaf's own issuer, or the last CA of the presented chain.
      const std::string where = out.path.size() == 1 ? "its issuer '" + current.issuer().to_string() + "' is not one"
                                                     : "the chain presented ends at '" + current.subject().to_string() +
                                                           "', issued by '" + current.issuer().to_string() + "'";
      return refuse(wording.leaf + " " + describe(leaf) + " does not chain to a " + wording.anchor + " (" + where +
                    ")");
    }
    HM_CHECK(check_common(*next, now));
    HM_CHECK(check_ca(*next, out.path.size() - 1));
    out.path.push_back(*next);
  }
  HM_CHECK(check_common(out.anchor->certificate, now));
  HM_CHECK(check_ca(out.anchor->certificate, out.path.size() - 1));
  return out;
}

}  // namespace hallmark::attest
