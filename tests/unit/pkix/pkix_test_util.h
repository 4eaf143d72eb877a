// Helpers for the pkix tests: keys generated with OpenSSL's EVP API (never with
// our own code), signing, files and the openssl CLI.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/crypto.h"
#include "support/test_support.h"

namespace hallmark::pkix::testutil {

// A private key made by OpenSSL in the test process.
class TestKey {
 public:
  static TestKey generate(base::KeyAlgorithm alg);
  ~TestKey();
  TestKey(TestKey&&) noexcept;
  TestKey& operator=(TestKey&&) noexcept;

  base::Bytes spki() const;
  // Signature over `message` in the form a keys::Signer returns (raw r||s for ECDSA).
  base::Bytes sign(base::ByteView message, base::SignatureAlgorithm alg) const;
  // PKCS#8 PEM, for the openssl CLI.
  std::string private_pem() const;

 private:
  struct Impl;
  explicit TestKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

base::Bytes read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, base::ByteView data);
inline void write_file(const std::filesystem::path& path, const std::string& text) {
  write_file(path, base::view(text));
}

// Runs a shell command and fails the test with its output when it exits non-zero.
std::string must_run(const std::string& command);

std::string q(const std::filesystem::path& p);  // shell-quoted path

}  // namespace hallmark::pkix::testutil
