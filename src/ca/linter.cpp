#include "ca/linter.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "base/bytes.h"
#include "pkix/extensions.h"
#include "pkix/oid.h"

namespace hallmark::ca {
namespace {

using std::chrono::year_month_day;

constexpr char kTimeEncoding[] = "HM-TIME-ENCODING";
constexpr char kValidityOrder[] = "HM-VALIDITY-ORDER";
constexpr char kValidityIssuer[] = "HM-VALIDITY-ISSUER";
constexpr char kSerialPositive[] = "HM-SERIAL-POSITIVE";
constexpr char kSerialLength[] = "HM-SERIAL-LENGTH";
constexpr char kVersion[] = "HM-VERSION";
constexpr char kAkiPresent[] = "HM-AKI-PRESENT";
constexpr char kSkiPresent[] = "HM-SKI-PRESENT";
constexpr char kKeyUsageCa[] = "HM-KU-CA";
constexpr char kBasicConstraints[] = "HM-BC-CA";
constexpr char kSubjectFields[] = "HM-SUBJECT-FIELDS";
constexpr char kHardwareModule[] = "HM-HWMODULE-ENCODING";
constexpr char kKeyAllowed[] = "HM-KEY-ALLOWED";
constexpr char kSignatureAlgorithm[] = "HM-SIG-ALG";
constexpr char kIdevidNotAfter[] = "HM-IDEVID-NOT-AFTER";
constexpr char kDuplicateExtension[] = "HM-EXT-DUPLICATE";
constexpr char kProfileValidity[] = "HM-PROFILE-VALIDITY";
constexpr char kProfileEku[] = "HM-PROFILE-EKU";

int year_of(base::TimePoint t) {
  return static_cast<int>(year_month_day{std::chrono::floor<std::chrono::days>(t)}.year());
}

class Checker {
 public:
  Checker(const pkix::Certificate& c, const LintContext& ctx) : m_cert(c), m_ctx(ctx) {}

  std::vector<LintFinding> run() {
    check_version_and_serial();
    check_times();
    check_signature_algorithm();
    check_key();
    check_extensions();
    if (m_ctx.profile != nullptr) check_profile(*m_ctx.profile);
    return std::move(m_findings);
  }

 private:
  void add(const char* rule, std::string message) { m_findings.push_back({rule, std::move(message)}); }

