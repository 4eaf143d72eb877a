// The foundation through the CLI, checked by third-party tools.
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "integration/cli_fixture.h"

namespace hallmark::testing {
namespace {

using nlohmann::json;

TEST_F(CliTest, InitBuildsHierarchyThatOpensslAccepts) {
  auto r = run("openssl verify -x509_strict -CAfile " + file("root.pem") + " " + file("factory.pem") + " " +
               file("runtime.pem"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  auto list = hallmark("ca list --json --dir " + dir());
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto doc = json::parse(list.out);
  ASSERT_EQ(doc.size(), 3u);
  EXPECT_EQ(doc[0]["name"], "root");
  EXPECT_EQ(doc[0]["key"], "p384");
  EXPECT_EQ(doc[1]["name"], "factory");
  EXPECT_EQ(doc[1]["key"], "p256");
  EXPECT_EQ(doc[1]["path_len"], 1);
  EXPECT_EQ(doc[2]["name"], "runtime");
  EXPECT_EQ(doc[2]["path_len"], 0);

  // Root 30 years, factory at least 25, runtime 5: checked by openssl's own reading.
  auto end = run("openssl x509 -noout -enddate -in " + file("factory.pem"));
  ASSERT_EQ(end.exit_code, 0);
  const int year = std::stoi(end.out.substr(end.out.rfind(' ', end.out.size() - 6) + 1, 4));
  EXPECT_GE(year, 2026 + 25 - 1) << end.out;
}

TEST_F(CliTest, KeysAreEncryptedPkcs8WithMode0600) {
  for (const char* name : {"root", "factory", "runtime", "audit"}) {
    const auto path = dir() + "/keys/" + name + ".key";
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
    EXPECT_NE(read_text(path).find("BEGIN ENCRYPTED PRIVATE KEY"), std::string::npos) << path;
    // openssl cannot read it without the passphrase…
    EXPECT_NE(run("openssl pkey -passin pass:wrong -in " + path + " -noout").exit_code, 0);
    // …and can with it.
    EXPECT_EQ(run("openssl pkey -passin pass:integration-test-passphrase -in " + path + " -noout").exit_code, 0);
  }
}

TEST(CliInit, GeneratesPassphraseFileWhenNoneIsGiven) {
  TempDir tmp;
  ::unsetenv("HALLMARK_KEY_PASSPHRASE");
  auto r = hallmark("init --dir " + (tmp / "pki").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("generated a random key passphrase"), std::string::npos) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat((tmp / "pki/passphrase").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The folder is usable afterwards without any environment.
  auto csr_key = (tmp / "d.key").string();
  auto csr = (tmp / "d.csr").string();
  ASSERT_EQ(run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + csr_key +
                " -subj /CN=x -out " + csr)
                .exit_code,
            0);
  auto issued =
      hallmark("issue --dir " + (tmp / "pki").string() + " --profile ldevid --serial-number SN-9 --csr " + csr);
  EXPECT_EQ(issued.exit_code, 0) << issued.err;
  // A second init on the same folder is refused.
  EXPECT_EQ(hallmark("init --dir " + (tmp / "pki").string()).exit_code, 3);
}

TEST_F(CliTest, IdevidChainsAndEncodesHardwareModuleNameAndNoExpiry) {
  const auto csr = openssl_csr("dev", "/CN=ignored-by-profile");
  const auto out = file("idevid.pem");
  auto r = hallmark("issue --dir " + dir() +
                    " --profile idevid --serial-number SN-00001000 --product sensor-v2 --csr " + csr + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto v = openssl_verify(out, file("factory.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  // Subject is built from the profile, never copied from the CSR.
  auto subj = run("openssl x509 -noout -subject -nameopt RFC2253 -in " + out);
  EXPECT_NE(subj.out.find("serialNumber=SN-00001000"), std::string::npos) << subj.out;
  EXPECT_NE(subj.out.find("O=Hallmark Example Devices"), std::string::npos) << subj.out;
  EXPECT_EQ(subj.out.find("ignored-by-profile"), std::string::npos) << subj.out;

  // notAfter is GeneralizedTime 99991231235959Z (tag 0x18), notBefore UTCTime.
  auto dump = run("openssl asn1parse -i -in " + out);
  ASSERT_EQ(dump.exit_code, 0);
  EXPECT_NE(dump.out.find("GENERALIZEDTIME   :99991231235959Z"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("UTCTIME"), std::string::npos);

  // The SAN holds otherName 1.3.6.1.5.5.7.8.4 with [0] EXPLICIT HardwareModuleName.
  std::string offset;
  {
    const auto pos = dump.out.find("X509v3 Subject Alternative Name");
    ASSERT_NE(pos, std::string::npos) << dump.out;
    const auto line_start = dump.out.find('\n', pos) + 1;
    offset = dump.out.substr(line_start, dump.out.find(':', line_start) - line_start);
  }
  auto san = run("openssl asn1parse -i -in " + out + " -strparse " + offset);
  ASSERT_EQ(san.exit_code, 0) << san.err;
  const std::vector<std::string> expected_in_order = {
      "cont [ 0 ]", "OBJECT            :1.3.6.1.5.5.7.8.4",     "cont [ 0 ]",
      "SEQUENCE",   "OBJECT            :1.3.6.1.4.1.65535.1.2", "OCTET STRING      :SN-00001000"};
  std::size_t at = 0;
  for (const auto& piece : expected_in_order) {
    at = san.out.find(piece, at);
    ASSERT_NE(at, std::string::npos) << "missing " << piece << " in\n" << san.out;
  }

  // keyUsage digitalSignature critical, not a CA; lint is clean for the profile.
  auto text = run("openssl x509 -noout -text -in " + out);
  EXPECT_NE(text.out.find("X509v3 Key Usage: critical\n                Digital Signature"), std::string::npos)
      << text.out;
  EXPECT_EQ(text.out.find("CA:TRUE"), std::string::npos);
  EXPECT_NE(text.out.find("X509v3 Authority Key Identifier"), std::string::npos);
  auto lint = hallmark("lint " + out + " --profile idevid --issuer " + file("factory.pem"));
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
}

TEST_F(CliTest, UnknownProductGetsDefaultHwTypeAndAWarning) {
  const auto csr = openssl_csr("dev");
  auto r = hallmark("issue --dir " + dir() + " --profile idevid --serial-number SN-2 --product toaster --csr " + csr +
                    " --out " + file("c.pem"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: product 'toaster' is not in the product table"), std::string::npos) << r.err;
}

TEST_F(CliTest, LdevidHasClientAuthAnd90DaysFromRuntimeCa) {
  const auto csr = openssl_csr("dev");
  const auto out = file("ldevid.pem");
  auto r = hallmark("issue --dir " + dir() + " --profile ldevid --serial-number SN-77 --csr " + csr + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(openssl_verify(out, file("runtime.pem"), "-purpose sslclient").exit_code, 0);
  auto text = run("openssl x509 -noout -text -in " + out);
  EXPECT_NE(text.out.find("TLS Web Client Authentication"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("serialNumber = SN-77"), std::string::npos) << text.out;
  // 90 days (+1 minute of backdating): expires between 89 and 90 days from now.
  EXPECT_EQ(run("openssl x509 -noout -checkend " + std::to_string(89 * 86400) + " -in " + out).exit_code, 0);
  EXPECT_NE(run("openssl x509 -noout -checkend " + std::to_string(90 * 86400) + " -in " + out).exit_code, 0);
  EXPECT_EQ(hallmark("lint " + out + " --profile ldevid --issuer " + file("runtime.pem")).exit_code, 0);
}

TEST_F(CliTest, TlsServerCarriesDnsAndIpNames) {
  const auto csr = openssl_csr("srv", "/CN=whatever");
  const auto out = file("tls.pem");
  auto r = hallmark("issue --dir " + dir() + " --profile tls-server --dns localhost --ip 127.0.0.1 --csr " + csr +
                    " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(openssl_verify(out, file("runtime.pem"), "-purpose sslserver -verify_hostname localhost").exit_code, 0);
  EXPECT_EQ(openssl_verify(out, file("runtime.pem"), "-verify_ip 127.0.0.1").exit_code, 0);
}

TEST_F(CliTest, IdevidWithoutSerialNumberIsRefused) {
  const auto csr = openssl_csr("dev");
  auto r = hallmark("issue --dir " + dir() + " --profile idevid --csr " + csr);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("binds a device serial number"), std::string::npos) << r.err;
}

TEST_F(CliTest, CertShowFindsSerialAsOpensslPrintsIt) {
  const auto csr = openssl_csr("dev");
  const auto out = file("c.pem");
  ASSERT_EQ(hallmark("issue --dir " + dir() + " --profile ldevid --serial-number SN-5 --csr " + csr + " --out " + out)
                .exit_code,
            0);
  auto serial = run("openssl x509 -noout -serial -in " + out);
  ASSERT_EQ(serial.exit_code, 0);
  std::string hex = serial.out.substr(serial.out.find('=') + 1);
  hex.erase(hex.find_last_not_of("\n") + 1);
  std::string lower_with_colons;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (i) lower_with_colons += ':';
    lower_with_colons += static_cast<char>(std::tolower(hex[i]));
    lower_with_colons += static_cast<char>(std::tolower(hex[i + 1]));
  }
  for (const auto& form : {hex, lower_with_colons}) {
    auto show = hallmark("cert show --json --dir " + dir() + " " + form);
    ASSERT_EQ(show.exit_code, 0) << form << show.err;
    auto doc = json::parse(show.out);
    EXPECT_EQ(doc["serial"], hex);
    EXPECT_EQ(doc["status"], "issued");
    EXPECT_EQ(doc["channel"], "admin");
    EXPECT_EQ(doc["evidence_digest"], "none");
    EXPECT_EQ(doc["device_serial"], "SN-5");
  }
  EXPECT_EQ(hallmark("cert show --dir " + dir() + " 0102").exit_code, 4);
}

TEST_F(CliTest, SerialsArePositiveSixteenOctets) {
  const auto csr = openssl_csr("dev");
  for (int i = 0; i < 5; ++i) {
    const auto out = file("s" + std::to_string(i) + ".pem");
    ASSERT_EQ(hallmark("issue --dir " + dir() + " --profile ldevid --serial-number SN-1 --csr " + csr + " --out " + out)
                  .exit_code,
              0);
    auto serial = run("openssl x509 -noout -serial -in " + out);
    const auto hex = serial.out.substr(serial.out.find('=') + 1, 32);
    EXPECT_EQ(hex.size(), 32u);
    EXPECT_LT(std::stoi(hex.substr(0, 1), nullptr, 16), 8) << "high bit set: " << hex;
  }
}

TEST_F(CliTest, ConcurrentCliProcessesShareTheLedger) {
  std::string cmd;
  for (int i = 0; i < 6; ++i) {  // six devices, six keys (one key belongs to one device)
    cmd += bin() + " issue --dir " + dir() + " --profile ldevid --serial-number SN-" + std::to_string(i) + " --csr " +
           openssl_csr("dev" + std::to_string(i)) + " --out " + file("p" + std::to_string(i) + ".pem") + " & ";
  }
  cmd += "wait";
  ASSERT_EQ(run(cmd).exit_code, 0);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(openssl_verify(file("p" + std::to_string(i) + ".pem"), file("runtime.pem")).exit_code, 0) << i;
  }
  auto audit = hallmark("audit verify --json --dir " + dir());
  ASSERT_EQ(audit.exit_code, 0) << audit.out << audit.err;
  EXPECT_EQ(json::parse(audit.out)["verified"], true);
  auto list = hallmark("cert list --json --status issued --dir " + dir());
  EXPECT_EQ(json::parse(list.out).size(), 9u);  // 3 CAs + 6
}

TEST_F(CliTest, EveryCommandHasHelp) {
  for (const char* cmd : {"", "init", "ca", "ca list", "ca export", "issue", "cert show", "cert list", "lint",
                          "audit verify", "audit export", "demo"}) {
    auto r = hallmark(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << cmd;
  }
}

TEST_F(CliTest, JsonOutputIsOneDocument) {
  for (const std::string& cmd :
       {"ca list --json --dir " + dir(), "audit verify --json --dir " + dir(), "cert list --json --dir " + dir()}) {
    auto r = hallmark(cmd);
    ASSERT_EQ(r.exit_code, 0) << cmd << r.err;
    EXPECT_TRUE(json::accept(r.out)) << cmd << r.out;
  }
}

}  // namespace
}  // namespace hallmark::testing

namespace hallmark::testing {
namespace {

std::string count_certificates(const std::string& dir) {
  return run("sqlite3 " + dir + "/hallmark.db 'SELECT count(*) FROM certificates'").out;
}

TEST_F(CliTest, AnUnwritableOutIsRefusedBeforeAnythingIsIssued) {
  const auto csr = openssl_csr("o", "/CN=x");
  const auto before = count_certificates(dir());
  auto r = hallmark("issue --dir " + dir() + " --profile ldevid --serial-number SN-7 --csr " + csr + " --out " +
                    file("no-such-folder/x.pem"));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(count_certificates(dir()), before);
}

TEST_F(CliTest, ASecondIdevidForAnotherKeyNeedsReissue) {
  auto first = hallmark("issue --dir " + dir() + " --profile idevid --serial-number SN-8 --product sensor-v2 --csr " +
                        openssl_csr("a", "/CN=x") + " --out " + file("a.pem"));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto other = openssl_csr("b", "/CN=x");
  auto second = hallmark("issue --dir " + dir() + " --profile idevid --serial-number SN-8 --product sensor-v2 --csr " +
                         other + " --out " + file("b.pem"));
  EXPECT_EQ(second.exit_code, 3);
  EXPECT_NE(second.err.find("already has IDevID"), std::string::npos) << second.err;
  auto forced = hallmark("issue --dir " + dir() + " --profile idevid --serial-number SN-8 --product sensor-v2 --csr " +
                         other + " --reissue --out " + file("b.pem"));
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
}

TEST_F(CliTest, TheAdminChannelNeverGivesOneKeyToTwoDevicesNorRecertifiesACompromisedKey) {
  const auto csr = openssl_csr("k", "/CN=x");
  auto first = hallmark("issue --dir " + dir() + " --profile idevid --serial-number SN-9 --product sensor-v2 --csr " +
                        csr + " --out " + file("k1.pem"));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto before = count_certificates(dir());
  auto other_device =
      hallmark("issue --dir " + dir() + " --profile idevid --serial-number SN-10 --product sensor-v2 --reissue --csr " +
               csr + " --out " + file("k2.pem"));
  EXPECT_EQ(other_device.exit_code, 3);
  EXPECT_NE(other_device.err.find("already certified for device SN-9"), std::string::npos) << other_device.err;

  auto serial = run("openssl x509 -noout -serial -in " + file("k1.pem") + " | cut -d= -f2");
  serial.out.erase(serial.out.find_last_not_of("\n") + 1);
  ASSERT_EQ(hallmark("revoke --dir " + dir() + " --serial " + serial.out + " --reason keyCompromise").exit_code, 0);
  for (const std::string profile : {"idevid --product sensor-v2 --reissue", "ldevid"}) {
    auto again = hallmark("issue --dir " + dir() + " --profile " + profile + " --serial-number SN-9 --csr " + csr +
                          " --out " + file("k3.pem"));
    EXPECT_EQ(again.exit_code, 3) << profile;
    EXPECT_NE(again.err.find("revoked for keyCompromise"), std::string::npos) << again.err;
  }
  EXPECT_EQ(count_certificates(dir()), before);
}

TEST_F(CliTest, InitRefusesAnEmptyDirAndAFolderThatHoldsOtherFiles) {
  auto empty = hallmark("init --dir ''");
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_NE(empty.err.find("--dir is empty"), std::string::npos) << empty.err;
  ASSERT_EQ(run("mkdir -p " + file("busy") + " && echo x > " + file("busy/notes.txt")).exit_code, 0);
  auto busy = hallmark("init --dir " + file("busy"));
  EXPECT_EQ(busy.exit_code, 3) << busy.err;
  EXPECT_NE(busy.err.find("not an empty folder"), std::string::npos) << busy.err;
  EXPECT_FALSE(std::filesystem::exists(file("busy/hallmark.db")));
  ASSERT_EQ(run("mkdir -p " + file("fresh")).exit_code, 0);
  EXPECT_EQ(hallmark("init --dir " + file("fresh")).exit_code, 0);
}

}  // namespace
}  // namespace hallmark::testing
