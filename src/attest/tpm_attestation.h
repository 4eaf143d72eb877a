// TpmAttestationVerifier: checks TCG DevID evidence that a key lives in a TPM
// (TCG "TPM 2.0 Keys for Device Identity and Attestation" §6.1.2/§6.2.2,
// standards.md §1.3–1.5). The device's TPM holds an EK (certified by the TPM
// manufacturer), an IAK (restricted signing key) and the IDevID key
// (unrestricted signing key); the IAK signed TPM2_Certify(IDevID) with the
// station's nonce as qualifyingData. Pure: the nonce's freshness and single use,
// and the credential activation that proves IAK and EK share one TPM
// (tpm_credential.h), are the caller's bookkeeping; this checks everything else.
//
// TPM structures are decoded with tpm2-tss's marshalling library (libtss2-mu),
// in TPM wire format (big-endian, as tpm2-tools writes them).
//
// Checks, in order (each failure names its check):
//   Malformed        a structure does not decode, or sizes are out of range
//   EkChain          the EK certificate (with the intermediates given) does not
//                    validate to a configured TPM-manufacturer root; the EK
//                    public area, when given, is not the certified key
//   IakAttributes    IAK not fixedTPM|fixedParent|sensitiveDataOrigin|restricted|sign, or decrypt
//   IdevidAttributes IDevID not fixedTPM|fixedParent|sensitiveDataOrigin|sign, or decrypt
//   AttestMagic      TPMS_ATTEST.magic != TPM_GENERATED_VALUE
//   AttestType       TPMS_ATTEST.type != TPM_ST_ATTEST_CERTIFY
//   Nonce            extraData != the station's nonce
//   Name             attested.certify.name != nameAlg || H_nameAlg(TPMT_PUBLIC of the IDevID)
//   Signature        the TPMT_SIGNATURE over TPMS_ATTEST does not verify with the IAK
//                    (ECDSA P-256/P-384, RSASSA and RSA-PSS with SHA-256/384)
//   KeyMismatch      the IDevID public key is not the CSR's key
//
// A TCG-CSR-IDEVID (tcg_csr_idevid.h) is verified by verify_tcg_csr: the same
// checks on the structure's payloads, then
//   IakOnly          the IAK-only flow (no signingPub, or the request signed by the
//                    IAK): not supported (it needs a TPM2_Hash validation ticket)
//   CsrSignature     the outer signature over csrContents does not verify with signingPub
#pragma once

#include <string>
#include <vector>

#include "attest/path_validator.h"
#include "attest/tcg_csr_idevid.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"

