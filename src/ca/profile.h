// Certificate profiles: immutable recipes the CA builds certificates from
// (never by copying the CSR). Validated once when the registry is built.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "audit/record.h"
#include "base/result.h"
#include "ca/settings.h"

namespace hallmark::ca {

enum class ProfileKind { Root, Intermediate, IDevID, LDevID, TlsServer, OcspSigning };

struct Profile {
  std::string name;
  ProfileKind kind = ProfileKind::LDevID;
  std::chrono::seconds validity{0};
  bool no_expiry = false;  // 802.1AR: notAfter 99991231235959Z
  bool is_ca = false;
  std::optional<int> path_len;
  std::uint16_t key_usage = 0;
  std::vector<std::string> ext_key_usage;  // dotted OIDs
  bool requires_device_serial = false;
  bool hardware_module_name = false;  // SAN otherName HardwareModuleName
  std::set<audit::Channel> channels;  // who may request it
  bool ocsp_nocheck = false;          // id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1)
  // CRL distribution point and OCSP AIA, when Settings::revocation_base_url is set.
  bool revocation_pointers = false;
};

class ProfileRegistry {
 public:
  // The built-in profiles (root, intermediate, idevid, ldevid, tls-server, ocsp-signing)
  // configured by `settings`. InvalidArgument for an unusable setting.
  static base::Result<ProfileRegistry> build(const ProfileSettings& settings);

  // NotFound with the list of known profiles.
  base::Result<const Profile*> find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, Profile> m_profiles;
};

// "clientAuth" / "serverAuth" / "ocspSigning" or a dotted OID -> dotted OID.
base::Result<std::string> ext_key_usage_oid(const std::string& name);

}  // namespace hallmark::ca
