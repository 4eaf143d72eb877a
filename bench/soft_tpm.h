// Software TPM-evidence devices for bench/factory_batch: what a TPM and its
// manufacturer would produce for the station's TPM attestation (docs/factory.md,
// "Attestation (TPM 2.0)"), made with software keys so that thousands of devices
// cost little to make. This measures the station's verification; it proves
// nothing about TPMs (the keys are not in one).
//
// The manufacturer: a root CA and an EK-issuing CA (ECDSA P-256). Each device:
// an ECC NIST P-256 EK (TCG EK template L-2: restricted decrypt, AES-128-CFB,
// SHA-256, PolicySecret(endorsement)) certified by the issuing CA; an IAK
// (restricted signing) and an IDevID key (unrestricted signing), both ECDSA
// P-256 with their TPMT_PUBLIC marshalled by libtss2-mu; the TPMS_ATTEST of
// TPM2_Certify(IDevID) with the nonce as extraData, signed by the IAK; the CSR
// signed by the IDevID key. activate() is TPM2_ActivateCredential's arithmetic
// for that EK (ECDH with the EK's private key, KDFe, KDFa, outer HMAC, AES-CFB).
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "keys/signer.h"
#include "pkix/certificate.h"

namespace hallmark::bench {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

class SoftTpmVendor {
 public:
  static base::Result<SoftTpmVendor> create();
  const pkix::Certificate& root() const { return m_root; }
  const pkix::Certificate& issuing_ca() const { return m_ca; }
  // An EK certificate for `ek_spki` (DER SubjectPublicKeyInfo), as TPM manufacturers issue them.
  base::Result<base::Bytes> certify_ek(base::ByteView ek_spki, const std::string& label) const;

 private:
  SoftTpmVendor(std::shared_ptr<keys::Signer> root_key, std::shared_ptr<keys::Signer> ca_key, pkix::Certificate root,
                pkix::Certificate ca)
      : m_root_key(std::move(root_key)), m_ca_key(std::move(ca_key)), m_root(std::move(root)), m_ca(std::move(ca)) {}
  std::shared_ptr<keys::Signer> m_root_key, m_ca_key;
  pkix::Certificate m_root, m_ca;
};

struct SoftTpmDevice {
  std::string serial;
  std::unique_ptr<EVP_PKEY, PkeyFree> ek;  // the EK's private key: only activate() uses it
  base::Bytes ek_public;                   // TPM2B_PUBLIC of the EK
  base::Bytes ek_x;                        // the EK's public x coordinate (KDFe's partyVInfo)
  base::Bytes iak_name;                    // nameAlg || SHA-256(TPMT_PUBLIC of the IAK)
  std::string csr_b64;                     // base64 DER
  std::string evidence_fields;             // "type":"tpm","nonce":...  (the evidence object without braces)

  // The station's activation request: {"evidence": {...}, "csr": ...}.
  std::string request() const;
  // The manifest line, its evidence with "activated_secret" (base64).
  std::string manifest_line(const std::string& product, const std::string& secret_b64) const;
};

// A device answering `nonce_hex` (the station's nonce) with `serial` as the CSR's serialNumber.
base::Result<SoftTpmDevice> make_soft_tpm_device(const SoftTpmVendor& vendor, const std::string& serial,
                                                 const std::string& nonce_hex);

// TPM2_ActivateCredential of the station's answer (marshalled TPM2B_ID_OBJECT
// and TPM2B_ENCRYPTED_SECRET): the credential, or an error when the outer HMAC
// does not verify (not made for this EK and this IAK Name).
base::Result<base::Bytes> activate(const SoftTpmDevice& device, base::ByteView credential_blob,
                                   base::ByteView encrypted_secret);

}  // namespace hallmark::bench
