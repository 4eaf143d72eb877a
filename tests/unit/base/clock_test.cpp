#include "base/clock.h"

#include <gtest/gtest.h>

using namespace hallmark::base;

TEST(Dates, ParsesDayAndFullTimestamp) {
  auto d = parse_date("2030-01-02");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(format_rfc3339(d.value()), "2030-01-02T00:00:00Z");
  auto t = parse_date("2049-12-31T23:59:59Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(format_rfc3339(t.value()), "2049-12-31T23:59:59Z");
}

TEST(Dates, RefusesImpossibleDates) {
  EXPECT_FALSE(parse_date("2030-02-30").ok());
  EXPECT_FALSE(parse_date("yesterday").ok());
  EXPECT_FALSE(parse_date("2030-01-01T25:00:00Z").ok());
}

TEST(Dates, RefusesSignsAndSpacesInsideNumbers) {
  EXPECT_FALSE(parse_date("2030-+1-01").ok());
  EXPECT_FALSE(parse_date("2030- 1-01").ok());
  EXPECT_FALSE(parse_date("2030-01-01T00:00:00").ok());
}