namespace hallmark::attest {

inline constexpr std::size_t kTpmNonceSize = 32;

struct TpmEvidence {
  base::Bytes ek_certificate;                 // DER
  std::vector<base::Bytes> ek_intermediates;  // DER, any order (may be empty)
  base::Bytes ek_public;                      // TPM2B_PUBLIC or TPMT_PUBLIC; optional (empty: standard EK template
                                              // of the certified key is assumed by the caller)
  base::Bytes iak_public;                     // TPM2B_PUBLIC or TPMT_PUBLIC
  base::Bytes idevid_public;                  // TPM2B_PUBLIC or TPMT_PUBLIC
  base::Bytes certify_info;                   // TPMS_ATTEST (or TPM2B_ATTEST) of TPM2_Certify(IDevID) by the IAK
  base::Bytes certify_signature;              // TPMT_SIGNATURE
  base::Bytes nonce;                          // the station's nonce (qualifyingData)
};

enum class TpmCheck {
  Ok,
  Malformed,
  EkChain,
  IakAttributes,
  IdevidAttributes,
  AttestMagic,
  AttestType,
  Nonce,
  Name,
  Signature,
  KeyMismatch,
  IakOnly,
  CsrSignature
};

struct TpmVerdict {
  TpmCheck check = TpmCheck::Ok;  // the check that failed, Ok when all passed
  std::string detail;             // why (client-safe)
  // Ok only:
  std::string manufacturer_root;  // TrustAnchor::name the EK chain ended at
  base::Bytes iak_name;           // nameAlg || H(TPMT_PUBLIC of the IAK): MakeCredential's objectName
  base::Bytes ek_spki;            // the EK certificate's SubjectPublicKeyInfo
  base::Bytes idevid_spki;        // the certified IDevID key as SubjectPublicKeyInfo
  std::string ek_serial_hex;      // the EK certificate's serial (upper-case hex)
  base::Bytes ek_aki;             // the EK certificate's authorityKeyIdentifier keyIdentifier (empty if absent)
  std::string tpm_manufacturer;   // tcg-at-tpmManufacturer (2.23.133.2.1) of the EK certificate's SAN
                                  // directoryName, as written (e.g. "id:49465800"); "" if absent
  bool ok() const { return check == TpmCheck::Ok; }
};

// A TPM public area decoded (TPM2B_PUBLIC or bare TPMT_PUBLIC accepted).
struct TpmPublic {
  base::Bytes tpmt;  // canonical marshalled TPMT_PUBLIC
  std::uint16_t name_alg = 0;
  std::uint32_t attributes = 0;  // TPMA_OBJECT
  base::Bytes name;              // nameAlg (2 octets) || H_nameAlg(tpmt)
  base::Bytes spki_der;          // the public key as SubjectPublicKeyInfo
  bool is_rsa = false;
  std::uint16_t symmetric_bits = 0;  // parameters.*.symmetric key bits (0 when TPM_ALG_NULL)
  std::uint16_t symmetric_alg = 0;
};

// Decodes a public area; Malformed when it does not decode, Unsupported for a
// key type / curve / nameAlg we do not handle (RSA, ECC P-256/P-384; SHA-256/384).
[[nodiscard]] base::Result<TpmPublic> decode_tpm_public(base::ByteView bytes);

// The TpmEvidence a TCG-CSR-IDEVID carries: ekCert, attestPub (IAK), signingPub
// (IDevID), sgnCertifyInfo + sgnCertifyInfoSignature; the nonce is the certify's
// extraData (the station's nonce: its issue and single use are the caller's
// to check); no EK public area (the standard EK template of the certified key).
// Malformed when sgnCertifyInfo is given but not a TPMS_ATTEST.
[[nodiscard]] base::Result<TpmEvidence> tcg_csr_evidence(const TcgCsrIdevid& csr,
                                                         const std::vector<base::Bytes>& ek_intermediates);

// The EK public area of the TCG EK Credential Profile template for the key
// `ek_spki` (RSA 2048 / P-256: SHA-256 nameAlg, AES-128-CFB; RSA 3072 / P-384:
// SHA-384, AES-256-CFB), as a marshalled TPMT_PUBLIC: what make_credential needs
// when the evidence carries only the EK certificate.
[[nodiscard]] base::Result<base::Bytes> standard_ek_public(base::ByteView ek_spki);

// A marshalled TPMT_SIGNATURE (TPM_ALG_ECDSA) of a raw r||s ECDSA signature
// (what TPM2_Sign returns, e.g. for a TCG-CSR-IDEVID's outer signature).
[[nodiscard]] base::Result<base::Bytes> tpmt_ecdsa_signature(base::ByteView raw, std::uint16_t hash_alg);

class TpmAttestationVerifier {
 public:
  TpmAttestationVerifier(std::vector<TrustAnchor> manufacturer_roots, const base::Clock& clock)
      : m_roots(std::move(manufacturer_roots)), m_clock(clock) {}

  // `key_spki_der`: the SubjectPublicKeyInfo of the key to be certified (the
  // CSR's); empty skips that one check (the activation call may come without a CSR).
  TpmVerdict verify(const TpmEvidence& evidence, base::ByteView key_spki_der) const;
  // A TCG-CSR-IDEVID (single-pass flow): tcg_csr_evidence() mapped onto
  // verify(), then the IAK-only refusal and the outer signature over
  // `contents` (the packed csrContents as received) with signingPub. The key
  // certified is signingPub's (idevid_spki).
  TpmVerdict verify_tcg_csr(const TcgCsrIdevid& csr, base::ByteView contents,
                            const std::vector<base::Bytes>& ek_intermediates) const;
  std::size_t root_count() const { return m_roots.size(); }

 private:
  std::vector<TrustAnchor> m_roots;
  const base::Clock& m_clock;
};

}  // namespace hallmark::attest
