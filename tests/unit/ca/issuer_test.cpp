#include "ca/issuer.h"

#include <gtest/gtest.h>

#include <set>

#include "ca_test_util.h"

namespace hallmark::ca {
namespace {

using audit::Channel;
using base::ErrorCode;
using pkix::NameAttribute;
using namespace testing;  // NOLINT
using std::chrono::days;
using std::chrono::seconds;

constexpr auto kYear = days(365);

class IssuerTest : public ::testing::Test {
 protected:
  IssuerTest()
      : m_root_key(ephemeral()),
        m_ca_key(ephemeral()),
        m_device_key(ephemeral()),
        m_root_cert(make_ca_cert(*m_root_key, *m_root_key, nullptr,
                                 {"Test Root", kNow - kYear, kNow + 20 * kYear, std::nullopt, true, {0x01}})),
        m_ca_cert(make_ca_cert(*m_ca_key, *m_root_key, &m_root_cert,
                               {"Test Issuing CA", kNow - days(1), kNow + 5 * kYear, 0, true, {0x02}})),
        m_ca_signer(*m_ca_key, m_timeline, &m_ledger),
        m_issuer(m_settings, m_profiles, m_ledger, m_clock, m_rng,
                 [this](std::uint64_t n) { m_audit_appended.push_back(n); }) {}

  SigningAuthority authority() const { return SigningAuthority{"runtime", m_ca_cert, &m_ca_signer}; }
  base::Result<IssuedCertificate> issue(const IssuanceRequest& r) { return m_issuer.issue(authority(), r); }
  IssuanceRequest device(const std::string& profile, Channel channel, const std::string& serial = "SN-0001") {
    return device_request(profile, *m_device_key, serial, channel);
  }
  void expect_nothing_reserved_or_signed() {
    EXPECT_TRUE(m_ledger.reserves.empty());
    EXPECT_TRUE(m_ledger.completes.empty());
    EXPECT_EQ(m_ca_signer.calls, 0);
  }
  static pkix::SubjectAltNames san_of(const pkix::Certificate& c) {
    auto ext = c.find_extension(pkix::oid::kSubjectAltName);
    if (!ext) return {};
    return pkix::decode_subject_alt_name(ext->value).value();
  }

