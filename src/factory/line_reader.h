// LineReader: reads a manifest one line at a time with a cap on the line length.
// An over-long line is skipped to the next newline without being buffered, so a
// 10 MB line costs no more memory than a short one.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

namespace hallmark::factory {

class LineReader {
 public:
  LineReader(std::istream& in, std::size_t max_line);

  struct Line {
    std::string text;  // without the newline (and a trailing CR); empty when too long
    bool too_long = false;
    std::size_t length = 0;  // the line's full length in bytes
  };
  // False at the end of the input. A final line without a newline is returned.
  bool next(Line& out);

 private:
  bool fill();
  std::istream& m_in;
  std::size_t m_max;
  std::vector<char> m_buf;
  std::size_t m_pos = 0;
  std::size_t m_end = 0;
  bool m_eof = false;
};

}  // namespace hallmark::factory
