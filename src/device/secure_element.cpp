#include "device/secure_element.h"

#include <cstring>

#include "base/crypto.h"
#include "base/files.h"
#include "device/est_client.h"
#include "keys/software_key_store.h"
#include "pkix/extensions.h"
#include "pkix/oid.h"
#include "pkix/public_key.h"
#include "pkix/tbs_certificate.h"

namespace hallmark::device {

using base::ErrorCode;
using base::make_error;
namespace fs = std::filesystem;

namespace {

// The octets the SE signs; attest/se_attestation.h defines them for the station
// (the device side talks only over the wire, so it spells them itself).
constexpr char kContext[] = "hallmark-se-attestation-v1";

base::Bytes random_serial(base::Rng& rng) {
  auto s = rng.bytes(16);
  s[0] = static_cast<std::uint8_t>((s[0] & 0x7f) | 0x01);  // positive, no leading zero octet
  return s;
}

base::Result<pkix::Certificate> sign_certificate(const pkix::TbsCertificateSpec& spec, const keys::Signer& issuer) {
  HM_TRY(auto tbs, pkix::encode_tbs_certificate(spec));
  HM_TRY(auto sig, issuer.sign(tbs));
  return pkix::assemble_certificate(tbs, issuer.signature_algorithm(), sig);
}

base::Result<base::Bytes> der_signature(const keys::Signer& key, base::ByteView message) {
  HM_TRY(auto raw, key.sign(message));
  const auto alg = key.signature_algorithm();
  if (alg == base::SignatureAlgorithm::EcdsaSha256 || alg == base::SignatureAlgorithm::EcdsaSha384) {
    return base::ecdsa_raw_to_der(raw);
  }
  return raw;
}

}  // namespace

base::Status se_vendor_init(const fs::path& dir, const std::string& name, base::Rng& rng, const base::Clock& clock) {
  if (fs::exists(dir / kSeVendorRoot)) {
    return make_error(ErrorCode::AlreadyExists, "'" + dir.string() + "' already holds an SE vendor");
  }
  if (name.empty() || name.size() > 64)
    return make_error(ErrorCode::InvalidArgument, "vendor name must be 1..64 chars");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::Io, "cannot create '" + dir.string() + "'", ec.message());
  HM_TRY(auto key, keys::generate_ephemeral(base::KeyAlgorithm::EcP256));
  pkix::Name subject;
  HM_CHECK(subject.add(pkix::oid::kOrganization, name));
  HM_CHECK(subject.add(pkix::oid::kCommonName, name + " SE Root CA"));
  HM_TRY(auto ski, pkix::spki_key_identifier(key->public_key_der()));
  pkix::TbsCertificateSpec spec;
  spec.serial = random_serial(rng);
  spec.signature_algorithm = key->signature_algorithm();
  spec.issuer = subject;
  spec.subject = subject;
  spec.not_before = clock.now() - std::chrono::hours(1);
  spec.not_after = clock.now() + std::chrono::days(365 * 25);
  spec.subject_public_key_info = key->public_key_der();
  spec.extensions = {pkix::ext::basic_constraints(true, std::nullopt),
                     pkix::ext::key_usage(pkix::kKeyCertSign | pkix::kCrlSign), pkix::ext::subject_key_identifier(ski)};
  HM_TRY(auto root, sign_certificate(spec, *key));
  HM_TRY(auto pem, keys::export_unencrypted_pem(*key));
  HM_CHECK(base::write_file(dir / kSeVendorKey, pem, 0600));
  return base::write_file(dir / kSeVendorRoot, root.pem(), 0644);
}

base::Result<base::Bytes> se_sign_nonce(const keys::Signer& key, base::ByteView nonce) {
  const std::size_t n = std::strlen(kContext);
  base::Bytes message(n + nonce.size());
  std::memcpy(message.data(), kContext, n);
  if (!nonce.empty()) std::memcpy(message.data() + n, nonce.data(), nonce.size());
  return der_signature(key, message);
}

base::Result<SeDevice> se_make_device(const fs::path& vendor_dir, const std::string& serial, base::ByteView nonce,
                                      base::Rng& rng, const base::Clock& clock) {
  auto root_pem = base::read_file(vendor_dir / kSeVendorRoot, 1 << 20);
  if (!root_pem.ok()) {
    return make_error(ErrorCode::NotFound, "'" + vendor_dir.string() +
                                               "' is not an SE vendor folder (make one with `hallmark device se "
                                               "vendor-init`)");
  }
  HM_TRY(auto root, pkix::Certificate::parse(root_pem.value()));
  HM_TRY(auto vendor_key_pem, base::read_file(vendor_dir / kSeVendorKey, 1 << 20));
  HM_TRY(auto vendor_key, keys::load_unencrypted_key(vendor_key_pem, (vendor_dir / kSeVendorKey).string()));

  SeDevice out;
  HM_TRY(out.key, keys::generate_ephemeral(base::KeyAlgorithm::EcP256));
  pkix::Name subject;
  const auto vendor = root.subject().get(pkix::oid::kOrganization).value_or("SE vendor");
  HM_CHECK(subject.add(pkix::oid::kOrganization, vendor));
  HM_CHECK(subject.add(pkix::oid::kCommonName, vendor + " SE " + serial));
  HM_TRY(auto ski, pkix::spki_key_identifier(out.key->public_key_der()));
  HM_TRY(auto aki, pkix::spki_key_identifier(vendor_key->public_key_der()));
  pkix::TbsCertificateSpec spec;
  spec.serial = random_serial(rng);
  spec.signature_algorithm = vendor_key->signature_algorithm();
  spec.issuer = root.subject();
  spec.subject = subject;
  spec.not_before = clock.now() - std::chrono::hours(1);
  spec.no_expiry = true;  // an SE attestation certificate lives as long as the chip
  spec.subject_public_key_info = out.key->public_key_der();
  spec.extensions = {pkix::ext::basic_constraints(false, std::nullopt), pkix::ext::key_usage(pkix::kDigitalSignature),
                     pkix::ext::subject_key_identifier(ski), pkix::ext::authority_key_identifier(aki)};
  HM_TRY(auto leaf, sign_certificate(spec, *vendor_key));
  out.chain = {leaf.der(), root.der()};
  HM_TRY(out.csr_der, make_csr(*out.key, serial));
  HM_TRY(out.signature, se_sign_nonce(*out.key, nonce));
  return out;
}

}  // namespace hallmark::device
