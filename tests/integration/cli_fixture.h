// A data folder initialised once per test, plus helpers to make CSRs and
// check certificates with the third-party `openssl` CLI.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "support/test_support.h"

namespace hallmark::testing {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("HALLMARK_KEY_PASSPHRASE", "integration-test-passphrase", 1);
    auto r = hallmark("init --dir " + dir());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Third parties check our chain: export it once.
    ASSERT_EQ(run(bin() + " ca export --dir " + dir() + " --issuer root > " + file("root.pem")).exit_code, 0);
    ASSERT_EQ(run(bin() + " ca export --dir " + dir() + " --issuer factory > " + file("factory.pem")).exit_code, 0);
    ASSERT_EQ(run(bin() + " ca export --dir " + dir() + " --issuer runtime > " + file("runtime.pem")).exit_code, 0);
  }

  std::string dir() const { return (m_tmp / "pki").string(); }
  std::string file(const std::string& name) const { return (m_tmp / name).string(); }
  static std::string bin() { return HALLMARK_BINARY; }

  // A P-256 CSR made by openssl; returns its path.
  std::string openssl_csr(const std::string& name, const std::string& subject = "/serialNumber=SN-1") {
    const auto key = file(name + ".key");
    const auto csr = file(name + ".csr");
    auto r = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key + " -subj '" +
                 subject + "' -out " + csr);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return csr;
  }

  // `openssl verify -x509_strict` of a leaf against root + intermediate.
  CommandResult openssl_verify(const std::string& leaf, const std::string& intermediate,
                               const std::string& extra = "") {
    return run("openssl verify -x509_strict " + extra + " -CAfile " + file("root.pem") + " -untrusted " + intermediate +
               " " + leaf);
  }

  TempDir m_tmp;
};

}  // namespace hallmark::testing
