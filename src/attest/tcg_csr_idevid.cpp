#include "attest/tcg_csr_idevid.h"

#include <array>

namespace hallmark::attest {

namespace {

constexpr std::size_t kOuterHeader = 12;                     // structVer, contents, sigSz
constexpr std::size_t kPayloads = 13;                        // prodModel .. pad
constexpr std::size_t kContentHeader = 4 * (3 + kPayloads);  // structVer, hashAlgoId, hashSz, 13 sizes

void put_u32(base::Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

std::uint32_t get_u32(base::ByteView b, std::size_t at) {
  return (static_cast<std::uint32_t>(b[at]) << 24) | (static_cast<std::uint32_t>(b[at + 1]) << 16) |
         (static_cast<std::uint32_t>(b[at + 2]) << 8) | b[at + 3];
}

// The payloads in wire order (const and mutable views of one list).
template <typename Csr>
auto payloads(Csr& c) {
  return std::array{&c.prod_model,
                    &c.prod_serial,
                    &c.prod_ca_data,
                    &c.boot_event_log,
                    &c.ek_cert,
                    &c.attest_pub,
                    &c.at_create_tkt,
                    &c.at_certify_info,
                    &c.at_certify_info_signature,
                    &c.signing_pub,
                    &c.sgn_certify_info,
                    &c.sgn_certify_info_signature,
                    &c.pad};
}

constexpr std::array<const char*, kPayloads> kNames = {"prodModel",   "prodSerial",     "prodCaData",
                                                       "bootEvntLog", "ekCert",         "attestPub",
                                                       "atCreateTkt", "atCertifyInfo",  "atCertifyInfoSignature",
                                                       "signingPub",  "sgnCertifyInfo", "sgnCertifyInfoSignature",
                                                       "pad"};

TcgCsrDecoded problem(TcgCsrProblem p, std::string detail) {
  TcgCsrDecoded out;
  out.problem = p;
  out.detail = std::move(detail);
  return out;
}

std::string hex32(std::uint32_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += kHex[(v >> shift) & 0xf];
  return s;
}

}  // namespace

TcgCsrDecoded decode_tcg_csr_idevid(base::ByteView b) {
  if (b.size() > kMaxTcgCsrSize) {
    return problem(TcgCsrProblem::SizeOverflow, "the TCG-CSR-IDEVID is " + std::to_string(b.size()) +
                                                    " octets; at most " + std::to_string(kMaxTcgCsrSize) +
                                                    " are accepted");
  }
  if (b.size() < kOuterHeader) return problem(TcgCsrProblem::Truncated, "the TCG-CSR-IDEVID header is truncated");
  const std::uint32_t outer_ver = get_u32(b, 0);
  if (outer_ver != kTcgCsrOuterVersion && outer_ver != kTcgCsrOuterVersionAlt) {
    return problem(TcgCsrProblem::StructVer,
                   "TCG_CSR_IDEVID.structVer " + hex32(outer_ver) + " is not 0x01000100 or 0x00000100");
  }
  // Sizes are compared with what remains, never added first (no wrap-around).
  const std::size_t contents_size = get_u32(b, 4);
  const std::size_t sig_size = get_u32(b, 8);
  std::size_t remaining = b.size() - kOuterHeader;
  if (contents_size > remaining) {
    return problem(TcgCsrProblem::Truncated, "TCG_CSR_IDEVID.contents says " + std::to_string(contents_size) +
                                                 " octets but only " + std::to_string(remaining) + " follow");
  }
  remaining -= contents_size;
  if (sig_size > remaining) {
    return problem(TcgCsrProblem::Truncated, "TCG_CSR_IDEVID.sigSz says " + std::to_string(sig_size) +
                                                 " octets but only " + std::to_string(remaining) + " follow");
  }
  if (sig_size < remaining) {
    return problem(TcgCsrProblem::TrailingData,
                   std::to_string(remaining - sig_size) + " octets follow the TCG-CSR-IDEVID signature");
  }
  if (sig_size == 0) return problem(TcgCsrProblem::Missing, "the TCG-CSR-IDEVID has no signature");

  const auto contents = b.subspan(kOuterHeader, contents_size);
  if (contents.size() < kContentHeader) {
    return problem(TcgCsrProblem::Truncated, "the TCG_IDEVID_CONTENT header is truncated");
  }
  TcgCsrDecoded out;
  auto& c = out.csr;
  c.struct_ver = outer_ver;
  c.content_ver = get_u32(contents, 0);
  if (c.content_ver != kTcgCsrContentVersion) {
    return problem(TcgCsrProblem::StructVer,
                   "TCG_IDEVID_CONTENT.structVer " + hex32(c.content_ver) + " is not 0x00000100");
  }
  c.hash_alg = get_u32(contents, 4);
  c.hash_size = get_u32(contents, 8);
  if (!((c.hash_alg == 0x000B && c.hash_size == 32) || (c.hash_alg == 0x000C && c.hash_size == 48))) {
    return problem(TcgCsrProblem::HashAlg, "hashAlgoId " + hex32(c.hash_alg) + " with hashSz " +
                                               std::to_string(c.hash_size) +
                                               " is not SHA-256 (0x000B, 32) or SHA-384 (0x000C, 48)");
  }
  std::size_t at = kContentHeader;
  std::size_t left = contents.size() - kContentHeader;
  const auto fields = payloads(c);
  for (std::size_t i = 0; i < kPayloads; ++i) {
    const std::size_t size = get_u32(contents, 12 + 4 * i);
    if (size > left) {
      return problem(TcgCsrProblem::Truncated, std::string(kNames[i]) + "Sz says " + std::to_string(size) +
                                                   " octets but only " + std::to_string(left) +
                                                   " remain in csrContents");
    }
    if (i == kPayloads - 1 && size > kMaxTcgCsrPad) {
      return problem(TcgCsrProblem::SizeOverflow, "padSz " + std::to_string(size) + " is more than " +
                                                      std::to_string(kMaxTcgCsrPad) +
                                                      " (the pad only aligns csrContents to 16 octets)");
    }
    left -= size;
  }
  if (left != 0) {
    return problem(TcgCsrProblem::SizeOverflow,
                   "the payload sizes leave " + std::to_string(left) + " octets of csrContents unaccounted for");
  }
  for (std::size_t i = 0; i < kPayloads; ++i) {
    const std::size_t size = get_u32(contents, 12 + 4 * i);
    fields[i]->assign(contents.begin() + static_cast<std::ptrdiff_t>(at),
                      contents.begin() + static_cast<std::ptrdiff_t>(at + size));
    at += size;
  }
  for (const auto* required : {&c.ek_cert, &c.attest_pub}) {
    if (required->empty()) {
      return problem(TcgCsrProblem::Missing, std::string(required == &c.ek_cert ? "ekCert" : "attestPub") +
                                                 " is empty: the station verifies the IAK through the EK "
                                                 "certificate");
    }
  }
  out.contents.assign(contents.begin(), contents.end());
  const auto sig = b.subspan(kOuterHeader + contents_size);
  c.signature.assign(sig.begin(), sig.end());
  return out;
}

base::Bytes pack_tcg_idevid_content(const TcgCsrIdevid& c) {
  base::Bytes out;
  put_u32(out, c.content_ver);
  put_u32(out, c.hash_alg);
  put_u32(out, c.hash_size);
  const auto fields = payloads(c);
  for (const auto* f : fields) put_u32(out, static_cast<std::uint32_t>(f->size()));
  for (const auto* f : fields) out.insert(out.end(), f->begin(), f->end());
  return out;
}

base::Bytes encode_tcg_csr_idevid(const TcgCsrIdevid& c) {
  const auto contents = pack_tcg_idevid_content(c);
  base::Bytes out;
  put_u32(out, c.struct_ver);
  put_u32(out, static_cast<std::uint32_t>(contents.size()));
  put_u32(out, static_cast<std::uint32_t>(c.signature.size()));
  out.insert(out.end(), contents.begin(), contents.end());
  out.insert(out.end(), c.signature.begin(), c.signature.end());
  return out;
}

base::Bytes tcg_csr_pad_for(const TcgCsrIdevid& c) {
  TcgCsrIdevid unpadded = c;
  unpadded.pad.clear();
  const auto size = pack_tcg_idevid_content(unpadded).size();
  return base::Bytes((16 - size % 16) % 16, 0);
}

}  // namespace hallmark::attest