  Timeline m_timeline;
  FakeLedger m_ledger{m_timeline};
  CounterRng m_rng;
  base::FixedClock m_clock{kNow};
  Settings m_settings = test_settings();
  ProfileRegistry m_profiles = test_profiles();
  std::unique_ptr<keys::Signer> m_root_key, m_ca_key, m_device_key;
  pkix::Certificate m_root_cert, m_ca_cert;
  RecordingSigner m_ca_signer;
  std::vector<std::uint64_t> m_audit_appended;
  Issuer m_issuer;
};

// --- the cycle -------------------------------------------------------------

TEST_F(IssuerTest, ReservesTheSerialAndTbsBeforeSigningThenCompletesWithThatTbs) {
  auto req = device("ldevid", Channel::Runtime);
  req.actor = "est:client";
  req.origin = "est:fp01";
  req.evidence_digest = std::string(64, 'e');
  auto issued = issue(req);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();

  EXPECT_EQ(m_timeline, (Timeline{"reserve", "sign", "complete"}));
  ASSERT_EQ(m_ledger.reserves.size(), 1u);
  ASSERT_EQ(m_ledger.completes.size(), 1u);
  ASSERT_EQ(m_ca_signer.calls, 1);

  // reserve: a pending entry with the TBS and no certificate, audited as "signing".
  const auto& reserved = m_ledger.reserves[0];
  EXPECT_EQ(reserved.entry.status, CertificateStatus::Pending);
  EXPECT_FALSE(reserved.entry.tbs.empty());
  EXPECT_TRUE(reserved.entry.der.empty());
  EXPECT_EQ(reserved.event.action, "signing");
  EXPECT_EQ(reserved.event.cert_serial, reserved.entry.serial);
  EXPECT_EQ(reserved.event.actor, "est:client");
  EXPECT_EQ(reserved.event.channel, Channel::Runtime);
  EXPECT_EQ(reserved.event.profile, "ldevid");
  EXPECT_EQ(reserved.event.evidence_digest, req.evidence_digest);
  EXPECT_NE(reserved.event.detail.find("SN-0001"), std::string::npos);

  // sign: exactly the reserved TBS, while the ledger held it as pending.
  EXPECT_EQ(m_ca_signer.messages[0], reserved.entry.tbs);
  EXPECT_TRUE(m_ca_signer.signed_a_pending_tbs[0]);

  // complete: the DER whose TBS is the reserved one, audited as "signed".
  const auto& completed = m_ledger.completes[0];
  EXPECT_EQ(completed.serial, reserved.entry.serial);
  EXPECT_EQ(completed.event.action, "signed");
  EXPECT_EQ(completed.event.cert_serial, reserved.entry.serial);
  EXPECT_EQ(tbs_of(completed.der), reserved.entry.tbs);
  EXPECT_EQ(completed.der, issued->certificate.der());
  EXPECT_EQ(m_ledger.entries[0].status, CertificateStatus::Issued);

  // The signature is the CA key's over that TBS.
  auto ca_key = m_ca_cert.public_key();
  ASSERT_TRUE(ca_key.ok());
  EXPECT_TRUE(issued->certificate.verify_signature(*ca_key).ok());

  // One audit record per step, reported for the checkpoint policy.
  EXPECT_EQ(m_audit_appended, (std::vector<std::uint64_t>{1, 1}));
}

TEST_F(IssuerTest, TheLedgerEntryDescribesTheCertificate) {
  auto req = device("ldevid", Channel::Runtime, "SN-0042");
  req.origin = "est:fp02";
  req.evidence_digest = "abcd";
  auto issued = issue(req);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto& e = m_ledger.reserves[0].entry;
  const auto& cert = issued->certificate;
  EXPECT_EQ(e.serial, cert.serial_hex());
  EXPECT_EQ(e.issuer, "runtime");
  EXPECT_EQ(e.profile, "ldevid");
  EXPECT_EQ(e.device_serial, "SN-0042");
  EXPECT_EQ(e.product, "widget-1");
  EXPECT_EQ(e.channel, Channel::Runtime);
  EXPECT_EQ(e.origin, "est:fp02");
  EXPECT_EQ(e.evidence_digest, "abcd");
  EXPECT_EQ(e.key_fingerprint, base::hex_encode(base::sha256(m_device_key->public_key_der())));
  EXPECT_EQ(e.subject, cert.subject().to_string());
  EXPECT_EQ(e.created, kNow);
  EXPECT_EQ(e.not_after, cert.not_after().time);
}

TEST_F(IssuerTest, ATakenSerialMakesTheIssuerDrawANewOneAndRetry) {
  m_ledger.reserve_results.push_back(base::make_error(ErrorCode::AlreadyExists, "serial taken"));
  auto issued = issue(device("ldevid", Channel::Runtime));
  ASSERT_TRUE(issued.ok()) << issued.error().describe();

  ASSERT_EQ(m_ledger.reserves.size(), 2u);
  EXPECT_NE(m_ledger.reserves[0].entry.serial, m_ledger.reserves[1].entry.serial);
  EXPECT_NE(m_ledger.reserves[0].entry.tbs, m_ledger.reserves[1].entry.tbs);
  EXPECT_EQ(m_rng.calls, 2);
  // Only the reservation that succeeded is signed and completed.
  ASSERT_EQ(m_ca_signer.calls, 1);
  EXPECT_EQ(m_ca_signer.messages[0], m_ledger.reserves[1].entry.tbs);
  EXPECT_EQ(issued->certificate.serial_hex(), m_ledger.reserves[1].entry.serial);
  EXPECT_EQ(m_timeline, (Timeline{"reserve", "reserve", "sign", "complete"}));
}

TEST_F(IssuerTest, ASerialAlreadyInTheLedgerIsNotReused) {
  ASSERT_TRUE(issue(device("ldevid", Channel::Runtime, "SN-1")).ok());
  // A second issuer whose RNG replays the same stream collides on its first draw.
  CounterRng replay;
  Issuer second(m_settings, m_profiles, m_ledger, m_clock, replay);
  auto issued = second.issue(authority(), device("ldevid", Channel::Runtime, "SN-2"));
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  ASSERT_EQ(m_ledger.entries.size(), 2u);
  EXPECT_NE(m_ledger.entries[0].serial, m_ledger.entries[1].serial);
  EXPECT_EQ(m_ledger.reserves.size(), 3u);
}

TEST_F(IssuerTest, RepeatedCollisionsStopWithoutASignature) {
  for (int i = 0; i < 5; ++i) {
    m_ledger.reserve_results.push_back(base::make_error(ErrorCode::AlreadyExists, "serial taken"));
  }
  auto issued = issue(device("ldevid", Channel::Runtime));
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::AlreadyExists);
  EXPECT_LE(m_ledger.reserves.size(), 5u);
  EXPECT_GE(m_ledger.reserves.size(), 2u);
  EXPECT_EQ(m_ca_signer.calls, 0);
  EXPECT_TRUE(m_ledger.completes.empty());
}

TEST_F(IssuerTest, AnyOtherReserveFailureMeansNoSignatureAndNoRetry) {
  for (auto code : {ErrorCode::Unavailable, ErrorCode::Internal, ErrorCode::Io}) {
    m_ledger.reserves.clear();
    m_ledger.reserve_results.push_back(base::make_error(code, "store down"));
    auto issued = issue(device("ldevid", Channel::Runtime));
    ASSERT_FALSE(issued.ok());
    EXPECT_EQ(issued.error().code, code);
    EXPECT_EQ(m_ledger.reserves.size(), 1u);
    EXPECT_EQ(m_ca_signer.calls, 0);
    EXPECT_TRUE(m_ledger.completes.empty());
    EXPECT_TRUE(m_audit_appended.empty());
  }
}

class FailingSigner final : public keys::Signer {
 public:
  explicit FailingSigner(const keys::Signer& inner) : m_inner(inner) {}
  base::KeyAlgorithm key_algorithm() const override { return m_inner.key_algorithm(); }
  base::SignatureAlgorithm signature_algorithm() const override { return m_inner.signature_algorithm(); }
  const base::Bytes& public_key_der() const override { return m_inner.public_key_der(); }
  std::string reference() const override { return "pkcs11:token=down"; }
  base::Result<base::Bytes> sign(base::ByteView) const override {
    return base::make_error(ErrorCode::Unavailable, "token removed");
  }

