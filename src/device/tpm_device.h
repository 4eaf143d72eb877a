// TpmDevice: a TPM-backed device identity through ESAPI on any TCTI (swtpm in
// tests: "swtpm:host=127.0.0.1,port=N"), for `hallmark device tpm` (TCG DevID
// single-pass flow, standards.md §1.5, device side). Keys are primary objects
// re-created from fixed templates (the TPM derives the same key from its
// hierarchy seed each time): the IAK (ECC P-256, restricted signing) in the
// endorsement hierarchy, the IDevID key (ECC P-256, unrestricted signing) in the
// owner hierarchy, and an LDevID key (same template as the IDevID key but for its
// unique field, so a different key) in the owner hierarchy for runtime enrollment. The EK is the persistent RSA EK at
// 0x81010001 with its certificate at NV 0x01c00002. Every transient object and session is flushed when the TpmDevice is
// destroyed (there may be no resource manager).
#pragma once

#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace hallmark::device {

inline constexpr std::uint32_t kEkHandle = 0x81010001;
inline constexpr std::uint32_t kEkCertIndex = 0x01c00002;

// The TPM's keys, each a primary re-created from its fixed template.
enum class TpmKey { Iak = 0, Idevid = 1, Ldevid = 2 };

class TpmDevice {
 public:
  static base::Result<std::unique_ptr<TpmDevice>> open(const std::string& tcti);
  ~TpmDevice();
  TpmDevice(const TpmDevice&) = delete;
  TpmDevice& operator=(const TpmDevice&) = delete;

  base::Result<base::Bytes> ek_certificate();  // DER from NV
  base::Result<base::Bytes> ek_public();       // TPM2B_PUBLIC
  base::Result<base::Bytes> iak_public();      // TPM2B_PUBLIC (creates the IAK on first use)
  base::Result<base::Bytes> idevid_public();   // TPM2B_PUBLIC (creates the IDevID key on first use)
  // A key's SubjectPublicKeyInfo (DER, P-256), creating it on first use.
  base::Result<base::Bytes> public_key_der(TpmKey key);

  struct Certified {
    base::Bytes attest;     // TPMS_ATTEST
    base::Bytes signature;  // TPMT_SIGNATURE
  };
  // TPM2_Certify(IDevID key) by the IAK, `nonce` as qualifyingData.
  base::Result<Certified> certify(base::ByteView nonce);
  // ECDSA P-256 signature (raw r||s) by `key` (IDevID or LDevID) over a SHA-256
  // digest (TPM2_Sign). Thread-safe against itself (TLS and CSR signatures); the
  // other calls are not.
  base::Result<base::Bytes> sign_digest(base::ByteView sha256_digest, TpmKey key = TpmKey::Idevid);
  // TPM2_ActivateCredential(IAK, EK) of marshalled TPM2B_ID_OBJECT / TPM2B_ENCRYPTED_SECRET.
  base::Result<base::Bytes> activate(base::ByteView credential_blob, base::ByteView encrypted_secret);

 private:
  struct Impl;
  explicit TpmDevice(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hallmark::device
