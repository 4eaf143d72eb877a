// bench/issue_throughput: P-256 certificates from pre-made CSRs through the
// full issuance cycle (CSR parse + self-signature check, TBS from the profile,
// lint, ledger reserve + audit, sign, ledger complete + audit) with the durable
// SQLite ledger, on one core. Prints certs/s, the durability mode, and in the
// same run the OpenSSL bound for one CSR verify + one sign, and the ratio.
// Then the same cycle with the CA key in a SoftHSM2 token (a throw-away token
// made with softhsm2-util in a temp folder), side by side with the file key, and
// the token's bare signing rate on 1 and 2 threads (the session pool).
//
// usage: issue_throughput [--count N] [--profile ldevid|idevid] [--durability normal|full] [--no-pkcs11]
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/pki.h"
#include "keys/pkcs11_key_store.h"
#include "keys/software_key_store.h"
#include "pkix/csr.h"
#include "pkix/name.h"
#include "pkix/oid.h"

using namespace hallmark;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::cerr << "issue_throughput: " << what << "\n";
  std::exit(1);
}

template <typename T>
T must(base::Result<T> r, const char* what) {
  if (!r.ok()) die(std::string(what) + ": " + r.error().describe());
  return std::move(r).value();
}

std::vector<base::Bytes> make_csrs(int n) {
  std::vector<base::Bytes> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto key = must(keys::generate_ephemeral(base::KeyAlgorithm::EcP256), "keygen");
    pkix::Name subject;
    if (!subject.add(pkix::oid::kSerialNumber, "SN-" + std::to_string(100000 + i)).ok()) die("name");
    auto info = must(pkix::encode_csr_info(subject, key->public_key_der()), "csr info");
    auto sig = must(key->sign(info), "csr sign");
    out.push_back(must(pkix::assemble_csr(info, key->signature_algorithm(), sig), "csr"));
  }
  return out;
}

// The machine's bound for one CSR verify + one P-256 signature over a
// certificate-sized message, two ways:
//  - `csr_api`: as an OpenSSL-based CA does it (d2i_X509_REQ, X509_REQ_verify,
//    EVP_DigestSign) — OpenSSL 3.0 decodes the CSR's key through its provider
//    decoders, which is part of what verifying a CSR costs with OpenSSL;
//  - `crypto`: the bare primitives (key already imported, one EVP_DigestVerify
//    of the CSR's signature + one EVP_DigestSign).
struct Bound {
  double csr_api = 0;
  double crypto = 0;
};

double rate_for(double seconds, const std::function<void(std::size_t)>& op) {
  std::size_t done = 0;
  const auto start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) op(done++);
  return done / std::chrono::duration<double>(Clock::now() - start).count();
}

Bound openssl_bound(const std::vector<base::Bytes>& csrs, double seconds) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  std::vector<unsigned char> tbs(450, 0x5A);
  auto sign = [&] {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char sig[128];
    std::size_t len = sizeof sig;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    if (EVP_DigestSign(ctx, sig, &len, tbs.data(), tbs.size()) != 1) die("openssl sign failed");
    EVP_MD_CTX_free(ctx);
  };
  Bound b;
  b.csr_api = rate_for(seconds, [&](std::size_t i) {
    const auto& der = csrs[i % csrs.size()];
    const unsigned char* p = der.data();
    X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
    if (X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) die("openssl verify failed");
    X509_REQ_free(req);
    sign();
  });
  // Pre-import every CSR's key and split out its signed part and signature.
  struct Prepared {
    EVP_PKEY* key;
    std::vector<unsigned char> info, sig;
  };
  std::vector<Prepared> prepared;
  for (const auto& der : csrs) {
    const unsigned char* p = der.data();
    X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
    Prepared pr;
    pr.key = EVP_PKEY_dup(X509_REQ_get0_pubkey(req));
    unsigned char* info = nullptr;
    const int n = i2d_re_X509_REQ_tbs(req, &info);
    pr.info.assign(info, info + n);
    OPENSSL_free(info);
    const ASN1_BIT_STRING* sig = nullptr;
    X509_REQ_get0_signature(req, &sig, nullptr);
    pr.sig.assign(ASN1_STRING_get0_data(sig), ASN1_STRING_get0_data(sig) + ASN1_STRING_length(sig));
    X509_REQ_free(req);
    prepared.push_back(std::move(pr));
  }
  b.crypto = rate_for(seconds, [&](std::size_t i) {
    const auto& pr = prepared[i % prepared.size()];
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pr.key);
    if (EVP_DigestVerify(ctx, pr.sig.data(), pr.sig.size(), pr.info.data(), pr.info.size()) != 1) {
      die("bare verify failed");
    }
    EVP_MD_CTX_free(ctx);
    sign();
  });
  for (auto& pr : prepared) EVP_PKEY_free(pr.key);
  EVP_PKEY_free(key);
  return b;
}

