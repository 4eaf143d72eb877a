#include "factory/authorization.h"

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/files.h"
#include "pkix/public_key.h"

namespace hallmark::factory {

using base::ErrorCode;
using base::make_error;
using nlohmann::json;

std::string_view to_string(Attestation a) {
  return a == Attestation::None ? "none" : "required";
}

base::Result<Attestation> parse_attestation(std::string_view s) {
  if (s == "none") return Attestation::None;
  if (s == "required") return Attestation::Required;
  return make_error(ErrorCode::InvalidArgument, "attestation must be 'required' or 'none'");
}

std::string Authorization::station_id() const {
  return "site:" + site + "/station:" + std::to_string(station);
}

bool Authorization::allows_profile(std::string_view p) const {
  for (const auto& x : profiles) {
    if (x == p) return true;
  }
  return false;
}

std::string encode_statement(const Authorization& a) {
  json products = json::object();
  for (const auto& [name, p] : a.products) products[name] = {{"vendor", p.vendor}, {"hw_type", p.hw_type}};
  json ranges = json::array();
  for (const auto& r : a.serial_ranges) ranges.push_back(r.to_string());
  json doc = {
      {"format", kAuthorizationFormat},
      {"site", a.site},
      {"station", a.station},
      {"stations", a.stations},
      {"issuer", a.issuer},
      {"site_ca", base::base64_encode(a.site_ca_der)},
      {"profiles", a.profiles},
      {"products", products},
      {"serial_ranges", ranges},
      {"quota", a.quota},
      {"not_before", base::format_rfc3339(a.not_before)},
      {"not_after", base::format_rfc3339(a.not_after)},
      {"attestation", std::string(to_string(a.attestation))},
      {"organization", a.organization},
      {"country", a.country},
      {"profile_settings",
       {{"ldevid_validity_days", a.profile_settings.ldevid_validity_days},
        {"ldevid_ext_key_usage", a.profile_settings.ldevid_ext_key_usage},
        {"tls_server_validity_days", a.profile_settings.tls_server_validity_days}}},
      {"station_key", base::base64_encode(a.station_key_spki)},
      {"ocsp_key", base::base64_encode(a.ocsp_key_spki)},
      {"issued_at", base::format_rfc3339(a.issued_at)},
  };
  // Optional (added with SE attestation): absent when empty, so older statements re-encode unchanged.
  if (!a.se_roots.empty()) {
    json roots = json::array();
    for (const auto& r : a.se_roots) roots.push_back(base::base64_encode(r));
    doc["se_roots"] = roots;
  }
  // Optional (added with TPM attestation), likewise.
  if (!a.tpm_roots.empty()) {
    json roots = json::array();
    for (const auto& r : a.tpm_roots) roots.push_back(base::base64_encode(r));
    doc["tpm_roots"] = roots;
  }
  return doc.dump();  // nlohmann sorts object keys: the encoding is canonical
}

base::Result<Authorization> decode_statement(std::string_view statement) {
  const auto doc = json::parse(statement, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorCode::Malformed, "the site authorization is not a JSON object");
  }
  Authorization a;
  std::string field;
  try {
    field = "format";
    if (doc.at("format").get<std::string>() != kAuthorizationFormat) {
      return make_error(ErrorCode::Unsupported, "unknown site authorization format");
    }
    field = "site";
    a.site = doc.at("site").get<std::string>();
    field = "station";
    a.station = doc.at("station").get<int>();
    a.stations = doc.at("stations").get<int>();
    field = "issuer";
    a.issuer = doc.at("issuer").get<std::string>();
    field = "site_ca";
    HM_TRY(a.site_ca_der, base::base64_decode(doc.at("site_ca").get<std::string>()));
    field = "profiles";
    a.profiles = doc.at("profiles").get<std::vector<std::string>>();
    field = "products";
    for (const auto& [name, p] : doc.at("products").items()) {
      a.products[name] = {p.at("vendor").get<std::string>(), p.at("hw_type").get<std::string>()};
    }
    field = "serial_ranges";
    for (const auto& r : doc.at("serial_ranges")) {
      HM_TRY(auto range, SerialRange::parse(r.get<std::string>()));
      a.serial_ranges.push_back(range);
    }
    field = "quota";
    a.quota = doc.at("quota").get<std::uint64_t>();
    field = "not_before";
    HM_TRY(a.not_before, base::parse_date(doc.at("not_before").get<std::string>()));
    field = "not_after";
    HM_TRY(a.not_after, base::parse_date(doc.at("not_after").get<std::string>()));
    field = "attestation";
    HM_TRY(a.attestation, parse_attestation(doc.at("attestation").get<std::string>()));
    field = "se_roots";
    if (doc.contains("se_roots")) {
      for (const auto& r : doc.at("se_roots")) {
        HM_TRY(auto der, base::base64_decode(r.get<std::string>()));
        a.se_roots.push_back(std::move(der));
      }
    }
    field = "tpm_roots";
    if (doc.contains("tpm_roots")) {
      for (const auto& r : doc.at("tpm_roots")) {
        HM_TRY(auto der, base::base64_decode(r.get<std::string>()));
        a.tpm_roots.push_back(std::move(der));
      }
    }
    field = "organization";
    a.organization = doc.at("organization").get<std::string>();
    a.country = doc.at("country").get<std::string>();
    field = "profile_settings";
    const auto& ps = doc.at("profile_settings");
    a.profile_settings.ldevid_validity_days = ps.at("ldevid_validity_days").get<int>();
    a.profile_settings.ldevid_ext_key_usage = ps.at("ldevid_ext_key_usage").get<std::vector<std::string>>();
    a.profile_settings.tls_server_validity_days = ps.at("tls_server_validity_days").get<int>();
    field = "station_key";
    HM_TRY(a.station_key_spki, base::base64_decode(doc.at("station_key").get<std::string>()));
    field = "ocsp_key";
    HM_TRY(a.ocsp_key_spki, base::base64_decode(doc.at("ocsp_key").get<std::string>()));
    field = "issued_at";
    HM_TRY(a.issued_at, base::parse_date(doc.at("issued_at").get<std::string>()));
  } catch (const json::exception&) {
    return make_error(ErrorCode::Malformed,
                      "the site authorization's field '" + field + "' is missing or has the wrong type");
  }
  return a;
}

