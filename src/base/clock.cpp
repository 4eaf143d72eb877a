#include "base/clock.h"

#include <cstdio>

namespace hallmark::base {

std::string format_rfc3339(TimePoint t) {
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{t - days};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()));
  return buf;
}

namespace {

// "DDDD-DD-DD" or "DDDD-DD-DDTDD:DD:DDZ" exactly (sscanf alone would accept signs and spaces).
bool has_date_shape(const std::string& text) {
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:ddZ";
  if (text.size() != 10 && text.size() != 20) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char want = kShape[i];
    const char c = text[i];
    if (want == 'd' ? (c < '0' || c > '9') : c != want) return false;
  }
  return true;
}

}  // namespace

Result<TimePoint> parse_date(const std::string& text) {
  if (!has_date_shape(text)) {
    return make_error(ErrorCode::InvalidArgument, "bad date '" + text + "': use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
  }
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char tail = 0;
  int n = std::sscanf(text.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u%c", &y, &mo, &d, &h, &mi, &s, &tail);
  const bool date_only = text.size() == 10 && n == 3;
  const bool full = n == 7 && tail == 'Z' && text.size() == 20;
  if (!date_only && !full) {
    return make_error(ErrorCode::InvalidArgument, "bad date '" + text + "': use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
  }
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{mo}, std::chrono::day{d}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) {
    return make_error(ErrorCode::InvalidArgument, "bad date '" + text + "': no such day or time");
  }
  return TimePoint{std::chrono::sys_days{ymd}} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{s};
}

}  // namespace hallmark::base
