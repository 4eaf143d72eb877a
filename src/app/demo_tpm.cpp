#include "app/demo_tpm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include "app/demo_process.h"
#include "base/files.h"

namespace hallmark::app::demo {

namespace fs = std::filesystem;
using base::ErrorCode;
using base::make_error;

namespace {

// The program's path as the shell would find it ("" when it is not on PATH).
std::string find_on_path(const std::string& program) {
  const char* env = std::getenv("PATH");
  std::istringstream dirs(env != nullptr ? env : "/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    if (d.empty()) continue;
    const auto candidate = fs::path(d) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// The last lines of a tool's output, for an error message.
std::string tail(const std::string& text, std::size_t max = 600) {
  return text.size() <= max ? text : "…" + text.substr(text.size() - max);
}

bool bindable(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A port P with P + 1 also free (swtpm's TCTI finds the control channel at P + 1).
// Another program may take it before swtpm binds it: start() then tries again.
int free_port_pair() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    ::close(fd);
    if (port > 0 && port < 65535 && bindable(port + 1)) return port;
  }
  return -1;
}

bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

base::Status setup_one(const fs::path& dir, const fs::path& state) {
  std::error_code ec;
  fs::create_directories(state, ec);
  if (ec) return make_error(ErrorCode::Io, "cannot create '" + state.string() + "'", ec.message());
  HM_TRY(auto r, run_program("swtpm_setup", {"--tpm2", "--tpmstate", state.string(), "--config",
                                             (dir / "swtpm_setup.conf").string(), "--create-ek-cert", "--overwrite"}));
  if (r.exit_code != 0) {
    return make_error(ErrorCode::Unavailable,
                      "swtpm_setup failed for '" + state.string() + "': " + tail(r.out + r.err));
  }
  return {};
}

void stop_all(std::vector<pid_t>& pids) {
  for (const pid_t pid : pids) ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (pid_t& pid : pids) {
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  pids.clear();
}

}  // namespace

std::string missing_swtpm_program() {
  for (const char* p : {"swtpm", "swtpm_setup", "swtpm_localca"}) {
    if (find_on_path(p).empty()) return p;
  }
  return "";
}

SwtpmManufacture swtpm_layout(const fs::path& dir, int count) {
  SwtpmManufacture made;
  made.dir = dir;
  for (int i = 0; i < count; ++i) made.states.push_back(dir / ("tpm-" + std::to_string(i + 1)));
  made.root_pem = dir / "ca" / "swtpm-localca-rootca-cert.pem";  // swtpm_localca's names
  made.ek_ca_pem = dir / "ca" / "issuercert.pem";
  return made;
}

base::Result<SwtpmManufacture> manufacture_swtpms(const fs::path& dir, int count,
                                                  const std::function<void()>& ca_ready) {
  auto made = swtpm_layout(dir, count);
  std::error_code ec;
  fs::create_directories(dir / "ca", ec);
  if (ec) return make_error(ErrorCode::Io, "cannot create '" + dir.string() + "'", ec.message());
  const auto ca = dir / "ca";
  HM_CHECK(base::write_file(dir / "swtpm-localca.conf", "statedir = " + ca.string() +
                                                            "\nsigningkey = " + (ca / "signkey.pem").string() +
                                                            "\nissuercert = " + (ca / "issuercert.pem").string() +
                                                            "\ncertserial = " + (ca / "certserial").string() + "\n"));
  HM_CHECK(base::write_file(dir / "swtpm-localca.options",
                            std::string_view("--platform-manufacturer Hallmark-Demo\n--platform-version 2.1\n"
                                             "--platform-model swtpm\n")));
  const auto localca = find_on_path("swtpm_localca");
  if (localca.empty()) return make_error(ErrorCode::Unavailable, "swtpm_localca is not installed");
  HM_CHECK(base::write_file(dir / "swtpm_setup.conf",
                            "create_certs_tool = " + localca +
                                "\ncreate_certs_tool_config = " + (dir / "swtpm-localca.conf").string() +
                                "\ncreate_certs_tool_options = " + (dir / "swtpm-localca.options").string() +
                                "\nactive_pcr_banks = sha256\n"));
  if (count == 0) return made;
  // The first TPM's EK certificate makes the CA (under swtpm_localca's lock);
  // the others start once it is complete: the serial file is written after it,
  // outside that lock. swtpm_setup mostly waits, so the others run together.
  std::vector<base::Status> status(made.states.size());
  std::atomic<bool> first_done{false};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    status[0] = setup_one(dir, made.states[0]);
    first_done = true;
  });
  while (!first_done && !fs::exists(ca / "certserial")) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (fs::exists(made.root_pem) && fs::exists(made.ek_ca_pem) && ca_ready) ca_ready();
  constexpr std::size_t kAtOnce = 8;
  for (std::size_t i = 1; i < made.states.size(); ++i) {
    if (threads.size() > kAtOnce) {
      threads.front().join();
      threads.erase(threads.begin());
    }
    threads.emplace_back([&, i] { status[i] = setup_one(dir, made.states[i]); });
  }
  for (auto& t : threads) t.join();
  for (auto& st : status) HM_CHECK(st);
  if (!fs::exists(made.root_pem) || !fs::exists(made.ek_ca_pem)) {
    return make_error(ErrorCode::Unavailable, "swtpm_localca made no CA in '" + ca.string() + "'");
  }
  return made;
}

SwtpmFactory::SwtpmFactory(const fs::path& dir, int count) : m_layout(swtpm_layout(dir, count)) {
  m_ca = m_ca_made.get_future();
  m_done = std::async(std::launch::async, [this, dir, count] {
             bool told = false;
             auto made = manufacture_swtpms(dir, count, [&] {
               told = true;
               m_ca_made.set_value();
             });
             if (!told) m_ca_made.set_value();  // failed: the error comes with the result
             return made;
           }).share();
}

SwtpmFactory::~SwtpmFactory() {
  if (m_done.valid()) m_done.wait();
}

base::Status SwtpmFactory::wait_for_ca() {
  m_ca.wait();
  if (fs::exists(m_layout.root_pem) && fs::exists(m_layout.ek_ca_pem)) return {};
  const auto& made = m_done.get();
  if (!made.ok()) return made.error();
  return make_error(ErrorCode::Unavailable, "swtpm_localca made no CA in '" + m_layout.dir.string() + "'");
}

base::Result<std::unique_ptr<SwtpmFleet>> SwtpmFactory::start() {
  const auto& made = m_done.get();
  if (!made.ok()) return made.error();
  return SwtpmFleet::start(made.value());
}

base::Result<std::unique_ptr<SwtpmFleet>> SwtpmFleet::start(const SwtpmManufacture& made) {
  std::unique_ptr<SwtpmFleet> fleet(new SwtpmFleet());
  const pid_t parent = ::getpid();
  for (const auto& state : made.states) {
    int ready_port = -1;
    for (int attempt = 0; attempt < 5 && ready_port < 0; ++attempt) {
      const int port = free_port_pair();
      if (port < 0) return make_error(ErrorCode::Unavailable, "no free localhost port pair for swtpm");
      const std::string p = std::to_string(port), c = std::to_string(port + 1);
      std::vector<std::string> args = {"swtpm",
                                       "socket",
                                       "--tpm2",
                                       "--tpmstate",
                                       "dir=" + state.string(),
                                       "--server",
                                       "type=tcp,port=" + p + ",bindaddr=127.0.0.1",
                                       "--ctrl",
                                       "type=tcp,port=" + c + ",bindaddr=127.0.0.1",
                                       "--flags",
                                       "startup-clear",
                                       "--log",
                                       "file=" + (state / "swtpm.log").string()};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      const pid_t pid = ::fork();
      if (pid < 0) return make_error(ErrorCode::Internal, "cannot start swtpm", std::strerror(errno));
      if (pid == 0) {
        // Dies with the demo, even when the demo is killed (Ctrl-C, SIGTERM, a crash).
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(1);
        const int devnull = ::open("/dev/null", O_RDWR);
        if (devnull >= 0) {
          ::dup2(devnull, 0);
          ::dup2(devnull, 1);
          ::dup2(devnull, 2);
        }
        ::close_range(3, ~0U, 0);  // the demo's open files (its manifest) are none of swtpm's business
        ::execvp("swtpm", argv.data());
        ::_exit(127);
      }
      fleet->m_pids.push_back(pid);
      for (int wait = 0; wait < 250; ++wait) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {  // it could not bind: another port pair
          fleet->m_pids.pop_back();
          break;
        }
        if (accepts(port)) {
          ready_port = port;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    if (ready_port < 0) {
      return make_error(ErrorCode::Unavailable,
                        "swtpm did not start for '" + state.string() + "' (see swtpm.log there)");
    }
    fleet->m_tctis.push_back("swtpm:host=127.0.0.1,port=" + std::to_string(ready_port));
  }
  return fleet;
}

SwtpmFleet::~SwtpmFleet() {
  stop();
}

void SwtpmFleet::stop() {
  stop_all(m_pids);
}

}  // namespace hallmark::app::demo
