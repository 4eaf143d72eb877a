// The real CLI with keys in a SoftHSM2 token: `init --keystore`, admin
// issuance, a factory batch whose site CA key lives in the site's own token
// (`station keygen` -> `site create --site-csr` -> `station init --key`);
// checked with openssl verify and pkcs11-tool, with no key file on disk.
#include <filesystem>

#include "integration/factory_fixture.h"
#include "pkcs11/token_fixture.h"

namespace hallmark::testing {
namespace {

namespace fs = std::filesystem;

// Key files (*.key) under `root`, recursively.
std::vector<std::string> key_files(const fs::path& root) {
  std::vector<std::string> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && e.path().extension() == ".key") out.push_back(e.path().string());
  }
  return out;
}

class Pkcs11CliTest : public FactoryTest {
 protected:
  void SetUp() override {
    use_test_token();
    ::setenv("HALLMARK_KEY_PASSPHRASE", kPass, 1);
    m_prefix = unique_label("pki");
    auto r = hallmark("init --dir " + dir() + " --keystore " + shell_quote(token_uri(m_prefix)));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* ca : {"root", "factory", "runtime"}) {
      ASSERT_EQ(run(bin() + " ca export --dir " + dir() + " --issuer " + ca + " > " + file(std::string(ca) + ".pem"))
                    .exit_code,
                0);
    }
  }
  std::string m_prefix;
};

