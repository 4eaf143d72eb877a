// bench/est_enroll: concurrent EST device clients against a real `hallmark
// serve` process. Each enrollment is a full mTLS handshake (IDevID client
// certificate) + simpleenroll; in the same run, the bare mTLS handshake rate
// against the same server. Prints enrollments/s, p50/p99 latency and the
// server's CPU milliseconds per enrollment (from /proc/<pid>/stat).
// Then the store rows, same run: SQLite one node, PostgreSQL one node and
// PostgreSQL two nodes (clients spread over both), on a throwaway PostgreSQL 15
// cluster started with tests/postgres/postgres_fixture.sh (its CPU is not in the
// server CPU figures).
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

#include "base/clock.h"
#include "device/est_client.h"
#include "keys/software_key_store.h"
#include "store/store.h"

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

struct Device {
  std::string cert, key;
  std::vector<base::Bytes> csrs;
};

struct Node {
  pid_t pid = -1;
  std::string url;
};

// A PKI in `dir` (store: empty for SQLite, else a DSN) with one IDevID per client.
bool make_pki(const std::string& bin, const fs::path& tmp, const std::string& dir, const std::string& store,
              int clients, int per_client, std::vector<Device>& devices) {
  const std::string opt = store.empty() ? "" : " --store '" + store + "'";
  if (sh(bin + " init --dir " + dir + opt + " > /dev/null 2>&1") != 0) return false;
  sh(bin + " ca export --dir " + dir + " --issuer root > " + (tmp / "root.pem").string());
  devices.assign(static_cast<std::size_t>(clients), {});
  for (int c = 0; c < clients; ++c) {
    const auto base = (tmp / ("dev" + std::to_string(c))).string();
    if (sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + base +
           ".key -subj /CN=x -out " + base + ".csr 2>/dev/null") != 0 ||
        sh(bin + " issue --dir " + dir + " --profile idevid --product sensor-v2 --serial-number BENCH-" +
           std::to_string(c) + " --csr " + base + ".csr --out " + base + ".pem 2>/dev/null") != 0) {
      std::cerr << "cannot make IDevID " << c << "\n";
      return false;
    }
    auto& d = devices[static_cast<std::size_t>(c)];
    d.cert = slurp(base + ".pem");
    d.key = slurp(base + ".key");
    for (int i = 0; i < per_client; ++i) {  // CSRs made before timing: the client's work is not the server's
      auto k = keys::generate_ephemeral(base::KeyAlgorithm::EcP256);
      auto csr = device::make_csr(*k.value(), "BENCH-" + std::to_string(c));
      d.csrs.push_back(csr.value());
    }
  }
  return true;
}

Node start_node(const std::string& bin, const std::string& dir, const fs::path& out) {
  Node n;
  n.pid = ::fork();
  if (n.pid == 0) {
    const std::string cmd =
        "exec " + bin + " serve --dir " + dir + " --listen 127.0.0.1:0 > " + out.string() + " 2>/dev/null";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 300 && n.url.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto text = slurp(out);
    if (auto at = text.find("https://"); at != std::string::npos && text.find('\n', at) != std::string::npos) {
      n.url = text.substr(at, text.find("/.well-known", at) - at);
    }
  }
  return n;
}

void stop_nodes(std::vector<Node>& nodes) {
  for (auto& n : nodes) {
    if (n.pid <= 0) continue;
    ::kill(n.pid, SIGTERM);
    int status = 0;
    ::waitpid(n.pid, &status, 0);
    n.pid = -1;
  }
}

double cpu_ms(const std::vector<Node>& nodes) {
  double sum = 0;
  for (const auto& n : nodes) sum += cpu_ms(n.pid);
  return sum;
}

struct Figures {
  double seconds = 0;
  double cpu = 0;
  std::vector<double> latencies;
};

