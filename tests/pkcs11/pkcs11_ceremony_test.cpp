// `hallmark ceremony`: the offline root generated in its token, issuing CAs
// from a third party's CSR and from a key generated in a token, the first CRL;
// checked with openssl (verify, crl, dgst) and pkcs11-tool.
#include <filesystem>

#include "pkcs11/token_fixture.h"

namespace hallmark::testing {
namespace {

namespace fs = std::filesystem;

class CeremonyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    use_test_token();
    m_root = unique_label("ceremony-root");
    m_runtime = unique_label("ceremony-runtime");
    auto r = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("factory.key") +
                 " -subj /CN=factory -out " + file("factory.csr"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::string file(const std::string& name) const { return (m_tmp / name).string(); }
  std::string out() const { return file("out"); }

  void write_config(const std::string& out_name, const std::string& csr = "factory.csr") {
    write_text(m_tmp / "ceremony.toml",
               "out = \"" + out_name + "\"\n[root]\nkey = \"" + token_uri(m_root) +
                   "\"\nalgorithm = \"p384\"\ncommon_name = \"Test Offline Root\"\n"
                   "[crl]\nnext_update_days = 30\n"
                   "[[issuing]]\nname = \"factory\"\ncommon_name = \"Test Factory CA\"\ncsr = \"" +
                   csr +
                   "\"\npath_len = 1\nvalidity_years = 20\n"
                   "[[issuing]]\nname = \"runtime\"\ncommon_name = \"Test Runtime CA\"\nkey = \"" +
                   token_uri(m_runtime) + "\"\npath_len = 0\nvalidity_years = 5\n");
  }
  CommandResult ceremony() { return hallmark("ceremony --config " + file("ceremony.toml")); }

  TempDir m_tmp;
  std::string m_root, m_runtime;
};

TEST_F(CeremonyTest, WritesOnlyCertificatesCrlAndASignedAuditRecordThatOpensslAccepts) {
  write_config("out");
  auto r = ceremony();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(out())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"ceremony-audit.json", "ceremony-audit.sig", "factory.pem", "root.crl",
                                             "root.pem", "runtime.pem"}));
  const auto o = out() + "/";
  auto v = run("openssl verify -x509_strict -CAfile " + o + "root.pem " + o + "factory.pem " + o + "runtime.pem");
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // The CRL is signed by the root, and a CRL-checking verification accepts the issuing CAs.
  auto crl = run("openssl crl -in " + o + "root.crl -CAfile " + o + "root.pem -noout -text");
  EXPECT_EQ(crl.exit_code, 0) << crl.err;
  EXPECT_NE((crl.out + crl.err).find("verify OK"), std::string::npos) << crl.out << crl.err;
  EXPECT_NE(crl.out.find("X509v3 CRL Number"), std::string::npos) << crl.out;
  EXPECT_NE(crl.out.find("No Revoked Certificates"), std::string::npos) << crl.out;
  v = run("openssl verify -crl_check -CAfile " + o + "root.pem -CRLfile " + o + "root.crl " + o + "factory.pem");
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // Anyone with the root certificate checks the audit record.
  auto d = run("openssl x509 -in " + o + "root.pem -pubkey -noout > " + file("root.pub") +
               " && openssl dgst -sha384 -verify " + file("root.pub") + " -signature " + o + "ceremony-audit.sig " + o +
               "ceremony-audit.json");
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("Verified OK"), std::string::npos);
  const auto record = read_text(o + "ceremony-audit.json");
  EXPECT_NE(record.find("\"crl\""), std::string::npos);
  EXPECT_EQ(record.find(token_pin()), std::string::npos);
  // Both generated keys are in the token, sensitive and never extractable.
  auto objects = list_private_keys();
  for (const auto& label : {m_root, m_runtime}) {
    const auto at = objects.out.find("label:      " + label + "\n");
    ASSERT_NE(at, std::string::npos) << objects.out;
    const auto block = objects.out.substr(at, objects.out.find("Private Key Object", at) - at);
    EXPECT_NE(block.find("never extractable"), std::string::npos) << block;
  }
}

TEST_F(CeremonyTest, ABadCsrIsRefusedBeforeAnyKeyIsGeneratedOrFileWritten) {
  write_text(m_tmp / "bad.csr", "not a csr");
  write_config("out", "bad.csr");
  auto r = ceremony();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("factory"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out()));
  EXPECT_EQ(list_private_keys().out.find(m_root), std::string::npos);
}

TEST_F(CeremonyTest, ASecondCeremonyOverTheSameRootLabelOrFolderIsRefused) {
  write_config("out");
  ASSERT_EQ(ceremony().exit_code, 0);
  auto again = ceremony();
  EXPECT_EQ(again.exit_code, 3) << again.err;
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;
  write_config("out2");
  again = ceremony();
  EXPECT_EQ(again.exit_code, 3) << again.err;
  EXPECT_NE(again.err.find("already holds"), std::string::npos) << again.err;
  EXPECT_FALSE(fs::exists(file("out2")));
}

}  // namespace
}  // namespace hallmark::testing
