#include "attest/idevid_verifier.h"

#include "pkix/oid.h"

namespace hallmark::attest {

using base::ErrorCode;
using base::make_error;

namespace {

base::Error refuse(std::string why) {
  return make_error(ErrorCode::Unauthenticated, std::move(why));
}

}  // namespace

base::Result<DeviceIdentity> IdevidVerifier::verify(const std::vector<base::Bytes>& chain_der) const {
  if (chain_der.empty()) {
    return refuse("no client certificate: present the device's IDevID (or current LDevID) in the TLS handshake");
  }
  if (chain_der.size() > kMaxPath) return refuse("client certificate chain is longer than " + std::to_string(kMaxPath));
  std::vector<pkix::Certificate> presented;
  for (const auto& der : chain_der) {
    auto c = pkix::Certificate::parse(der);
    if (!c.ok()) return refuse("client certificate chain does not decode: " + c.error().detail);
    presented.push_back(std::move(c.value()));
  }
  HM_TRY(auto validated, validate_path(presented, m_anchors, m_clock.now()));
  const auto& leaf = presented.front();

  auto serial = leaf.subject().get(pkix::oid::kSerialNumber);
  if (!serial || serial->empty()) {
    return refuse("client certificate " + describe(leaf) + " has no serialNumber in its subject (802.1AR)");
  }
  DeviceIdentity id{*serial,
                    leaf.issuer().to_string(),
                    validated.anchor->name,
                    leaf.serial_hex(),
                    base::hex_encode(leaf.fingerprint_sha256()),
                    leaf,
                    std::move(validated.path),
                    validated.anchor->certificate};
  return id;
}

}  // namespace hallmark::attest
