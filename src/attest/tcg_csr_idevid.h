// TCG-CSR-IDEVID: the binary request of the TCG "TPM 2.0 Keys for Device
// Identity and Attestation" single-pass flow (standards.md §1.4). All sizes are
// 4-octet big-endian:
//
//   TCG_CSR_IDEVID     structVer, contents (= size of csrContents), sigSz,
//                      csrContents (TCG_IDEVID_CONTENT), signature[sigSz]
//   TCG_IDEVID_CONTENT structVer, hashAlgoId, hashSz, then 13 sizes (prodModel,
//                      prodSerial, prodCaData, bootEvntLog, ekCert, attestPub,
//                      atCreateTkt, atCertifyInfo, atCertifyInfoSignature,
//                      signingPub, sgnCertifyInfo, sgnCertifyInfoSignature,
//                      pad), then the 13 payloads in that order.
//
// The decoder is strict: every size is checked against what remains, the whole
// structure is capped at kMaxTcgCsrSize, the payload sizes must add up to the
// contents size exactly, and nothing may follow the signature. The pad (at most
// 15 octets, any content) is tolerated. The TPM payloads are kept as octets:
// tpm_attestation.h decodes them (with tpm2-tss's libtss2-mu).
#pragma once

#include <cstdint>
#include <string>

#include "base/bytes.h"

namespace hallmark::attest {

// structVer: the outer structure written by one implementation is 0x01000100,
// by another 0x00000100 (both accepted, 0x01000100 emitted); the contents 0x00000100.
inline constexpr std::uint32_t kTcgCsrOuterVersion = 0x01000100;
inline constexpr std::uint32_t kTcgCsrOuterVersionAlt = 0x00000100;
inline constexpr std::uint32_t kTcgCsrContentVersion = 0x00000100;
// Large enough for an EK chain certificate, the public areas and a modest boot
// log; a manifest line (64 KiB, base64) cannot carry more anyway.
inline constexpr std::size_t kMaxTcgCsrSize = 48 * 1024;
inline constexpr std::size_t kMaxTcgCsrPad = 15;

struct TcgCsrIdevid {
  std::uint32_t struct_ver = kTcgCsrOuterVersion;
  std::uint32_t content_ver = kTcgCsrContentVersion;
  std::uint32_t hash_alg = 0x000B;  // TPM_ALG_ID: SHA-256 0x000B, SHA-384 0x000C
  std::uint32_t hash_size = 32;     // the digest size of hash_alg
  base::Bytes prod_model, prod_serial, prod_ca_data, boot_event_log;
  base::Bytes ek_cert;                     // DER
  base::Bytes attest_pub;                  // IAK: TPM2B_PUBLIC (or TPMT_PUBLIC)
  base::Bytes at_create_tkt;               // IAK creation ticket (not used by the single-pass flow)
  base::Bytes at_certify_info;             // (not used by the single-pass flow)
  base::Bytes at_certify_info_signature;   // (not used by the single-pass flow)
  base::Bytes signing_pub;                 // IDevID: TPM2B_PUBLIC (or TPMT_PUBLIC)
  base::Bytes sgn_certify_info;            // TPM2B_ATTEST (or TPMS_ATTEST) of TPM2_Certify(IDevID) by the IAK
  base::Bytes sgn_certify_info_signature;  // TPMT_SIGNATURE
  base::Bytes pad;
  base::Bytes signature;  // over the packed csrContents: TPMT_SIGNATURE (or DER ECDSA / PKCS#1 octets)
};

enum class TcgCsrProblem {
  Ok,
  Truncated,     // a size, or a payload, runs past the end
  SizeOverflow,  // over kMaxTcgCsrSize, sizes that do not add up, a pad over 15 octets
  TrailingData,  // octets after the signature
  StructVer,     // an outer or inner structVer not accepted
  HashAlg,       // hashAlgoId not SHA-256/384, or hashSz not its digest size
  Missing,       // a payload the single-pass flow needs is empty
};

struct TcgCsrDecoded {
  TcgCsrProblem problem = TcgCsrProblem::Ok;
  std::string detail;    // why (client-safe), when problem != Ok
  TcgCsrIdevid csr;      // Ok only
  base::Bytes contents;  // Ok only: the packed csrContents exactly as received (what the signature covers)
  bool ok() const { return problem == TcgCsrProblem::Ok; }
};

// Decodes a TCG_CSR_IDEVID; never throws, never reads past `bytes`. Empty
// signingPub / sgnCertifyInfo* (the IAK-only flow) decode: the verifier refuses them.
TcgCsrDecoded decode_tcg_csr_idevid(base::ByteView bytes);

// The packed TCG_IDEVID_CONTENT of `csr` (sizes from the payloads; `pad` as given).
base::Bytes pack_tcg_idevid_content(const TcgCsrIdevid& csr);
// The whole TCG_CSR_IDEVID: outer header, pack_tcg_idevid_content(csr), csr.signature.
base::Bytes encode_tcg_csr_idevid(const TcgCsrIdevid& csr);
// The pad that makes the packed contents a multiple of 16 octets (0..15 zero octets).
base::Bytes tcg_csr_pad_for(const TcgCsrIdevid& csr);

}  // namespace hallmark::attest
