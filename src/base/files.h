// Small file-system helpers with explicit permissions.
#pragma once

#include <filesystem>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace hallmark::base {

Result<Bytes> read_file(const std::filesystem::path& path, std::size_t max_size = 64u << 20);
// Writes atomically (temp file + rename) with the given mode (e.g. 0600 for secrets).
Status write_file(const std::filesystem::path& path, ByteView data, unsigned mode = 0644);
inline Status write_file(const std::filesystem::path& path, std::string_view text, unsigned mode = 0644) {
  return write_file(path, view(text), mode);
}

}  // namespace hallmark::base
