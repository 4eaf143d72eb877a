// `hallmark lint` against certificates made by third parties: the fixtures in
// tests/data/lint (openssl and hand-edited DER, see make_fixtures.sh and its
// README) and public vectors (Matter test PAAs, a BRSKI IDevID). Every rule
// that `lint --rules` lists must have a failing fixture.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace hallmark::testing {
namespace {

struct LintCase {
  const char* fixture;  // file under tests/data/lint
  const char* rule;     // the one rule it breaks
  const char* profile;  // --profile, or nullptr
  bool issuer;          // --issuer ca.pem
  const char* message;  // part of the finding's message (which check fired)
};

// One fixture per rule (named after it) plus variants "<rule>--<what>".
const LintCase kFailing[] = {
    {"hm-time-encoding.pem", "HM-TIME-ENCODING", "ldevid", true, "must be UTCTime"},
    {"hm-validity-order.pem", "HM-VALIDITY-ORDER", "ldevid", true, "before notBefore"},
    {"hm-validity-issuer.pem", "HM-VALIDITY-ISSUER", "ldevid", true, "not inside the issuer"},
    {"hm-validity-issuer--starts-before-issuer.pem", "HM-VALIDITY-ISSUER", "ldevid", true, "not inside the issuer"},
    {"hm-serial-positive.pem", "HM-SERIAL-POSITIVE", "ldevid", true, "positive"},
    {"hm-serial-positive--zero.pem", "HM-SERIAL-POSITIVE", "ldevid", true, "positive"},
    {"hm-serial-length.pem", "HM-SERIAL-LENGTH", "ldevid", true, "21 octets"},
    {"hm-version.pem", "HM-VERSION", "ldevid", false, "v1"},
    {"hm-version--v1-with-extensions.pem", "HM-VERSION", "ldevid", true, "v1"},
    {"hm-aki-present.pem", "HM-AKI-PRESENT", "ldevid", true, "authorityKeyIdentifier"},
    {"hm-ski-present.pem", "HM-SKI-PRESENT", "intermediate", true, "subjectKeyIdentifier"},
    {"hm-ku-ca.pem", "HM-KU-CA", "ldevid", true, "keyCertSign is set"},
    {"hm-ku-ca--ca-without-keycertsign.pem", "HM-KU-CA", "intermediate", true, "lacks keyUsage keyCertSign"},
    {"hm-bc-ca.pem", "HM-BC-CA", "intermediate", true, "must be critical"},
    {"hm-bc-ca--pathlen-on-leaf.pem", "HM-BC-CA", "ldevid", true, "pathLenConstraint"},
    {"hm-bc-ca--ca-under-leaf-profile.pem", "HM-BC-CA", "ldevid", true, "not a CA profile"},
    {"hm-subject-fields.pem", "HM-SUBJECT-FIELDS", "idevid", true, "serialNumber"},
    {"hm-subject-fields--intermediate-without-cn.pem", "HM-SUBJECT-FIELDS", "intermediate", true, "commonName"},
    {"hm-subject-fields--empty-subject.pem", "HM-SUBJECT-FIELDS", "tls-server", true, "critical subjectAltName"},
    {"hm-hwmodule-encoding.pem", "HM-HWMODULE-ENCODING", "idevid", true, "not an OCTET STRING"},
    {"hm-hwmodule-encoding--no-explicit-wrapper.pem", "HM-HWMODULE-ENCODING", "idevid", true, "[0] EXPLICIT"},
    {"hm-hwmodule-encoding--empty-serial.pem", "HM-HWMODULE-ENCODING", "idevid", true, "empty"},
    {"hm-hwmodule-encoding--missing.pem", "HM-HWMODULE-ENCODING", "idevid", true, "requires a HardwareModuleName"},
    {"hm-key-allowed.pem", "HM-KEY-ALLOWED", "ldevid", true, "RSA-1024"},
    {"hm-key-allowed--secp256k1.pem", "HM-KEY-ALLOWED", "ldevid", true, "curve"},
    {"hm-key-allowed--explicit-ec-params.pem", "HM-KEY-ALLOWED", "ldevid", true, "explicit EC parameters"},
    {"hm-sig-alg.pem", "HM-SIG-ALG", "ldevid", true, "not allowed"},
    {"hm-sig-alg--outer-differs.pem", "HM-SIG-ALG", "ldevid", true, "differs from TBSCertificate.signature"},
    {"hm-idevid-not-after.pem", "HM-IDEVID-NOT-AFTER", "idevid", true, "99991231235959Z"},
    {"hm-profile-validity.pem", "HM-PROFILE-VALIDITY", "ldevid", true, "fixed lifetime"},
    {"hm-profile-eku.pem", "HM-PROFILE-EKU", "ldevid", true, "1.3.6.1.5.5.7.3.2"},
    {"hm-ext-duplicate.pem", "HM-EXT-DUPLICATE", "ldevid", true,
     "2.5.29.14"},  // 802.1AR exempts only notAfter: a no-expiry certificate must still start inside its issuer.
    {"hm-validity-issuer--no-expiry-starts-before-issuer.pem", "HM-VALIDITY-ISSUER", "idevid", true,
     "not inside the issuer"},
    // RFC 5280 §4.2.1.1 exempts only self-signed certificates, not self-issued rollover ones.
    {"hm-aki-present--self-issued-rollover.pem", "HM-AKI-PRESENT", "intermediate", true, "authorityKeyIdentifier"},
};

// Lint clean with the profile they were made for.
const LintCase kClean[] = {
    {"ca.pem", "", "root", false, ""},
    {"clean-ldevid.pem", "", "ldevid", true, ""},
    {"clean-idevid.pem", "", "idevid", true, ""},
    {"clean-intermediate.pem", "", "intermediate", true, ""},
};

// gtest prints the parameter of a failing case: name the fixture.
void PrintTo(const LintCase& c, std::ostream* os) {
  *os << c.fixture;
}

std::string lint_path(const std::string& name) {
  return test_data("lint/" + name).string();
}

std::string lint_args(const LintCase& c) {
  std::string args = "lint " + shell_quote(lint_path(c.fixture));
  if (c.profile != nullptr) args += " --profile " + std::string(c.profile);
  if (c.issuer) args += " --issuer " + shell_quote(lint_path("ca.pem"));
  return args;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// "RULE-ID: message" -> "RULE-ID" (empty when the line has another form).
std::string rule_of(const std::string& line) {
  const auto colon = line.find(": ");
  if (colon == std::string::npos || colon == 0) return "";
  const std::string id = line.substr(0, colon);
  const bool id_like = std::all_of(id.begin(), id.end(),
                                   [](unsigned char ch) { return std::isupper(ch) || std::isdigit(ch) || ch == '-'; });
  return id_like ? id : "";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

std::string param_name(const ::testing::TestParamInfo<LintCase>& info) {
  std::string name = info.param.fixture;
  name = name.substr(0, name.size() - 4);  // ".pem"
  for (auto& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

// The rule IDs `hallmark lint --rules` prints ("ID<TAB>description" lines).
std::vector<std::string> listed_rules() {
  auto r = hallmark("lint --rules");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> ids;
  for (const auto& line : lines_of(r.out)) ids.push_back(line.substr(0, line.find('\t')));
  return ids;
}

// --- failing fixtures --------------------------------------------------------

class LintFailingFixtureTest : public ::testing::TestWithParam<LintCase> {};

TEST_P(LintFailingFixtureTest, ExitsOneAndReportsItsRuleAndNoOther) {
  const auto& c = GetParam();
  auto r = hallmark(lint_args(c));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty()) << "no finding; stderr: " << r.err;
  bool message_seen = false;
  for (const auto& line : lines) {
    EXPECT_EQ(rule_of(line), c.rule) << "unexpected finding: " << line;
    if (line.rfind(std::string(c.rule) + ": ", 0) == 0 && line.find(c.message) != std::string::npos) {
      message_seen = true;
    }
  }
  EXPECT_TRUE(message_seen) << "no " << c.rule << " finding mentions '" << c.message << "' in:\n" << r.out;
}

TEST_P(LintFailingFixtureTest, JsonOutputParsesAndListsTheRule) {
  const auto& c = GetParam();
  auto r = hallmark(lint_args(c) + " --json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto doc = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << "not JSON: " << r.out;
  EXPECT_EQ(doc.value("clean", true), false);
  ASSERT_TRUE(doc.contains("findings") && doc["findings"].is_array()) << doc.dump();
  ASSERT_FALSE(doc["findings"].empty());
  for (const auto& f : doc["findings"]) {
    EXPECT_EQ(f.value("rule", ""), c.rule) << doc.dump();
    EXPECT_FALSE(f.value("message", "").empty()) << doc.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LintFailingFixtureTest, ::testing::ValuesIn(kFailing), param_name);

// --- clean fixtures ----------------------------------------------------------

class LintCleanFixtureTest : public ::testing::TestWithParam<LintCase> {};

TEST_P(LintCleanFixtureTest, ExitsZeroWithNoOutput) {
  auto r = hallmark(lint_args(GetParam()));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_P(LintCleanFixtureTest, JsonSaysCleanWithNoFindings) {
  auto r = hallmark(lint_args(GetParam()) + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << "not JSON: " << r.out;
  EXPECT_EQ(doc.value("clean", false), true) << doc.dump();
  EXPECT_TRUE(doc["findings"].is_array() && doc["findings"].empty()) << doc.dump();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LintCleanFixtureTest, ::testing::ValuesIn(kClean), param_name);

// --- rules and fixtures stay in step -----------------------------------------

TEST(LintRules, ListsEveryRuleTheIssueAsksFor) {
  const auto ids = listed_rules();
  for (const char* id :
       {"HM-TIME-ENCODING", "HM-VALIDITY-ORDER", "HM-VALIDITY-ISSUER", "HM-SERIAL-POSITIVE", "HM-SERIAL-LENGTH",
        "HM-VERSION", "HM-AKI-PRESENT", "HM-SKI-PRESENT", "HM-KU-CA", "HM-BC-CA", "HM-SUBJECT-FIELDS",
        "HM-HWMODULE-ENCODING", "HM-KEY-ALLOWED", "HM-SIG-ALG", "HM-IDEVID-NOT-AFTER", "HM-EXT-DUPLICATE"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id << " is not listed by lint --rules";
  }
}

// Adding a rule without a failing fixture (and a row in kFailing) fails here.
TEST(LintRules, EveryListedRuleHasAFailingFixtureNamedAfterIt) {
  const auto ids = listed_rules();
  ASSERT_FALSE(ids.empty());
  for (const auto& id : ids) {
    const std::string fixture = lower(id) + ".pem";
    EXPECT_TRUE(std::filesystem::exists(lint_path(fixture))) << id << ": no tests/data/lint/" << fixture;
    const bool tested = std::any_of(std::begin(kFailing), std::end(kFailing),
                                    [&](const LintCase& c) { return fixture == c.fixture && id == c.rule; });
    EXPECT_TRUE(tested) << id << ": " << fixture << " is not in kFailing";
  }
}

TEST(LintRules, EveryFixtureRuleIsListed) {
  const auto ids = listed_rules();
  for (const auto& c : kFailing) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), c.rule), ids.end()) << c.fixture << ": " << c.rule;
  }
}

TEST(LintRules, EveryFixtureFileIsLinted) {
  std::set<std::string> known;
  for (const auto& c : kFailing) known.insert(c.fixture);
  for (const auto& c : kClean) known.insert(c.fixture);
  for (const auto& entry : std::filesystem::directory_iterator(test_data("lint"))) {
    if (entry.path().extension() != ".pem") continue;
    EXPECT_TRUE(known.contains(entry.path().filename().string()))
        << entry.path().filename() << " is in tests/data/lint but no test lints it";
  }
}

// --- rules that need context apply only when it is given ---------------------

TEST(LintContext, ProfileRulesApplyOnlyWithAProfile) {
  for (const char* f : {"hm-idevid-not-after.pem", "hm-subject-fields.pem", "hm-hwmodule-encoding--missing.pem",
                        "hm-bc-ca--ca-under-leaf-profile.pem"}) {
    auto r = hallmark("lint " + shell_quote(lint_path(f)) + " --issuer " + shell_quote(lint_path("ca.pem")));
    EXPECT_EQ(r.exit_code, 0) << f << ": " << r.out << r.err;
  }
}

TEST(LintContext, ValidityNestingAppliesOnlyWithAnIssuer) {
  auto r = hallmark("lint " + shell_quote(lint_path("hm-validity-issuer.pem")) + " --profile ldevid");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(LintContext, NoExpiryNotAfterOutlivingTheIssuerIsAccepted) {
  // clean-idevid ends 99991231235959Z, its issuer 2036: IEEE 802.1AR's no-expiry value.
  auto r =
      hallmark("lint " + shell_quote(lint_path("clean-idevid.pem")) + " --issuer " + shell_quote(lint_path("ca.pem")));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(LintContext, AChainFileLintsItsLeafWithTheNextCertificateAsIssuer) {
  const auto chain = (std::filesystem::temp_directory_path() / "hallmark-lint-chain.pem").string();
  ASSERT_EQ(run("cat " + shell_quote(lint_path("clean-idevid.pem")) + " " + shell_quote(lint_path("ca.pem")) + " > " +
                shell_quote(chain))
                .exit_code,
            0);
  auto r = hallmark("lint " + shell_quote(chain) + " --profile idevid");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("holds 2 certificates: linting the first (the leaf), with the second as its issuer"),
            std::string::npos)
      << r.err;
  std::filesystem::remove(chain);
}

// --- third-party public vectors ----------------------------------------------

std::set<std::string> rules_reported(const std::string& args) {
  auto r = hallmark(args);
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.out << r.err;
  EXPECT_EQ(r.exit_code == 0, r.out.empty()) << r.out;
  std::set<std::string> out;
  for (const auto& line : lines_of(r.out)) {
    EXPECT_NE(rule_of(line), "") << "not 'RULE-ID: message': " << line;
    out.insert(rule_of(line));
  }
  return out;
}

// The connectedhomeip test PAAs and CD signing certificate conform to RFC 5280:
// self-signed (so the AKI is optional; they carry one equal to the SKI), SKI
// present, basicConstraints critical cA=TRUE, keyUsage keyCertSign+cRLSign,
// P-256 keys, ecdsa-with-SHA256 in both places, positive 8-octet serials,
// notBefore UTCTime 2021, notAfter either UTCTime 2041 or the GeneralizedTime
// 99991231235959Z "no well-defined expiration" value (RFC 5280 §4.1.2.5), and a
// CN in the subject, as the root profile asks. So they lint clean, alone and
// with --profile root.
TEST(LintVectors, MatterTestRootsLintCleanAsRoots) {
  for (const char* f :
       {"Chip-Development-PAA-FFF1-Cert.pem", "Chip-Test-PAA-FFF1-Cert.pem", "Chip-Test-CD-Signing-Cert.pem"}) {
    const auto path = shell_quote(test_data(std::string("vectors/matter/") + f).string());
    EXPECT_EQ(rules_reported("lint " + path), std::set<std::string>{}) << f;
    EXPECT_EQ(rules_reported("lint " + path + " --profile root"), std::set<std::string>{}) << f;
    EXPECT_EQ(rules_reported("lint " + path + " --profile root --issuer " + path), std::set<std::string>{}) << f;
  }
}

// The fountain IDevID is issued by "highway-test.example.com CA" (not
// self-issued) and has no authorityKeyIdentifier, which RFC 5280 §4.2.1.1
// requires of every certificate but a self-signed one: HM-AKI-PRESENT and
// nothing else. Its times are correctly typed (UTCTime 2019, GeneralizedTime
// 2999), its key is P-256, its signature ecdsa-with-SHA256, its serial 4 octets.
TEST(LintVectors, BrskiFountainIdevidLacksOnlyTheAuthorityKeyIdentifier) {
  const auto path = shell_quote(test_data("vectors/brski/fountain_idevid_00-D0-E5-F2-00-02_masa_url.crt").string());
  EXPECT_EQ(rules_reported("lint " + path), std::set<std::string>{"HM-AKI-PRESENT"});
}

// Against Hallmark's idevid profile it also falls short of what that profile
// (not RFC 5280) demands: no organizationName (HM-SUBJECT-FIELDS); its SAN
// otherName is the private 1.3.6.1.4.1.46930.1, not an RFC 4108
// HardwareModuleName (HM-HWMODULE-ENCODING); notAfter is 29991231000000Z, not
// 802.1AR's 99991231235959Z (HM-IDEVID-NOT-AFTER).
TEST(LintVectors, BrskiFountainIdevidFallsShortOfTheIdevidProfile) {
  const auto path = shell_quote(test_data("vectors/brski/fountain_idevid_00-D0-E5-F2-00-02_masa_url.crt").string());
  EXPECT_EQ(
      rules_reported("lint " + path + " --profile idevid"),
      (std::set<std::string>{"HM-AKI-PRESENT", "HM-SUBJECT-FIELDS", "HM-HWMODULE-ENCODING", "HM-IDEVID-NOT-AFTER"}));
}

}  // namespace
}  // namespace hallmark::testing
