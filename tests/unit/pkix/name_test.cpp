#include "pkix/name.h"

#include <gtest/gtest.h>

#include "pkix/der.h"
#include "pkix/oid.h"
#include "pkix_test_util.h"

using namespace hallmark;
using namespace hallmark::pkix;
using base::Bytes;

TEST(Name, SerialNumberAndCountryArePrintableStringOthersUtf8String) {
  Name n;
  ASSERT_TRUE(n.add(oid::kCountry, "CA").ok());
  ASSERT_TRUE(n.add(oid::kOrganization, "Acme").ok());
  ASSERT_TRUE(n.add(oid::kSerialNumber, "SN-1").ok());
  // 30 len { 31 { 30 { 06 03 55 04 06, 13 02 "CA" } } ... }
  const Bytes& d = n.der();
  auto seq = der::parse_single(d, der::kSequence, "Name").value();
  der::Reader rdns(seq.content);
  std::vector<std::uint8_t> tags;
  while (!rdns.at_end()) {
    auto rdn = rdns.read(der::kSet, "rdn").value();
    auto atv = der::parse_single(rdn.content, der::kSequence, "atv").value();
    der::Reader f(atv.content);
    (void)f.read(der::kOid, "type").value();
    tags.push_back(f.read_any().value().tag);
  }
  EXPECT_EQ(tags, (std::vector<std::uint8_t>{0x13, 0x0C, 0x13}));
}

TEST(Name, ToStringUsesShortNamesInEncodingOrder) {
  Name n;
  ASSERT_TRUE(n.add(oid::kOrganization, "Acme").ok());
  ASSERT_TRUE(n.add(oid::kSerialNumber, "SN-1").ok());
  EXPECT_EQ(n.to_string(), "O=Acme, serialNumber=SN-1");
  ASSERT_TRUE(n.add("1.3.6.1.4.1.37244.2.1", "FFF1").ok());
  EXPECT_EQ(n.to_string(), "O=Acme, serialNumber=SN-1, 1.3.6.1.4.1.37244.2.1=FFF1");
}

TEST(Name, ToStringEscapesSeparators) {
  Name n;
  ASSERT_TRUE(n.add(oid::kOrganization, "IOT-R-US, Inc.").ok());
  EXPECT_EQ(n.to_string(), "O=IOT-R-US\\, Inc.");
}

TEST(Name, RefusesValuesPrintableStringCannotHold) {
  Name n;
  auto r = n.add(oid::kSerialNumber, "SN_1@x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, base::ErrorCode::InvalidArgument);
  EXPECT_FALSE(n.add(oid::kCountry, "Canada").ok());
  EXPECT_FALSE(n.add(oid::kCommonName, "").ok());
  EXPECT_FALSE(n.add("not.an.oid", "x").ok());
  EXPECT_TRUE(n.empty());
  EXPECT_EQ(base::hex_encode(n.der()), "3000");
}

TEST(Name, DecodesWhatItEncodesAndKeepsTheOctets) {
  Name n;
  ASSERT_TRUE(n.add(oid::kCommonName, "Zürich device").ok());
  ASSERT_TRUE(n.add(oid::kSerialNumber, "00-D0-E5-F2-00-02").ok());
  auto back = Name::from_der(n.der());
  ASSERT_TRUE(back.ok()) << back.error().describe();
  EXPECT_EQ(back->attributes(), n.attributes());
  EXPECT_EQ(back.value(), n);
  EXPECT_EQ(back->get(oid::kSerialNumber), "00-D0-E5-F2-00-02");
  EXPECT_FALSE(back->get(oid::kCountry).has_value());
}

TEST(Name, DecodesANameMadeByOpenssl) {
  using namespace hallmark::pkix::testutil;
  hallmark::testing::TempDir dir;
  must_run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + q(dir / "k.pem") +
           " -subj '/C=US/ST=NC/L=RTP/O=Acme Devices/OU=Line 1/CN=dev+serialNumber=SN-7' -out " + q(dir / "r.pem"));
  must_run("openssl req -in " + q(dir / "r.pem") + " -outform DER -out " + q(dir / "r.der"));
  // The subject is the second element of CertificationRequestInfo.
  const Bytes csr = read_file(dir / "r.der");
  auto outer = der::parse_single(csr, der::kSequence, "csr").value();
  auto info = der::Reader(outer.content).read(der::kSequence, "info").value();
  der::Reader r(info.content);
  (void)r.read(der::kInteger, "version").value();
  auto subject = r.read(der::kSequence, "subject").value();
  auto name = Name::from_der(subject.encoded);
  ASSERT_TRUE(name.ok()) << name.error().describe();
  // The multi-valued last RDN is flattened in order.
  EXPECT_EQ(name->to_string(), "C=US, ST=NC, L=RTP, O=Acme Devices, OU=Line 1, CN=dev, serialNumber=SN-7");
}

TEST(Name, RefusesMalformedDer) {
  EXPECT_FALSE(Name::from_der(Bytes{0x30, 0x02, 0x31, 0x00}).ok());  // empty RDN
  EXPECT_FALSE(Name::from_der(Bytes{0x31, 0x00}).ok());
  EXPECT_FALSE(Name::from_der(Bytes{0x30, 0x00, 0x00}).ok());
}
