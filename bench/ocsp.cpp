// bench/ocsp: OCSP responses/s from a real `hallmark serve --listen-http`,
// measured with wrk over keep-alive plain HTTP, in one run:
//   * cached: POST without a nonce — the pre-signed response (no signing, no
//     database round trip beyond the revocation-generation check);
//   * fresh:  POST with a nonce — looked up and signed per request.
// The requests are made by `openssl ocsp -reqout`; the answers are checked
// once with `openssl ocsp -respin` before measuring.
//
// Usage: ocsp [seconds=10] [connections=32] [wrk threads=2]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

namespace fs = std::filesystem;

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

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::string field(const std::string& text, const std::string& label) {
  const auto at = text.find(label);
  if (at == std::string::npos) return "?";
  const auto start = text.find_first_not_of(' ', at + label.size());
  return text.substr(start, text.find('\n', start) - start);
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 10;
  const int connections = argc > 2 ? std::atoi(argv[2]) : 32;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  if (sh("command -v wrk > /dev/null") != 0) {
    std::cerr << "bench/ocsp needs wrk (Debian package wrk; tools/deps.sh installs it)\n";
    return 2;
  }
  const fs::path tmp = fs::temp_directory_path() / ("hallmark-bench-ocsp-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  const std::string bin = HALLMARK_BINARY;
  const auto d = tmp.string();
  ::setenv("HALLMARK_KEY_PASSPHRASE", "bench-ocsp", 1);
  if (sh(bin + " init --dir " + d + "/pki > /dev/null 2>&1") != 0 ||
      sh(bin + " ca export --dir " + d + "/pki > " + d + "/chain.pem") != 0 ||
      sh(bin + " ca export --dir " + d + "/pki --issuer factory > " + d + "/factory.pem") != 0 ||
      sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + d +
         "/dev.key -subj /CN=d -out " + d + "/dev.csr 2> /dev/null") != 0 ||
      sh(bin + " issue --dir " + d + "/pki --profile idevid --serial-number SN-1 --product sensor-v2 --csr " + d +
         "/dev.csr --out " + d + "/dev.pem > /dev/null 2>&1") != 0) {
    std::cerr << "setup failed\n";
    return 1;
  }
  const pid_t server = ::fork();
  if (server == 0) {
    // The access log (one line per request) goes to /dev/null, as a busy
    // responder would send it to a log collector rather than a terminal.
    const std::string cmd = "exec " + bin + " serve --dir " + d +
                            "/pki --listen 127.0.0.1:0 --listen-http 127.0.0.1:0 > " + d + "/serve.out 2> /dev/null";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  std::string url;
  for (int i = 0; i < 300 && url.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto text = slurp(d + "/serve.out");
    const auto at = text.find("http://");
    if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
      url = text.substr(at, text.find('/', at + 7) - at) + "/ocsp";
    }
  }
  int rc = 0;
  if (url.empty()) {
    std::cerr << "the server did not start\n";
    rc = 1;
  } else {
    sh("openssl ocsp -issuer " + d + "/factory.pem -cert " + d + "/dev.pem -no_nonce -reqout " + d +
       "/cached.der > /dev/null 2>&1");
    sh("openssl ocsp -issuer " + d + "/factory.pem -cert " + d + "/dev.pem -reqout " + d +
       "/fresh.der > /dev/null 2>&1");
    const auto check =
        capture("curl -s --data-binary @" + d + "/fresh.der -H 'Content-Type: application/ocsp-request' " + url +
                " | openssl ocsp -respin /dev/stdin -issuer " + d + "/factory.pem -cert " + d +
                "/dev.pem -no_nonce -CAfile " + d + "/chain.pem 2>&1");
    std::cout << "check: " << (check.find("Response verify OK") != std::string::npos ? "Response verify OK" : check)
              << "; " << field(check, "dev.pem:") << "\n";
    std::cout << "wrk " << threads << " threads, " << connections << " keep-alive connections, " << seconds
              << " s each; server and wrk share this machine's " << std::thread::hardware_concurrency() << " cores\n";
    for (const std::string kind : {"cached", "fresh"}) {
      const auto lua = d + "/" + kind + ".lua";
      std::ofstream(lua) << "local f = io.open('" << d << "/" << kind << ".der', 'rb')\n"
                         << "wrk.method = 'POST'\nwrk.body = f:read('*a')\nf:close()\n"
                         << "wrk.headers['Content-Type'] = 'application/ocsp-request'\n";
      const auto out = capture("wrk -t" + std::to_string(threads) + " -c" + std::to_string(connections) + " -d" +
                               std::to_string(seconds) + "s --latency -s " + lua + " " + url + " 2>&1");
      const auto non2xx = field(out, "Non-2xx or 3xx responses:");
      std::cout << kind << (kind == "cached" ? " (no nonce, pre-signed)" : " (nonce, signed per request)") << ": "
                << field(out, "Requests/sec:") << " responses/s, p50 " << field(out, "    50%") << ", p99 "
                << field(out, "    99%") << (non2xx == "?" ? "" : ", non-2xx " + non2xx) << "\n";
    }
  }
  if (server > 0) {
    ::kill(server, SIGTERM);
    int status = 0;
    ::waitpid(server, &status, 0);
  }
  fs::remove_all(tmp);
  return rc;
}
