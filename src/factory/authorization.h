// Site authorization: the operator's signed statement that scopes what one
// station of a site may issue (site, station, site CA, profiles, products,
// serial ranges, quota, validity window, attestation requirement) and binds the
// station's bundle key and the site's OCSP responder key.
//
// Wire form: `authorization.json` holds the exact statement octets (compact JSON,
// keys sorted) and `authorization.sig` the signature over them by the factory CA
// key, DER-encoded as `openssl dgst -sha256 -sign` makes it, so anyone can check it:
//   openssl dgst -sha256 -verify factory-pub.pem -signature authorization.sig authorization.json
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"
#include "ca/settings.h"
#include "factory/serial_range.h"
#include "keys/signer.h"
#include "pkix/certificate.h"

namespace hallmark::factory {

inline constexpr char kAuthorizationFormat[] = "hallmark-site-authorization/1";

enum class Attestation { Required, None };
std::string_view to_string(Attestation a);
base::Result<Attestation> parse_attestation(std::string_view s);

struct Authorization {
  std::string site;  // site id, e.g. "acme-sz"
  int station = 1;   // 1..stations
  int stations = 1;
  std::string issuer;                           // issuer name of the site CA, "site:<id>"
  base::Bytes site_ca_der;                      // the site CA certificate
  std::vector<std::string> profiles;            // e.g. idevid, ldevid
  std::map<std::string, ca::Product> products;  // allowed products with vendor + hwType
  std::vector<SerialRange> serial_ranges;       // this station's share
  std::uint64_t quota = 0;                      // this station's share
  base::TimePoint not_before;
  base::TimePoint not_after;
  Attestation attestation = Attestation::Required;
  std::vector<base::Bytes> se_roots;   // DER; SE vendor roots trusted for SE attestation (optional field)
  std::vector<base::Bytes> tpm_roots;  // DER; TPM manufacturer roots trusted for EK certificates (optional field)
  std::string organization;            // O= of LDevID subjects
  std::string country;
  ca::ProfileSettings profile_settings;
  base::Bytes station_key_spki;  // signs the station's audit checkpoints and ledger bundles
  base::Bytes ocsp_key_spki;     // the site's OCSP responder key (held by the operator)
  base::TimePoint issued_at;
  // Not part of the signed statement: set by the station when a verified site
  // update (`station sync`) says the operator revoked the site CA. Says why.
  std::optional<std::string> revoked;

  // "site:<site>/station:<n>"
  std::string station_id() const;
  bool allows_profile(std::string_view p) const;
  bool in_window(base::TimePoint t) const { return t >= not_before && t <= not_after; }
};

// The statement octets (compact JSON, sorted keys) that the operator signs.
std::string encode_statement(const Authorization& a);
// Parses statement octets (no signature check). Malformed with the field at fault.
base::Result<Authorization> decode_statement(std::string_view statement);

struct SignedAuthorization {
  std::string statement;  // exact octets
  base::Bytes signature;  // DER (ECDSA) or natural (RSA, Ed25519)
  Authorization value;    // decoded statement
};

// Signs with the factory CA key (a keys::Signer; the key never leaves it).
base::Result<SignedAuthorization> sign_authorization(const Authorization& a, const keys::Signer& factory_key);
// Checks the signature with the factory CA certificate and that the site CA in
// the statement is signed by it. BadSignature / Malformed otherwise.
base::Result<SignedAuthorization> verify_authorization(std::string statement, base::ByteView signature,
                                                       const pkix::Certificate& factory_ca);

// File names inside an authorization folder and a station folder.
inline constexpr char kStatementFile[] = "authorization.json";
inline constexpr char kSignatureFile[] = "authorization.sig";

base::Status write_authorization(const std::filesystem::path& dir, const SignedAuthorization& a);
// Reads both files (no verification).
base::Result<std::pair<std::string, base::Bytes>> read_authorization(const std::filesystem::path& dir);

// Signature encodings shared with ledger bundles: a Signer's raw output <-> the
// DER form third-party tools produce.
base::Result<base::Bytes> signature_to_der(base::SignatureAlgorithm alg, base::ByteView raw);
base::Status verify_der_signature(base::ByteView spki_der, base::ByteView message, base::ByteView der_signature);

}  // namespace hallmark::factory
