#include "pkix/certificate.h"

#include <openssl/asn1.h>

#include <chrono>

#include "pkix/algorithms.h"
#include "pkix/der.h"
#include "pkix/oid.h"
#include "pkix/ossl.h"
#include "pkix/pem.h"

namespace hallmark::pkix {

using base::Bytes;
using base::ByteView;
using base::ErrorCode;
using base::make_error;

namespace detail {

// Parsed once from the DER by our own strict reader, so that every accessor
// reports exactly what was encoded rather than a re-encoding. (No OpenSSL X509
// object: OpenSSL 3.0 decodes the public key of every parsed X509 through its
// provider decoders, which costs more than signing the certificate.)
struct CertificateData {
  CertificateData() = default;
  CertificateData(const CertificateData&) = delete;
  CertificateData& operator=(const CertificateData&) = delete;

  Bytes der;
  // Views into `der` (never copied or moved once built).
  ByteView tbs;
  ByteView tbs_signature_alg;
  ByteView signature_alg;
  ByteView signature_value;  // BIT STRING content, unused-bits octet first
  Bytes serial;
  int version = 1;
  Name subject;
  Name issuer;
  CertificateTime not_before;
  CertificateTime not_after;
  Bytes spki;
  std::string signature_oid;
  std::string tbs_signature_oid;
  bool signature_params_absent = true;
  std::vector<Extension> extensions;
};

}  // namespace detail

struct Certificate::Impl : detail::CertificateData {};

namespace {

using detail::CertificateData;

constexpr std::string_view kCertificateLabel = "CERTIFICATE";

base::Result<CertificateTime> read_time(const der::Tlv& tlv) {
  CertificateTime out;
  out.text = base::to_string(tlv.content);
  out.encoding = tlv.tag == der::kUtcTime ? TimeEncoding::UtcTime : TimeEncoding::GeneralizedTime;
  // RFC 5280 §4.1.2.5: the one "no well-defined expiration date" value.
  out.no_expiry = tlv.tag == der::kGeneralizedTime && out.text == "99991231235959Z";
  auto t = der::decode_time(tlv);
  if (t.ok()) {
    out.time = t.value();
    return out;
  }
  // Forms RFC 5280 forbids (fractions, offsets) but OpenSSL reads; report the
  // instant and leave judging the encoding to the linter, which sees `text`.
  const unsigned char* p = tlv.encoded.data();
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> parsed(
      d2i_ASN1_TIME(nullptr, &p, static_cast<long>(tlv.encoded.size())), &ASN1_TIME_free);
  std::tm tm{};
  if (!parsed || ASN1_TIME_to_tm(parsed.get(), &tm) != 1) return t.take_error();
  using namespace std::chrono;
  const year_month_day ymd{year(tm.tm_year + 1900), month(static_cast<unsigned>(tm.tm_mon + 1)),
                           day(static_cast<unsigned>(tm.tm_mday))};
  out.time = base::TimePoint(sys_days(ymd)) + hours(tm.tm_hour) + minutes(tm.tm_min) + seconds(tm.tm_sec);
  return out;
}

// RFC 5280 §4.1: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }.
base::Status read_fields(CertificateData& c) {
  HM_TRY(der::Tlv cert, der::parse_single(c.der, der::kSequence, "Certificate"));
  der::Reader outer(cert.content, "Certificate");
  HM_TRY(der::Tlv tbs, outer.read(der::kSequence, "tbsCertificate"));
  HM_TRY(der::Tlv alg, outer.read(der::kSequence, "signatureAlgorithm"));
  HM_TRY(der::Tlv sig, outer.read(der::kBitString, "signatureValue"));
  HM_CHECK(outer.expect_end());
  c.tbs = tbs.encoded;
  c.signature_alg = alg.encoded;
  c.signature_value = sig.content;
  HM_TRY(auto parsed_alg, parse_algorithm_identifier(alg.encoded, "signatureAlgorithm"));
  c.signature_oid = parsed_alg.oid;
  c.signature_params_absent = parsed_alg.params_absent;

  der::Reader r(tbs.content, "TBSCertificate");
  HM_TRY(auto version, r.read_optional(der::context_tag(0, true)));
  if (version) {
    HM_TRY(der::Tlv v, der::parse_single(version->content, der::kInteger, "version"));
    HM_TRY(std::int64_t n, der::decode_integer(v.content, "version"));
    if (n < 0 || n > 2) {
      return make_error(ErrorCode::Unsupported, "certificate version " + std::to_string(n) + " is not 1, 2 or 3");
    }
    c.version = static_cast<int>(n) + 1;
  }
  HM_TRY(der::Tlv serial, r.read(der::kInteger, "serialNumber"));
  if (serial.content.empty()) return make_error(ErrorCode::Malformed, "serialNumber is empty");
  c.serial.assign(serial.content.begin(), serial.content.end());
  HM_TRY(der::Tlv tbs_alg, r.read(der::kSequence, "signature"));
  c.tbs_signature_alg = tbs_alg.encoded;
  HM_TRY(auto parsed_tbs_alg, parse_algorithm_identifier(tbs_alg.encoded, "signature"));
  c.tbs_signature_oid = parsed_tbs_alg.oid;

  HM_TRY(der::Tlv issuer, r.read(der::kSequence, "issuer"));
  HM_TRY(c.issuer, Name::from_der(issuer.encoded));
  HM_TRY(der::Tlv validity, r.read(der::kSequence, "validity"));
  der::Reader v(validity.content, "Validity");
  HM_TRY(der::Tlv nb, v.read_any());
  HM_TRY(der::Tlv na, v.read_any());
  HM_CHECK(v.expect_end());
  HM_TRY(c.not_before, read_time(nb));
  HM_TRY(c.not_after, read_time(na));
  HM_TRY(der::Tlv subject, r.read(der::kSequence, "subject"));
  HM_TRY(c.subject, Name::from_der(subject.encoded));
  HM_TRY(der::Tlv spki, r.read(der::kSequence, "subjectPublicKeyInfo"));
  c.spki.assign(spki.encoded.begin(), spki.encoded.end());
  // issuerUniqueID [1] and subjectUniqueID [2] (IMPLICIT BIT STRING) are skipped.
  HM_TRY(auto issuer_uid, r.read_optional(der::context_tag(1, false)));
  HM_TRY(auto subject_uid, r.read_optional(der::context_tag(2, false)));
  (void)issuer_uid;
  (void)subject_uid;
  HM_TRY(auto extensions, r.read_optional(der::context_tag(3, true)));
  if (extensions) {
    HM_TRY(c.extensions, decode_extensions(extensions->content));
  }
  HM_CHECK(r.expect_end());
  return {};
}

base::Status parse_der_into(CertificateData& c, ByteView der) {
  if (der.empty()) return make_error(ErrorCode::Malformed, "certificate is empty");
  c.der.assign(der.begin(), der.end());
  auto fields = read_fields(c);
  if (!fields.ok()) {
    auto e = fields.take_error();
    if (e.code == ErrorCode::Malformed) e.detail = "not an X.509 certificate: " + e.detail;
    return e;
  }
  return {};
}

// PEM when the data is not a DER SEQUENCE; text around the blocks is skipped
// (openssl x509 -text prints the description first).
base::Result<std::vector<Bytes>> certificate_ders(ByteView data) {
  if (data.empty()) return make_error(ErrorCode::Malformed, "certificate is empty");
  if (data[0] == der::kSequence) return std::vector<Bytes>{Bytes(data.begin(), data.end())};
  auto blocks = pem_decode_all(data, {kCertificateLabel}, PemText::Ignore);
  if (!blocks.ok() && blocks.error().code == ErrorCode::NotFound) {
    return make_error(ErrorCode::Malformed, "not a certificate: neither DER nor PEM with a CERTIFICATE block");
  }
  return blocks;
}

// Two's complement content octets to the magnitude `openssl x509 -serial` prints.
std::string serial_to_hex(const Bytes& content) {
  const bool negative = !content.empty() && (content[0] & 0x80) != 0;
  Bytes magnitude = content;
  if (negative) {
    for (auto& b : magnitude) b = static_cast<std::uint8_t>(~b);
    for (auto it = magnitude.rbegin(); it != magnitude.rend(); ++it) {
      if (++*it != 0) break;
    }
  }
  std::size_t start = 0;
  while (start + 1 < magnitude.size() && magnitude[start] == 0) ++start;
  return (negative ? "-" : "") + base::hex_encode_upper(ByteView(magnitude).subspan(start));
}

}  // namespace

base::Result<Certificate> Certificate::parse(ByteView data) {
  HM_TRY(auto ders, certificate_ders(data));
  if (ders.size() != 1) {
    return make_error(ErrorCode::Malformed, "expected one certificate, found " + std::to_string(ders.size()));
  }
  auto impl = std::make_shared<Impl>();
  HM_CHECK(parse_der_into(*impl, ders.front()));
  return Certificate(std::move(impl));
}

base::Result<std::vector<Certificate>> Certificate::parse_all(ByteView data) {
  HM_TRY(auto ders, certificate_ders(data));
  std::vector<Certificate> out;
  for (const auto& d : ders) {
    auto impl = std::make_shared<Impl>();
    HM_CHECK(parse_der_into(*impl, d));
    out.push_back(Certificate(std::move(impl)));
  }
  return out;
}

base::Result<Certificate> Certificate::from_tbs(ByteView tbs_der) {
  // Wrap with the TBS's own AlgorithmIdentifier and an empty BIT STRING: a
  // structurally complete Certificate that OpenSSL parses and nothing verifies.
  HM_TRY(ByteView alg, tbs_signature_field(tbs_der));
  const Bytes wrapped = der::sequence({tbs_der, alg, der::bit_string({})});
  auto impl = std::make_shared<Impl>();
  HM_CHECK(parse_der_into(*impl, wrapped));
  return Certificate(std::move(impl));
}

const Bytes& Certificate::der() const {
  return m_impl->der;
}
std::string Certificate::pem() const {
  return pem_encode(m_impl->der, kCertificateLabel);
}
int Certificate::version() const {
  return m_impl->version;
}
Bytes Certificate::serial() const {
  return m_impl->serial;
}
bool Certificate::serial_is_negative() const {
  return (m_impl->serial[0] & 0x80) != 0;
}

bool Certificate::serial_is_zero() const {
  for (auto b : m_impl->serial) {
    if (b != 0) return false;
  }
  return true;
}

std::string Certificate::serial_hex() const {
  return serial_to_hex(m_impl->serial);
}
Name Certificate::subject() const {
  return m_impl->subject;
}
Name Certificate::issuer() const {
  return m_impl->issuer;
}
CertificateTime Certificate::not_before() const {
  return m_impl->not_before;
}
CertificateTime Certificate::not_after() const {
  return m_impl->not_after;
}

const Bytes& Certificate::subject_public_key_info() const {
  return m_impl->spki;
}

base::Result<PublicKey> Certificate::public_key() const {
  return PublicKey::from_spki_der(m_impl->spki);
}

std::string Certificate::signature_algorithm_oid() const {
  return m_impl->signature_oid;
}
std::string Certificate::tbs_signature_algorithm_oid() const {
  return m_impl->tbs_signature_oid;
}
bool Certificate::signature_algorithm_params_absent() const {
  return m_impl->signature_params_absent;
}

std::vector<Extension> Certificate::extensions() const {
  return m_impl->extensions;
}

std::optional<Extension> Certificate::find_extension(std::string_view oid) const {
  for (const auto& e : m_impl->extensions) {
    if (e.oid == oid) return e;
  }
  return std::nullopt;
}

namespace {
template <typename T>
std::optional<T> decoded(const std::optional<Extension>& e, base::Result<T> (*decode)(ByteView)) {
  if (!e) return std::nullopt;
  auto v = decode(e->value);
  if (!v.ok()) return std::nullopt;
  return std::move(v).value();
}
}  // namespace

std::optional<BasicConstraints> Certificate::basic_constraints() const {
  return decoded(find_extension(oid::kBasicConstraints), &decode_basic_constraints);
}
std::optional<std::uint16_t> Certificate::key_usage() const {
  return decoded(find_extension(oid::kKeyUsage), &decode_key_usage);
}
std::optional<Bytes> Certificate::subject_key_identifier() const {
  return decoded(find_extension(oid::kSubjectKeyIdentifier), &decode_subject_key_identifier);
}
std::optional<Bytes> Certificate::authority_key_identifier() const {
  return decoded(find_extension(oid::kAuthorityKeyIdentifier), &decode_authority_key_identifier);
}

bool Certificate::is_ca() const {
  const auto bc = basic_constraints();
  return bc && bc->ca;
}

Bytes Certificate::fingerprint_sha256() const {
  return base::sha256(m_impl->der);
}

// Byte equality of the DER names: what we issue is always byte-identical, and
// RFC 5280 §7.1 comparison rules matter only for foreign chains (OpenSSL's job).
bool Certificate::is_self_issued() const {
  return m_impl->issuer == m_impl->subject;
}

base::Status Certificate::verify_signature(const PublicKey& issuer_key) const {
  const CertificateData& c = *m_impl;
  // RFC 5280 §4.1.1.2: signatureAlgorithm MUST equal TBSCertificate.signature.
  if (!std::equal(c.signature_alg.begin(), c.signature_alg.end(), c.tbs_signature_alg.begin(),
                  c.tbs_signature_alg.end())) {
    return make_error(ErrorCode::Malformed,
                      "certificate signatureAlgorithm differs from its TBSCertificate signature "
                      "field (RFC 5280 §4.1.1.2)");
  }
  HM_TRY(auto parsed, parse_algorithm_identifier(c.signature_alg, "signatureAlgorithm"));
  HM_TRY(base::SignatureAlgorithm alg, accepted_signature_algorithm(parsed, "certificate"));
  if (c.signature_value.size() <= 1) {
    return make_error(ErrorCode::BadSignature, "certificate has no signature (an unsigned TBS)");
  }
  if (c.signature_value[0] != 0) {
    return make_error(ErrorCode::Malformed, "certificate signature BIT STRING has unused bits");
  }
  const ByteView signature = c.signature_value.subspan(1);
  HM_TRY(base::KeyAlgorithm key_alg, issuer_key.algorithm());
  if (!key_matches_signature(key_alg, alg)) {
    return make_error(ErrorCode::BadSignature, "certificate signature algorithm " + std::string(base::to_string(alg)) +
                                                   " does not match the issuer's " +
                                                   std::string(base::to_string(key_alg)) + " key");
  }
  auto status = verify_encoded_signature(issuer_key, alg, c.tbs, signature);
  if (!status.ok()) {
    return make_error(ErrorCode::BadSignature, "certificate signature does not verify with the issuer's key",
                      status.error().describe());
  }
  return {};
}

}  // namespace hallmark::pkix
