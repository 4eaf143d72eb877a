#include "app/demo_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hallmark::app::demo {

std::string self_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("hallmark") : p.string();
}

namespace {

using base::ErrorCode;
using base::make_error;

std::vector<char*> argv_of(const std::string& program, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

std::string drain(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  return out;
}

// stdout and stderr go to temporary files (no pipe deadlock, no threads).
base::Result<Run> spawn_and_wait(const std::string& program, const std::vector<std::string>& args, bool use_path) {
  char out_name[] = "/tmp/hallmark-demo-out-XXXXXX";
  char err_name[] = "/tmp/hallmark-demo-err-XXXXXX";
  const int out_fd = ::mkstemp(out_name);
  const int err_fd = ::mkstemp(err_name);
  if (out_fd < 0 || err_fd < 0) return make_error(ErrorCode::Io, "cannot create temporary files", std::strerror(errno));
  ::unlink(out_name);
  ::unlink(err_name);
  auto argv = argv_of(program, args);
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(ErrorCode::Internal, "cannot start " + program, std::strerror(errno));
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (use_path) {
      ::execvp(program.c_str(), argv.data());
    } else {
      ::execv(program.c_str(), argv.data());
    }
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ::lseek(out_fd, 0, SEEK_SET);
  ::lseek(err_fd, 0, SEEK_SET);
  r.out = drain(out_fd);
  r.err = drain(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  return r;
}

}  // namespace

base::Result<Run> run_self(const std::vector<std::string>& args) {
  return spawn_and_wait(self_path(), args, false);
}

base::Result<Run> run_program(const std::string& program, const std::vector<std::string>& args) {
  return spawn_and_wait(program, args, true);
}

base::Result<Background> Background::start_self(const std::vector<std::string>& args, std::string& first_line) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return make_error(ErrorCode::Io, "cannot create a pipe", std::strerror(errno));
  const std::string program = self_path();
  auto argv = argv_of(program, args);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(ErrorCode::Internal, "cannot start the server", std::strerror(errno));
  if (pid == 0) {
    // Dies with the demo however it ends (a closed stdout's SIGPIPE, SIGKILL): no orphaned server.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(pipe_fds[1], 1);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    const int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 2);  // the access log would drown the demo's story
    }
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  Background child(pid, pipe_fds[0]);
  first_line.clear();
  char c = 0;
  while (true) {
    const auto n = ::read(pipe_fds[0], &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    first_line.push_back(c);
  }
  if (first_line.empty()) return make_error(ErrorCode::Unavailable, "the server did not start");
  return child;
}

void Background::stop() {
  if (m_stdout >= 0) ::close(m_stdout);
  m_stdout = -1;
  if (m_pid <= 0) return;
  ::kill(m_pid, SIGTERM);
  int status = 0;
  while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
  }
  m_pid = -1;
}

}  // namespace hallmark::app::demo
