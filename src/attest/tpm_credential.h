// Software TPM2_MakeCredential (TPM 2.0 Library Part 1 §24 "Credential
// Protection", Part 3 §12.6): the station has no TPM, and tpm2-tss has no
// software MakeCredential. The device's TPM2_ActivateCredential returns the
// credential only when the EK that decrypts the seed and the object named by
// `object_name` (the IAK) are loaded in one TPM — that is what proves IAK and
// EK share a TPM (standards.md §1.5 steps 6/7).
//
//   seed       RSA EK: random, RSA-OAEP(hash = EK nameAlg, label "IDENTITY\0");
//              ECC EK: ephemeral ECDH, KDFe(nameAlg, Z, "IDENTITY", ephemeral x, EK x)
//   symKey     KDFa(nameAlg, seed, "STORAGE", name, -, EK symmetric key bits)
//   encIdentity AES-CFB(symKey, IV 0) of TPM2B_DIGEST(credential)
//   HMACkey    KDFa(nameAlg, seed, "INTEGRITY", -, -, digest bits)
//   outerHMAC  HMAC(HMACkey, encIdentity || name)
//   credentialBlob = TPM2B_ID_OBJECT(TPM2B_DIGEST(outerHMAC) || encIdentity)
//   secret         = TPM2B_ENCRYPTED_SECRET(encrypted seed or TPMS_ECC_POINT)
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "base/rng.h"

namespace hallmark::attest {

struct MadeCredential {
  base::Bytes credential_blob;   // marshalled TPM2B_ID_OBJECT
  base::Bytes encrypted_secret;  // marshalled TPM2B_ENCRYPTED_SECRET
};

// `ek_public`: the EK's TPM2B_PUBLIC or TPMT_PUBLIC (its nameAlg and symmetric
// algorithm drive the derivations; the standard EK templates use SHA-256 and
// AES-128-CFB). `object_name`: the IAK's Name. `credential`: at most the
// nameAlg's digest size (the station sends a 32-octet secret).
[[nodiscard]] base::Result<MadeCredential> make_credential(base::ByteView ek_public, base::ByteView object_name,
                                                           base::ByteView credential, base::Rng& rng);

// tpm2-tools' file for `tpm2_activatecredential -i`: magic 0xBADCC0DE, version 1,
// then the TPM2B_ID_OBJECT and the TPM2B_ENCRYPTED_SECRET.
base::Bytes tpm2_tools_credential_file(const MadeCredential& credential);

// KDFa (Part 1 §11.4.10.2, SP 800-108 counter mode with HMAC): `bits` output
// bits from HMAC_hash(key, [i]_32 || label || 0x00 || context_u || context_v || [bits]_32).
// `hash_alg` is a TPM_ALG_ID (SHA-256 0x000B, SHA-384 0x000C).
[[nodiscard]] base::Result<base::Bytes> kdfa(std::uint16_t hash_alg, base::ByteView key, std::string_view label,
                                             base::ByteView context_u, base::ByteView context_v, std::uint32_t bits);

// KDFe (Part 1 §11.4.10.3, SP 800-56A concatenation KDF):
// H([i]_32 || Z || label || 0x00 || party_u || party_v) until `bits` are produced.
[[nodiscard]] base::Result<base::Bytes> kdfe(std::uint16_t hash_alg, base::ByteView z, std::string_view label,
                                             base::ByteView party_u, base::ByteView party_v, std::uint32_t bits);

}  // namespace hallmark::attest
