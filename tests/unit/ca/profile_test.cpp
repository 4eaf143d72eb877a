#include "ca/profile.h"

#include <gtest/gtest.h>

#include "ca_test_util.h"

namespace hallmark::ca {
namespace {

using audit::Channel;
using base::ErrorCode;
using std::chrono::days;

const Profile& get(const ProfileRegistry& r, const std::string& name) {
  auto p = r.find(name);
  if (!p.ok()) throw std::runtime_error(p.error().describe());
  return **p;
}

TEST(ProfileRegistry, HoldsTheSixBuiltInProfiles) {
  const auto r = testing::test_profiles();
  EXPECT_EQ(r.names(),
            (std::vector<std::string>{"idevid", "intermediate", "ldevid", "ocsp-signing", "root", "tls-server"}));
}

TEST(ProfileRegistry, OcspSigningIsAShortLivedResponderWithNoCheckForAdminAndStations) {
  const auto r = testing::test_profiles();
  auto p = r.find("ocsp-signing");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->ext_key_usage, (std::vector<std::string>{"1.3.6.1.5.5.7.3.9"}));
  EXPECT_TRUE((*p)->ocsp_nocheck);
  EXPECT_FALSE((*p)->is_ca);
  EXPECT_EQ((*p)->validity, std::chrono::days(30));
  EXPECT_EQ((*p)->channels, (std::set<audit::Channel>{audit::Channel::Factory, audit::Channel::Admin}));
}

TEST(ProfileRegistry, AnUnknownProfileIsNotFoundAndTheErrorListsTheKnownOnes) {
  const auto r = testing::test_profiles();
  auto p = r.find("devid");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::NotFound);
  EXPECT_NE(p.error().detail.find("'devid'"), std::string::npos) << p.error().detail;
  for (const auto& name : r.names()) {
    EXPECT_NE(p.error().detail.find(name), std::string::npos) << name << " missing from: " << p.error().detail;
  }
}

TEST(ProfileRegistry, CaProfilesAreAdminOnlyCertificateSigners) {
  const auto r = testing::test_profiles();
  for (const std::string name : {"root", "intermediate"}) {
    const auto& p = get(r, name);
    EXPECT_TRUE(p.is_ca) << name;
    EXPECT_EQ(p.channels, std::set<Channel>{Channel::Admin}) << name;
    EXPECT_EQ(p.key_usage, pkix::kKeyCertSign | pkix::kCrlSign) << name;
    EXPECT_FALSE(p.requires_device_serial) << name;
    EXPECT_FALSE(p.no_expiry) << name;
  }
  EXPECT_EQ(get(r, "root").kind, ProfileKind::Root);
  EXPECT_EQ(get(r, "intermediate").kind, ProfileKind::Intermediate);
}

TEST(ProfileRegistry, IdevidIsA8021ARBirthCertificateNeverIssuedAtRuntime) {
  const auto registry = testing::test_profiles();
  const auto& p = get(registry, "idevid");
  EXPECT_EQ(p.kind, ProfileKind::IDevID);
  EXPECT_TRUE(p.no_expiry);
  EXPECT_FALSE(p.is_ca);
  EXPECT_EQ(p.key_usage, pkix::kDigitalSignature);
  EXPECT_TRUE(p.requires_device_serial);
  EXPECT_TRUE(p.hardware_module_name);
  EXPECT_FALSE(p.channels.contains(Channel::Runtime));
  EXPECT_TRUE(p.channels.contains(Channel::Factory));
}

TEST(ProfileRegistry, LdevidDefaultsToNinetyDaysOfClientAuth) {
  const auto registry = testing::test_profiles();
  const auto& p = get(registry, "ldevid");
  EXPECT_EQ(p.kind, ProfileKind::LDevID);
  EXPECT_EQ(p.validity, days(90));
  EXPECT_EQ(p.ext_key_usage, std::vector<std::string>{pkix::oid::kClientAuth});
  EXPECT_EQ(p.key_usage, pkix::kDigitalSignature);
  EXPECT_TRUE(p.requires_device_serial);
  EXPECT_FALSE(p.hardware_module_name);
  EXPECT_FALSE(p.is_ca);
  EXPECT_TRUE(p.channels.contains(Channel::Runtime));
}

TEST(ProfileRegistry, TlsServerIsAYearOfServerAuth) {
  const auto registry = testing::test_profiles();
  const auto& p = get(registry, "tls-server");
  EXPECT_EQ(p.validity, days(365));
  EXPECT_EQ(p.ext_key_usage, std::vector<std::string>{pkix::oid::kServerAuth});
  EXPECT_FALSE(p.requires_device_serial);
  EXPECT_EQ(p.channels, (std::set<Channel>{Channel::Runtime, Channel::Admin}));
}

TEST(ProfileRegistry, SettingsConfigureTheRuntimeProfiles) {
  ProfileSettings s;
  s.ldevid_validity_days = 3650;
  s.ldevid_ext_key_usage = {"clientAuth", "cmcRA", "1.3.6.1.4.1.55555.9"};
  s.tls_server_validity_days = 1;
  const auto r = testing::test_profiles(s);
  EXPECT_EQ(get(r, "ldevid").validity, days(3650));
  EXPECT_EQ(get(r, "ldevid").ext_key_usage,
            (std::vector<std::string>{pkix::oid::kClientAuth, pkix::oid::kCmcRa, "1.3.6.1.4.1.55555.9"}));
  EXPECT_EQ(get(r, "tls-server").validity, days(1));
}

TEST(ProfileRegistry, BadSettingsAreRefused) {
  auto refused = [](ProfileSettings s) {
    auto r = ProfileRegistry::build(s);
    return !r.ok() && r.error().code == ErrorCode::InvalidArgument;
  };
  ProfileSettings s;
  s.ldevid_validity_days = 0;
  EXPECT_TRUE(refused(s));
  s.ldevid_validity_days = 3651;
  EXPECT_TRUE(refused(s));
  s = {};
  s.tls_server_validity_days = 0;
  EXPECT_TRUE(refused(s));
  s.tls_server_validity_days = 826;
  EXPECT_TRUE(refused(s));
  s = {};
  s.ldevid_ext_key_usage = {"clientAuth", "fooAuth"};
  EXPECT_TRUE(refused(s));
  s.ldevid_ext_key_usage = {""};
  EXPECT_TRUE(refused(s));
}

TEST(ProfileRegistry, MalformedDottedExtendedKeyUsagesAreRefusedAtBuild) {
  for (const std::string bad : {"1..2", "7.1", ".", "1."}) {
    ProfileSettings s;
    s.ldevid_ext_key_usage = {bad};
    auto r = ProfileRegistry::build(s);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(ExtKeyUsageOid, MapsNamesAndKeepsDottedOids) {
  EXPECT_EQ(ext_key_usage_oid("clientAuth").value(), pkix::oid::kClientAuth);
  EXPECT_EQ(ext_key_usage_oid("serverAuth").value(), pkix::oid::kServerAuth);
  EXPECT_EQ(ext_key_usage_oid("ocspSigning").value(), pkix::oid::kOcspSigning);
  EXPECT_EQ(ext_key_usage_oid("cmcRA").value(), pkix::oid::kCmcRa);
  EXPECT_EQ(ext_key_usage_oid("1.3.6.1.5.5.7.3.4").value(), "1.3.6.1.5.5.7.3.4");
  auto bad = ext_key_usage_oid("ClientAuth");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(bad.error().detail.find("clientAuth"), std::string::npos);  // says what is accepted
}

}  // namespace
}  // namespace hallmark::ca