 private:
  const keys::Signer& m_inner;
};

TEST_F(IssuerTest, ASignerFailureLeavesThePendingEntryAndCompletesNothing) {
  FailingSigner failing(*m_ca_key);
  auto issued = m_issuer.issue({"runtime", m_ca_cert, &failing}, device("ldevid", Channel::Runtime));
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::Unavailable);
  ASSERT_EQ(m_ledger.entries.size(), 1u);
  EXPECT_EQ(m_ledger.entries[0].status, CertificateStatus::Pending);
  EXPECT_TRUE(m_ledger.completes.empty());
}

// --- batches (group commit) ------------------------------------------------

TEST_F(IssuerTest, ABatchIsReservedInOneStepSignedThenCompletedInOneStep) {
  std::vector<IssuanceRequest> reqs{device("ldevid", Channel::Runtime, "SN-0001"),
                                    device("ldevid", Channel::Runtime, "SN-0002"),
                                    device("ldevid", Channel::Runtime, "SN-0003")};
  int parallel_calls = 0;
  auto issued = m_issuer.issue_all(authority(), reqs, [&](std::size_t n, const std::function<void(std::size_t)>& body) {
    ++parallel_calls;
    for (std::size_t i = n; i-- > 0;) body(i);  // any order
  });
  ASSERT_EQ(issued.size(), 3u);
  std::set<std::string> serials;
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(issued[i].ok()) << issued[i].error().describe();
    EXPECT_EQ(issued[i]->certificate.subject().get(pkix::oid::kSerialNumber).value_or(""), reqs[i].device_serial);
    serials.insert(issued[i]->certificate.serial_hex());
  }
  EXPECT_EQ(serials.size(), 3u);
  EXPECT_EQ(m_ledger.reserve_batches, (std::vector<std::size_t>{3}));
  EXPECT_EQ(m_ledger.complete_batches, (std::vector<std::size_t>{3}));
  EXPECT_EQ(m_timeline,
            (Timeline{"reserve", "reserve", "reserve", "sign", "sign", "sign", "complete", "complete", "complete"}));
  EXPECT_EQ(m_audit_appended, (std::vector<std::uint64_t>{3, 3}));
  EXPECT_EQ(parallel_calls, 2);  // prepare, then sign
}

TEST_F(IssuerTest, InABatchAPolicyRefusalFailsAloneAndALedgerFailureFailsTheRest) {
  std::vector<IssuanceRequest> reqs{device("ldevid", Channel::Runtime, "SN-0001"),
                                    device("idevid", Channel::Runtime, "SN-0002"),
                                    device("ldevid", Channel::Runtime, "SN-0003")};
  auto issued = m_issuer.issue_all(authority(), reqs);
  ASSERT_EQ(issued.size(), 3u);
  EXPECT_TRUE(issued[0].ok());
  ASSERT_FALSE(issued[1].ok());
  EXPECT_EQ(issued[1].error().code, ErrorCode::PolicyDenied);
  EXPECT_TRUE(issued[2].ok());
  EXPECT_EQ(m_ledger.reserve_batches, (std::vector<std::size_t>{2}));

  m_ledger.reserve_results.push_back(base::make_error(ErrorCode::Unavailable, "store down"));
  const auto signed_before = m_ca_signer.calls;
  auto down = m_issuer.issue_all(authority(), reqs);
  ASSERT_EQ(down.size(), 3u);
  EXPECT_EQ(down[0].error().code, ErrorCode::Unavailable);
  EXPECT_EQ(down[1].error().code, ErrorCode::PolicyDenied);
  EXPECT_EQ(down[2].error().code, ErrorCode::Unavailable);
  EXPECT_EQ(m_ca_signer.calls, signed_before);
}

// --- channel policy -------------------------------------------------------

