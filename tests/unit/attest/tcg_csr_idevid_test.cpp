// The TCG-CSR-IDEVID decoder (standards.md §1.4): a well-formed structure
// round-trips, both outer structVer values are accepted, and every malformed
// input is refused with its own problem, without reading past the buffer.
#include "attest/tcg_csr_idevid.h"

#include <gtest/gtest.h>

namespace hallmark::attest {
namespace {

TcgCsrIdevid sample() {
  TcgCsrIdevid c;
  c.prod_model = base::to_bytes("sensor-v2");
  c.prod_serial = base::to_bytes("SN-00003040");
  c.ek_cert = base::Bytes(300, 0x30);
  c.attest_pub = base::Bytes(90, 0x01);
  c.signing_pub = base::Bytes(90, 0x02);
  c.sgn_certify_info = base::Bytes(150, 0x03);
  c.sgn_certify_info_signature = base::Bytes(72, 0x04);
  c.pad = tcg_csr_pad_for(c);
  c.signature = base::Bytes(72, 0x05);
  return c;
}

void put_u32(base::Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

// Offsets: outer header 12, then the contents header (structVer, hashAlgoId, hashSz, 13 sizes).
constexpr std::size_t kSizeField0 = 12 + 12;

TEST(TcgCsrIdevid, ARequestRoundTripsAndItsContentsAreWhatIsSigned) {
  const auto c = sample();
  const auto wire = encode_tcg_csr_idevid(c);
  EXPECT_EQ(pack_tcg_idevid_content(c).size() % 16, 0u);
  const auto d = decode_tcg_csr_idevid(wire);
  ASSERT_TRUE(d.ok()) << d.detail;
  EXPECT_EQ(d.csr.struct_ver, kTcgCsrOuterVersion);
  EXPECT_EQ(d.csr.prod_serial, c.prod_serial);
  EXPECT_EQ(d.csr.ek_cert, c.ek_cert);
  EXPECT_EQ(d.csr.signing_pub, c.signing_pub);
  EXPECT_EQ(d.csr.sgn_certify_info_signature, c.sgn_certify_info_signature);
  EXPECT_EQ(d.csr.signature, c.signature);
  EXPECT_EQ(d.contents, pack_tcg_idevid_content(c));
}

TEST(TcgCsrIdevid, AcceptsBothOuterVersionsAndAnyPadUpTo15Octets) {
  auto c = sample();
  c.struct_ver = kTcgCsrOuterVersionAlt;
  EXPECT_TRUE(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).ok());
  c.pad = base::to_bytes("=====");  // not aligning anything: tolerated
  EXPECT_TRUE(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).ok());
  c.pad.clear();
  EXPECT_TRUE(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).ok());
}

TEST(TcgCsrIdevid, RefusesAnUnknownStructVerOrHash) {
  auto c = sample();
  c.struct_ver = 0x02000100;
  EXPECT_EQ(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).problem, TcgCsrProblem::StructVer);
  c = sample();
  c.content_ver = 0x01000100;
  EXPECT_EQ(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).problem, TcgCsrProblem::StructVer);
  c = sample();
  c.hash_alg = 0x0004;  // SHA-1
  c.hash_size = 20;
  EXPECT_EQ(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).problem, TcgCsrProblem::HashAlg);
  c = sample();
  c.hash_size = 48;  // SHA-256 with SHA-384's size
  EXPECT_EQ(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).problem, TcgCsrProblem::HashAlg);
  c = sample();
  c.hash_alg = 0x000C;
  c.hash_size = 48;
  EXPECT_TRUE(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).ok());
}

TEST(TcgCsrIdevid, RefusesEveryTruncation) {
  const auto wire = encode_tcg_csr_idevid(sample());
  for (std::size_t n = 0; n < wire.size(); ++n) {
    const auto d = decode_tcg_csr_idevid(base::ByteView(wire.data(), n));
    ASSERT_FALSE(d.ok()) << n;
    EXPECT_EQ(d.problem, TcgCsrProblem::Truncated) << n << ": " << d.detail;
  }
}

TEST(TcgCsrIdevid, RefusesSizesThatOverflowOrDoNotAddUp) {
  auto wire = encode_tcg_csr_idevid(sample());
  // A payload size near 2^32 is compared with what remains, never added.
  auto b = wire;
  put_u32(b, kSizeField0 + 4 * 4, 0xFFFFFFF0);  // ekCertSz
  EXPECT_EQ(decode_tcg_csr_idevid(b).problem, TcgCsrProblem::Truncated);
  b = wire;
  put_u32(b, 4, 0xFFFFFFFF);  // contents
  EXPECT_EQ(decode_tcg_csr_idevid(b).problem, TcgCsrProblem::Truncated);
  b = wire;
  put_u32(b, 8, 0xFFFFFFFF);  // sigSz
  EXPECT_EQ(decode_tcg_csr_idevid(b).problem, TcgCsrProblem::Truncated);
  // A smaller ekCertSz leaves octets no size accounts for.
  b = wire;
  put_u32(b, kSizeField0 + 4 * 4, 299);
  EXPECT_EQ(decode_tcg_csr_idevid(b).problem, TcgCsrProblem::SizeOverflow);
  auto c = sample();
  c.pad = base::Bytes(16, 0);
  EXPECT_EQ(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).problem, TcgCsrProblem::SizeOverflow);
  c = sample();
  c.boot_event_log = base::Bytes(kMaxTcgCsrSize, 0);
  EXPECT_EQ(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).problem, TcgCsrProblem::SizeOverflow);
}

TEST(TcgCsrIdevid, RefusesOctetsAfterTheSignature) {
  auto wire = encode_tcg_csr_idevid(sample());
  wire.push_back(0);
  EXPECT_EQ(decode_tcg_csr_idevid(wire).problem, TcgCsrProblem::TrailingData);
}

TEST(TcgCsrIdevid, RefusesARequestWithoutEkCertificateOrSignature) {
  auto c = sample();
  c.ek_cert.clear();
  EXPECT_EQ(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).problem, TcgCsrProblem::Missing);
  c = sample();
  c.signature.clear();
  EXPECT_EQ(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).problem, TcgCsrProblem::Missing);
  // The IAK-only flow decodes (no signingPub): the verifier refuses it as not supported.
  c = sample();
  c.signing_pub.clear();
  c.sgn_certify_info.clear();
  c.sgn_certify_info_signature.clear();
  EXPECT_TRUE(decode_tcg_csr_idevid(encode_tcg_csr_idevid(c)).ok());
}

TEST(TcgCsrIdevid, ArbitraryCorruptionOfTheSizesIsRefusedOrDecodedWithinTheBuffer) {
  const auto wire = encode_tcg_csr_idevid(sample());
  std::uint32_t x = 12345;
  for (int i = 0; i < 20000; ++i) {
    auto b = wire;
    x = x * 1103515245u + 12345u;
    const std::size_t at = (x >> 8) % 76;  // the outer and contents headers: every size field
    b[at] = static_cast<std::uint8_t>(x >> 24);
    const auto d = decode_tcg_csr_idevid(b);
    if (d.ok()) {
      EXPECT_EQ(d.contents.size() + d.csr.signature.size() + 12, b.size());
    } else {
      EXPECT_FALSE(d.detail.empty());
    }
  }
}

}  // namespace
}  // namespace hallmark::attest
