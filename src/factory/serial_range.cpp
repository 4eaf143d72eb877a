#include "factory/serial_range.h"

#include <cctype>

namespace hallmark::factory {

using base::ErrorCode;
using base::make_error;

namespace {

struct Split {
  std::string prefix;
  std::string digits;
};

// The maximal run of trailing digits is the counter; what precedes it the prefix.
Split split_serial(std::string_view s) {
  std::size_t i = s.size();
  while (i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]))) --i;
  return {std::string(s.substr(0, i)), std::string(s.substr(i))};
}

}  // namespace

base::Result<SerialRange> SerialRange::parse(std::string_view text) {
  const auto dots = text.find("..");
  const std::string shown(text);
  if (dots == std::string_view::npos) {
    return make_error(ErrorCode::InvalidArgument,
                      "serial range '" + shown + "' must be FIRST..LAST, e.g. SN-00001000..SN-00001999");
  }
  const auto a = split_serial(text.substr(0, dots));
  const auto b = split_serial(text.substr(dots + 2));
  if (a.digits.empty() || b.digits.empty()) {
    return make_error(ErrorCode::InvalidArgument, "serial range '" + shown + "': both ends must end in decimal digits");
  }
  if (a.prefix != b.prefix || a.digits.size() != b.digits.size()) {
    return make_error(ErrorCode::InvalidArgument,
                      "serial range '" + shown + "': both ends need the same prefix and the same number of digits");
  }
  if (a.digits.size() > 18) {
    return make_error(ErrorCode::InvalidArgument, "serial range '" + shown + "': at most 18 digits");
  }
  for (char c : a.prefix) {
    if (!std::isprint(static_cast<unsigned char>(c)) || c == ',') {
      return make_error(ErrorCode::InvalidArgument, "serial range '" + shown + "': the prefix must be printable");
    }
  }
  SerialRange r{a.prefix, a.digits.size(), std::stoull(a.digits), std::stoull(b.digits)};
  if (r.first > r.last) {
    return make_error(ErrorCode::InvalidArgument, "serial range '" + shown + "' is empty (first > last)");
  }
  return r;
}

std::string SerialRange::format(std::uint64_t v) const {
  auto digits = std::to_string(v);
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return prefix + digits;
}

std::string SerialRange::to_string() const {
  return format(first) + ".." + format(last);
}

bool SerialRange::contains(std::string_view serial) const {
  const auto s = split_serial(serial);
  if (s.prefix != prefix || s.digits.size() != width) return false;
  const auto v = std::stoull(s.digits);
  return v >= first && v <= last;
}

bool SerialRange::overlaps(const SerialRange& o) const {
  return prefix == o.prefix && width == o.width && first <= o.last && o.first <= last;
}

bool in_ranges(const std::vector<SerialRange>& ranges, std::string_view serial) {
  for (const auto& r : ranges) {
    if (r.contains(serial)) return true;
  }
  return false;
}

base::Result<std::vector<std::vector<SerialRange>>> split_ranges(const std::vector<SerialRange>& ranges,
                                                                 std::size_t parts) {
  std::uint64_t total = 0;
  for (const auto& r : ranges) total += r.size();
  if (parts == 0 || total < parts) {
    return make_error(ErrorCode::InvalidArgument, "cannot split " + std::to_string(total) + " serials between " +
                                                      std::to_string(parts) + " stations");
  }
  std::vector<std::vector<SerialRange>> out(parts);
  std::size_t part = 0;
  std::uint64_t want = total / parts + (0 < total % parts ? 1 : 0);
  for (const auto& r : ranges) {
    std::uint64_t next = r.first;
    while (next <= r.last) {
      const auto take = std::min<std::uint64_t>(want, r.last - next + 1);
      out[part].push_back({r.prefix, r.width, next, next + take - 1});
      next += take;
      want -= take;
      if (want == 0 && part + 1 < parts) {
        ++part;
        want = total / parts + (part < total % parts ? 1 : 0);
      }
    }
  }
  return out;
}

std::vector<std::uint64_t> split_quota(std::uint64_t quota, std::size_t parts) {
  std::vector<std::uint64_t> out(parts, quota / parts);
  for (std::size_t i = 0; i < quota % parts; ++i) ++out[i];
  return out;
}

}  // namespace hallmark::factory
