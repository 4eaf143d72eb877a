// EST wire helpers: base64 line format, CsrAttrs, certs-only CMS.
#include <gtest/gtest.h>

#include "base/bytes.h"
#include "pkix/cms.h"
#include "proto/est/est_service.h"
#include "support/test_support.h"

namespace hallmark::proto::est {
namespace {

TEST(EstBase64, WritesLfTerminatedLinesOf64) {
  base::Bytes data(100, 0xAB);
  const auto text = base64_lines(data);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\n'), 64u);
  EXPECT_EQ(base::base64_decode(text).value(), data);
}

TEST(EstCsrAttrs, IsASequenceAndAdvertisesChallengePasswordOnlyWithPop) {
  ra::EnrollmentPolicy p;
  auto plain = csr_attributes(p);
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(plain[0], 0x30);
  const base::Bytes challenge = {0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x07};
  auto has = [&](const base::Bytes& b) {
    return std::search(b.begin(), b.end(), challenge.begin(), challenge.end()) != b.end();
  };
  EXPECT_FALSE(has(plain));
  p.pop_linking = true;
  EXPECT_TRUE(has(csr_attributes(p)));
}

TEST(EstCms, CertsOnlyRoundTripsAndOpensslReadsIt) {
  testing::TempDir tmp;
  const auto key = (tmp / "k.pem").string(), crt = (tmp / "c.pem").string();
  ASSERT_EQ(testing::run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key +
                         " -subj /CN=t -days 2 -out " + crt)
                .exit_code,
            0);
  auto cert = pkix::Certificate::parse(base::to_bytes(testing::read_text(crt)));
  ASSERT_TRUE(cert.ok());
  auto der = pkix::encode_certs_only({cert.value()});
  ASSERT_TRUE(der.ok());
  auto back = pkix::decode_certs_only(der.value());
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ(back->front().der(), cert->der());
  testing::write_text(tmp / "p7.der", base::to_string(der.value()));
  auto r = testing::run("openssl pkcs7 -inform DER -in " + (tmp / "p7.der").string() + " -print_certs -noout");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(pkix::decode_certs_only(base::to_bytes("garbage")).ok());
}

TEST(EstCms, EnvelopedDataForAKekDecryptsWithOpenssl) {
  hallmark::testing::TempDir dir;
  const base::Bytes kek(32, 0x42);
  const base::Bytes id{0x01, 0x02};
  const base::Bytes secret = base::to_bytes("the key package");
  auto env = pkix::encrypt_for_kek(secret, "1.2.840.113549.1.7.1", kek, id);
  ASSERT_TRUE(env.ok()) << env.error().describe();
  hallmark::testing::write_text(dir / "e.der", base::to_string(env.value()));
  auto r = hallmark::testing::run("openssl cms -decrypt -inform DER -in " + (dir / "e.der").string() +
                                  " -secretkeyid 0102 -secretkey " + base::hex_encode(kek));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "the key package");
  EXPECT_FALSE(pkix::encrypt_for_kek(secret, "1.2.840.113549.1.7.1", base::Bytes(15, 1), id).ok());
  EXPECT_FALSE(pkix::encrypt_for_kek(secret, "1.2.840.113549.1.7.1", kek, {}).ok());
}

}  // namespace
}  // namespace hallmark::proto::est
