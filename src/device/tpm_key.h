// TPM keys where OpenSSL and Hallmark expect keys: an EVP_PKEY usable as a TLS
// client key (EST over mutual TLS with the IDevID or LDevID in the TPM) and a
// keys::Signer for CSRs. Their public halves are the TPM keys'; every private
// operation is TPM2_Sign through the TpmDevice (ESAPI). Nothing secret exists
// outside the TPM: there is no key file, not even a wrapped one.
#pragma once

#include <memory>

#include "base/bytes.h"
#include "base/result.h"
#include "device/tpm_device.h"
#include "keys/signer.h"

struct evp_pkey_st;

namespace hallmark::device {

// The TLS signature algorithms a TPM key can make (its template fixes ECDSA
// with SHA-256): give them to EstClientConfig::client_sigalgs.
inline constexpr char kTpmTlsSigalgs[] = "ECDSA+SHA256";

// An EVP_PKEY for `key` (IDevID or LDevID) of `tpm`; it keeps `tpm` alive.
// Signing anything but a SHA-256 digest fails.
base::Result<std::shared_ptr<evp_pkey_st>> tpm_evp_pkey(std::shared_ptr<TpmDevice> tpm, TpmKey key);

// A Signer (ECDSA P-256 with SHA-256) for `key`; reference() is "tpm:idevid" or "tpm:ldevid".
base::Result<std::unique_ptr<keys::Signer>> tpm_signer(std::shared_ptr<TpmDevice> tpm, TpmKey key);

// Which of the TPM's IDevID and LDevID keys has this SubjectPublicKeyInfo.
// NotFound when neither has (the certificate is not for this TPM).
base::Result<TpmKey> tpm_key_for(TpmDevice& tpm, base::ByteView spki_der);

}  // namespace hallmark::device
