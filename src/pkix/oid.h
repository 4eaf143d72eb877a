// Object identifiers Hallmark uses, in dotted form (standards.md §0).
#pragma once

namespace hallmark::pkix::oid {

// Name attributes
inline constexpr char kCommonName[] = "2.5.4.3";
inline constexpr char kSerialNumber[] = "2.5.4.5";
inline constexpr char kCountry[] = "2.5.4.6";
inline constexpr char kOrganization[] = "2.5.4.10";
inline constexpr char kOrganizationalUnit[] = "2.5.4.11";

// Extensions
inline constexpr char kSubjectKeyIdentifier[] = "2.5.29.14";
inline constexpr char kKeyUsage[] = "2.5.29.15";
inline constexpr char kSubjectAltName[] = "2.5.29.17";
inline constexpr char kBasicConstraints[] = "2.5.29.19";
inline constexpr char kCrlDistributionPoints[] = "2.5.29.31";
inline constexpr char kCertificatePolicies[] = "2.5.29.32";
inline constexpr char kAuthorityKeyIdentifier[] = "2.5.29.35";
inline constexpr char kExtKeyUsage[] = "2.5.29.37";
inline constexpr char kAuthorityInfoAccess[] = "1.3.6.1.5.5.7.1.1";
inline constexpr char kMasaUrl[] = "1.3.6.1.5.5.7.1.32";
// CRL and CRL entry extensions (RFC 5280 §5.2, §5.3)
inline constexpr char kCrlNumber[] = "2.5.29.20";
inline constexpr char kReasonCode[] = "2.5.29.21";
inline constexpr char kIssuingDistributionPoint[] = "2.5.29.28";
// OCSP (RFC 6960 §4.2.1, §4.2.2.2.1, §4.4.1; RFC 9654)
inline constexpr char kAdOcsp[] = "1.3.6.1.5.5.7.48.1";
inline constexpr char kOcspBasic[] = "1.3.6.1.5.5.7.48.1.1";
inline constexpr char kOcspNonce[] = "1.3.6.1.5.5.7.48.1.2";
inline constexpr char kOcspNoCheck[] = "1.3.6.1.5.5.7.48.1.5";

// otherName types
inline constexpr char kPermanentIdentifier[] = "1.3.6.1.5.5.7.8.3";
inline constexpr char kHardwareModuleName[] = "1.3.6.1.5.5.7.8.4";

// Extended key usages
inline constexpr char kServerAuth[] = "1.3.6.1.5.5.7.3.1";
inline constexpr char kClientAuth[] = "1.3.6.1.5.5.7.3.2";
inline constexpr char kOcspSigning[] = "1.3.6.1.5.5.7.3.9";
inline constexpr char kCmcRa[] = "1.3.6.1.5.5.7.3.28";

// TCG
inline constexpr char kTcgTpm20[] = "2.23.133.1.2";

// Algorithms
inline constexpr char kSha1[] = "1.3.14.3.2.26";
inline constexpr char kSha256[] = "2.16.840.1.101.3.4.2.1";
inline constexpr char kEcPublicKey[] = "1.2.840.10045.2.1";
inline constexpr char kSecp256r1[] = "1.2.840.10045.3.1.7";
inline constexpr char kSecp384r1[] = "1.3.132.0.34";
inline constexpr char kRsaEncryption[] = "1.2.840.113549.1.1.1";
inline constexpr char kEd25519[] = "1.3.101.112";
inline constexpr char kEcdsaWithSha256[] = "1.2.840.10045.4.3.2";
inline constexpr char kEcdsaWithSha384[] = "1.2.840.10045.4.3.3";
inline constexpr char kSha256WithRsa[] = "1.2.840.113549.1.1.11";
inline constexpr char kSha384WithRsa[] = "1.2.840.113549.1.1.12";
inline constexpr char kSha1WithRsa[] = "1.2.840.113549.1.1.5";
inline constexpr char kEcdsaWithSha1[] = "1.2.840.10045.4.1";

// CSR attributes
inline constexpr char kChallengePassword[] = "1.2.840.113549.1.9.7";
inline constexpr char kExtensionRequest[] = "1.2.840.113549.1.9.14";
// RFC 4108 §2.2.5 id-aa-decryptKeyID, RFC 7030 §4.4.1.2 id-aa-asymmDecryptKeyID.
inline constexpr char kDecryptKeyId[] = "1.2.840.113549.1.9.16.2.37";
inline constexpr char kAsymmetricDecryptKeyId[] = "1.2.840.113549.1.9.16.2.54";
// RFC 5958 §3: id-ct-KP-aKeyPackage, the AsymmetricKeyPackage content type.
inline constexpr char kAsymmetricKeyPackage[] = "2.16.840.1.101.2.1.2.78.5";

}  // namespace hallmark::pkix::oid