TEST_F(Pkcs11CliTest, InitGeneratesEveryCaAndAuditKeyInTheTokenAsSensitiveNeverExtractable) {
  EXPECT_TRUE(key_files(dir()).empty()) << key_files(dir()).front();
  auto objects = list_private_keys();
  ASSERT_EQ(objects.exit_code, 0) << objects.err;
  for (const char* name : {"root", "factory", "runtime", "audit"}) {
    const auto label = m_prefix + "-" + name;
    const auto at = objects.out.find("label:      " + label + "\n");
    ASSERT_NE(at, std::string::npos) << label << "\n" << objects.out;
    const auto block = objects.out.substr(at, objects.out.find("Private Key Object", at) - at);
    EXPECT_NE(block.find("sensitive"), std::string::npos) << block;
    EXPECT_NE(block.find("never extractable"), std::string::npos) << block;
    // pkcs11-tool's "Usage:" line: the key signs and does nothing else.
    const auto usage =
        block.substr(block.find("Usage:"), block.find('\n', block.find("Usage:")) - block.find("Usage:"));
    EXPECT_NE(usage.find("sign"), std::string::npos) << block;
    EXPECT_EQ(usage.find("decrypt"), std::string::npos) << block;
    EXPECT_EQ(usage.find("unwrap"), std::string::npos) << block;
  }
  // The hierarchy verifies with openssl; the issuers table names the token, not a file.
  auto v = run("openssl verify -x509_strict -CAfile " + file("root.pem") + " " + file("factory.pem") + " " +
               file("runtime.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto list = hallmark("ca list --dir " + dir() + " --json");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("pkcs11:token=hallmark-test;object=" + m_prefix + "-root"), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(token_pin()), std::string::npos);
  EXPECT_EQ(hallmark("audit verify --dir " + dir()).exit_code, 0);
}

TEST_F(Pkcs11CliTest, AdminIssuedIdevidVerifiesWithOpenssl) {
  const auto csr = openssl_csr("dev", "/CN=ignored");
  auto r =
      hallmark("issue --dir " + dir() + " --profile idevid --serial-number SN-00001000 --product sensor-v2 --csr " +
               csr + " --out " + file("idevid.pem"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto v = openssl_verify(file("idevid.pem"), file("factory.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(hallmark("audit verify --dir " + dir()).exit_code, 0);
}

TEST_F(Pkcs11CliTest, StationBatchSignsWithTheSiteCaKeyInTheSitesOwnToken) {
  const auto site_key = token_uri(unique_label("site-ca"), "hallmark-site");
  auto kg = hallmark("station keygen --key " + shell_quote(site_key) + " --site acme --csr " + file("site.csr"));
  ASSERT_EQ(kg.exit_code, 0) << kg.err;
  const auto auth = create_site("acme", "SN-00001000..SN-00001999", 100, "--site-csr " + file("site.csr"));
  // The authorization holds no site CA key: only the station's own key file.
  for (const auto& f : key_files(auth)) EXPECT_EQ(fs::path(f).filename(), "station.key") << f;
  // The site's OCSP responder key went into the operator's token with the CA keys.
  EXPECT_NE(list_private_keys().out.find("label:      " + m_prefix + "-ocsp-site-acme\n"), std::string::npos);
  EXPECT_TRUE(key_files(dir()).empty());

  // Without --key the station refuses, and nothing is written.
  auto refused = hallmark("station init --dir " + file("st-nokey") + " --authorization " + auth);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("--key"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(file("st-nokey")));
  // Another key than the certified one is refused too.
  const auto other = token_uri(unique_label("other"), "hallmark-site");
  ASSERT_EQ(hallmark("station keygen --key " + shell_quote(other) + " --csr " + file("other.csr")).exit_code, 0);
  refused =
      hallmark("station init --dir " + file("st-other") + " --authorization " + auth + " --key " + shell_quote(other));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("not the one the site CA certificate certifies"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(file("st-other")));

  const auto st = file("station");
  auto init = hallmark("station init --dir " + st + " --authorization " + auth + " --key " + shell_quote(site_key));
  ASSERT_EQ(init.exit_code, 0) << init.err;
  for (const auto& f : key_files(st)) EXPECT_EQ(fs::path(f).filename(), "station.key") << f;

  std::vector<std::string> lines;
  for (int i = 0; i < 20; ++i) lines.push_back(line(serial(1000 + i), fresh_csr()));
  write_lines(file("manifest.jsonl"), lines);
  auto p = provision(st, file("manifest.jsonl"), file("batch"));
  ASSERT_EQ(p.exit_code, 0) << p.err << p.out;
  auto rows = results(file("batch"));
  ASSERT_EQ(rows.size(), 20u);
  for (const auto& row : rows) EXPECT_EQ(row.value("status", ""), "issued") << row.dump();

  auto bundle = hallmark("station bundle get --dir " + st + " " + serial(1005) + " --out " + file("device.pem"));
  ASSERT_EQ(bundle.exit_code, 0) << bundle.err;
  auto v = run("openssl verify -x509_strict -CAfile " + file("root.pem") + " -untrusted " + st +
               "/ca/factory.pem -untrusted " + st + "/ca/site-ca.pem " + file("device.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(Pkcs11CliTest, SiteCaKeyInAFileMadeByStationKeygenAlsoWorks) {
  const auto key = file("site-keys/site-ca.key");
  fs::create_directories(file("site-keys"));
  auto kg = hallmark("station keygen --key " + key + " --csr " + file("site.csr"));
  ASSERT_EQ(kg.exit_code, 0) << kg.err;
  EXPECT_TRUE(fs::exists(key));
  const auto auth = create_site("filesite", "SN-00002000..SN-00002999", 10, "--site-csr " + file("site.csr"));
  const auto st = file("station2");
  auto init = hallmark("station init --dir " + st + " --authorization " + auth + " --key " + key);
  ASSERT_EQ(init.exit_code, 0) << init.err;
  write_lines(file("m2.jsonl"), {line(serial(2000), fresh_csr())});
  auto p = provision(st, file("m2.jsonl"), file("batch2"));
  ASSERT_EQ(p.exit_code, 0) << p.err << p.out;
  EXPECT_EQ(results(file("batch2")).at(0).value("status", ""), "issued");
}

TEST_F(Pkcs11CliTest, SiteCreateRefusesABadSiteCsrAndWritesNothing) {
  write_text(file("bad.csr"), "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
  auto r = hallmark("site create --dir " + dir() +
                    " --id bad --serial-range SN-00003000..SN-00003999 --quota 5 --not-after 2040-01-01 "
                    "--products sensor-v2 --attestation none --site-csr " +
                    file("bad.csr") + " --out " + file("auth-bad"));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("--site-csr"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(file("auth-bad")));
}

class Pkcs11InitErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    use_test_token();
    ::setenv("HALLMARK_KEY_PASSPHRASE", "x", 1);
  }
  CommandResult init(const std::string& uri) {
    return hallmark("init --dir " + (m_tmp / "pki").string() + " --keystore " + shell_quote(uri));
  }
  bool wrote_anything() const { return fs::exists(m_tmp / "pki"); }
  TempDir m_tmp;
};

TEST_F(Pkcs11InitErrorsTest, MissingModuleIsAClearErrorAndNothingIsWritten) {
  auto r = init(token_uri("p", "hallmark-test", "/nonexistent/libp11.so"));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/libp11.so"), std::string::npos) << r.err;
  EXPECT_FALSE(wrote_anything());
}

TEST_F(Pkcs11InitErrorsTest, MissingTokenIsAClearErrorAndNothingIsWritten) {
  auto r = init(token_uri("p", "no-such-token"));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("no PKCS#11 token labelled 'no-such-token'"), std::string::npos) << r.err;
  EXPECT_FALSE(wrote_anything());
}

TEST_F(Pkcs11InitErrorsTest, WrongPinIsAClearErrorThatDoesNotShowThePin) {
  write_text(m_tmp / "wrong-pin", "135797\n");
  auto r = init(token_uri("p", "hallmark-test", kSoftHsmModule, (m_tmp / "wrong-pin").string()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("wrong PIN"), std::string::npos) << r.err;
  EXPECT_EQ((r.err + r.out).find("135797"), std::string::npos);
  EXPECT_FALSE(wrote_anything());
}

TEST_F(Pkcs11InitErrorsTest, APinInTheUriIsRefused) {
  auto r = init("pkcs11:token=hallmark-test?module-path=" + std::string(kSoftHsmModule) + "&pin-value=246810");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("PIN inside the URI is refused"), std::string::npos) << r.err;
  EXPECT_FALSE(wrote_anything());
}

TEST_F(Pkcs11InitErrorsTest, ATokenThatAlreadyHoldsThePrefixIsRefusedBeforeWriting) {
  const auto prefix = unique_label("taken");
  ASSERT_EQ(init(token_uri(prefix)).exit_code, 0);
  TempDir other;
  auto r = hallmark("init --dir " + (other / "pki").string() + " --keystore " + shell_quote(token_uri(prefix)));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("already holds a key labelled"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(other / "pki"));
}

}  // namespace
}  // namespace hallmark::testing
