#include "factory/line_reader.h"

#include <cstring>

namespace hallmark::factory {

LineReader::LineReader(std::istream& in, std::size_t max_line) : m_in(in), m_max(max_line), m_buf(64 * 1024) {}

bool LineReader::fill() {
  if (m_eof) return false;
  m_in.read(m_buf.data(), static_cast<std::streamsize>(m_buf.size()));
  m_end = static_cast<std::size_t>(m_in.gcount());
  m_pos = 0;
  if (m_end == 0) m_eof = true;
  return m_end > 0;
}

bool LineReader::next(Line& out) {
  out.text.clear();
  out.too_long = false;
  out.length = 0;
  bool any = false;
  for (;;) {
    if (m_pos == m_end && !fill()) break;
    any = true;
    const char* start = m_buf.data() + m_pos;
    const auto avail = m_end - m_pos;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', avail));
    const auto take = nl ? static_cast<std::size_t>(nl - start) : avail;
    out.length += take;
    if (!out.too_long) {
      if (out.text.size() + take > m_max) {
        out.too_long = true;
        std::string().swap(out.text);
      } else {
        out.text.append(start, take);
      }
    }
    m_pos += take;
    if (nl) {
      ++m_pos;  // the newline
      break;
    }
  }
  if (!any) return false;
  if (!out.text.empty() && out.text.back() == '\r') out.text.pop_back();
  return true;
}

}  // namespace hallmark::factory