// The full issuance cycle over `csrs` with the PKI in `dir`; certs/s.
double issue_all(const std::filesystem::path& dir, const std::string& profile, const std::vector<base::Bytes>& csrs,
                 std::string* issuer_name) {
  auto pki = must(app::Pki::open(dir), "open");
  auto authority = must(pki->authority(app::Pki::default_issuer_for(profile)), "issuer");
  if (issuer_name != nullptr) *issuer_name = authority.name;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < csrs.size(); ++i) {
    auto csr = must(pkix::Csr::parse(csrs[i]), "csr");
    ca::IssuanceRequest req;
    req.profile = profile;
    req.public_key_der = csr.public_key().spki_der();
    req.device_serial = csr.subject().get(pkix::oid::kSerialNumber).value_or("SN");
    req.product = "sensor-v2";
    req.actor = "bench";
    req.origin = "bench";
    must(pki->issuer().issue(authority, req), "issue");
    if (i % 1000 == 999 && !pki->audit().checkpoint_if_due().ok()) die("checkpoint");
  }
  return static_cast<double>(csrs.size()) / std::chrono::duration<double>(Clock::now() - start).count();
}

// Signatures per second from `threads` threads sharing one Signer for `seconds`.
double sign_rate(const keys::Signer& key, int threads, double seconds) {
  std::atomic<std::size_t> done{0};
  std::vector<std::thread> pool;
  const base::Bytes tbs(450, 0x5A);
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
        if (!key.sign(tbs).ok()) die("token signing failed");
        ++done;
      }
    });
  }
  for (auto& t : pool) t.join();
  return static_cast<double>(done.load()) / std::chrono::duration<double>(Clock::now() - start).count();
}

struct TokenRow {
  bool ran = false;
  std::string why;
  double issue = 0, sign1 = 0, sign2 = 0;
};

