// OCSP request decoding (what anyone may send) and response encoding, the
// latter read back with OpenSSL's decoder.
#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include "pkix/crl.h"
#include "pkix/der.h"
#include "pkix/ocsp.h"
#include "pkix/oid.h"

namespace hallmark::pkix {
namespace {

using base::Bytes;
using base::ErrorCode;

Bytes cert_id(const char* hash_oid = oid::kSha1, std::size_t width = 20, Bytes serial = {0x12, 0x34}) {
  return der::sequence({der::sequence({der::oid_constant(hash_oid), der::null()}), der::octet_string(Bytes(width, 1)),
                        der::octet_string(Bytes(width, 2)), der::tlv(der::kInteger, serial)});
}

Bytes request(const std::vector<Bytes>& ids, std::optional<Bytes> nonce = std::nullopt) {
  Bytes list;
  for (const auto& id : ids) {
    const auto r = der::sequence({id});
    list.insert(list.end(), r.begin(), r.end());
  }
  Bytes exts;
  if (nonce) {
    exts = der::explicit_tag(2, encode_extensions({{oid::kOcspNonce, false, der::octet_string(*nonce)}}).value());
  }
  return der::sequence({der::sequence({der::tlv(der::kSequence, list), exts})});
}

TEST(OcspRequest, DecodesCertIdsAndTheNonce) {
  auto r = decode_ocsp_request(request({cert_id(), cert_id(oid::kSha256, 32, {0x00, 0x9A})}, Bytes(16, 7)));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(r->ids.size(), 2u);
  EXPECT_EQ(r->ids[0].hash, OcspHash::Sha1);
  EXPECT_EQ(r->ids[0].serial_hex, "1234");
  EXPECT_EQ(r->ids[1].hash, OcspHash::Sha256);
  EXPECT_EQ(r->ids[1].serial_hex, "9A");
  EXPECT_EQ(r->ids[0].encoded, cert_id());
  ASSERT_TRUE(r->nonce.has_value());
  EXPECT_EQ(*r->nonce, Bytes(16, 7));
}

TEST(OcspRequest, RefusesNoncesOutsideOneTo128Octets) {
  EXPECT_TRUE(decode_ocsp_request(request({cert_id()}, Bytes(128, 1))).ok());
  for (std::size_t n : {0u, 129u}) {
    auto r = decode_ocsp_request(request({cert_id()}, Bytes(n, 1)));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::Malformed);
    EXPECT_NE(r.error().detail.find("RFC 9654"), std::string::npos) << r.error().detail;
  }
}

// Extensions written by hand: the encoder would not write a duplicate.
Bytes request_with(const std::vector<Extension>& exts) {
  Bytes items;
  for (const auto& e : exts) {
    const Bytes id = der::oid_constant(e.oid);
    const Bytes one = e.critical ? der::sequence({id, der::boolean(true), der::octet_string(e.value)})
                                 : der::sequence({id, der::octet_string(e.value)});
    items.insert(items.end(), one.begin(), one.end());
  }
  const auto list = der::sequence({cert_id()});
  return der::sequence({der::sequence({der::sequence({list}), der::explicit_tag(2, der::tlv(der::kSequence, items))})});
}

TEST(OcspRequest, RefusesTwoNoncesAndAnUnknownCriticalExtension) {
  const Extension nonce{oid::kOcspNonce, false, der::octet_string(Bytes(8, 1))};
  const Extension other{oid::kOcspNonce, false, der::octet_string(Bytes(8, 2))};
  const Extension unknown{"1.3.6.1.4.1.55555.9", true, der::null()};
  const Extension unknown_soft{"1.3.6.1.4.1.55555.9", false, der::null()};
  EXPECT_TRUE(decode_ocsp_request(request_with({nonce, unknown_soft})).ok());  // non-critical: ignored
  for (const auto& exts : {std::vector<Extension>{nonce, other}, std::vector<Extension>{nonce, unknown}}) {
    auto r = decode_ocsp_request(request_with(exts));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::Malformed) << r.error().detail;
  }
}

TEST(OcspRequest, RefusesHashesOtherThanSha1AndSha256) {
  auto r = decode_ocsp_request(request({cert_id("1.2.840.113549.2.5", 16)}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unsupported);
  auto wrong_width = decode_ocsp_request(request({cert_id(oid::kSha256, 20)}));
  ASSERT_FALSE(wrong_width.ok());
  EXPECT_EQ(wrong_width.error().code, ErrorCode::Malformed);
}

TEST(OcspRequest, RefusesGarbageTruncationTrailingBytesAndTooManyIds) {
  EXPECT_EQ(decode_ocsp_request(base::view("garbage")).error().code, ErrorCode::Malformed);
  auto good = request({cert_id()});
  EXPECT_EQ(decode_ocsp_request(base::ByteView(good).subspan(0, good.size() - 1)).error().code, ErrorCode::Malformed);
  auto trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(decode_ocsp_request(trailing).error().code, ErrorCode::Malformed);
  EXPECT_EQ(decode_ocsp_request(request({})).error().code, ErrorCode::Malformed);
  EXPECT_TRUE(decode_ocsp_request(request(std::vector<Bytes>(kMaxOcspRequestIds, cert_id()))).ok());
  EXPECT_EQ(decode_ocsp_request(request(std::vector<Bytes>(kMaxOcspRequestIds + 1, cert_id()))).error().code,
            ErrorCode::Malformed);
}

TEST(OcspResponse, ErrorResponsesAreUnsignedStatusesOpensslReads) {
  for (auto s : {OcspStatus::MalformedRequest, OcspStatus::Unauthorized, OcspStatus::TryLater}) {
    const auto der = ocsp_error_response(s);
    const unsigned char* p = der.data();
    OCSP_RESPONSE* resp = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size()));
    ASSERT_NE(resp, nullptr);
    EXPECT_EQ(OCSP_response_status(resp), static_cast<int>(s));
    OCSP_RESPONSE_free(resp);
  }
}

TEST(Crl, RefusesAMissingKeyIdentifierAndNextUpdateNotAfterThisUpdate) {
  CrlSpec spec;
  spec.this_update = base::TimePoint{std::chrono::seconds{1'790'000'000}};
  spec.next_update = spec.this_update + std::chrono::hours(1);
  EXPECT_EQ(encode_tbs_cert_list(spec).error().code, ErrorCode::InvalidArgument);
  spec.authority_key_id = Bytes(20, 3);
  EXPECT_TRUE(encode_tbs_cert_list(spec).ok());
  spec.next_update = spec.this_update;
  EXPECT_EQ(encode_tbs_cert_list(spec).error().code, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace hallmark::pkix