TEST_F(IssuerTest, TheRuntimeChannelCanNeverIssueAnIdevid) {
  auto issued = issue(device("idevid", Channel::Runtime));
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::PolicyDenied);
  EXPECT_NE(issued.error().detail.find("runtime"), std::string::npos) << issued.error().detail;
  expect_nothing_reserved_or_signed();
  EXPECT_EQ(m_rng.calls, 0);  // refused before anything was prepared
}

TEST_F(IssuerTest, TheFactoryAndAdminChannelsMayIssueAnIdevid) {
  for (auto channel : {Channel::Factory, Channel::Admin}) {
    auto issued = issue(device("idevid", channel));
    EXPECT_TRUE(issued.ok()) << audit::to_string(channel) << ": " << issued.error().describe();
  }
}

TEST_F(IssuerTest, TheRuntimeChannelMayIssueAnLdevidAndATlsServerCertificate) {
  EXPECT_TRUE(issue(device("ldevid", Channel::Runtime)).ok());
  IssuanceRequest tls;
  tls.profile = "tls-server";
  tls.public_key_der = m_device_key->public_key_der();
  tls.dns_names = {"est.example.com"};
  tls.channel = Channel::Runtime;
  auto issued = issue(tls);
  EXPECT_TRUE(issued.ok()) << issued.error().describe();
}

TEST_F(IssuerTest, CaProfilesAreIssuedOverTheAdminChannelOnly) {
  auto ca2 = ephemeral();
  for (const std::string profile : {"root", "intermediate"}) {
    for (auto channel : {Channel::Runtime, Channel::Factory}) {
      IssuanceRequest r;
      r.profile = profile;
      r.public_key_der = profile == "root" ? m_root_key->public_key_der() : ca2->public_key_der();
      r.common_name = "Sneaky CA";
      r.validity_cap = 5 * kYear;
      r.channel = channel;
      auto issued = profile == "root" ? m_issuer.issue({"root", std::nullopt, m_root_key.get()}, r)
                                      : m_issuer.issue({"root", m_root_cert, m_root_key.get()}, r);
      ASSERT_FALSE(issued.ok()) << profile << " over " << audit::to_string(channel);
      EXPECT_EQ(issued.error().code, ErrorCode::PolicyDenied);
    }
  }
  expect_nothing_reserved_or_signed();

  IssuanceRequest inter;
  inter.profile = "intermediate";
  inter.public_key_der = ca2->public_key_der();
  inter.common_name = "Second Issuing CA";
  inter.validity_cap = 5 * kYear;
  inter.channel = Channel::Admin;
  auto issued = m_issuer.issue({"root", m_root_cert, m_root_key.get()}, inter);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  EXPECT_TRUE(issued->certificate.is_ca());
}

TEST_F(IssuerTest, TheTlsServerProfileIsNotAFactoryProfile) {
  IssuanceRequest tls;
  tls.profile = "tls-server";
  tls.public_key_der = m_device_key->public_key_der();
  tls.dns_names = {"a.example"};
  tls.channel = Channel::Factory;
  auto issued = issue(tls);
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::PolicyDenied);
}

TEST_F(IssuerTest, AnUnknownProfileIsNotFoundAndListsTheKnownOnes) {
  auto issued = issue(device("matter-dac", Channel::Factory));
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::NotFound);
  EXPECT_NE(issued.error().detail.find("idevid"), std::string::npos);
  expect_nothing_reserved_or_signed();
}

// --- request values ----------------------------------------------------------

TEST_F(IssuerTest, DeviceProfilesRequireADeviceSerial) {
  for (const std::string profile : {"idevid", "ldevid"}) {
    auto issued = issue(device(profile, Channel::Factory, ""));
    ASSERT_FALSE(issued.ok()) << profile;
    EXPECT_EQ(issued.error().code, ErrorCode::InvalidArgument);
  }
  expect_nothing_reserved_or_signed();
}

TEST_F(IssuerTest, IdevidSubjectIsTheVendorAndTheDeviceSerialOnly) {
  auto req = device("idevid", Channel::Factory, "SN-0077");
  // Values the profile does not take must not leak into the certificate.
  req.common_name = "attacker.example";
  req.dns_names = {"attacker.example"};
  req.ip_addresses = {"10.0.0.1"};
  auto issued = issue(req);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto& cert = issued->certificate;
  EXPECT_EQ(cert.subject().attributes(), (std::vector<NameAttribute>{{pkix::oid::kOrganization, "Acme Widgets"},
                                                                     {pkix::oid::kSerialNumber, "SN-0077"}}));
  EXPECT_EQ(cert.issuer(), m_ca_cert.subject());
  EXPECT_EQ(cert.public_key()->spki_der(), m_device_key->public_key_der());

  const auto san = san_of(cert);
  EXPECT_TRUE(san.dns.empty());
  EXPECT_TRUE(san.ip.empty());
  ASSERT_EQ(san.hardware_modules.size(), 1u);
  EXPECT_EQ(san.hardware_modules[0].hw_type, "1.3.6.1.4.1.55555.1.2");
  EXPECT_EQ(san.hardware_modules[0].hw_serial, base::to_bytes("SN-0077"));
  EXPECT_TRUE(issued->warnings.empty());

  EXPECT_TRUE(cert.not_after().no_expiry);
  EXPECT_FALSE(cert.is_ca());
  EXPECT_EQ(cert.key_usage(), std::optional<std::uint16_t>(pkix::kDigitalSignature));
  EXPECT_TRUE(cert.find_extension(pkix::oid::kKeyUsage)->critical);
  EXPECT_EQ(cert.authority_key_identifier(), m_ca_cert.subject_key_identifier());
}

