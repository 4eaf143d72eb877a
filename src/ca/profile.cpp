#include "ca/profile.h"

#include "pkix/der.h"
#include "pkix/extensions.h"
#include "pkix/oid.h"

namespace hallmark::ca {

using audit::Channel;
using base::ErrorCode;
using base::make_error;

base::Result<std::string> ext_key_usage_oid(const std::string& name) {
  if (name == "clientAuth") return std::string(pkix::oid::kClientAuth);
  if (name == "serverAuth") return std::string(pkix::oid::kServerAuth);
  if (name == "ocspSigning") return std::string(pkix::oid::kOcspSigning);
  if (name == "cmcRA") return std::string(pkix::oid::kCmcRa);
  if (pkix::der::oid(name).ok()) return name;
  return make_error(
      ErrorCode::InvalidArgument,
      "unknown extended key usage '" + name + "': use clientAuth, serverAuth, ocspSigning, cmcRA or a dotted OID");
}

base::Result<ProfileRegistry> ProfileRegistry::build(const ProfileSettings& s) {
  using std::chrono::days;
  if (s.ldevid_validity_days < 1 || s.ldevid_validity_days > 3650) {
    return make_error(ErrorCode::InvalidArgument, "profiles.ldevid.validity_days must be 1..3650");
  }
  if (s.tls_server_validity_days < 1 || s.tls_server_validity_days > 825) {
    return make_error(ErrorCode::InvalidArgument, "profiles.tls-server.validity_days must be 1..825");
  }
  ProfileRegistry r;
  const std::set<Channel> admin_only{Channel::Admin};

  Profile root;
  root.name = "root";
  root.kind = ProfileKind::Root;
  root.is_ca = true;
  root.key_usage = pkix::kKeyCertSign | pkix::kCrlSign;
  root.channels = admin_only;
  r.m_profiles[root.name] = root;

  Profile inter;
  inter.name = "intermediate";
  inter.kind = ProfileKind::Intermediate;
  inter.is_ca = true;
  inter.key_usage = pkix::kKeyCertSign | pkix::kCrlSign;
  inter.channels = admin_only;
  r.m_profiles[inter.name] = inter;

  // IEEE 802.1AR IDevID (standards.md §1.2): factory-only, never from the runtime channel.
  Profile idevid;
  idevid.name = "idevid";
  idevid.kind = ProfileKind::IDevID;
  idevid.no_expiry = true;
  idevid.key_usage = pkix::kDigitalSignature;
  idevid.requires_device_serial = true;
  idevid.hardware_module_name = true;
  idevid.channels = {Channel::Factory, Channel::Admin};
  r.m_profiles[idevid.name] = idevid;

  Profile ldevid;
  ldevid.name = "ldevid";
  ldevid.kind = ProfileKind::LDevID;
  ldevid.validity = days(s.ldevid_validity_days);
  ldevid.key_usage = pkix::kDigitalSignature;
  ldevid.requires_device_serial = true;
  for (const auto& eku : s.ldevid_ext_key_usage) {
    HM_TRY(auto oid, ext_key_usage_oid(eku));
    ldevid.ext_key_usage.push_back(oid);
  }
  ldevid.channels = {Channel::Runtime, Channel::Factory, Channel::Admin};
  ldevid.revocation_pointers = true;
  r.m_profiles[ldevid.name] = ldevid;

  Profile tls;
  tls.name = "tls-server";
  tls.kind = ProfileKind::TlsServer;
  tls.validity = days(s.tls_server_validity_days);
  tls.key_usage = pkix::kDigitalSignature;
  tls.ext_key_usage = {pkix::oid::kServerAuth};
  tls.channels = {Channel::Runtime, Channel::Admin};
  tls.revocation_pointers = true;
  r.m_profiles[tls.name] = tls;

  // A delegated OCSP responder (RFC 6960 §4.2.2.2): issued directly by the CA
  // it answers for, OCSPSigning only, ocsp-nocheck, short-lived.
  if (s.ocsp_signing_validity_days < 1 || s.ocsp_signing_validity_days > 398) {
    return make_error(ErrorCode::InvalidArgument, "profiles.ocsp-signing.validity_days must be 1..398");
  }
  Profile ocsp;
  ocsp.name = "ocsp-signing";
  ocsp.kind = ProfileKind::OcspSigning;
  ocsp.validity = days(s.ocsp_signing_validity_days);
  ocsp.key_usage = pkix::kDigitalSignature;
  ocsp.ext_key_usage = {pkix::oid::kOcspSigning};
  ocsp.ocsp_nocheck = true;
  // Factory: a station certifies its site's responder key (the operator's) at init.
  ocsp.channels = {Channel::Admin, Channel::Factory};
  r.m_profiles[ocsp.name] = ocsp;
  return r;
}

base::Result<const Profile*> ProfileRegistry::find(const std::string& name) const {
  auto it = m_profiles.find(name);
  if (it == m_profiles.end()) {
    std::string known;
    for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    return make_error(ErrorCode::NotFound, "unknown profile '" + name + "' (known: " + known + ")");
  }
  return &it->second;
}

std::vector<std::string> ProfileRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : m_profiles) out.push_back(name);
  return out;
}

}  // namespace hallmark::ca
