// bench/factory_batch: devices through a real station (`hallmark station provision`,
// durable SQLite ledger, the CLI as a line would run it) with 1 and 2 workers, the
// peak RSS of those runs at two manifest sizes, and in the same run on the same
// filesystem: the machine's crypto bound (1 CSR verify + 1 P-256 sign, all cores)
// and `openssl ca -batch -infiles` on the same CSRs (and cfssl when installed).
// One more row: `--small` devices with secure-element evidence (software SE, nonces
// from `station challenge`) under an authorization that requires attestation.
// And `--tpm` devices with TPM 2.0 evidence made in software (bench/soft_tpm.h:
// ECC P-256 EK certified by a bench TPM vendor, IAK, IDevID key, TPM2_Certify):
// the station's `station tpm-activate` batch (verification + MakeCredential), the
// devices' activation in software (not timed as the station's), then `station
// provision` (activation secret, nonce, issuance); the share of each phase.
//
// usage: factory_batch [--count N] [--small N] [--tpm N]
//        (default 10000, 1000 and --small; issue 3 asks 100000 and 10000)
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/tpm_credential.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/rng.h"
#include "device/secure_element.h"
#include "http/client.h"
#include "keys/software_key_store.h"
#include "pkix/csr.h"
#include "pkix/name.h"
#include "pkix/oid.h"
#include "pkix/pem.h"
#include "soft_tpm.h"

using namespace hallmark;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::cerr << "factory_batch: " << what << "\n";
  std::exit(1);
}

void sh(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) die("failed: " + cmd);
}

struct Run {
  double seconds = 0;
  long max_rss_kb = 0;
};

// Runs a shell command as a child; wall time and the child's peak RSS.
Run measured(const std::string& cmd) {
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("failed: " + cmd);
  return {std::chrono::duration<double>(Clock::now() - start).count(), ru.ru_maxrss};
}

std::vector<base::Bytes> make_csrs(int n) {
  std::vector<base::Bytes> out(static_cast<std::size_t>(n));
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  std::atomic<int> next{0};
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        auto key = keys::generate_ephemeral(base::KeyAlgorithm::EcP256);
        pkix::Name subject;
        (void)subject.add(pkix::oid::kCommonName, "device");
        auto info = pkix::encode_csr_info(subject, key.value()->public_key_der());
        auto sig = key.value()->sign(info.value());
        out[static_cast<std::size_t>(i)] =
            pkix::assemble_csr(info.value(), key.value()->signature_algorithm(), sig.value()).value();
      }
    });
  }
  for (auto& t : pool) t.join();
  return out;
}

std::string serial(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "SN-%08d", i);
  return buf;
}

void write_manifest(const fs::path& path, const std::vector<base::Bytes>& csrs, int n) {
  std::ofstream out(path, std::ios::trunc);
  for (int i = 0; i < n; ++i) {
    out << R"({"serial":")" << serial(i) << R"(","product":"sensor-v2","csr":")"
        << base::base64_encode(csrs[static_cast<std::size_t>(i)]) << "\"}\n";
  }
}

// One CSR verification + one P-256 signature per operation, on every core.
double crypto_bound(const std::vector<base::Bytes>& csrs, double seconds) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<long> done{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      std::vector<unsigned char> tbs(450, 0x5A);
      std::size_t i = t;
      const auto start = Clock::now();
      while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
        const auto& der = csrs[i++ % csrs.size()];
        const unsigned char* p = der.data();
        X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
        if (X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) die("verify");
        X509_REQ_free(req);
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        unsigned char sig[128];
        std::size_t len = sizeof sig;
        EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
        if (EVP_DigestSign(ctx, sig, &len, tbs.data(), tbs.size()) != 1) die("sign");
        EVP_MD_CTX_free(ctx);
        ++done;
      }
      EVP_PKEY_free(key);
    });
  }
  for (auto& t : pool) t.join();
  return static_cast<double>(done) / seconds;
}