TokenRow pkcs11_row(const std::filesystem::path& base, const std::string& profile, const std::vector<base::Bytes>& csrs,
                    const std::function<void(const std::filesystem::path&)>& configure) {
  TokenRow row;
  const auto tdir = base / "token";
  std::filesystem::create_directories(tdir / "tokens");
  std::ofstream(tdir / "softhsm2.conf") << "directories.tokendir = " << (tdir / "tokens").string()
                                        << "\nobjectstore.backend = file\nlog.level = ERROR\n";
  std::ofstream(tdir / "pin") << "246810\n";
  ::setenv("SOFTHSM2_CONF", (tdir / "softhsm2.conf").c_str(), 1);
  if (std::system("softhsm2-util --init-token --free --label bench --so-pin 13579111 --pin 246810 >/dev/null 2>&1") !=
      0) {
    row.why = "softhsm2-util failed (is softhsm2 installed?)";
    return row;
  }
  const std::string uri =
      "pkcs11:token=bench;object=bench?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:" +
      (tdir / "pin").string();
  std::vector<std::string> messages;
  auto s = app::Pki::init(base / "pki-pkcs11", std::nullopt, uri, messages);
  if (!s.ok()) {
    row.why = s.error().describe();
    return row;
  }
  configure(base / "pki-pkcs11");
  row.issue = issue_all(base / "pki-pkcs11", profile, csrs, nullptr);
  auto key = must(keys::pkcs11_load("pkcs11:token=bench;object=bench-runtime?module-path=/usr/lib/softhsm/"
                                    "libsofthsm2.so&pin-source=file:" +
                                    (tdir / "pin").string()),
                  "token key");
  row.sign1 = sign_rate(*key, 1, 2.0);
  row.sign2 = sign_rate(*key, 2, 2.0);
  row.ran = true;
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 5000;
  std::string profile = "ldevid";
  std::string durability = "normal";
  bool with_pkcs11 = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--count" && i + 1 < argc)
      count = std::atoi(argv[++i]);
    else if (a == "--profile" && i + 1 < argc)
      profile = argv[++i];
    else if (a == "--durability" && i + 1 < argc)
      durability = argv[++i];
    else if (a == "--no-pkcs11")
      with_pkcs11 = false;
    else
      die("usage: issue_throughput [--count N] [--profile ldevid|idevid] [--durability normal|full] [--no-pkcs11]");
  }
  if (count < 1) die("--count must be positive");
  const auto base = std::filesystem::temp_directory_path() / ("hallmark-bench-" + std::to_string(::getpid()));
  const auto dir = base / "pki";
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  std::vector<std::string> messages;
  ::setenv("HALLMARK_KEY_PASSPHRASE", "bench-passphrase", 1);
  {
    auto s = app::Pki::init(dir, std::nullopt, "", messages);
    if (!s.ok()) die(s.error().describe());
  }
  // With --durability full: the folder's config with the store's durability switched.
  const std::function<void(const std::filesystem::path&)> set_durability = [&](const std::filesystem::path& folder) {
    if (durability != "full") return;
    std::ifstream in(folder / "hallmark.toml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.replace(text.find("durability = \"normal\""), 21, "durability = \"full\"  ");
    std::ofstream(folder / "hallmark.toml", std::ios::trunc) << text;
  };
  set_durability(dir);

  std::cerr << "generating " << count << " P-256 CSRs…\n";
  const auto csrs = make_csrs(count);

  std::string issuer_name;
  double rate = issue_all(dir, profile, csrs, &issuer_name);
  const auto bound = openssl_bound(csrs, 3.0);
  TokenRow token;
  if (with_pkcs11) {
    std::cerr << "same cycle with the CA key in a SoftHSM2 token…\n";
    token = pkcs11_row(base, profile, csrs, set_durability);
    // The file key runs again after the token (fresh folder): the first run
    // also warms caches, so the side-by-side figure is the better of the two.
    auto again = app::Pki::init(base / "pki-file-2", std::nullopt, "", messages);
    if (!again.ok()) die(again.error().describe());
    set_durability(base / "pki-file-2");
    rate = std::max(rate, issue_all(base / "pki-file-2", profile, csrs, nullptr));
  } else {
    token.why = "--no-pkcs11";
  }

  std::printf("issue_throughput: %d %s certificates (P-256 CSRs, P-256 %s CA), 1 core\n", count, profile.c_str(),
              issuer_name.c_str());
  std::printf("  durability          SQLite WAL, synchronous=%s, 2 transactions per certificate\n",
              durability == "full" ? "FULL" : "NORMAL");
  std::printf(
      "  hallmark            %8.0f certs/s  (%.0f us each: CSR parse+verify, TBS, lint, ledger, sign, ledger)\n", rate,
      1e6 / rate);
  std::printf("  openssl CSR bound   %8.0f ops/s    (d2i_X509_REQ + X509_REQ_verify + EVP_DigestSign)\n",
              bound.csr_api);
  std::printf("  bare crypto bound   %8.0f ops/s    (EVP_DigestVerify + EVP_DigestSign, keys pre-imported)\n",
              bound.crypto);
  std::printf("  ratio               %8.1f %% of the OpenSSL CSR bound (target >= 50 %%), %.1f %% of bare crypto\n",
              100.0 * rate / bound.csr_api, 100.0 * rate / bound.crypto);
  std::printf("  CA key              file (encrypted PKCS#8)        vs  PKCS#11 (SoftHSM2 2.6, same run)\n");
  if (token.ran) {
    std::printf("  issuance            %8.0f certs/s                  %8.0f certs/s  (%.0f %% of the file key)\n", rate,
                token.issue, 100.0 * token.issue / rate);
    std::printf("  token signing       %8.0f sig/s on 1 thread, %.0f sig/s on 2 threads (session pool)\n", token.sign1,
                token.sign2);
  } else {
    std::printf("  pkcs11 row skipped: %s\n", token.why.c_str());
  }
  std::filesystem::remove_all(base);
  return 0;
}
