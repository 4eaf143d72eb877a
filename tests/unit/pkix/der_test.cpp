#include "pkix/der.h"

#include <gtest/gtest.h>

using namespace hallmark;
using namespace hallmark::pkix;
using base::Bytes;
using namespace std::chrono;

namespace {
base::TimePoint at(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return base::TimePoint(sys_days(year(y) / month(m) / day(d))) + hours(hh) + minutes(mm) + seconds(ss);
}
}  // namespace

TEST(DerOid, EncodesTcgTpm20AsInStandardsDigest) {
  // standards.md §1: DER of hwType 2.23.133.1.2 is 06 05 67 81 05 01 02.
  EXPECT_EQ(base::hex_encode(der::oid("2.23.133.1.2").value()), "06056781050102");
}

TEST(DerOid, DecodesWhatItEncodes) {
  for (const char* o : {"1.2.840.10045.2.1", "2.5.4.5", "1.3.6.1.5.5.7.8.4", "2.999.3", "0.9.2342"}) {
    const Bytes encoded = der::oid(o).value();
    auto tlv = der::parse_single(encoded, der::kOid, "oid").value();
    EXPECT_EQ(der::decode_oid(tlv.content).value(), o);
  }
}

TEST(DerOid, RefusesTextThatIsNotAnOid) {
  for (const char* o : {"", "1", "1.", ".1.2", "1..2", "3.1", "1.40", "1.2.x", "1.02"}) {
    auto r = der::oid(o);
    ASSERT_FALSE(r.ok()) << o;
    EXPECT_EQ(r.error().code, base::ErrorCode::InvalidArgument);
  }
}

TEST(DerOid, RefusesNonMinimalSubidentifiers) {
  const Bytes content = {0x2A, 0x80, 0x01};
  EXPECT_FALSE(der::decode_oid(content).ok());
}

TEST(DerInteger, UnsignedAddsLeadingZeroWhenHighBitIsSet) {
  EXPECT_EQ(base::hex_encode(der::unsigned_integer(Bytes{0x8F, 0x01})), "0203008f01");
  EXPECT_EQ(base::hex_encode(der::unsigned_integer(Bytes{0x00, 0x00, 0x7F})), "02017f");
  EXPECT_EQ(base::hex_encode(der::unsigned_integer(Bytes{0x00})), "020100");
}

TEST(DerInteger, SignedValuesAreMinimal) {
  EXPECT_EQ(base::hex_encode(der::integer(0)), "020100");
  EXPECT_EQ(base::hex_encode(der::integer(2)), "020102");
  EXPECT_EQ(base::hex_encode(der::integer(128)), "02020080");
  EXPECT_EQ(base::hex_encode(der::integer(-1)), "0201ff");
  EXPECT_EQ(base::hex_encode(der::integer(-129)), "0202ff7f");
  EXPECT_EQ(der::decode_integer(Bytes{0xFF, 0x7F}, "x").value(), -129);
  EXPECT_FALSE(der::decode_integer(Bytes{0x00, 0x01}, "x").ok());
}

TEST(DerTime, UtcTimeThrough2049AndGeneralizedTimeFrom2050) {
  EXPECT_EQ(base::to_string(der::time(at(2030, 1, 2, 3, 4, 5)).value()).substr(2), "300102030405Z");
  EXPECT_EQ(der::time(at(2049, 12, 31, 23, 59, 59)).value()[0], der::kUtcTime);
  EXPECT_EQ(der::time(at(2050, 1, 1)).value()[0], der::kGeneralizedTime);
  EXPECT_EQ(base::to_string(der::time(at(2051, 6, 1)).value()).substr(2), "20510601000000Z");
  EXPECT_EQ(der::time(at(1949, 1, 1)).value()[0], der::kGeneralizedTime);
}

TEST(DerTime, DecodesBothFormsWithThe1950Pivot) {
  auto decode = [](std::uint8_t tag, const char* s) {
    const Bytes enc = der::tlv(tag, base::view(s));
    return der::decode_time(der::parse_single(enc, tag, "t").value());
  };
  EXPECT_EQ(decode(der::kUtcTime, "491231235959Z").value(), at(2049, 12, 31, 23, 59, 59));
  EXPECT_EQ(decode(der::kUtcTime, "500101000000Z").value(), at(1950, 1, 1));
  EXPECT_EQ(decode(der::kGeneralizedTime, "99991231235959Z").value(), at(9999, 12, 31, 23, 59, 59));
  EXPECT_FALSE(decode(der::kUtcTime, "500101000000+0100").ok());
  EXPECT_FALSE(decode(der::kGeneralizedTime, "20230230000000Z").ok());
}

TEST(DerReader, RefusesIndefiniteAndNonMinimalLengths) {
  EXPECT_FALSE(der::read_header(Bytes{0x30, 0x80}).ok());
  EXPECT_FALSE(der::read_header(Bytes{0x30, 0x81, 0x05}).ok());
  EXPECT_FALSE(der::read_header(Bytes{0x30, 0x82, 0x00, 0x90}).ok());
  EXPECT_TRUE(der::read_header(Bytes{0x30, 0x81, 0x80}).ok());
}

TEST(DerReader, ReportsTruncationAndTrailingData) {
  auto cut = der::parse_single(Bytes{0x04, 0x05, 0x01}, der::kOctetString, "x");
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().detail.find("truncated"), std::string::npos);
  auto trailing = der::parse_single(Bytes{0x05, 0x00, 0x00}, der::kNull, "x");
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.error().detail.find("after the last element"), std::string::npos);
}

TEST(DerReader, WalksNestedElementsAndOptionalFields) {
  const Bytes data = der::sequence({der::integer(5), der::explicit_tag(0, der::null())});
  auto seq = der::parse_single(data, der::kSequence, "s").value();
  der::Reader r(seq.content, "s");
  auto missing = r.read_optional(der::kBoolean).value();
  EXPECT_FALSE(missing.has_value());
  EXPECT_EQ(der::decode_integer(r.read(der::kInteger, "n").value().content, "n").value(), 5);
  auto tagged = r.read(der::context_tag(0, true), "[0]");
  ASSERT_TRUE(tagged.ok());
  EXPECT_EQ(base::hex_encode(tagged->content), "0500");
  EXPECT_TRUE(r.expect_end().ok());
}

TEST(DerSetOf, SortsElementsByEncoding) {
  const Bytes set = der::set_of({der::integer(3), der::integer(1), der::boolean(true)});
  EXPECT_EQ(base::hex_encode(set), "31090101ff020101020103");
}

TEST(DerStrings, CharacterSetChecks) {
  EXPECT_TRUE(der::is_printable_string("SN-00:01 (a)=?"));
  EXPECT_FALSE(der::is_printable_string("a_b"));
  EXPECT_FALSE(der::is_printable_string("x@y"));
  EXPECT_TRUE(der::is_valid_utf8("Zürich €"));
  EXPECT_FALSE(der::is_valid_utf8("\xC3"));
  EXPECT_FALSE(der::is_valid_utf8("\xC0\xAF"));  // overlong '/'
}

TEST(DerLength, LongContentUsesLongFormLength) {
  const Bytes content(300, 0xAB);
  const Bytes enc = der::octet_string(content);
  EXPECT_EQ(base::hex_encode(Bytes(enc.begin(), enc.begin() + 4)), "0482012c");
  EXPECT_EQ(der::parse_single(enc, der::kOctetString, "x").value().content.size(), 300u);
}