  void check_version_and_serial() {
    if (m_cert.version() != 3) {
      add(kVersion, "version is v" + std::to_string(m_cert.version()) +
                        "; Hallmark requires v3 certificates (RFC 5280 §4.1.2.1)");
    }
    const auto serial = m_cert.serial();
    if (m_cert.serial_is_negative() || m_cert.serial_is_zero()) {
      add(kSerialPositive, "serial number must be a positive integer (RFC 5280 §4.1.2.2)");
    }
    if (serial.size() > 20) {
      add(kSerialLength,
          "serial number is " + std::to_string(serial.size()) + " octets; at most 20 are allowed (RFC 5280 §4.1.2.2)");
    }
  }

  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (the
  // 802.1AR no-expiry value 99991231235959Z is GeneralizedTime by that rule too).
  void check_time(const pkix::CertificateTime& t, const char* which) {
    const int year = year_of(t.time);
    const bool want_utc = year < 2050;
    const bool is_utc = t.encoding == pkix::TimeEncoding::UtcTime;
    if (want_utc != is_utc) {
      add(kTimeEncoding, std::string(which) + " " + t.text + " (year " + std::to_string(year) + ") must be " +
                             (want_utc ? "UTCTime" : "GeneralizedTime") + " (RFC 5280 §4.1.2.5)");
    }
  }

  void check_times() {
    const auto nb = m_cert.not_before();
    const auto na = m_cert.not_after();
    check_time(nb, "notBefore");
    check_time(na, "notAfter");
    if (na.time < nb.time) add(kValidityOrder, "notAfter is before notBefore");
    // IEEE 802.1AR exempts only notAfter (the no-expiry value); notBefore
    // must still fall inside the issuer's validity.
    if (m_ctx.issuer != nullptr) {
      const auto inb = m_ctx.issuer->not_before();
      const auto ina = m_ctx.issuer->not_after();
      if (nb.time < inb.time || (!na.no_expiry && !ina.no_expiry && na.time > ina.time)) {
        add(kValidityIssuer,
            "validity " + nb.text + ".." + na.text + " is not inside the issuer's " + inb.text + ".." + ina.text);
      }
    }
  }

  void check_signature_algorithm() {
    static const std::set<std::string> allowed = {pkix::oid::kEcdsaWithSha256, pkix::oid::kEcdsaWithSha384,
                                                  pkix::oid::kSha256WithRsa, pkix::oid::kSha384WithRsa,
                                                  pkix::oid::kEd25519};
    const auto outer = m_cert.signature_algorithm_oid();
    const auto inner = m_cert.tbs_signature_algorithm_oid();
    if (!allowed.contains(inner)) {
      add(kSignatureAlgorithm, "signature algorithm " + inner +
                                   " is not allowed (use ECDSA with SHA-256/384, RSA PKCS#1 with "
                                   "SHA-256/384, or Ed25519; never SHA-1)");
    }
    if (outer != inner) {
      add(kSignatureAlgorithm,
          "signatureAlgorithm " + outer + " differs from TBSCertificate.signature " + inner + " (RFC 5280 §4.1.1.2)");
    }
  }

  void check_key() {
    auto alg = pkix::spki_algorithm(m_cert.subject_public_key_info());
    if (!alg.ok()) add(kKeyAllowed, alg.error().detail);
  }

  void check_extensions() {
    std::set<std::string> seen;
    for (const auto& e : m_cert.extensions()) {
      if (!seen.insert(e.oid).second) {
        add(kDuplicateExtension, "extension " + e.oid + " appears more than once (RFC 5280 §4.2)");
      }
    }
    // RFC 5280 §4.2.1.1 exempts only self-signed certificates: a self-issued
    // key-rollover certificate (same name, another key) needs its AKI.
    if (!is_self_signed() && !m_cert.authority_key_identifier()) {
      add(kAkiPresent, "authorityKeyIdentifier is missing (RFC 5280 §4.2.1.1)");
    }
    const auto bc = m_cert.basic_constraints();
    const bool ca = bc && bc->ca;
    if (ca && !m_cert.subject_key_identifier()) {
      add(kSkiPresent, "CA certificate has no subjectKeyIdentifier (RFC 5280 §4.2.1.2)");
    }
    if (auto bce = m_cert.find_extension(pkix::oid::kBasicConstraints); bce && ca && !bce->critical) {
      add(kBasicConstraints, "basicConstraints of a CA certificate must be critical (RFC 5280 §4.2.1.9)");
    }
    if (bc && !bc->ca && bc->path_len) {
      add(kBasicConstraints, "pathLenConstraint is set on a certificate that is not a CA");
    }
    const auto ku = m_cert.key_usage();
    const bool cert_sign = ku && (*ku & pkix::kKeyCertSign);
    if (cert_sign && !ca) {
      add(kKeyUsageCa, "keyUsage keyCertSign is set but basicConstraints cA is not (RFC 5280 §4.2.1.3)");
    }
    if (ca && ku && !cert_sign) {
      add(kKeyUsageCa, "CA certificate lacks keyUsage keyCertSign (RFC 5280 §4.2.1.3)");
    }
    if (auto san = m_cert.find_extension(pkix::oid::kSubjectAltName)) {
      auto names = pkix::decode_subject_alt_name(san->value);
      if (!names.ok()) {
        add(kHardwareModule, "subjectAltName does not decode: " + names.error().detail);
      } else {
        for (const auto& hmn : names->hardware_modules) {
          if (hmn.hw_serial.empty()) add(kHardwareModule, "HardwareModuleName hwSerialNum is empty");
        }
      }
    }
  }

  bool is_self_signed() const {
    if (!m_cert.is_self_issued()) return false;
    auto key = m_cert.public_key();
    if (!key.ok()) return false;
    if (m_ctx.issuer != nullptr) {
      auto issuer_key = m_ctx.issuer->public_key();
      return issuer_key.ok() && issuer_key->spki_der() == key->spki_der();
    }
    return m_cert.verify_signature(key.value()).ok();
  }

  void check_profile(const Profile& p) {
    const auto subject = m_cert.subject();
    auto require = [&](const char* oid, const char* label) {
      if (!subject.get(oid))
        add(kSubjectFields, std::string("profile ") + p.name + " requires " + label + " in the subject");
    };
    if (p.requires_device_serial) require(pkix::oid::kSerialNumber, "serialNumber (2.5.4.5)");
    if (p.kind == ProfileKind::IDevID) require(pkix::oid::kOrganization, "organizationName (the vendor)");
    if (p.is_ca) require(pkix::oid::kCommonName, "commonName");
    if (subject.empty()) {
      auto san = m_cert.find_extension(pkix::oid::kSubjectAltName);
      if (!san || !san->critical)
        add(kSubjectFields, "empty subject requires a critical subjectAltName (RFC 5280 §4.1.2.6)");
    }
    if (p.hardware_module_name) {
      auto san = m_cert.find_extension(pkix::oid::kSubjectAltName);
      auto names = san ? pkix::decode_subject_alt_name(san->value)
                       : base::Result<pkix::SubjectAltNames>(pkix::SubjectAltNames{});
      if (names.ok() && names->hardware_modules.empty()) {
        add(kHardwareModule,
            "profile " + p.name + " requires a HardwareModuleName otherName (1.3.6.1.5.5.7.8.4) in subjectAltName");
      }
    }
    if (p.kind == ProfileKind::IDevID) {
      const auto na = m_cert.not_after();
      if (!na.no_expiry) {
        add(kIdevidNotAfter,
            "IDevID notAfter is " + na.text + "; IEEE 802.1AR asks for GeneralizedTime 99991231235959Z");
      }
      if (m_cert.is_ca()) add(kBasicConstraints, "an IDevID must not be a CA certificate");
    }
    if (!p.is_ca && !p.no_expiry) check_profile_validity(p);  // idevid: HM-IDEVID-NOT-AFTER
    // (A CA or a v1 certificate already has its finding: HM-BC-CA, HM-VERSION.)
    if (!p.ext_key_usage.empty() && !m_cert.is_ca() && m_cert.version() == 3) check_profile_eku(p);
    if (p.is_ca != m_cert.is_ca()) {
      add(kBasicConstraints, std::string("profile ") + p.name +
                                 (p.is_ca ? " is a CA profile but the certificate is not a CA"
                                          : " is not a CA profile but the certificate is a CA"));
    }
  }

  // 802.1AR "no expiry" belongs to the idevid profile and to no other
  // end-entity profile. (How long a foreign LDevID lives is its issuer's
  // choice, not a finding.)
  void check_profile_validity(const Profile& p) {
    if (m_cert.not_after().no_expiry) {
      add(kProfileValidity,
          "profile " + p.name + " has a fixed lifetime but notAfter is 99991231235959Z (no expiry: an IDevID?)");
    }
  }

  void check_profile_eku(const Profile& p) {
    auto ext = m_cert.find_extension(pkix::oid::kExtKeyUsage);
    std::vector<std::string> have;
    if (ext) {
      auto decoded = pkix::decode_ext_key_usage(ext->value);
      if (decoded.ok()) have = std::move(decoded).value();
    }
    for (const auto& want : p.ext_key_usage) {
      if (std::find(have.begin(), have.end(), want) == have.end()) {
        add(kProfileEku, "profile " + p.name + " requires extendedKeyUsage " + want);
      }
    }
  }

  const pkix::Certificate& m_cert;
  const LintContext& m_ctx;
  std::vector<LintFinding> m_findings;
};

}  // namespace

const std::vector<LintRule>& lint_rules() {
  static const std::vector<LintRule> rules = {
      {kTimeEncoding, "UTCTime for dates through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)"},
      {kValidityOrder, "notBefore is not after notAfter"},
      {kValidityIssuer, "validity inside the issuer's, except notAfter 99991231235959Z (IEEE 802.1AR)"},
      {kSerialPositive, "serial number is a positive integer (RFC 5280 §4.1.2.2)"},
      {kSerialLength, "serial number is at most 20 octets (RFC 5280 §4.1.2.2)"},
      {kVersion, "certificate is v3 (RFC 5280 §4.1.2.1)"},
      {kAkiPresent, "authorityKeyIdentifier present unless self-issued (RFC 5280 §4.2.1.1)"},
      {kSkiPresent, "subjectKeyIdentifier present on CA certificates (RFC 5280 §4.2.1.2)"},
      {kKeyUsageCa, "keyCertSign if and only if basicConstraints cA (RFC 5280 §4.2.1.3)"},
      {kBasicConstraints, "basicConstraints critical on CAs, pathLen only on CAs, CA-ness matches the profile"},
      {kSubjectFields,
       "subject fields the profile requires (serialNumber for device certificates, O for IDevIDs, CN for CAs)"},
      {kHardwareModule, "HardwareModuleName encoded as RFC 4108 otherName with [0] EXPLICIT; required by idevid"},
      {kKeyAllowed, "subject key is P-256, P-384 (named curve), RSA 2048/3072/4096 or Ed25519"},
      {kSignatureAlgorithm, "signature algorithm allowed (no SHA-1) and equal in TBS and certificate"},
      {kIdevidNotAfter, "IDevID notAfter is GeneralizedTime 99991231235959Z (IEEE 802.1AR)"},
      {kDuplicateExtension, "each extension appears at most once (RFC 5280 §4.2)"},
      {kProfileValidity, "notAfter 99991231235959Z (no expiry) for the idevid profile and for no other end entity"},
      {kProfileEku, "extendedKeyUsage holds every purpose the profile gives (clientAuth, serverAuth, OCSPSigning)"},
  };
  return rules;
}

std::vector<LintFinding> lint(const pkix::Certificate& cert, const LintContext& context) {
  return Checker(cert, context).run();
}

}  // namespace hallmark::ca
