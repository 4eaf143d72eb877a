// Every kind of bad CSR is refused by `hallmark issue` with its own message,
// and nothing is recorded in the ledger.
#include <nlohmann/json.hpp>

#include "integration/cli_fixture.h"

namespace hallmark::testing {
namespace {

struct BadCsr {
  const char* name;
  const char* make;     // shell snippet writing $OUT (run in the test's folder)
  const char* message;  // part of the error text the user sees
};

const BadCsr kBadCsrs[] = {
    {"BadSignature",
     "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -subj /CN=x -outform DER -out c && "
     "python3 -c \"import sys;d=bytearray(open('c','rb').read());d[-3]^=0x55;open(sys.argv[1],'wb').write(d)\" $OUT",
     "signature does not verify"},
    {"Rsa1024", "openssl req -new -newkey rsa:1024 -nodes -keyout k -subj /CN=x -out $OUT", "2048"},
    {"Sha1Signature",
     "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -subj /CN=x -sha1 -out $OUT",
     "SHA-1"},
    {"VersionNotZero",
     "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -subj /CN=x -outform DER -out c && "
     "python3 -c \"import sys;d=bytearray(open('c','rb').read());i=d.index(bytes([2,1,0]));d[i+2]=2;"
     "open(sys.argv[1],'wb').write(d)\" $OUT",
     "version"},
    {"ExplicitCurve",
     "openssl ecparam -name prime256v1 -param_enc explicit -genkey -noout -out k && "
     "openssl req -new -key k -subj /CN=x -out $OUT",
     "explicit"},
    {"Empty", ": > $OUT", "empty"},
    {"Truncated",
     "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -subj /CN=x -outform DER -out c && "
     "head -c 100 c > $OUT",
     "truncated"},
    {"Garbage", "printf 'hello, this is not a certificate request' > $OUT", "not a PKCS#10"},
    {"PemWithJunk",
     "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -subj /CN=x -out c && "
     "sed '3s/^\\(....\\)/\\1!!junk!!/' c > $OUT",
     "PEM"},
};

class CsrRefusalTest : public CliTest, public ::testing::WithParamInterface<BadCsr> {};

TEST_P(CsrRefusalTest, IsRefusedWithItsOwnMessageAndNothingRecorded) {
  const auto& bad = GetParam();
  const auto out = file(std::string(bad.name) + ".csr");
  auto made = run("cd " + m_tmp.path().string() + " && OUT=" + out + " && " + bad.make);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto before = hallmark("cert list --json --dir " + dir());
  auto r = hallmark("issue --dir " + dir() + " --profile ldevid --serial-number SN-1 --csr " + out);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find(bad.message), std::string::npos) << "stderr: " << r.err;
  auto after = hallmark("cert list --json --dir " + dir());
  EXPECT_EQ(nlohmann::json::parse(before.out).size(), nlohmann::json::parse(after.out).size());
}

INSTANTIATE_TEST_SUITE_P(EveryKind, CsrRefusalTest, ::testing::ValuesIn(kBadCsrs),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(CsrMessages, AreDistinctForEveryKind) {
  std::set<std::string> seen;
  for (const auto& b : kBadCsrs) EXPECT_TRUE(seen.insert(b.message).second) << b.name;
}

}  // namespace
}  // namespace hallmark::testing