TEST_F(IssuerTest, LdevidSubjectIsBoundToTheDeviceSerialFromTheRequest) {
  auto req = device("ldevid", Channel::Runtime, "SN-0078");
  req.common_name = "ignored";
  req.dns_names = {"ignored.example"};
  auto issued = issue(req);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto& cert = issued->certificate;
  EXPECT_EQ(cert.subject().attributes(), (std::vector<NameAttribute>{{pkix::oid::kOrganization, "Acme Devices Inc"},
                                                                     {pkix::oid::kSerialNumber, "SN-0078"}}));
  EXPECT_FALSE(cert.find_extension(pkix::oid::kSubjectAltName).has_value());
  auto eku = cert.find_extension(pkix::oid::kExtKeyUsage);
  ASSERT_TRUE(eku.has_value());
  EXPECT_EQ(pkix::decode_ext_key_usage(eku->value).value(), std::vector<std::string>{pkix::oid::kClientAuth});
}

TEST_F(IssuerTest, LdevidExtendedKeyUsageComesFromTheSettings) {
  ProfileSettings ps;
  ps.ldevid_ext_key_usage = {"clientAuth", "serverAuth"};
  auto profiles = test_profiles(ps);
  Issuer issuer(m_settings, profiles, m_ledger, m_clock, m_rng);
  auto issued = issuer.issue(authority(), device("ldevid", Channel::Runtime));
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  auto eku = issued->certificate.find_extension(pkix::oid::kExtKeyUsage);
  ASSERT_TRUE(eku.has_value());
  EXPECT_EQ(pkix::decode_ext_key_usage(eku->value).value(),
            (std::vector<std::string>{pkix::oid::kClientAuth, pkix::oid::kServerAuth}));
}

TEST_F(IssuerTest, TlsServerNamesComeFromTheRequest) {
  IssuanceRequest r;
  r.profile = "tls-server";
  r.public_key_der = m_device_key->public_key_der();
  r.dns_names = {"est.example.com", "ca.example.com"};
  r.ip_addresses = {"192.0.2.7"};
  r.device_serial = "not-used";
  r.channel = Channel::Admin;
  auto issued = issue(r);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto& cert = issued->certificate;
  EXPECT_EQ(cert.subject().get(pkix::oid::kCommonName), "est.example.com");
  EXPECT_FALSE(cert.subject().get(pkix::oid::kSerialNumber).has_value());
  const auto san = san_of(cert);
  EXPECT_EQ(san.dns, r.dns_names);
  EXPECT_EQ(san.ip, r.ip_addresses);
  EXPECT_TRUE(san.hardware_modules.empty());
}

TEST_F(IssuerTest, TlsServerWithoutAnyNameIsRefused) {
  IssuanceRequest r;
  r.profile = "tls-server";
  r.public_key_der = m_device_key->public_key_der();
  r.channel = Channel::Admin;
  auto issued = issue(r);
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::InvalidArgument);
  expect_nothing_reserved_or_signed();
}

TEST_F(IssuerTest, AnUnknownProductWarnsAndUsesTheDefaultHwType) {
  auto req = device("idevid", Channel::Factory, "SN-9");
  req.product = "gizmo-x";
  auto issued = issue(req);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  ASSERT_EQ(issued->warnings.size(), 1u);
  EXPECT_NE(issued->warnings[0].find("gizmo-x"), std::string::npos) << issued->warnings[0];
  EXPECT_NE(issued->warnings[0].find(m_settings.default_hw_type), std::string::npos) << issued->warnings[0];
  const auto san = san_of(issued->certificate);
  ASSERT_EQ(san.hardware_modules.size(), 1u);
  EXPECT_EQ(san.hardware_modules[0].hw_type, m_settings.default_hw_type);
  EXPECT_EQ(issued->certificate.subject().get(pkix::oid::kOrganization), m_settings.organization);
}

TEST_F(IssuerTest, AMalformedPublicKeyIsRefusedBeforeAnythingIsRecorded) {
  auto req = device("ldevid", Channel::Runtime);
  req.public_key_der = {0x30, 0x03, 0x02, 0x01, 0x00};
  auto issued = issue(req);
  ASSERT_FALSE(issued.ok());
  expect_nothing_reserved_or_signed();
}

