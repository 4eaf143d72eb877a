// The CA hierarchy's settings as plain values (app reads them from TOML; the
// defaults here are the embedded defaults of `hallmark init`).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/crypto.h"

namespace hallmark::ca {

struct CaSettings {
  std::string common_name;
  base::KeyAlgorithm key = base::KeyAlgorithm::EcP256;
  int validity_years = 5;
  std::optional<int> path_len;
};

struct Product {
  std::string vendor;   // O= of the IDevID subject
  std::string hw_type;  // HardwareModuleName hwType OID
};

struct ProfileSettings {
  int ldevid_validity_days = 90;
  std::vector<std::string> ldevid_ext_key_usage = {"clientAuth"};
  int tls_server_validity_days = 365;
  // Delegated OCSP responder certificates are short-lived: they cannot be
  // checked for revocation (ocsp-nocheck), so they expire instead.
  int ocsp_signing_validity_days = 30;
};

struct Settings {
  std::string organization = "Hallmark Example Devices";
  std::string country = "US";
  CaSettings root{"Hallmark Root CA", base::KeyAlgorithm::EcP384, 30, std::nullopt};
  CaSettings factory{"Hallmark Factory CA", base::KeyAlgorithm::EcP256, 25, 1};
  CaSettings runtime{"Hallmark Runtime CA", base::KeyAlgorithm::EcP256, 5, 0};
  ProfileSettings profiles;
  std::map<std::string, Product> products;
  // hwType for products missing from the table (a warning is printed when used).
  std::string default_hw_type = "1.3.6.1.4.1.65535.1.1";
  // "http://pki.example.com": runtime profiles then carry the CRL distribution
  // point <url>/crl/<issuer>.crl and the OCSP AIA <url>/ocsp. Empty: neither.
  std::string revocation_base_url;
};

}  // namespace hallmark::ca