base::Result<base::Bytes> signature_to_der(base::SignatureAlgorithm alg, base::ByteView raw) {
  if (alg == base::SignatureAlgorithm::EcdsaSha256 || alg == base::SignatureAlgorithm::EcdsaSha384) {
    return base::ecdsa_raw_to_der(raw);
  }
  return base::Bytes(raw.begin(), raw.end());
}

base::Status verify_der_signature(base::ByteView spki_der, base::ByteView message, base::ByteView der_signature) {
  HM_TRY(auto key, pkix::PublicKey::from_spki_der(spki_der));
  HM_TRY(auto key_alg, key.algorithm());
  const auto alg = base::default_signature_algorithm(key_alg);
  base::Bytes raw(der_signature.begin(), der_signature.end());
  if (alg == base::SignatureAlgorithm::EcdsaSha256 || alg == base::SignatureAlgorithm::EcdsaSha384) {
    auto converted = base::ecdsa_der_to_raw(der_signature, key_alg == base::KeyAlgorithm::EcP384 ? 48 : 32);
    if (!converted.ok()) return make_error(ErrorCode::BadSignature, "the signature is not a valid ECDSA signature");
    raw = std::move(converted).value();
  }
  return key.verify(alg, message, raw);
}

base::Result<SignedAuthorization> sign_authorization(const Authorization& a, const keys::Signer& factory_key) {
  SignedAuthorization out;
  out.statement = encode_statement(a);
  HM_TRY(auto raw, factory_key.sign(base::view(out.statement)));
  HM_TRY(out.signature, signature_to_der(factory_key.signature_algorithm(), raw));
  out.value = a;
  return out;
}

base::Result<SignedAuthorization> verify_authorization(std::string statement, base::ByteView signature,
                                                       const pkix::Certificate& factory_ca) {
  HM_TRY(auto factory_key, factory_ca.public_key());
  auto verified = verify_der_signature(factory_key.spki_der(), base::view(statement), signature);
  if (!verified.ok()) {
    return make_error(ErrorCode::BadSignature,
                      "the site authorization is not signed by the factory CA (" + verified.error().detail + ")");
  }
  HM_TRY(auto a, decode_statement(statement));
  HM_TRY(auto site_ca, pkix::Certificate::parse(a.site_ca_der));
  if (!site_ca.verify_signature(factory_key).ok()) {
    return make_error(ErrorCode::BadSignature, "the site CA in the authorization is not signed by the factory CA");
  }
  return SignedAuthorization{std::move(statement), base::Bytes(signature.begin(), signature.end()), std::move(a)};
}

base::Status write_authorization(const std::filesystem::path& dir, const SignedAuthorization& a) {
  HM_CHECK(base::write_file(dir / kStatementFile, a.statement, 0644));
  return base::write_file(dir / kSignatureFile, base::ByteView(a.signature), 0644);
}

base::Result<std::pair<std::string, base::Bytes>> read_authorization(const std::filesystem::path& dir) {
  auto statement = base::read_file(dir / kStatementFile, 1 << 20);
  if (!statement.ok()) {
    return make_error(ErrorCode::NotFound, "'" + dir.string() + "' holds no " + kStatementFile);
  }
  HM_TRY(auto sig, base::read_file(dir / kSignatureFile, 1 << 16));
  return std::pair{base::to_string(statement.value()), std::move(sig)};
}

}  // namespace hallmark::factory
