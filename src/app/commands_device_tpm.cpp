// `hallmark device tpm make|activate`: a TPM-backed device (src/device/tpm_device.h) on any TCTI,
// e.g. swtpm ("swtpm:host=127.0.0.1,port=N"), answering the factory station (docs/factory.md, TPM).
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/cli.h"
#include "attest/tcg_csr_idevid.h"
#include "attest/tpm_attestation.h"
#include "base/crypto.h"
#include "base/files.h"
#include "device/tpm_device.h"
#include "pkix/csr.h"
#include "pkix/name.h"
#include "pkix/oid.h"
#include "pkix/pem.h"

namespace hallmark::app {

namespace {

struct TpmOptions {
  std::string tcti, serial, product, nonce, ek_chain, answer, format = "json";
};

// The TCG-CSR-IDEVID of the single-pass flow (standards.md §1.4): outer structVer
// 0x01000100, contents 0x00000100, SHA-256, padded to 16 octets, signed by the
// IDevID key in the TPM (TPM2_Sign over SHA-256 of the packed csrContents).
base::Result<base::Bytes> tcg_csr_idevid(device::TpmDevice& dev, const TpmOptions& o, const base::Bytes& ek_cert,
                                         const base::Bytes& iak, const base::Bytes& idevid,
                                         const device::TpmDevice::Certified& certified) {
  attest::TcgCsrIdevid c;
  c.prod_model = base::to_bytes(o.product);
  c.prod_serial = base::to_bytes(o.serial);
  c.ek_cert = ek_cert;
  c.attest_pub = iak;
  c.signing_pub = idevid;
  // sgnCertifyInfo is a TPM2B_ATTEST: the TPMS_ATTEST with its 2-octet size.
  c.sgn_certify_info = {static_cast<std::uint8_t>(certified.attest.size() >> 8),
                        static_cast<std::uint8_t>(certified.attest.size() & 0xff)};
  c.sgn_certify_info.insert(c.sgn_certify_info.end(), certified.attest.begin(), certified.attest.end());
  c.sgn_certify_info_signature = certified.signature;
  c.pad = attest::tcg_csr_pad_for(c);
  HM_TRY(auto raw, dev.sign_digest(base::sha256(attest::pack_tcg_idevid_content(c))));
  HM_TRY(c.signature, attest::tpmt_ecdsa_signature(raw, 0x000B));
  return attest::encode_tcg_csr_idevid(c);
}

int run_tpm_make(const TpmOptions& o) {
  auto nonce = base::hex_decode(o.nonce);
  if (!nonce.ok() || nonce->size() != attest::kTpmNonceSize) {
    return report(
        base::make_error(base::ErrorCode::InvalidArgument,
                         "--nonce must be the station's nonce: 64 hex digits (`hallmark station challenge`)"));
  }
  nlohmann::json chain = nlohmann::json::array();
  if (!o.ek_chain.empty()) {
    auto pem = base::read_file(o.ek_chain, 1 << 20);
    if (!pem.ok()) return report(pem.error());
    auto ders = pkix::pem_decode_all(pem.value(), {"CERTIFICATE"});
    if (!ders.ok()) return report(ders.error());
    for (const auto& d : ders.value()) chain.push_back(base::base64_encode(d));
  }
  auto tpm = device::TpmDevice::open(o.tcti);
  if (!tpm.ok()) return report(tpm.error());
  auto& dev = *tpm.value();
  auto ek_cert = dev.ek_certificate();
  if (!ek_cert.ok()) return report(ek_cert.error());
  auto ek_pub = dev.ek_public();
  if (!ek_pub.ok()) return report(ek_pub.error());
  auto iak = dev.iak_public();
  if (!iak.ok()) return report(iak.error());
  auto idevid = dev.idevid_public();
  if (!idevid.ok()) return report(idevid.error());
  auto certified = dev.certify(nonce.value());
  if (!certified.ok()) return report(certified.error());
  if (o.format == "tcg-csr-idevid") {
    auto csr = tcg_csr_idevid(dev, o, ek_cert.value(), iak.value(), idevid.value(), certified.value());
    if (!csr.ok()) return report(csr.error());
    nlohmann::json evidence = {{"type", "tpm"}, {"tcg_csr_idevid", base::base64_encode(csr.value())}};
    if (!chain.empty()) evidence["ek_chain"] = chain;
    std::cout << nlohmann::json{{"serial", o.serial}, {"product", o.product}, {"evidence", evidence}}.dump() << "\n";
    return kExitOk;
  }
  // The CSR: its key is the TPM's IDevID key, its signature made by the TPM.
  auto key = attest::decode_tpm_public(idevid.value());
  if (!key.ok()) return report(key.error());
  pkix::Name subject;
  if (auto s = subject.add(pkix::oid::kSerialNumber, o.serial); !s.ok()) return report(s.error());
  auto info = pkix::encode_csr_info(subject, key->spki_der);
  if (!info.ok()) return report(info.error());
  auto sig = dev.sign_digest(base::sha256(info.value()));
  if (!sig.ok()) return report(sig.error());
  auto csr = pkix::assemble_csr(info.value(), base::SignatureAlgorithm::EcdsaSha256, sig.value());
  if (!csr.ok()) return report(csr.error());
  nlohmann::json evidence = {{"type", "tpm"},
                             {"nonce", base::hex_encode(nonce.value())},
                             {"ek_certificate", base::base64_encode(ek_cert.value())},
                             {"ek_public", base::base64_encode(ek_pub.value())},
                             {"iak_public", base::base64_encode(iak.value())},
                             {"idevid_public", base::base64_encode(idevid.value())},
                             {"certify_info", base::base64_encode(certified->attest)},
                             {"certify_signature", base::base64_encode(certified->signature)}};
  if (!chain.empty()) evidence["ek_chain"] = chain;
  nlohmann::json line = {
      {"serial", o.serial}, {"product", o.product}, {"csr", base::base64_encode(csr.value())}, {"evidence", evidence}};
  std::cout << line.dump() << "\n";
  return kExitOk;
}

int run_tpm_activate(const TpmOptions& o) {
  std::stringstream text;
  if (o.answer == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(o.answer);
    if (!in) return report(base::make_error(base::ErrorCode::NotFound, "cannot read " + o.answer));
    text << in.rdbuf();
  }
  const auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("credential_blob") || !doc.contains("encrypted_secret") ||
      !doc["credential_blob"].is_string() || !doc["encrypted_secret"].is_string()) {
    return report(base::make_error(base::ErrorCode::InvalidArgument,
                                   "--answer must hold the station's {\"credential_blob\",\"encrypted_secret\"}"));
  }
  auto blob = base::base64_decode(doc["credential_blob"].get<std::string>());
  auto secret = base::base64_decode(doc["encrypted_secret"].get<std::string>());
  if (!blob.ok() || !secret.ok()) {
    return report(base::make_error(base::ErrorCode::InvalidArgument, "the station's answer is not base64"));
  }
  auto tpm = device::TpmDevice::open(o.tcti);
  if (!tpm.ok()) return report(tpm.error());
  auto got = tpm.value()->activate(blob.value(), secret.value());
  if (!got.ok()) return report(got.error());
  std::cout << base::base64_encode(got.value()) << "\n";
  return kExitOk;
}

}  // namespace

