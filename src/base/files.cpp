#include "base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace hallmark::base {

Result<Bytes> read_file(const std::filesystem::path& path, std::size_t max_size) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return make_error(ErrorCode::InvalidArgument, "'" + path.string() + "' is a folder; give a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::NotFound, "cannot read '" + path.string() + "'", std::strerror(errno));
  }
  Bytes data;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.insert(data.end(), buf, buf + in.gcount());
    if (data.size() > max_size) {
      return make_error(ErrorCode::TooLarge,
                        "'" + path.string() + "' is larger than " + std::to_string(max_size) + " bytes");
    }
  }
  return data;
}

Status write_file(const std::filesystem::path& path, ByteView data, unsigned mode) {
  const auto tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return make_error(ErrorCode::Io, "cannot write '" + path.string() + "'", std::strerror(errno));
  }
  ::fchmod(fd, mode);  // the umask must not widen or narrow what the caller asked for
  std::size_t off = 0;
  while (off < data.size()) {
    const auto n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error(ErrorCode::Io, "cannot write '" + path.string() + "'", std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::Io, "cannot write '" + path.string() + "'", std::strerror(errno));
  }
  return {};
}

}  // namespace hallmark::base
