#include "base/bytes.h"

#include <gtest/gtest.h>

using namespace hallmark::base;

TEST(Hex, EncodesAndDecodesWithColonsAndAnyCase) {
  const Bytes b = {0x00, 0xAB, 0x7f};
  EXPECT_EQ(hex_encode(b), "00ab7f");
  EXPECT_EQ(hex_encode_upper(b), "00AB7F");
  EXPECT_EQ(hex_decode("00:ab:7F").value(), b);
}

TEST(Hex, RefusesOddLengthAndNonHex) {
  EXPECT_FALSE(hex_decode("abc").ok());
  EXPECT_FALSE(hex_decode("zz").ok());
}

TEST(Base64, RoundTripsAllLengths) {
  for (std::size_t n = 0; n < 10; ++n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 37);
    auto decoded = base64_decode(base64_encode(b));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded.value(), b);
  }
}

TEST(Base64, IgnoresLineBreaksAndSpacesPerRfc8951) {
  EXPECT_EQ(to_string(base64_decode("aGVs\r\nbG8g\t d29y bGQ=").value()), "hello world");
}

TEST(Base64, RefusesGarbageAndBadLength) {
  EXPECT_FALSE(base64_decode("a$==").ok());
  EXPECT_FALSE(base64_decode("abc").ok());
  EXPECT_FALSE(base64_decode("ab=c").ok());
}

TEST(Base64Url, HasNoPadding) {
  EXPECT_EQ(base64url_encode(to_bytes("\xfb\xff")), "-_8");
}
