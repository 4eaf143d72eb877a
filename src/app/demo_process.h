// Running `hallmark` itself as a child process, as a user would type it: the
// demo drives every step through the real command line and the real server.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"

namespace hallmark::app::demo {

struct Run {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs this executable with `args` and waits; stdout and stderr are captured.
// The running hallmark binary (for the commands the demo suggests next).
std::string self_path();

base::Result<Run> run_self(const std::vector<std::string>& args);
// Runs any program found on PATH (e.g. curl) with `args` and waits.
base::Result<Run> run_program(const std::string& program, const std::vector<std::string>& args);

// A child kept running in the background (the server) until stop().
class Background {
 public:
  // Starts this executable with `args`; returns once it printed its first line
  // on stdout (given back in `first_line`) or failed.
  static base::Result<Background> start_self(const std::vector<std::string>& args, std::string& first_line);
  Background(Background&& other) noexcept : m_pid(other.m_pid), m_stdout(other.m_stdout) {
    other.m_pid = -1;
    other.m_stdout = -1;
  }
  Background& operator=(Background&&) = delete;
  ~Background() { stop(); }
  // SIGTERM, then wait.
  void stop();

 private:
  Background(pid_t pid, int stdout_fd) : m_pid(pid), m_stdout(stdout_fd) {}
  pid_t m_pid = -1;
  int m_stdout = -1;  // kept open so that later output never meets a closed pipe
};

}  // namespace hallmark::app::demo
