// Helpers shared by tests: temporary folders, running commands (our CLI and
// third-party tools such as `openssl`), reading files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace hallmark::testing {

// A fresh folder under $TMPDIR removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

 private:
  std::filesystem::path m_path;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `command` through /bin/sh, capturing stdout and stderr.
CommandResult run(const std::string& command);
// Runs build/hallmark with the given arguments (a shell-quoted string).
CommandResult hallmark(const std::string& args);

std::string read_text(const std::filesystem::path& path);
void write_text(const std::filesystem::path& path, const std::string& text);
std::string shell_quote(const std::string& s);
std::filesystem::path test_data(const std::string& relative);

}  // namespace hallmark::testing
