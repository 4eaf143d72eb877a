// Serial ranges of a site authorization: a prefix and a fixed-width decimal
// counter, written "SN-00001000..SN-00001999". A device serial belongs to a range
// when it is the prefix followed by exactly `width` digits whose value lies in
// [first, last]. Two ranges overlap only when prefix and width are equal and the
// intervals intersect (any serial parses into exactly one prefix/width/value).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace hallmark::factory {

struct SerialRange {
  std::string prefix;
  std::size_t width = 0;
  std::uint64_t first = 0;
  std::uint64_t last = 0;

  // InvalidArgument with a message naming the problem: missing "..", ends with a
  // different prefix or width, first > last, no digits, width > 18.
  static base::Result<SerialRange> parse(std::string_view text);

  std::string to_string() const;              // "SN-00001000..SN-00001999"
  std::string format(std::uint64_t v) const;  // prefix + zero-padded value
  std::uint64_t size() const { return last - first + 1; }
  bool contains(std::string_view serial) const;
  bool overlaps(const SerialRange& other) const;
  bool operator==(const SerialRange&) const = default;
};

// True when `serial` lies in one of `ranges`.
bool in_ranges(const std::vector<SerialRange>& ranges, std::string_view serial);

// Splits the concatenation of `ranges` into `parts` contiguous pieces whose sizes
// differ by at most one (the first pieces get the extra serials). InvalidArgument
// when there are fewer serials than parts.
base::Result<std::vector<std::vector<SerialRange>>> split_ranges(const std::vector<SerialRange>& ranges,
                                                                 std::size_t parts);
// quota split the same way (the first parts get the remainder).
std::vector<std::uint64_t> split_quota(std::uint64_t quota, std::size_t parts);

}  // namespace hallmark::factory
