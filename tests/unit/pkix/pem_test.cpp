#include "pkix/pem.h"

#include <gtest/gtest.h>

using namespace hallmark;
using namespace hallmark::pkix;
using base::Bytes;

namespace {
const Bytes kData = [] {
  Bytes b(100);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 7);
  return b;
}();
}  // namespace

TEST(Pem, EncodesWith64CharacterLinesAndDecodesBack) {
  const std::string pem = pem_encode(kData, "CERTIFICATE");
  EXPECT_TRUE(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
  EXPECT_TRUE(pem.ends_with("-----END CERTIFICATE-----\n"));
  const auto first_line_end = pem.find('\n', 28);
  EXPECT_EQ(first_line_end - 28, 64u);
  auto blocks = pem_decode_all(base::view(pem), {"CERTIFICATE"});
  ASSERT_TRUE(blocks.ok()) << blocks.error().describe();
  ASSERT_EQ(blocks->size(), 1u);
  EXPECT_EQ(blocks->front(), kData);
}

TEST(Pem, DetectsPemByContentNotByName) {
  EXPECT_TRUE(looks_like_pem(base::view("\n  -----BEGIN X-----\n")));
  EXPECT_FALSE(looks_like_pem(Bytes{0x30, 0x82}));
  EXPECT_FALSE(looks_like_pem(base::view("Certificate:\n-----BEGIN CERTIFICATE-----")));
}

TEST(Pem, TextOutsideTheBlockIsMalformedInStrictMode) {
  for (const std::string& text : {"junk\n" + pem_encode(kData, "CSR"), pem_encode(kData, "CSR") + "trailer\n"}) {
    auto r = pem_decode_all(base::view(text), {"CSR"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::ErrorCode::Malformed);
    EXPECT_NE(r.error().detail.find("text outside the PEM block"), std::string::npos) << r.error().detail;
  }
}

TEST(Pem, IgnoreModeSkipsTextAroundAndBetweenBlocks) {
  const std::string text = "Certificate:\n  Data: ...\n" + pem_encode(kData, "CERTIFICATE") + "subject=...\n" +
                           pem_encode(Bytes{1, 2, 3}, "CERTIFICATE");
  auto r = pem_decode_all(base::view(text), {"CERTIFICATE"}, PemText::Ignore);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0], kData);
  EXPECT_EQ((*r)[1], (Bytes{1, 2, 3}));
}

TEST(Pem, BlocksWithOtherLabelsAreSkippedAndMissingLabelIsNotFound) {
  const std::string text = pem_encode(kData, "PRIVATE KEY") + pem_encode(Bytes{9}, "CERTIFICATE");
  auto certs = pem_decode_all(base::view(text), {"CERTIFICATE"});
  ASSERT_TRUE(certs.ok());
  EXPECT_EQ(certs->size(), 1u);
  auto none = pem_decode_all(base::view(text), {"CERTIFICATE REQUEST"});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, base::ErrorCode::NotFound);
}

TEST(Pem, BadBase64BodyIsMalformedWithItsOwnMessage) {
  const std::string text = "-----BEGIN CSR-----\nAAA*AAAA\n-----END CSR-----\n";
  auto r = pem_decode_all(base::view(text), {"CSR"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, base::ErrorCode::Malformed);
  EXPECT_EQ(r.error().detail, "PEM block 'CSR' has a body that is not valid base64");
}

TEST(Pem, UnterminatedBlockIsMalformed) {
  const std::string text = "-----BEGIN CSR-----\nAAAA\n";
  auto r = pem_decode_all(base::view(text), {"CSR"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("not terminated"), std::string::npos);
  const std::string mismatched = "-----BEGIN CSR-----\nAAAA\n-----END X-----\n";
  EXPECT_FALSE(pem_decode_all(base::view(mismatched), {"CSR"}).ok());
}

TEST(Pem, ToDerPassesDerThroughAndRefusesSeveralBlocks) {
  EXPECT_EQ(to_der(kData, {"CERTIFICATE"}).value(), kData);
  EXPECT_EQ(to_der(base::view(pem_encode(kData, "CERTIFICATE")), {"CERTIFICATE"}).value(), kData);
  const std::string two = pem_encode(kData, "CERTIFICATE") + pem_encode(kData, "CERTIFICATE");
  auto r = to_der(base::view(two), {"CERTIFICATE"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, base::ErrorCode::Malformed);
}
