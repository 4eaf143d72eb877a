// Golden tests, one per profile: fixed keys (tests/data/golden/*.key, made by
// make_keys.sh with `openssl genpkey`), a fixed clock and a counter RNG make the
// TBSCertificate the Issuer records in the ledger byte-for-byte deterministic.
// It is compared with tests/data/golden/<profile>.tbs.hex (HALLMARK_UPDATE_GOLDEN=1
// rewrites the files), and the signed certificate is examined with the openssl
// CLI, so that the expectations do not rest on our own parser alone.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <sstream>

#include "ca_test_util.h"
#include "pkix/pem.h"

namespace hallmark::ca {
namespace {

using audit::Channel;
using hallmark::testing::read_text;
using hallmark::testing::run;
using hallmark::testing::shell_quote;
using hallmark::testing::TempDir;
using hallmark::testing::write_text;
using namespace testing;  // NOLINT
using std::chrono::days;
using std::chrono::seconds;

constexpr auto kYear = days(365);

bool update_golden() {
  const char* v = std::getenv("HALLMARK_UPDATE_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

// `years` calendar years from kNow, as app/ computes a CA's lifetime for the request.
seconds calendar_years(int years) {
  const auto day = std::chrono::floor<days>(kNow);
  const auto end = std::chrono::year_month_day{day} + std::chrono::years{years};
  return std::chrono::sys_days{end} + (kNow - day) - kNow;
}

std::string colon_hex(base::ByteView b) {
  std::string hex = base::hex_encode_upper(b), out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (!out.empty()) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

std::string collapse_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// `openssl asn1parse` lines as "d=<depth> <prim|cons>: <what> [:value]" with single spaces.
std::vector<std::string> asn1_lines(const std::string& output) {
  static const std::regex line(R"(^\s*\d+:d=(\d+)\s+hl=\s*\d+\s+l=\s*\d+\s+(prim|cons):\s*(.*)$)");
  std::vector<std::string> out;
  std::istringstream in(output);
  std::string text;
  while (std::getline(in, text)) {
    std::smatch m;
    if (std::regex_match(text, m, line))
      out.push_back("d=" + m[1].str() + " " + m[2].str() + ": " + collapse_spaces(m[3]));
  }
  return out;
}

std::string must_run(const std::string& command) {
  auto r = run(command);
  EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.err << r.out;
  return r.out;
}

// The hierarchy the golden certificates are issued under: a P-384 root and a
// P-256 issuing CA made directly with the pkix encoder from the fixed keys.
class GoldenTest : public ::testing::Test {
 protected:
  GoldenTest()
      : m_root_key(golden_key("root-p384")),
        m_ca_key(golden_key("ca-p256")),
        m_device_key(golden_key("device-p256")),
        m_server_key(golden_key("server-p256")),
        m_root_cert(
            make_ca_cert(*m_root_key, *m_root_key, nullptr,
                         {"Hallmark Golden Root", kNow - kYear, kNow + 30 * kYear, std::nullopt, true, {0x01}})),
        m_ca_cert(make_ca_cert(*m_ca_key, *m_root_key, &m_root_cert,
                               {"Hallmark Golden Issuing CA", kNow - days(1), kNow + 25 * kYear, 0, true, {0x02}})) {
    write_text(m_dir / "root.pem", m_root_cert.pem());
    write_text(m_dir / "ca.pem", m_ca_cert.pem());
  }

  struct Run {
    base::Bytes tbs;  // what the ledger recorded before signing
    IssuedCertificate issued;
  };

  // One issuance with fresh deterministic collaborators.
  Run issue(const SigningAuthority& authority, const IssuanceRequest& request) {
    Timeline timeline;
    FakeLedger ledger(timeline);
    CounterRng rng;
    base::FixedClock clock(kNow);
    const auto settings = test_settings();
    const auto profiles = test_profiles();
    Issuer issuer(settings, profiles, ledger, clock, rng);
    auto issued = issuer.issue(authority, request);
    if (!issued.ok()) throw std::runtime_error(issued.error().describe());
    if (ledger.reserves.size() != 1) throw std::runtime_error("expected one reservation");
    return {ledger.reserves[0].entry.tbs, std::move(issued).value()};
  }

  // Issues twice (determinism), compares with the golden file and writes the
  // TBS and the certificate for the openssl checks. Returns the certificate.
  pkix::Certificate golden(const std::string& profile, const SigningAuthority& authority,
                           const IssuanceRequest& request) {
    auto first = issue(authority, request);
    auto second = issue(authority, request);
    EXPECT_EQ(first.tbs, second.tbs) << "the TBS is not deterministic";
    EXPECT_EQ(tbs_of(first.issued.certificate.der()), first.tbs) << "the certificate does not sign the recorded TBS";

    const auto path = hallmark::testing::test_data("golden/" + profile + ".tbs.hex");
    const auto hex = base::hex_encode(first.tbs);
    if (update_golden()) {
      write_text(path, hex + "\n");
      std::cerr << "updated " << path << "\n";
    } else {
      EXPECT_TRUE(std::filesystem::exists(path))
          << path << " is missing: run with HALLMARK_UPDATE_GOLDEN=1 to create it";
      auto expected = read_text(path);
      while (!expected.empty() && (expected.back() == '\n' || expected.back() == '\r')) expected.pop_back();
      EXPECT_EQ(hex, expected) << "the " << profile
                               << " TBSCertificate changed; if intended, regenerate with HALLMARK_UPDATE_GOLDEN=1";
    }
    write_text(m_dir / "tbs.der", base::to_string(first.tbs));
    write_text(m_dir / "cert.pem", first.issued.certificate.pem());
    m_warnings = first.issued.warnings;
    return first.issued.certificate;
  }

  std::string text() { return must_run("openssl x509 -noout -text -in " + q("cert.pem")); }
  std::string dates() {
    return must_run("openssl x509 -noout -dateopt iso_8601 -startdate -enddate -in " + q("cert.pem"));
  }
  std::vector<std::string> tbs_asn1() {
    return asn1_lines(must_run("openssl asn1parse -inform DER -in " + q("tbs.der")));
  }
  // The value of one extension of the TBS, parsed by openssl asn1parse -strparse.
  std::vector<std::string> extension_asn1(const std::string& name) {
    const auto out = must_run("openssl asn1parse -inform DER -in " + q("tbs.der"));
    std::istringstream in(out);
    std::string line;
    bool found = false;
    while (std::getline(in, line)) {
      if (!found) {
        found = line.find(":" + name) != std::string::npos && line.find("OBJECT") != std::string::npos;
        continue;
      }
      if (line.find("OCTET STRING") == std::string::npos) continue;  // skip the critical BOOLEAN
      const auto offset = std::stoul(line.substr(0, line.find(':')));
      return asn1_lines(
          must_run("openssl asn1parse -inform DER -in " + q("tbs.der") + " -strparse " + std::to_string(offset)));
    }
    ADD_FAILURE() << "extension " << name << " not found in\n" << out;
    return {};
  }
  std::string verify(const std::string& extra) {
    const auto at = std::to_string(kNow.time_since_epoch().count());
    auto r = run("openssl verify -attime " + at + " -CAfile " + q("root.pem") + " " + extra + " " + q("cert.pem"));
    return r.out + r.err;
  }
  std::string q(const std::string& name) { return shell_quote((m_dir / name).string()); }

  static bool contains(const std::vector<std::string>& lines, const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  }
  static std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }

  TempDir m_dir;
  std::unique_ptr<keys::Signer> m_root_key, m_ca_key, m_device_key, m_server_key;
  pkix::Certificate m_root_cert, m_ca_cert;
  std::vector<std::string> m_warnings;
};

TEST_F(GoldenTest, RootIsSelfSignedCaWithThirtyYears) {
  IssuanceRequest r;
  r.profile = "root";
  r.public_key_der = m_root_key->public_key_der();
  r.common_name = "Hallmark Golden Root CA";
  r.validity_cap = calendar_years(30);
  const auto cert = golden("root", {"root", std::nullopt, m_root_key.get()}, r);
  write_text(m_dir / "root.pem", cert.pem());  // it is its own trust anchor

  const auto t = text();
  EXPECT_NE(t.find("Signature Algorithm: ecdsa-with-SHA384"), std::string::npos) << t;
  EXPECT_NE(t.find("Issuer: C = US, O = Acme Devices Inc, CN = Hallmark Golden Root CA"), std::string::npos) << t;
  EXPECT_NE(t.find("Subject: C = US, O = Acme Devices Inc, CN = Hallmark Golden Root CA"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Basic Constraints: critical\n                CA:TRUE\n"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign\n"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Subject Key Identifier: \n                " + colon_hex(key_id(*m_root_key))),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("NIST CURVE: P-384"), std::string::npos) << t;
  // 30 calendar years from the backdated notBefore; 2056 is GeneralizedTime (RFC 5280 §4.1.2.5).
  EXPECT_EQ(dates(), "notBefore=2026-05-31 23:59:00Z\nnotAfter=2056-05-31 23:59:00Z\n");
  const auto asn1 = tbs_asn1();
  EXPECT_TRUE(contains(asn1, "d=2 prim: UTCTIME :260531235900Z")) << joined(asn1);
  EXPECT_TRUE(contains(asn1, "d=2 prim: GENERALIZEDTIME :20560531235900Z")) << joined(asn1);
  EXPECT_NE(verify("").find("OK"), std::string::npos) << verify("");
}

TEST_F(GoldenTest, IntermediateCarriesThePathLenAndTheRootsKeyId) {
  IssuanceRequest r;
  r.profile = "intermediate";
  r.public_key_der = m_ca_key->public_key_der();
  r.common_name = "Hallmark Golden Factory CA";
  r.path_len = 0;
  r.validity_cap = calendar_years(25);
  golden("intermediate", {"root", m_root_cert, m_root_key.get()}, r);

  const auto t = text();
  EXPECT_NE(t.find("Issuer: C = US, O = Hallmark Test, CN = Hallmark Golden Root"), std::string::npos) << t;
  EXPECT_NE(t.find("Subject: C = US, O = Acme Devices Inc, CN = Hallmark Golden Factory CA"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign\n"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Authority Key Identifier: \n                " + colon_hex(key_id(*m_root_key))),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("X509v3 Subject Key Identifier: \n                " + colon_hex(key_id(*m_ca_key))),
            std::string::npos)
      << t;
  EXPECT_EQ(dates(), "notBefore=2026-05-31 23:59:00Z\nnotAfter=2051-05-31 23:59:00Z\n");
  EXPECT_NE(verify("").find("cert.pem: OK"), std::string::npos) << verify("");
  EXPECT_TRUE(m_warnings.empty());
}

TEST_F(GoldenTest, IdevidFollowsIeee8021AR) {
  auto r = device_request("idevid", *m_device_key, "HM-0000-0001", Channel::Factory);
  golden("idevid", {"factory", m_ca_cert, m_ca_key.get()}, r);

  const auto t = text();
  // Subject O=<vendor>, serialNumber=<device serial>, nothing else.
  EXPECT_NE(t.find("Subject: O = Acme Widgets, serialNumber = HM-0000-0001\n"), std::string::npos) << t;
  EXPECT_NE(t.find("Issuer: C = US, O = Hallmark Test, CN = Hallmark Golden Issuing CA"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Key Usage: critical\n                Digital Signature\n"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Authority Key Identifier: \n                " + colon_hex(key_id(*m_ca_key))),
            std::string::npos)
      << t;
  EXPECT_EQ(t.find("CA:TRUE"), std::string::npos) << t;
  EXPECT_EQ(t.find("Subject Key Identifier"), std::string::npos) << t;
  EXPECT_EQ(dates(), "notBefore=2026-05-31 23:59:00Z\nnotAfter=9999-12-31 23:59:59Z\n");

  // notAfter is GeneralizedTime 99991231235959Z; notBefore UTCTime.
  const auto asn1 = tbs_asn1();
  EXPECT_TRUE(contains(asn1, "d=2 prim: GENERALIZEDTIME :99991231235959Z")) << joined(asn1);
  EXPECT_TRUE(contains(asn1, "d=2 prim: UTCTIME :260531235900Z")) << joined(asn1);
  EXPECT_TRUE(contains(asn1, "d=4 prim: PRINTABLESTRING :HM-0000-0001")) << joined(asn1);

  // SAN: otherName HardwareModuleName (1.3.6.1.5.5.7.8.4) whose value is [0]
  // EXPLICIT SEQUENCE { hwType OID, hwSerialNum OCTET STRING } (RFC 4108 §5).
  const auto san = extension_asn1("X509v3 Subject Alternative Name");
  EXPECT_EQ(san, (std::vector<std::string>{
                     "d=0 cons: SEQUENCE",
                     "d=1 cons: cont [ 0 ]",
                     "d=2 prim: OBJECT :1.3.6.1.5.5.7.8.4",
                     "d=2 cons: cont [ 0 ]",
                     "d=3 cons: SEQUENCE",
                     "d=4 prim: OBJECT :1.3.6.1.4.1.55555.1.2",
                     "d=4 prim: OCTET STRING :HM-0000-0001",
                 }))
      << joined(san);
  EXPECT_NE(verify("-untrusted " + q("ca.pem")).find("cert.pem: OK"), std::string::npos)
      << verify("-untrusted " + q("ca.pem"));
  EXPECT_TRUE(m_warnings.empty());
}

TEST_F(GoldenTest, LdevidIsAClientCertificateBoundToTheDeviceSerialForNinetyDays) {
  auto r = device_request("ldevid", *m_device_key, "HM-0000-0001", Channel::Runtime);
  golden("ldevid", {"runtime", m_ca_cert, m_ca_key.get()}, r);

  const auto t = text();
  EXPECT_NE(t.find("Subject: O = Acme Devices Inc, serialNumber = HM-0000-0001\n"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Key Usage: critical\n                Digital Signature\n"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Extended Key Usage: \n                TLS Web Client Authentication\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("X509v3 Authority Key Identifier: \n                " + colon_hex(key_id(*m_ca_key))),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("X509v3 Subject Key Identifier: \n                " + colon_hex(key_id(*m_device_key))),
            std::string::npos)
      << t;
  EXPECT_EQ(t.find("CA:TRUE"), std::string::npos) << t;
  EXPECT_EQ(t.find("Subject Alternative Name"), std::string::npos) << t;
  // 90 days from the backdated notBefore.
  EXPECT_EQ(dates(), "notBefore=2026-05-31 23:59:00Z\nnotAfter=2026-08-29 23:59:00Z\n");
  const auto v = verify("-untrusted " + q("ca.pem") + " -purpose sslclient");
  EXPECT_NE(v.find("cert.pem: OK"), std::string::npos) << v;
}

TEST_F(GoldenTest, TlsServerCarriesTheRequestedNamesAndServerAuth) {
  IssuanceRequest r;
  r.profile = "tls-server";
  r.public_key_der = m_server_key->public_key_der();
  r.common_name = "est.example.com";
  r.dns_names = {"est.example.com", "ca.example.com"};
  r.ip_addresses = {"192.0.2.10", "2001:db8::10"};
  r.channel = Channel::Admin;
  golden("tls-server", {"runtime", m_ca_cert, m_ca_key.get()}, r);

  const auto t = text();
  EXPECT_NE(t.find("Subject: O = Acme Devices Inc, CN = est.example.com\n"), std::string::npos) << t;
  EXPECT_NE(t.find("X509v3 Subject Alternative Name: \n                DNS:est.example.com, "
                   "DNS:ca.example.com, "
                   "IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:10\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("X509v3 Extended Key Usage: \n                TLS Web Server Authentication\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("X509v3 Key Usage: critical\n                Digital Signature\n"), std::string::npos) << t;
  EXPECT_EQ(t.find("CA:TRUE"), std::string::npos) << t;
  EXPECT_EQ(dates(), "notBefore=2026-05-31 23:59:00Z\nnotAfter=2027-05-31 23:59:00Z\n");
  const auto v = verify("-untrusted " + q("ca.pem") + " -purpose sslserver -verify_hostname ca.example.com");
  EXPECT_NE(v.find("cert.pem: OK"), std::string::npos) << v;
  const auto wrong = verify("-untrusted " + q("ca.pem") + " -purpose sslserver -verify_hostname other.example.com");
  EXPECT_EQ(wrong.find("cert.pem: OK"), std::string::npos) << wrong;
}

}  // namespace
}  // namespace hallmark::ca