// cfssl (Debian golang-cfssl) as a signing service: `cfssl serve` with the same
// CA key, and 2 keep-alive clients POSTing the same CSRs to /api/v1/cfssl/sign.
// It keeps no ledger (nothing is recorded), which only flatters it. Certs/s, or
// a negative value with the reason on stderr.
double cfssl_rate(const fs::path& dir, const std::vector<base::Bytes>& csrs) {
  const auto d = dir.string();
  if (std::system(("openssl ec -in " + d + "/ca.key -out " + d + "/cfssl-ca.key 2>/dev/null").c_str()) != 0) return -1;
  const std::uint16_t port = static_cast<std::uint16_t>(20000 + ::getpid() % 20000);
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string cmd = "exec cfssl serve -address 127.0.0.1 -port " + std::to_string(port) + " -ca " + d +
                            "/auth/station-1/ca/site-ca.pem -ca-key " + d + "/cfssl-ca.key >" + d + "/cfssl.log 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  http::ClientConfig plain;
  plain.tls = false;
  std::unique_ptr<http::Client> probe;
  for (int i = 0; i < 100 && !probe; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto c = http::Client::connect("127.0.0.1", port, plain);
    if (c.ok()) probe = std::move(c).value();
  }
  double rate = -1;
  if (probe) {
    std::atomic<std::size_t> next{0}, failures{0};
    auto worker = [&] {
      auto c = http::Client::connect("127.0.0.1", port, plain);
      if (!c.ok()) {
        ++failures;
        return;
      }
      for (std::size_t i; (i = next++) < csrs.size();) {
        std::string pem = pkix::pem_encode(csrs[i], "CERTIFICATE REQUEST");
        std::string escaped;
        for (char ch : pem) escaped += ch == '\n' ? std::string("\\n") : std::string(1, ch);
        auto r = c.value()->request("POST", "/api/v1/cfssl/sign", "{\"certificate_request\":\"" + escaped + "\"}",
                                    {{"Content-Type", "application/json"}});
        if (!r.ok() || r->status != 200 || r->body.find("\"success\":true") == std::string::npos) ++failures;
      }
    };
    const auto start = Clock::now();
    std::thread a(worker), b(worker);
    a.join();
    b.join();
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    if (failures == 0)
      rate = static_cast<double>(csrs.size()) / s;
    else
      std::cerr << "factory_batch: cfssl refused " << failures.load() << " requests (see " << d << "/cfssl.log)\n";
  } else {
    std::cerr << "factory_batch: cfssl serve did not start (see " << d << "/cfssl.log)\n";
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return rate;
}

// Manifest lines with SE evidence for `n` devices, one station nonce each.
void write_se_manifest(const fs::path& path, const fs::path& vendor, const std::vector<std::string>& nonces) {
  const auto n = nonces.size();
  std::vector<std::string> lines(n);
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  std::atomic<std::size_t> next{0};
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      base::SystemRng rng;
      base::SystemClock clock;
      for (std::size_t i; (i = next++) < n;) {
        char sn[32];
        std::snprintf(sn, sizeof sn, "SE-%08zu", i);
        auto dev = device::se_make_device(vendor, sn, base::hex_decode(nonces[i]).value(), rng, clock);
        if (!dev.ok()) die("se make: " + dev.error().detail);
        std::string chain;
        for (const auto& der : dev->chain) chain += (chain.empty() ? "\"" : ",\"") + base::base64_encode(der) + "\"";
        lines[i] = std::string(R"({"serial":")") + sn + R"(","product":"sensor-v2","csr":")" +
                   base::base64_encode(dev->csr_der) + R"(","evidence":{"type":"se","nonce":")" + nonces[i] +
                   R"(","signature":")" + base::base64_encode(dev->signature) + R"(","chain":[)" + chain + "]}}";
      }
    });
  }
  for (auto& t : pool) t.join();
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

// The bench's ActivateCredential against the station's MakeCredential
// (attest/tpm_credential.h): the secret comes back, and a credential made for
// another IAK Name does not activate.
void check_soft_activation(const bench::SoftTpmDevice& d) {
  base::SystemRng rng;
  const auto secret = rng.bytes(32);
  auto made = attest::make_credential(d.ek_public, d.iak_name, secret, rng);
  if (!made.ok()) die("make_credential: " + made.error().detail);
  auto got = bench::activate(d, made->credential_blob, made->encrypted_secret);
  if (!got.ok() || got.value() != secret) die("the software activation does not recover MakeCredential's secret");
  auto other = d.iak_name;
  other.back() ^= 1;
  auto wrong = attest::make_credential(d.ek_public, other, secret, rng);
  if (!wrong.ok() || bench::activate(d, wrong->credential_blob, wrong->encrypted_secret).ok()) {
    die("the software activation accepts a credential made for another IAK");
  }
}