// `clients` threads, client c on node c % nodes; `connect_only` measures the bare handshake.
Figures drive(const std::vector<Node>& nodes, std::vector<Device>& devices, const std::string& anchors, int per_client,
              bool connect_only, std::atomic<int>& failures) {
  auto config_for = [&](const Device& d, const Node& n) {
    device::EstClientConfig cfg;
    cfg.server_url = n.url;
    cfg.trust_anchors_pem = anchors;
    cfg.cert_chain_pem = d.cert;
    cfg.key_pem = d.key;
    return cfg;
  };
  const auto clients = devices.size();
  std::vector<std::vector<double>> lat(clients);
  Figures f;
  const double cpu0 = cpu_ms(nodes);
  const auto t0 = Clock::now();
  {
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        auto& d = devices[c];
        const auto& node = nodes[c % nodes.size()];
        for (int i = 0; i < per_client; ++i) {
          const auto s = Clock::now();
          auto client = device::EstClient::connect(config_for(d, node));
          if (!client.ok()) {
            ++failures;
            continue;
          }
          if (!connect_only) {
            auto cert = client.value()->simple_enroll(d.csrs[static_cast<std::size_t>(i)]);
            if (!cert.ok()) {
              if (failures++ == 0) std::cerr << "enroll failed: " << cert.error().describe() << "\n";
              continue;
            }
          }
          lat[c].push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  f.cpu = cpu_ms(nodes) - cpu0;
  for (auto& v : lat) f.latencies.insert(f.latencies.end(), v.begin(), v.end());
  return f;
}

// The serialized part of an issuance without TLS or signing: reserve + complete
// (two transactions, each appending to the one audit chain under its lock) from
// `nodes` stores x `threads` threads. Returns certificates recorded per second.
double ledger_steps(const std::string& dsn, int nodes, int threads, int per_thread, std::atomic<int>& failures) {
  base::SystemClock clock;
  std::vector<std::unique_ptr<store::Store>> stores;
  for (int n = 0; n < nodes; ++n) {
    auto s = store::open_store({dsn}, clock);
    if (!s.ok()) {
      std::cerr << s.error().describe() << "\n";
      ++failures;
      return 0;
    }
    stores.push_back(std::move(s).value());
  }
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int n = 0; n < nodes; ++n) {
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, n, t] {
        auto& ledger = stores[static_cast<std::size_t>(n)]->ledger();
        for (int i = 0; i < per_thread; ++i) {
          ca::LedgerEntry e;
          e.serial = "B" + std::to_string(n) + "-" + std::to_string(t) + "-" + std::to_string(i);
          e.issuer = "runtime";
          e.profile = "ldevid";
          e.device_serial = "BENCH";
          e.channel = audit::Channel::Runtime;
          e.key_fingerprint = e.serial;
          e.tbs = {0x30, 0x00};
          e.created = clock.now();
          e.not_after = e.created;
          audit::Event ev;
          ev.actor = "bench";
          ev.action = "signing";
          ev.cert_serial = e.serial;
          if (!ledger.reserve(e, ev).ok()) ++failures;
          ev.action = "signed";
          if (!ledger.complete(e.serial, base::Bytes{0x30, 0x00}, ev).ok()) ++failures;
        }
      });
    }
  }
  for (auto& th : pool) th.join();
  return nodes * threads * per_thread / std::chrono::duration<double>(Clock::now() - t0).count();
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
  ::setenv("HALLMARK_KEY_PASSPHRASE", "bench", 1);
  std::atomic<int> failures{0};
  const int n = clients * per_client;

  // SQLite, one node: the handshake baseline and the first store row.
  std::vector<Device> devices;
  const auto dir = (tmp / "pki").string();
  if (!make_pki(bin, tmp, dir, "", clients, per_client, devices)) return 1;
  std::vector<Node> nodes{start_node(bin, dir, tmp / "serve.out")};
  if (nodes[0].url.empty()) {
    std::cerr << "server did not start\n";
    stop_nodes(nodes);
    return 1;
  }
  auto anchors = slurp(tmp / "root.pem");
  const auto hs = drive(nodes, devices, anchors, per_client, true, failures);
  const auto sqlite = drive(nodes, devices, anchors, per_client, false, failures);
  stop_nodes(nodes);

  const double hs_rate = n / hs.seconds;
  const double en_rate = static_cast<double>(sqlite.latencies.size()) / sqlite.seconds;
  std::printf("est_enroll: %d clients x %d, %u hardware threads, failures %d\n", clients, per_client,
              std::thread::hardware_concurrency(), failures.load());
  std::printf("bare mTLS handshakes: %.1f /s, server CPU %.2f ms per handshake\n", hs_rate, hs.cpu / n);
  std::printf("enrollments (mTLS + simpleenroll): %.1f /s (%.0f %% of the handshake rate), p50 %.1f ms, p99 %.1f ms\n",
              en_rate, 100.0 * en_rate / hs_rate, percentile(sqlite.latencies, 0.50),
              percentile(sqlite.latencies, 0.99));
  std::printf("server CPU per enrollment: %.2f ms (handshake included; minus handshake: %.2f ms)\n",
              sqlite.cpu / static_cast<double>(sqlite.latencies.size()),
              sqlite.cpu / static_cast<double>(sqlite.latencies.size()) - hs.cpu / n);

  auto row = [&](const char* name, const Figures& f) {
    const auto done = static_cast<double>(f.latencies.size());
    std::printf("%-24s %8.1f /s   p50 %6.1f ms   p99 %6.1f ms   server CPU %.2f ms/enrollment\n", name,
                done / f.seconds, percentile(f.latencies, 0.50), percentile(f.latencies, 0.99),
                done > 0 ? f.cpu / done : 0.0);
  };
  std::printf("\nstore rows (same clients, same run):\n");
  row("sqlite, 1 node", sqlite);

  // PostgreSQL: a throwaway cluster, one database per row.
  const auto pg_state = tmp / "pg";
  const std::string fixture = std::string(HALLMARK_SOURCE_DIR) + "/tests/postgres/postgres_fixture.sh";
  if (sh(fixture + " start " + pg_state.string() + " > /dev/null") != 0) {
    std::cerr << "no PostgreSQL cluster (install postgresql-15: tools/deps.sh); PostgreSQL rows skipped\n";
    fs::remove_all(tmp);
    return failures.load() == 0 ? 0 : 1;
  }
  const auto admin = slurp(pg_state / "dsn").substr(0, slurp(pg_state / "dsn").find_last_not_of("\n") + 1);
  const auto base_dsn = admin.substr(0, admin.rfind('/') + 1);
  for (int node_count : {1, 2}) {
    const std::string db = "bench_" + std::to_string(node_count);
    sh("psql -q '" + admin + "' -c 'CREATE DATABASE " + db + "' > /dev/null");
    const auto pdir = (tmp / ("pg-pki-" + std::to_string(node_count))).string();
    if (!make_pki(bin, tmp, pdir, base_dsn + db, clients, per_client, devices)) break;
    anchors = slurp(tmp / "root.pem");
    std::vector<Node> pg_nodes;
    for (int k = 0; k < node_count; ++k) {
      const auto ndir = pdir + (k == 0 ? "" : "-" + std::to_string(k));
      if (k > 0) sh("cp -a " + pdir + " " + ndir);
      pg_nodes.push_back(start_node(bin, ndir, tmp / ("pg-serve-" + std::to_string(k) + ".out")));
    }
    const auto f = drive(pg_nodes, devices, anchors, per_client, false, failures);
    stop_nodes(pg_nodes);
    row(node_count == 1 ? "postgresql, 1 node" : "postgresql, 2 nodes", f);
    if (sh(bin + " audit verify --dir " + pdir + " > /dev/null") != 0) {
      std::printf("  audit verify FAILED\n");
      ++failures;
    }
  }
  sh("psql -q '" + admin + "' -c 'CREATE DATABASE bench_ledger' > /dev/null");
  const double steps = ledger_steps(base_dsn + "bench_ledger", 2, 4, 250, failures);
  std::printf(
      "\nledger steps without TLS or signing (reserve + complete, 2 audit appends each), PostgreSQL,\n"
      "2 nodes x 4 threads: %.0f certificates/s (the chain lock's bound on this machine)\n",
      steps);
  sh(fixture + " stop " + pg_state.string());
  fs::remove_all(tmp);
  std::printf("failures %d\n", failures.load());
  return failures.load() == 0 ? 0 : 1;
}