TEST_F(IssuerTest, AnUnsupportedKeyIsRefused) {
  auto rsa = ephemeral(base::KeyAlgorithm::Rsa2048);
  // RSA-2048 is accepted...
  auto req = device("ldevid", Channel::Runtime);
  req.public_key_der = rsa->public_key_der();
  EXPECT_TRUE(issue(req).ok());
  // ...a secp256k1 key is not.
  hallmark::testing::TempDir dir;
  auto made = hallmark::testing::run(
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 | "
      "openssl pkey -pubout -outform DER -out " +
      hallmark::testing::shell_quote((dir / "k1.der").string()));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto spki = hallmark::testing::read_text(dir / "k1.der");
  req.public_key_der = base::to_bytes(spki);
  const auto before = m_ledger.reserves.size();
  auto issued = issue(req);
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(m_ledger.reserves.size(), before);
}

// --- validity -------------------------------------------------------------

TEST_F(IssuerTest, LdevidIsValidForTheConfiguredNinetyDaysWithNotBeforeBackdatedAMinute) {
  auto issued = issue(device("ldevid", Channel::Runtime));
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto& cert = issued->certificate;
  EXPECT_EQ(cert.not_before().time, kNow - seconds(60));
  EXPECT_EQ(cert.not_after().time - cert.not_before().time, days(90));
  EXPECT_EQ(cert.not_before().encoding, pkix::TimeEncoding::UtcTime);
  EXPECT_TRUE(issued->warnings.empty());
}

TEST_F(IssuerTest, LdevidValidityFollowsTheProfileSetting) {
  ProfileSettings ps;
  ps.ldevid_validity_days = 30;
  auto profiles = test_profiles(ps);
  Issuer issuer(m_settings, profiles, m_ledger, m_clock, m_rng);
  auto issued = issuer.issue(authority(), device("ldevid", Channel::Runtime));
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto& cert = issued->certificate;
  EXPECT_EQ(cert.not_after().time - cert.not_before().time, days(30));
}

TEST_F(IssuerTest, TheRequestsValidityCapShortensTheCertificate) {
  auto req = device("ldevid", Channel::Runtime);
  req.validity_cap = std::chrono::hours(24 * 7);
  auto issued = issue(req);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  EXPECT_EQ(issued->certificate.not_after().time - issued->certificate.not_before().time, days(7));

  // A cap longer than the profile does not lengthen it.
  req.validity_cap = days(1000);
  auto longer = issue(req);
  ASSERT_TRUE(longer.ok()) << longer.error().describe();
  EXPECT_EQ(longer->certificate.not_after().time - longer->certificate.not_before().time, days(90));
}

TEST_F(IssuerTest, TlsServerDefaultsToTheConfiguredYear) {
  IssuanceRequest r;
  r.profile = "tls-server";
  r.public_key_der = m_device_key->public_key_der();
  r.common_name = "est.example.com";
  r.channel = Channel::Admin;
  auto issued = issue(r);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  EXPECT_EQ(issued->certificate.not_after().time - issued->certificate.not_before().time, days(365));
}

TEST_F(IssuerTest, ValidityIsClampedToTheIssuersNotAfterWithAWarning) {
  const auto ca_end = kNow + days(30);
  auto short_ca =
      make_ca_cert(*m_ca_key, *m_root_key, &m_root_cert, {"Short-lived CA", kNow - days(1), ca_end, 0, true, {0x03}});
  auto issued = m_issuer.issue({"runtime", short_ca, &m_ca_signer}, device("ldevid", Channel::Runtime));
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  EXPECT_EQ(issued->certificate.not_after().time, ca_end);
  ASSERT_EQ(issued->warnings.size(), 1u);
  EXPECT_NE(issued->warnings[0].find("clamped"), std::string::npos) << issued->warnings[0];
  EXPECT_EQ(m_ledger.reserves[0].entry.not_after, ca_end);
}

TEST_F(IssuerTest, AnIdevidNeverExpiresEvenUnderAShorterLivedCa) {
  auto short_ca = make_ca_cert(*m_ca_key, *m_root_key, &m_root_cert,
                               {"Factory CA", kNow - days(1), kNow + days(30), 0, true, {0x03}});
  auto issued = m_issuer.issue({"factory", short_ca, &m_ca_signer}, device("idevid", Channel::Factory));
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto na = issued->certificate.not_after();
  EXPECT_TRUE(na.no_expiry);
  EXPECT_EQ(na.encoding, pkix::TimeEncoding::GeneralizedTime);
  EXPECT_EQ(na.text, "99991231235959Z");
  EXPECT_TRUE(issued->warnings.empty());
}