// `n` software TPM devices answering `nonces`, made on every core.
std::vector<bench::SoftTpmDevice> make_tpm_devices(const bench::SoftTpmVendor& vendor,
                                                   const std::vector<std::string>& nonces) {
  std::vector<bench::SoftTpmDevice> out(nonces.size());
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  std::atomic<std::size_t> next{0};
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (std::size_t i; (i = next++) < nonces.size();) {
        char sn[32];
        std::snprintf(sn, sizeof sn, "TP-%08zu", i);
        auto dev = bench::make_soft_tpm_device(vendor, sn, nonces[i]);
        if (!dev.ok()) die("tpm device: " + dev.error().detail);
        out[i] = std::move(dev).value();
      }
    });
  }
  for (auto& t : pool) t.join();
  return out;
}

// The devices' TPM2_ActivateCredential of the station's answers (one JSON line
// each, in order), on every core; the manifest lines with "activated_secret".
std::vector<std::string> activate_all(const std::vector<bench::SoftTpmDevice>& devs, const fs::path& answers_path) {
  std::vector<std::string> answers;
  std::ifstream in(answers_path);
  for (std::string l; std::getline(in, l);) answers.push_back(l);
  if (answers.size() != devs.size()) die("station tpm-activate answered " + std::to_string(answers.size()) + " lines");
  std::vector<std::string> lines(devs.size());
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  std::atomic<std::size_t> next{0};
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (std::size_t i; (i = next++) < devs.size();) {
        const auto a = nlohmann::json::parse(answers[i], nullptr, false);
        if (a.is_discarded() || a.value("status", "") != "ready") die("station tpm-activate: " + answers[i]);
        auto blob = base::base64_decode(a["credential_blob"].get<std::string>());
        auto secret = base::base64_decode(a["encrypted_secret"].get<std::string>());
        if (!blob.ok() || !secret.ok()) die("station tpm-activate: not base64");
        auto got = bench::activate(devs[i], blob.value(), secret.value());
        if (!got.ok()) die("activation: " + got.error().detail);
        lines[i] = devs[i].manifest_line("sensor-v2", base::base64_encode(got.value()));
      }
    });
  }
  for (auto& t : pool) t.join();
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 10000, small = 1000, tpm = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--count" && i + 1 < argc)
      count = std::atoi(argv[++i]);
    else if (a == "--small" && i + 1 < argc)
      small = std::atoi(argv[++i]);
    else if (a == "--tpm" && i + 1 < argc)
      tpm = std::atoi(argv[++i]);
    else
      die("usage: factory_batch [--count N] [--small N] [--tpm N]");
  }
  if (tpm < 0) tpm = small;
  if (count < 10 || small < 1 || small > count) die("need --count >= 10 and 1 <= --small <= --count");
  if (tpm < 1 || tpm > 1000000) die("need 1 <= --tpm <= 1000000");
  const std::string bin = HALLMARK_BINARY;
  const fs::path dir = fs::temp_directory_path() / ("hallmark-factory-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ::setenv("HALLMARK_KEY_PASSPHRASE", "bench-passphrase", 1);
  const auto d = dir.string();
  sh(bin + " init --dir " + d + "/pki >/dev/null 2>&1");
  sh(bin + " site create --dir " + d +
     "/pki --id bench --serial-range SN-00000000..SN-09999999 --quota 10000000"
     " --not-after 2040-01-01 --products sensor-v2 --attestation none --out " +
     d + "/auth >/dev/null 2>&1");

  std::cerr << "generating " << count << " P-256 CSRs…\n";
  const auto csrs = make_csrs(count);
  write_manifest(dir / "small.jsonl", csrs, small);
  write_manifest(dir / "full.jsonl", csrs, count);

  auto station = [&](const std::string& name) {
    sh(bin + " station init --dir " + d + "/" + name + " --authorization " + d + "/auth >/dev/null 2>&1");
    return d + "/" + name;
  };
  auto provision = [&](const std::string& st, const std::string& manifest, int workers) {
    return measured(bin + " station provision --quiet --workers " + std::to_string(workers) + " --dir " + st +
                    " --input " + d + "/" + manifest + " --out " + st + "-out 2>/dev/null");
  };
  const auto w1 = provision(station("w1"), "full.jsonl", 1);
  const auto w2 = provision(station("w2"), "full.jsonl", 2);
  const auto rss_small = provision(station("rss"), "small.jsonl", 2);

  // SE evidence: chain to the vendor root, key == CSR key, signature over the nonce, nonce used once.
  sh(bin + " device se vendor-init --dir " + d + "/vendor >/dev/null 2>&1");
  sh(bin + " site create --dir " + d +
     "/pki --id bench-se --serial-range SE-00000000..SE-09999999 --quota 10000000 --not-after 2040-01-01"
     " --products sensor-v2 --attestation required --se-roots " +
     d + "/vendor/root.pem --out " + d + "/auth-se >/dev/null 2>&1");
  sh(bin + " station init --dir " + d + "/se --authorization " + d + "/auth-se >/dev/null 2>&1");
  auto challenge = [&](const std::string& st, int n) {
    std::vector<std::string> out;
    while (out.size() < static_cast<std::size_t>(n)) {
      const auto k = std::min<std::size_t>(10000, static_cast<std::size_t>(n) - out.size());
      sh(bin + " station challenge --dir " + st + " --count " + std::to_string(k) + " > " + d + "/nonces.txt");
      std::ifstream in(dir / "nonces.txt");
      for (std::string l; std::getline(in, l);) out.push_back(l);
    }
    return out;
  };
  const auto nonces = challenge(d + "/se", small);
  std::cerr << "making " << small << " software-SE devices…\n";
  write_se_manifest(dir / "se.jsonl", dir / "vendor", nonces);
  const auto se = measured(bin + " station provision --quiet --workers 2 --dir " + d + "/se --input " + d +
                           "/se.jsonl --out " + d + "/se-out 2>/dev/null");
  {
    std::ifstream summary(dir / "se-out" / "summary.json");
    const std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
    if (text.find("\"issued\": " + std::to_string(small)) == std::string::npos) die("SE batch: " + text);
  }

  // TPM evidence: the station's two phases, as a line runs them (pre-collected evidence).
  auto vendor = bench::SoftTpmVendor::create();
  if (!vendor.ok()) die("TPM vendor: " + vendor.error().detail);
  std::ofstream(dir / "tpm-root.pem") << vendor->root().pem();
  sh(bin + " site create --dir " + d +
     "/pki --id bench-tpm --serial-range TP-00000000..TP-09999999 --quota 10000000 --not-after 2040-01-01"
     " --products sensor-v2 --attestation required --tpm-roots " +
     d + "/tpm-root.pem --out " + d + "/auth-tpm >/dev/null 2>&1");
  sh(bin + " station init --dir " + d + "/tpm --authorization " + d + "/auth-tpm >/dev/null 2>&1");
  const auto tpm_nonces = challenge(d + "/tpm", tpm);
  std::cerr << "making " << tpm << " software TPM-evidence devices…\n";
  const auto tpm_devs = make_tpm_devices(vendor.value(), tpm_nonces);
  check_soft_activation(tpm_devs.front());
  {
    std::ofstream req(dir / "tpm-requests.jsonl", std::ios::trunc);
    for (const auto& dev : tpm_devs) req << dev.request() << "\n";
  }
  const auto tpm_act = measured(bin + " station tpm-activate --dir " + d + "/tpm --input " + d +
                                "/tpm-requests.jsonl > " + d + "/tpm-answers.jsonl 2>/dev/null");
  const auto device_start = Clock::now();
  const auto tpm_lines = activate_all(tpm_devs, dir / "tpm-answers.jsonl");
  const double tpm_device_s = std::chrono::duration<double>(Clock::now() - device_start).count();
  {
    std::ofstream m(dir / "tpm.jsonl", std::ios::trunc);
    for (const auto& l : tpm_lines) m << l << "\n";
  }
  const auto tpm_prov = measured(bin + " station provision --quiet --workers 2 --dir " + d + "/tpm --input " + d +
                                 "/tpm.jsonl --out " + d + "/tpm-out 2>/dev/null");
  {
    std::ifstream summary(dir / "tpm-out" / "summary.json");
    const std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
    if (text.find("\"issued\": " + std::to_string(tpm)) == std::string::npos) die("TPM batch: " + text);
  }

  // openssl ca on the same CSRs (PEM files, -infiles).
  sh("openssl pkey -in " + d + "/auth/keys/site-ca.key -passin pass:bench-passphrase -out " + d + "/ca.key");
  sh("mkdir -p " + d + "/ossl/new " + d + "/ossl/csr && : > " + d + "/ossl/index.txt && echo 01 > " + d +
     "/ossl/serial");
  {
    std::ofstream cnf(dir / "ossl" / "ca.cnf");
    cnf << "[ca]\ndefault_ca=c\n[c]\ndir=" << d << "/ossl\ndatabase=$dir/index.txt\nnew_certs_dir=$dir/new\n"
        << "serial=$dir/serial\ncertificate=" << d << "/auth/station-1/ca/site-ca.pem\nprivate_key=" << d
        << "/ca.key\ndefault_md=sha256\npolicy=p\nunique_subject=no\nemail_in_dn=no\ndefault_days=3650\n"
        << "[p]\ncommonName=optional\n";
    std::ofstream list(dir / "ossl" / "files");
    for (int i = 0; i < count; ++i) {
      const auto path = dir / "ossl" / "csr" / (std::to_string(i) + ".pem");
      std::ofstream(path) << pkix::pem_encode(csrs[static_cast<std::size_t>(i)], "CERTIFICATE REQUEST");
      list << i << ".pem\n";
    }
  }
  // 100,000 paths exceed the kernel's argument limit: xargs hands them over in
  // runs of 20,000, one openssl process per run on the same growing database.
  const auto ossl =
      measured("cd " + d + "/ossl/csr && xargs -n 20000 sh -c 'openssl ca -batch -notext -config " + d +
               "/ossl/ca.cnf -out /dev/null -infiles \"$@\" || exit 255' _ < " + d + "/ossl/files >/dev/null 2>&1");
  const bool have_cfssl = std::system("command -v cfssl >/dev/null 2>&1") == 0;
  const double rc = have_cfssl ? cfssl_rate(dir, csrs) : -1;
  const double bound = crypto_bound(csrs, 3.0);

  const double r1 = count / w1.seconds, r2 = count / w2.seconds, ro = count / ossl.seconds;
  std::printf(
      "factory_batch: %d devices (P-256 CSRs, P-256 site CA), `hallmark station provision`, SQLite WAL durable "
      "ledger\n",
      count);
  std::printf("  cores                 %u\n", std::thread::hardware_concurrency());
  std::printf("  hallmark, 1 worker    %10.0f devices/s  (%.1f s)\n", r1, w1.seconds);
  std::printf("  hallmark, 2 workers   %10.0f devices/s  (%.1f s)\n", r2, w2.seconds);
  std::printf(
      "  hallmark, SE evidence %10.0f devices/s  (%d devices, 2 workers, chain + key + signature + nonce; "
      "same size without evidence: %.0f devices/s)\n",
      small / se.seconds, small, small / rss_small.seconds);
  const double tpm_s = tpm_act.seconds + tpm_prov.seconds;
  std::printf(
      "  hallmark, TPM evidence%10.0f devices/s  (%d devices: station tpm-activate %.1f s = %.0f %% (EK chain, "
      "attributes, certify, key, MakeCredential), station provision 2 workers %.1f s = %.0f %% (activation secret, "
      "nonce, issuance); devices' software activation %.1f s, not counted)\n",
      tpm / tpm_s, tpm, tpm_act.seconds, 100.0 * tpm_act.seconds / tpm_s, tpm_prov.seconds,
      100.0 * tpm_prov.seconds / tpm_s, tpm_device_s);
  std::printf("  peak RSS              %10ld KiB at %d lines, %ld KiB at %d lines\n", rss_small.max_rss_kb, small,
              w2.max_rss_kb, count);
  std::printf("  crypto bound          %10.0f ops/s      (1 CSR verify + 1 ECDSA P-256 sign, all cores)\n", bound);
  std::printf("  openssl ca -infiles   %10.0f certs/s    (%.1f s, one process per 20,000 CSRs)\n", ro, ossl.seconds);
  if (rc > 0) {
    std::printf("  cfssl serve /sign     %10.0f certs/s    (2 keep-alive clients, no ledger)\n", rc);
  } else {
    std::printf("  cfssl                 %s\n",
                have_cfssl ? "failed (see above)" : "not installed (Debian golang-cfssl)");
  }
  std::printf("  ratio to bound        %10.1f %%         (target >= 50 %%)\n", 100.0 * r2 / bound);
  std::printf("  ratio to openssl ca   %10.1f x          (target >= 5x)\n", r2 / ro);
  if (rc > 0) std::printf("  ratio to cfssl        %10.1f x\n", r2 / rc);
  fs::remove_all(dir);
  return 0;
}
