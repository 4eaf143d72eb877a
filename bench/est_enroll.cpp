// bench/est_enroll: concurrent EST device clients against a real `hallmark
// serve` process. Each enrollment is a full mTLS handshake (IDevID client
// certificate) + simpleenroll; in the same run, the bare mTLS handshake rate
// against the same server. Prints enrollments/s, p50/p99 latency and the
// server's CPU milliseconds per enrollment (from /proc/<pid>/stat).
//
// Usage: est_enroll [clients=8] [enrollments_per_client=50]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "device/est_client.h"
#include "keys/software_key_store.h"

namespace fs = std::filesystem;
using namespace hallmark;
using Clock = std::chrono::steady_clock;

namespace {

int sh(const std::string& cmd) {
  return std::system(cmd.c_str());
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double cpu_ms(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  std::istringstream rest(s.substr(s.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return 1000.0 * static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const int clients = argc > 1 ? std::atoi(argv[1]) : 8;
  const int per_client = argc > 2 ? std::atoi(argv[2]) : 50;
  if (clients <= 0 || per_client <= 0) {
    std::cerr << "usage: est_enroll [clients=8] [enrollments_per_client=50]\n";
    return 2;
  }
  const std::string bin = HALLMARK_BINARY;
  const fs::path tmp = fs::temp_directory_path() / ("est_bench_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  const auto dir = (tmp / "pki").string();
  ::setenv("HALLMARK_KEY_PASSPHRASE", "bench", 1);
  if (sh(bin + " init --dir " + dir + " > /dev/null 2>&1") != 0) return 1;
  sh(bin + " ca export --dir " + dir + " --issuer root > " + (tmp / "root.pem").string());

  // One IDevID per client (admin channel), keys made by openssl.
  for (int c = 0; c < clients; ++c) {
    const auto base = (tmp / ("dev" + std::to_string(c))).string();
    if (sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + base +
           ".key -subj /CN=x -out " + base + ".csr 2>/dev/null") != 0 ||
        sh(bin + " issue --dir " + dir + " --profile idevid --product sensor-v2 --serial-number BENCH-" +
           std::to_string(c) + " --csr " + base + ".csr --out " + base + ".pem 2>/dev/null") != 0) {
      std::cerr << "cannot make IDevID " << c << "\n";
      return 1;
    }
  }

  const auto out = tmp / "serve.out";
  const pid_t server = ::fork();
  if (server == 0) {
    const std::string cmd =
        "exec " + bin + " serve --dir " + dir + " --listen 127.0.0.1:0 > " + out.string() + " 2>/dev/null";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  std::string url;
  for (int i = 0; i < 300 && url.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto text = slurp(out);
    if (auto at = text.find("https://"); at != std::string::npos && text.find('\n', at) != std::string::npos) {
      url = text.substr(at, text.find("/.well-known", at) - at);
    }
  }
  if (url.empty()) {
    std::cerr << "server did not start\n";
    ::kill(server, SIGTERM);
    return 1;
  }

  const auto anchors = slurp(tmp / "root.pem");
  struct Device {
    std::string cert, key;
    std::vector<base::Bytes> csrs;
  };
  std::vector<Device> devices(static_cast<std::size_t>(clients));
  for (int c = 0; c < clients; ++c) {
    auto& d = devices[static_cast<std::size_t>(c)];
    const auto base = (tmp / ("dev" + std::to_string(c))).string();
    d.cert = slurp(base + ".pem");
    d.key = slurp(base + ".key");
    for (int i = 0; i < per_client; ++i) {  // CSRs made before timing: the client's work is not the server's
      auto k = keys::generate_ephemeral(base::KeyAlgorithm::EcP256);
      auto csr = device::make_csr(*k.value(), "BENCH-" + std::to_string(c));
      d.csrs.push_back(csr.value());
    }
  }
  auto config_for = [&](const Device& d) {
    device::EstClientConfig cfg;
    cfg.server_url = url;
    cfg.trust_anchors_pem = anchors;
    cfg.cert_chain_pem = d.cert;
    cfg.key_pem = d.key;
    return cfg;
  };

  // Phase 1: bare mTLS handshakes.
  std::atomic<int> failures{0};
  double cpu0 = cpu_ms(server);
  auto t0 = Clock::now();
  {
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        for (int i = 0; i < per_client; ++i) {
          auto client = device::EstClient::connect(config_for(devices[static_cast<std::size_t>(c)]));
          if (!client.ok()) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  const double hs_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double hs_cpu = cpu_ms(server) - cpu0;
  const int n = clients * per_client;

  // Phase 2: handshake + simpleenroll, one connection per enrollment.
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(clients));
  cpu0 = cpu_ms(server);
  t0 = Clock::now();
  {
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        auto& d = devices[static_cast<std::size_t>(c)];
        for (int i = 0; i < per_client; ++i) {
          const auto s = Clock::now();
          auto client = device::EstClient::connect(config_for(d));
          if (!client.ok()) {
            ++failures;
            continue;
          }
          auto cert = client.value()->simple_enroll(d.csrs[static_cast<std::size_t>(i)]);
          if (!cert.ok()) {
            if (failures++ == 0) std::cerr << "enroll failed: " << cert.error().describe() << "\n";
            continue;
          }
          lat[static_cast<std::size_t>(c)].push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  const double en_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double en_cpu = cpu_ms(server) - cpu0;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());

  ::kill(server, SIGTERM);
  int status = 0;
  ::waitpid(server, &status, 0);
  fs::remove_all(tmp);

  const double hs_rate = n / hs_secs;
  const double en_rate = static_cast<double>(all.size()) / en_secs;
  std::printf("est_enroll: %d clients x %d, %u hardware threads, failures %d\n", clients, per_client,
              std::thread::hardware_concurrency(), failures.load());
  std::printf("bare mTLS handshakes: %.1f /s, server CPU %.2f ms per handshake\n", hs_rate, hs_cpu / n);
  std::printf("enrollments (mTLS + simpleenroll): %.1f /s (%.0f %% of the handshake rate), p50 %.1f ms, p99 %.1f ms\n",
              en_rate, 100.0 * en_rate / hs_rate, percentile(all, 0.50), percentile(all, 0.99));
  std::printf("server CPU per enrollment: %.2f ms (handshake included; minus handshake: %.2f ms)\n",
              en_cpu / static_cast<double>(all.size()), en_cpu / static_cast<double>(all.size()) - hs_cpu / n);
  return failures.load() == 0 ? 0 : 1;
}