TEST_F(IssuerTest, RootValidityComesFromTheRequestedLifetime) {
  IssuanceRequest r;
  r.profile = "root";
  r.public_key_der = m_root_key->public_key_der();
  r.common_name = "Test Root 2";
  r.validity_cap = std::chrono::duration_cast<seconds>(std::chrono::years(30));
  auto issued = m_issuer.issue({"root", std::nullopt, m_root_key.get()}, r);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto& cert = issued->certificate;
  EXPECT_EQ(cert.not_before().time, kNow - seconds(60));
  EXPECT_EQ(cert.not_after().time - cert.not_before().time, std::chrono::duration_cast<seconds>(std::chrono::years(30)))
      << "notBefore " << cert.not_before().text << " notAfter " << cert.not_after().text;
}

TEST_F(IssuerTest, IntermediateValidityComesFromTheRequestedLifetime) {
  auto key = ephemeral();
  IssuanceRequest r;
  r.profile = "intermediate";
  r.public_key_der = key->public_key_der();
  r.common_name = "Issuing CA 2";
  r.validity_cap = std::chrono::duration_cast<seconds>(std::chrono::years(5));
  auto issued = m_issuer.issue({"root", m_root_cert, m_root_key.get()}, r);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto& cert = issued->certificate;
  EXPECT_EQ(cert.not_after().time - cert.not_before().time, std::chrono::duration_cast<seconds>(std::chrono::years(5)))
      << "notBefore " << cert.not_before().text << " notAfter " << cert.not_after().text;
}

TEST_F(IssuerTest, ACaRequestWithoutALifetimeIsRefused) {
  IssuanceRequest r;
  r.profile = "root";
  r.public_key_der = m_root_key->public_key_der();
  r.common_name = "Forever Root";
  auto issued = m_issuer.issue({"root", std::nullopt, m_root_key.get()}, r);
  ASSERT_FALSE(issued.ok()) << "a root valid for zero seconds was issued";
  EXPECT_EQ(issued.error().code, ErrorCode::InvalidArgument);
  expect_nothing_reserved_or_signed();
}

// --- CA certificates -------------------------------------------------------

TEST_F(IssuerTest, ARootMustCertifyItsOwnSigningKey) {
  IssuanceRequest r;
  r.profile = "root";
  r.public_key_der = m_device_key->public_key_der();
  r.common_name = "Mismatched Root";
  r.validity_cap = 5 * kYear;
  auto issued = m_issuer.issue({"root", std::nullopt, m_root_key.get()}, r);
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::InvalidArgument);
  expect_nothing_reserved_or_signed();
}

TEST_F(IssuerTest, ARootIsSelfSignedWithTheCaExtensions) {
  IssuanceRequest r;
  r.profile = "root";
  r.public_key_der = m_root_key->public_key_der();
  r.common_name = "Test Root 3";
  r.validity_cap = std::chrono::duration_cast<seconds>(std::chrono::years(30));
  auto issued = m_issuer.issue({"root", std::nullopt, m_root_key.get()}, r);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto& cert = issued->certificate;
  EXPECT_EQ(cert.subject().attributes(), (std::vector<NameAttribute>{{pkix::oid::kCountry, "US"},
                                                                     {pkix::oid::kOrganization, "Acme Devices Inc"},
                                                                     {pkix::oid::kCommonName, "Test Root 3"}}));
  EXPECT_TRUE(cert.is_self_issued());
  EXPECT_TRUE(cert.verify_signature(cert.public_key().value()).ok());
  ASSERT_TRUE(cert.basic_constraints().has_value());
  EXPECT_TRUE(cert.basic_constraints()->ca);
  EXPECT_FALSE(cert.basic_constraints()->path_len.has_value());
  EXPECT_EQ(cert.key_usage(), std::optional<std::uint16_t>(pkix::kKeyCertSign | pkix::kCrlSign));
  EXPECT_EQ(cert.subject_key_identifier(), key_id(*m_root_key));
}

TEST_F(IssuerTest, ACaNeedsACommonName) {
  IssuanceRequest r;
  r.profile = "root";
  r.public_key_der = m_root_key->public_key_der();
  r.validity_cap = 5 * kYear;
  auto issued = m_issuer.issue({"root", std::nullopt, m_root_key.get()}, r);
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::InvalidArgument);
}

TEST_F(IssuerTest, TheRequestedPathLenIsWrittenIntoAnIntermediate) {
  auto key = ephemeral();
  IssuanceRequest r;
  r.profile = "intermediate";
  r.public_key_der = key->public_key_der();
  r.common_name = "Runtime CA";
  r.validity_cap = 5 * kYear;
  r.path_len = 0;
  auto issued = m_issuer.issue({"root", m_root_cert, m_root_key.get()}, r);
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto bc = issued->certificate.basic_constraints();
  ASSERT_TRUE(bc.has_value());
  EXPECT_TRUE(bc->ca);
  EXPECT_EQ(bc->path_len, std::optional<int>(0));
  EXPECT_TRUE(issued->certificate.find_extension(pkix::oid::kBasicConstraints)->critical);
  EXPECT_EQ(issued->certificate.authority_key_identifier(), m_root_cert.subject_key_identifier());
}

