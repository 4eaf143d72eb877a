// Direct tests of ca::lint on certificates built here, most with a small raw
// TBS writer so that encodings our own encoder refuses to produce (negative
// serials, wrong time types, duplicate extensions) can be linted too.
#include "ca/linter.h"

#include <gtest/gtest.h>

#include <set>

#include "ca_test_util.h"
#include "pkix/algorithms.h"

namespace hallmark::ca {
namespace {

using base::Bytes;
using base::ByteView;
using namespace testing;  // NOLINT
namespace der = pkix::der;
using std::chrono::days;

Bytes must(base::Result<Bytes> r) {
  if (!r.ok()) throw std::runtime_error(r.error().describe());
  return std::move(r).value();
}

Bytes concat_all(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

pkix::Name name(std::initializer_list<std::pair<const char*, const char*>> attrs) {
  pkix::Name n;
  for (const auto& [oid, value] : attrs) {
    if (!n.add(oid, value).ok()) throw std::runtime_error("bad name");
  }
  return n;
}

// A TBSCertificate written field by field; defaults describe a valid LDevID.
struct RawTbs {
  int version = 2;  // v3
  Bytes serial = der::unsigned_integer(Bytes{0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  base::SignatureAlgorithm algorithm = base::SignatureAlgorithm::EcdsaSha256;
  pkix::Name issuer;
  pkix::Name subject;
  Bytes not_before = der::utc_time(kNow - std::chrono::seconds(60));
  Bytes not_after = der::utc_time(kNow - std::chrono::seconds(60) + days(90));
  Bytes spki;
  std::vector<pkix::Extension> extensions;

  Bytes encode() const {
    std::vector<Bytes> parts;
    if (version != 0) parts.push_back(der::explicit_tag(0, der::integer(version)));
    parts.push_back(serial);
    parts.push_back(pkix::algorithm_identifier_der(algorithm));
    parts.push_back(issuer.der());
    parts.push_back(der::sequence({not_before, not_after}));
    parts.push_back(subject.der());
    parts.push_back(spki);
    if (!extensions.empty()) {
      std::vector<Bytes> exts;
      for (const auto& e : extensions) {
        const Bytes oid = must(der::oid(e.oid));
        exts.push_back(e.critical ? der::sequence({oid, der::boolean(true), der::octet_string(e.value)})
                                  : der::sequence({oid, der::octet_string(e.value)}));
      }
      parts.push_back(der::explicit_tag(3, der::tlv(der::kSequence, concat_all(exts))));
    }
    return der::tlv(der::kSequence, concat_all(parts));
  }

  pkix::Certificate certificate() const {
    auto c = pkix::Certificate::from_tbs(encode());
    if (!c.ok()) throw std::runtime_error(c.error().describe());
    return std::move(c).value();
  }

  void remove(const std::string& oid) {
    std::erase_if(extensions, [&](const pkix::Extension& e) { return e.oid == oid; });
  }
  void replace(pkix::Extension ext) {
    remove(ext.oid);
    extensions.push_back(std::move(ext));
  }
};

class LinterTest : public ::testing::Test {
 protected:
  LinterTest()
      : m_ca_key(ephemeral()),
        m_device_key(ephemeral()),
        m_ca_cert(make_ca_cert(*m_ca_key, *m_ca_key, nullptr,
                               {"Lint Issuing CA", kNow - days(1), kNow + days(3650), 0, true, {0x02}})) {}

  RawTbs leaf() const {
    RawTbs t;
    t.issuer = m_ca_cert.subject();
    t.subject = name({{pkix::oid::kOrganization, "Acme Devices Inc"}, {pkix::oid::kSerialNumber, "SN-1"}});
    t.spki = m_device_key->public_key_der();
    t.extensions = {pkix::ext::key_usage(pkix::kDigitalSignature, true),
                    pkix::ext::ext_key_usage({pkix::oid::kClientAuth}),
                    pkix::ext::subject_key_identifier(key_id(*m_device_key)),
                    pkix::ext::authority_key_identifier(key_id(*m_ca_key))};
    return t;
  }
  RawTbs idevid() const {
    RawTbs t = leaf();
    t.subject = name({{pkix::oid::kOrganization, "Acme Widgets"}, {pkix::oid::kSerialNumber, "SN-1"}});
    t.not_after = der::tlv(der::kGeneralizedTime, base::view("99991231235959Z"));
    t.remove(pkix::oid::kExtKeyUsage);
    t.remove(pkix::oid::kSubjectKeyIdentifier);
    pkix::SubjectAltNames san;
    san.hardware_modules.push_back({"1.3.6.1.4.1.55555.1.2", base::to_bytes("SN-1")});
    t.extensions.push_back(pkix::ext::subject_alt_name(san).value());
    return t;
  }
  RawTbs sub_ca() const {
    auto key = ephemeral();
    RawTbs t;
    t.issuer = m_ca_cert.subject();
    t.subject = name({{pkix::oid::kCountry, "US"}, {pkix::oid::kCommonName, "Sub CA"}});
    t.spki = key->public_key_der();
    t.not_after = der::utc_time(kNow + days(365));
    t.extensions = {
        pkix::ext::basic_constraints(true, 0), pkix::ext::key_usage(pkix::kKeyCertSign | pkix::kCrlSign, true),
        pkix::ext::subject_key_identifier(key_id(*key)), pkix::ext::authority_key_identifier(key_id(*m_ca_key))};
    return t;
  }

  const Profile* profile(const std::string& n) const { return m_profiles.find(n).value(); }

  static std::set<std::string> rules(const std::vector<LintFinding>& findings) {
    std::set<std::string> out;
    for (const auto& f : findings) out.insert(f.rule);
    return out;
  }
  static std::string describe(const std::vector<LintFinding>& findings) {
    std::string out;
    for (const auto& f : findings) out += f.rule + ": " + f.message + "\n";
    return out;
  }
  std::set<std::string> lint_rules_of(const RawTbs& t, const char* profile_name = nullptr,
                                      bool with_issuer = true) const {
    const auto cert = t.certificate();
    LintContext ctx{profile_name ? profile(profile_name) : nullptr, with_issuer ? &m_ca_cert : nullptr};
    return rules(lint(cert, ctx));
  }

  ProfileRegistry m_profiles = test_profiles();
  std::unique_ptr<keys::Signer> m_ca_key, m_device_key;
  pkix::Certificate m_ca_cert;
};

using Rules = std::set<std::string>;

TEST_F(LinterTest, WellFormedCertificatesHaveNoFindings) {
  for (const auto& [tbs, profile_name] :
       {std::pair{leaf(), "ldevid"}, std::pair{idevid(), "idevid"}, std::pair{sub_ca(), "intermediate"}}) {
    const auto cert = tbs.certificate();
    const auto findings = lint(cert, {profile(profile_name), &m_ca_cert});
    EXPECT_TRUE(findings.empty()) << profile_name << ":\n" << describe(findings);
  }
}

TEST_F(LinterTest, AnIdevidLintedAsAnLdevidIsHmProfileValidityAndEku) {
  // The IDevID has no expiry and no clientAuth: not an LDevID, whatever else matches.
  EXPECT_EQ(lint_rules_of(idevid(), "ldevid"), (Rules{"HM-PROFILE-VALIDITY", "HM-PROFILE-EKU"}));
  // An LDevID with a fixed lifetime is not an IDevID either.
  EXPECT_TRUE(lint_rules_of(leaf(), "idevid").contains("HM-IDEVID-NOT-AFTER"));
}

TEST_F(LinterTest, AForeignLdevidMayLiveLongerThanOurs) {
  auto t = leaf();
  t.not_after = der::utc_time(kNow + days(1825));
  EXPECT_EQ(lint_rules_of(t, "ldevid"), Rules{});
}

TEST_F(LinterTest, KeyCertSignOnANonCaIsHmKuCa) {
  auto t = leaf();
  t.replace(pkix::ext::key_usage(pkix::kDigitalSignature | pkix::kKeyCertSign, true));
  EXPECT_EQ(lint_rules_of(t), Rules{"HM-KU-CA"});
}

TEST_F(LinterTest, ACaWithoutKeyCertSignIsHmKuCa) {
  auto t = sub_ca();
  t.replace(pkix::ext::key_usage(pkix::kCrlSign, true));
  EXPECT_EQ(lint_rules_of(t, "intermediate"), Rules{"HM-KU-CA"});
}

TEST_F(LinterTest, AnIdevidWithoutHardwareModuleNameIsHmHwmoduleEncoding) {
  auto t = idevid();
  t.remove(pkix::oid::kSubjectAltName);
  EXPECT_EQ(lint_rules_of(t, "idevid"), Rules{"HM-HWMODULE-ENCODING"});
  // Another SAN is no substitute.
  pkix::SubjectAltNames dns;
  dns.dns = {"device.example"};
  t.extensions.push_back(pkix::ext::subject_alt_name(dns).value());
  EXPECT_EQ(lint_rules_of(t, "idevid"), Rules{"HM-HWMODULE-ENCODING"});
  // Without the profile, a SAN without HardwareModuleName is fine.
  EXPECT_EQ(lint_rules_of(t), Rules{});
}

TEST_F(LinterTest, AHardwareModuleNameWithoutTheExplicitWrapperIsHmHwmoduleEncoding) {
  auto t = idevid();
  // otherName { type-id, value } with the value NOT wrapped in [0] EXPLICIT.
  const Bytes hmn = der::sequence({must(der::oid("1.3.6.1.4.1.55555.1.2")), der::octet_string(base::view("SN-1"))});
  const Bytes other_name =
      der::tlv(der::context_tag(0, true), der::concat({must(der::oid(pkix::oid::kHardwareModuleName)), hmn}));
  t.replace(pkix::Extension{pkix::oid::kSubjectAltName, false, der::sequence({other_name})});
  EXPECT_TRUE(lint_rules_of(t, "idevid").contains("HM-HWMODULE-ENCODING"));
  EXPECT_TRUE(lint_rules_of(t).contains("HM-HWMODULE-ENCODING"));  // a structural rule, profile or not
}

TEST_F(LinterTest, AnEmptyHwSerialNumIsHmHwmoduleEncoding) {
  auto t = idevid();
  pkix::SubjectAltNames san;
  san.hardware_modules.push_back({"1.3.6.1.4.1.55555.1.2", {}});
  t.replace(pkix::ext::subject_alt_name(san).value());
  EXPECT_TRUE(lint_rules_of(t, "idevid").contains("HM-HWMODULE-ENCODING"));
}

TEST_F(LinterTest, AnIdevidThatExpiresIsHmIdevidNotAfter) {
  auto t = idevid();
  t.not_after = der::utc_time(kNow + days(3650));
  EXPECT_EQ(lint_rules_of(t, "idevid"), Rules{"HM-IDEVID-NOT-AFTER"});
}

TEST_F(LinterTest, AnIdevidMissingTheVendorIsHmSubjectFields) {
  auto t = idevid();
  t.subject = name({{pkix::oid::kSerialNumber, "SN-1"}});
  EXPECT_EQ(lint_rules_of(t, "idevid"), Rules{"HM-SUBJECT-FIELDS"});
}

TEST_F(LinterTest, ADeviceCertificateWithoutSerialNumberIsHmSubjectFields) {
  auto t = leaf();
  t.subject = name({{pkix::oid::kOrganization, "Acme Devices Inc"}, {pkix::oid::kCommonName, "device"}});
  EXPECT_EQ(lint_rules_of(t, "ldevid"), Rules{"HM-SUBJECT-FIELDS"});
}

TEST_F(LinterTest, AnIdevidMustNotBeACa) {
  auto t = idevid();
  t.extensions.push_back(pkix::ext::basic_constraints(true, std::nullopt));
  t.replace(pkix::ext::key_usage(pkix::kDigitalSignature | pkix::kKeyCertSign, true));
  t.extensions.push_back(pkix::ext::subject_key_identifier(key_id(*m_device_key)));
  EXPECT_TRUE(lint_rules_of(t, "idevid").contains("HM-BC-CA"));
}

TEST_F(LinterTest, ACertificateWhoseCaNessDiffersFromItsProfileIsHmBcCa) {
  EXPECT_EQ(lint_rules_of(leaf(), "intermediate"), (Rules{"HM-BC-CA", "HM-SUBJECT-FIELDS"}));
  EXPECT_EQ(lint_rules_of(sub_ca(), "tls-server"), Rules{"HM-BC-CA"});
}

TEST_F(LinterTest, BasicConstraintsRules) {
  auto noncritical = sub_ca();
  noncritical.replace(pkix::ext::basic_constraints(true, 0, false));
  EXPECT_EQ(lint_rules_of(noncritical), Rules{"HM-BC-CA"});

  auto pathlen_on_leaf = leaf();
  pathlen_on_leaf.extensions.push_back(pkix::ext::basic_constraints(false, 2));
  EXPECT_EQ(lint_rules_of(pathlen_on_leaf), Rules{"HM-BC-CA"});
}

TEST_F(LinterTest, ACaWithoutSubjectKeyIdentifierIsHmSkiPresent) {
  auto t = sub_ca();
  t.remove(pkix::oid::kSubjectKeyIdentifier);
  EXPECT_EQ(lint_rules_of(t), Rules{"HM-SKI-PRESENT"});
}

TEST_F(LinterTest, AMissingAuthorityKeyIdentifierIsHmAkiPresentUnlessSelfSigned) {
  auto t = leaf();
  t.remove(pkix::oid::kAuthorityKeyIdentifier);
  EXPECT_EQ(lint_rules_of(t), Rules{"HM-AKI-PRESENT"});

  // A self-signed root (same name, same key as its issuer) may omit it.
  RawTbs root = sub_ca();
  root.subject = m_ca_cert.subject();
  root.issuer = m_ca_cert.subject();
  root.spki = m_ca_key->public_key_der();
  root.remove(pkix::oid::kAuthorityKeyIdentifier);
  root.replace(pkix::ext::subject_key_identifier(key_id(*m_ca_key)));
  EXPECT_EQ(lint_rules_of(root), Rules{});

  // A self-issued key-rollover certificate (same name, another key) may not (RFC 5280 §4.2.1.1).
  RawTbs rollover = sub_ca();
  rollover.subject = m_ca_cert.subject();
  rollover.issuer = m_ca_cert.subject();
  rollover.remove(pkix::oid::kAuthorityKeyIdentifier);
  EXPECT_EQ(lint_rules_of(rollover), Rules{"HM-AKI-PRESENT"});
}

TEST_F(LinterTest, NegativeAndZeroSerialsAreHmSerialPositive) {
  auto negative = leaf();
  negative.serial = der::tlv(der::kInteger, Bytes{0x81, 0x02, 0x03});
  EXPECT_EQ(lint_rules_of(negative), Rules{"HM-SERIAL-POSITIVE"});
  auto zero = leaf();
  zero.serial = der::tlv(der::kInteger, Bytes{0x00});
  EXPECT_EQ(lint_rules_of(zero), Rules{"HM-SERIAL-POSITIVE"});
}

TEST_F(LinterTest, ASerialOfMoreThanTwentyOctetsIsHmSerialLength) {
  auto t = leaf();
  t.serial = der::tlv(der::kInteger, Bytes(21, 0x11));
  EXPECT_EQ(lint_rules_of(t), Rules{"HM-SERIAL-LENGTH"});
  t.serial = der::tlv(der::kInteger, Bytes(20, 0x11));
  EXPECT_EQ(lint_rules_of(t), Rules{});
}

TEST_F(LinterTest, TimesMustUseTheEncodingRfc5280AsksFor) {
  // 2030 in GeneralizedTime.
  auto early_generalized = leaf();
  early_generalized.not_after = der::generalized_time(kNow + days(90));
  EXPECT_EQ(lint_rules_of(early_generalized), Rules{"HM-TIME-ENCODING"});
  // 2050 and later in GeneralizedTime is right (the issuer lives to 2036, so no issuer context).
  auto late = leaf();
  late.not_after = der::generalized_time(std::chrono::sys_days{std::chrono::year{2051} / 1 / 1});
  EXPECT_EQ(lint_rules_of(late, nullptr, false), Rules{});
}

TEST_F(LinterTest, NotAfterBeforeNotBeforeIsHmValidityOrder) {
  auto t = leaf();
  t.not_after = der::utc_time(kNow - days(1));
  EXPECT_EQ(lint_rules_of(t), Rules{"HM-VALIDITY-ORDER"});
}

TEST_F(LinterTest, ValidityOutsideTheIssuersIsHmValidityIssuer) {
  auto t = leaf();
  t.not_after = der::utc_time(kNow + days(4000));
  EXPECT_EQ(lint_rules_of(t), Rules{"HM-VALIDITY-ISSUER"});
  EXPECT_EQ(lint_rules_of(t, nullptr, false), Rules{});  // only checked with an issuer
  auto before = leaf();
  before.not_before = der::utc_time(kNow - days(2));
  EXPECT_EQ(lint_rules_of(before), Rules{"HM-VALIDITY-ISSUER"});
  // The 802.1AR no-expiry value is allowed under any issuer.
  EXPECT_EQ(lint_rules_of(idevid(), "idevid"), Rules{});
}

TEST_F(LinterTest, AVersionOtherThanV3IsHmVersion) {
  auto t = leaf();
  t.version = 1;  // v2
  EXPECT_TRUE(lint_rules_of(t).contains("HM-VERSION"));
}

TEST_F(LinterTest, ADuplicateExtensionIsHmExtDuplicate) {
  auto t = leaf();
  t.extensions.push_back(pkix::ext::ext_key_usage({pkix::oid::kServerAuth}));
  EXPECT_EQ(lint_rules_of(t), Rules{"HM-EXT-DUPLICATE"});
}

TEST_F(LinterTest, AnUnsupportedSubjectKeyIsHmKeyAllowed) {
  hallmark::testing::TempDir dir;
  for (const std::string gen :
       {"-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1", "-algorithm RSA -pkeyopt rsa_keygen_bits:1024"}) {
    const auto out = dir / "spki.der";
    auto made = hallmark::testing::run("openssl genpkey " + gen + " | openssl pkey -pubout -outform DER -out " +
                                       hallmark::testing::shell_quote(out.string()));
    ASSERT_EQ(made.exit_code, 0) << made.err;
    auto t = leaf();
    t.spki = base::to_bytes(hallmark::testing::read_text(out));
    t.remove(pkix::oid::kSubjectKeyIdentifier);
    EXPECT_EQ(lint_rules_of(t), Rules{"HM-KEY-ALLOWED"}) << gen;
  }
}

TEST_F(LinterTest, OuterAndInnerSignatureAlgorithmsMustMatch) {
  const auto tbs = leaf().encode();
  const Bytes cert = der::sequence(
      {tbs, pkix::algorithm_identifier_der(base::SignatureAlgorithm::EcdsaSha384), der::bit_string(Bytes{0x01})});
  auto parsed = pkix::Certificate::parse(cert);
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  EXPECT_EQ(rules(lint(*parsed, {nullptr, &m_ca_cert})), Rules{"HM-SIG-ALG"});
}

TEST_F(LinterTest, Sha1SignaturesAreHmSigAlg) {
  auto tbs = leaf().encode();
  // Swap ecdsa-with-SHA256 (…04 03 02) for ecdsa-with-SHA1 (…04 01) by rewriting the
  // AlgorithmIdentifier.
  const Bytes sha256_alg = pkix::algorithm_identifier_der(base::SignatureAlgorithm::EcdsaSha256);
  const Bytes sha1_alg = der::sequence({must(der::oid(pkix::oid::kEcdsaWithSha1))});
  auto at = std::search(tbs.begin(), tbs.end(), sha256_alg.begin(), sha256_alg.end());
  ASSERT_NE(at, tbs.end());
  const auto offset = at - tbs.begin();
  Bytes content(tbs.begin() + 2 + (tbs[1] & 0x80 ? (tbs[1] & 0x7F) : 0), tbs.end());
  const auto inner_offset = offset - (tbs.size() - content.size());
  content.erase(content.begin() + inner_offset, content.begin() + inner_offset + sha256_alg.size());
  content.insert(content.begin() + inner_offset, sha1_alg.begin(), sha1_alg.end());
  const Bytes sha1_tbs = der::tlv(der::kSequence, content);
  const Bytes cert = der::sequence({sha1_tbs, sha1_alg, der::bit_string(Bytes{0x01})});
  auto parsed = pkix::Certificate::parse(cert);
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  EXPECT_EQ(rules(lint(*parsed, {nullptr, &m_ca_cert})), Rules{"HM-SIG-ALG"});
}

TEST_F(LinterTest, AnEmptySubjectNeedsACriticalSubjectAltName) {
  auto t = leaf();
  t.subject = pkix::Name{};
  pkix::SubjectAltNames san;
  san.dns = {"device.example"};
  t.extensions.push_back(pkix::ext::subject_alt_name(san, false).value());
  EXPECT_TRUE(lint_rules_of(t, "tls-server").contains("HM-SUBJECT-FIELDS"));
  t.replace(pkix::ext::subject_alt_name(san, true).value());
  EXPECT_FALSE(lint_rules_of(t, "tls-server").contains("HM-SUBJECT-FIELDS"));
}

TEST_F(LinterTest, EveryFindingNamesARuleFromTheCatalogue) {
  std::set<std::string> ids;
  for (const auto& r : lint_rules()) {
    EXPECT_FALSE(r.description.empty()) << r.id;
    EXPECT_EQ(r.id.rfind("HM-", 0), 0u) << r.id;
    EXPECT_TRUE(ids.insert(r.id).second) << "duplicate rule id " << r.id;
  }
  auto bad = leaf();
  bad.version = 1;
  bad.serial = der::tlv(der::kInteger, Bytes{0x80});
  bad.not_after = der::generalized_time(kNow + days(4000));
  bad.remove(pkix::oid::kAuthorityKeyIdentifier);
  bad.replace(pkix::ext::key_usage(pkix::kKeyCertSign, true));
  const auto findings = lint(bad.certificate(), {profile("idevid"), &m_ca_cert});
  EXPECT_GE(findings.size(), 5u) << describe(findings);
  for (const auto& f : findings) {
    EXPECT_TRUE(ids.contains(f.rule)) << f.rule;
    EXPECT_FALSE(f.message.empty()) << f.rule;
  }
}

}  // namespace
}  // namespace hallmark::ca
