// HTTP message helpers that every protocol front end uses.
#include "http/message.h"

#include <gtest/gtest.h>

namespace hallmark::http {
namespace {

TEST(HttpMediaType, ComparesTypeCaseInsensitivelyAndIgnoresParameters) {
  EXPECT_TRUE(media_type_is("application/pkcs10", "application/pkcs10"));
  EXPECT_TRUE(media_type_is("Application/PKCS10; charset=binary", "application/pkcs10"));
  EXPECT_TRUE(media_type_is("  application/pkcs10 ;x=y", "application/pkcs10"));
  EXPECT_FALSE(media_type_is("application/pkcs10x", "application/pkcs10"));
  EXPECT_FALSE(media_type_is("text/plain", "application/pkcs10"));
  EXPECT_FALSE(media_type_is("", "application/json"));
}

TEST(HttpHeaders, FindsTheFirstHeaderWhateverTheCaseOfItsName) {
  const Headers h = {{"content-TYPE", "a"}, {"Content-Type", "b"}};
  EXPECT_EQ(find_header(h, "Content-Type").value_or(""), "a");
  EXPECT_FALSE(find_header(h, "Content-Length").has_value());
}

}  // namespace
}  // namespace hallmark::http