TEST_F(IssuerTest, AnIssuerWhoseCertificateIsNotACaCannotIssueDeviceCertificates) {
  auto leaf = make_ca_cert(*m_ca_key, *m_root_key, &m_root_cert,
                           {"Not a CA", kNow - days(1), kNow + kYear, std::nullopt, false, {0x04}});
  auto issued = m_issuer.issue({"leaf", leaf, &m_ca_signer}, device("ldevid", Channel::Runtime));
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::InvalidArgument);
  expect_nothing_reserved_or_signed();
}

TEST_F(IssuerTest, AnIssuerWhoseCertificateIsNotACaCannotIssueAnIntermediate) {
  auto leaf = make_ca_cert(*m_ca_key, *m_root_key, &m_root_cert,
                           {"Not a CA", kNow - days(1), kNow + kYear, std::nullopt, false, {0x04}});
  auto key = ephemeral();
  IssuanceRequest r;
  r.profile = "intermediate";
  r.public_key_der = key->public_key_der();
  r.common_name = "Rogue CA";
  r.validity_cap = 5 * kYear;
  auto issued = m_issuer.issue({"leaf", leaf, &m_ca_signer}, r);
  ASSERT_FALSE(issued.ok()) << "a non-CA certificate issued a CA certificate";
  expect_nothing_reserved_or_signed();
}

TEST_F(IssuerTest, AnIssuerWithPathLenZeroCannotIssueAnIntermediate) {
  // m_ca_cert has pathLenConstraint 0 (RFC 5280 §4.2.1.9): no CA may follow it.
  auto key = ephemeral();
  IssuanceRequest r;
  r.profile = "intermediate";
  r.public_key_der = key->public_key_der();
  r.common_name = "Too Deep CA";
  r.validity_cap = kYear;
  auto issued = issue(r);
  ASSERT_FALSE(issued.ok()) << "a CA with pathLen 0 issued a CA certificate";
  expect_nothing_reserved_or_signed();
}

TEST_F(IssuerTest, ALintFindingStopsIssuanceBeforeTheLedger) {
  // An issuer whose validity starts in the future: the child cannot nest inside it.
  auto future_ca =
      make_ca_cert(*m_ca_key, *m_root_key, &m_root_cert, {"Future CA", kNow + days(1), kNow + kYear, 0, true, {0x05}});
  auto issued = m_issuer.issue({"runtime", future_ca, &m_ca_signer}, device("ldevid", Channel::Runtime));
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::PolicyDenied);
  EXPECT_NE(issued.error().detail.find("HM-VALIDITY-ISSUER"), std::string::npos) << issued.error().detail;
  expect_nothing_reserved_or_signed();
}

// --- serials ----------------------------------------------------------------

TEST(NewSerial, IsSixteenOctetsPositiveAndDistinctAcrossTenThousandDraws) {
  base::SystemRng rng;
  std::set<base::Bytes> seen;
  for (int i = 0; i < 10'000; ++i) {
    const auto s = new_serial(rng);
    ASSERT_EQ(s.size(), 16u);
    ASSERT_EQ(s[0] & 0x80, 0) << "negative serial";
    ASSERT_NE(s[0], 0) << "the first octet must be significant so the INTEGER keeps 16 octets";
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 10'000u);
}

TEST(NewSerial, KeepsAtLeastSixtyFourRandomBits) {
  // Draws from an all-zero and an all-ones source differ only in the bits that
  // new_serial fixes; every other bit comes from the RNG.
  struct ConstantRng : base::Rng {
    std::uint8_t value;
    explicit ConstantRng(std::uint8_t v) : value(v) {}
    base::Bytes bytes(std::size_t n) override { return base::Bytes(n, value); }
  };
  ConstantRng zeros(0x00), ones(0xFF);
  const auto a = new_serial(zeros);
  const auto b = new_serial(ones);
  ASSERT_EQ(a.size(), b.size());
  int random_bits = 0;
  for (std::size_t i = 0; i < a.size(); ++i) random_bits += __builtin_popcount(a[i] ^ b[i]);
  EXPECT_GE(random_bits, 64);
  EXPECT_LE(a.size(), 20u);
}

TEST_F(IssuerTest, SerialsInCertificatesArePositiveAndAtMostTwentyOctets) {
  auto issued = issue(device("ldevid", Channel::Runtime));
  ASSERT_TRUE(issued.ok()) << issued.error().describe();
  const auto serial = issued->certificate.serial();
  EXPECT_FALSE(issued->certificate.serial_is_negative());
  EXPECT_FALSE(issued->certificate.serial_is_zero());
  EXPECT_LE(serial.size(), 20u);
  EXPECT_GE(serial.size(), 8u);
}

}  // namespace
}  // namespace hallmark::ca
