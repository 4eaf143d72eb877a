// A software secure element and its vendor, for tests and the demo: what a real
// SE vendor and a real SE do for SE attestation (attest/se_attestation.h),
// with software keys.
//
// The vendor folder holds the vendor's root CA (root.pem) and its key
// (root.key, unencrypted PEM, 0600: it stands for the vendor's HSM, not ours).
// For each device the SE generates a P-256 key, the vendor certifies it (the
// attestation certificate, subject CN=<vendor> SE <serial>), and the SE signs
// "hallmark-se-attestation-v1" || nonce with it and makes the CSR.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"
#include "base/rng.h"
#include "keys/signer.h"

namespace hallmark::device {

inline constexpr char kSeVendorRoot[] = "root.pem";
inline constexpr char kSeVendorKey[] = "root.key";

// Creates the vendor folder with a fresh root CA "CN=<name> SE Root CA". AlreadyExists when it holds one.
base::Status se_vendor_init(const std::filesystem::path& dir, const std::string& name, base::Rng& rng,
                            const base::Clock& clock);

struct SeDevice {
  std::unique_ptr<keys::Signer> key;  // the key "inside" the SE
  base::Bytes csr_der;                // subject serialNumber=<serial>
  std::vector<base::Bytes> chain;     // attestation certificate (leaf), then the vendor root
  base::Bytes signature;              // DER signature over the attestation message
};

// A new device of the vendor in `vendor_dir` answering the station's `nonce`.
base::Result<SeDevice> se_make_device(const std::filesystem::path& vendor_dir, const std::string& serial,
                                      base::ByteView nonce, base::Rng& rng, const base::Clock& clock);

// The SE's answer to a further nonce with an existing key (DER signature).
base::Result<base::Bytes> se_sign_nonce(const keys::Signer& key, base::ByteView nonce);

}  // namespace hallmark::device