void add_device_tpm_commands(CLI::App& device, int& exit_code) {
  auto* tpm = device.add_subcommand("tpm", "TPM-backed device (TCG DevID evidence for the factory station)");
  tpm->require_subcommand(1);
  auto o = std::make_shared<TpmOptions>();
  auto* make = tpm->add_subcommand(
      "make",
      "Create the IAK and IDevID key in the TPM, certify the IDevID key by the IAK over the station's nonce, "
      "make the CSR signed in the TPM; prints one manifest line (without \"activated_secret\")");
  make->add_option("--tcti", o->tcti, "TCTI, e.g. swtpm:host=127.0.0.1,port=2321 or device:/dev/tpmrm0")->required();
  make->add_option("--serial", o->serial, "Device serial number")->required();
  make->add_option("--product", o->product, "Product name")->required();
  make->add_option("--nonce", o->nonce, "The station's nonce (hex, `hallmark station challenge`)")->required();
  make->add_option("--ek-chain", o->ek_chain, "PEM file of the EK certificate's intermediate CAs (\"ek_chain\")");
  make->add_option("--format", o->format,
                   "json (default: the evidence's members and a PKCS#10 CSR) or tcg-csr-idevid (the TCG DevID "
                   "single-pass TCG-CSR-IDEVID as \"tcg_csr_idevid\", no CSR)")
      ->check(CLI::IsMember({"json", "tcg-csr-idevid"}));
  make->footer(
      "The EK is the persistent RSA EK at 0x81010001 with its certificate at NV 0x01c00002; the IAK (ECC P-256, "
      "restricted signing) and IDevID key (ECC P-256, unrestricted signing) are primary objects of the "
      "endorsement and owner hierarchies, re-created identically on each call and flushed afterwards.");
  make->callback([o, &exit_code] { exit_code = run_tpm_make(*o); });

  auto* act = tpm->add_subcommand(
      "activate", "TPM2_ActivateCredential of the station's answer with the EK and IAK; prints the secret (base64)");
  act->add_option("--tcti", o->tcti, "TCTI, as for make")->required();
  act->add_option("--answer", o->answer,
                  "The station's answer {\"credential_blob\",\"encrypted_secret\"} (file, '-' = stdin)")
      ->required();
  act->callback([o, &exit_code] { exit_code = run_tpm_activate(*o); });
}

}  // namespace hallmark::app
