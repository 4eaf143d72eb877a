#include "audit/record.h"

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/crypto.h"

using namespace hallmark;
using namespace hallmark::audit;

namespace {

const base::TimePoint kT0 = base::parse_date("2026-03-01T12:00:00Z").value();

Event sample_event() {
  Event e;
  e.actor = "cli:root";
  e.channel = Channel::Factory;
  e.action = "signed";
  e.cert_serial = "0A1B";
  e.profile = "idevid";
  e.evidence_digest = "none";
  e.detail = "device SN-1";
  return e;
}

}  // namespace

TEST(AuditChannel, NamesRoundTrip) {
  for (auto c : {Channel::Factory, Channel::Runtime, Channel::Admin}) {
    EXPECT_EQ(parse_channel(to_string(c)).value(), c);
  }
  EXPECT_EQ(to_string(Channel::Factory), "factory");
  EXPECT_EQ(to_string(Channel::Runtime), "runtime");
  EXPECT_EQ(to_string(Channel::Admin), "admin");
  EXPECT_FALSE(parse_channel("Factory").ok());
}

TEST(AuditRecord, GenesisIs32ZeroOctets) {
  EXPECT_EQ(genesis_hash(), base::Bytes(32, 0));
}

TEST(AuditRecord, CanonicalEncodingHasTagBigEndianIntegersAndLengthPrefixedFields) {
  Event e;
  e.actor = "a";
  e.channel = Channel::Admin;
  e.action = "";
  e.cert_serial = "";
  e.profile = "";
  e.evidence_digest = "none";
  e.detail = "";
  const auto enc = canonical_encoding(0x0102030405060708ULL, base::TimePoint{std::chrono::seconds{-1}}, e);
  std::string expected = "hallmark-audit-v1";
  expected += std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  expected += std::string(8, '\xff');  // -1 in two's complement
  expected += std::string("\0\0\0\1a", 5);
  expected += std::string("\0\0\0\5admin", 9);
  expected += std::string(3 * 4, '\0');  // action, cert_serial, profile
  expected += std::string("\0\0\0\4none", 8);
  expected += std::string(4, '\0');  // detail
  EXPECT_EQ(base::to_string(enc), expected);
}

TEST(AuditRecord, CanonicalEncodingIsUnambiguousAcrossFieldBoundaries) {
  Event a = sample_event();
  Event b = sample_event();
  a.actor = "ab";
  a.action = "c";
  b.actor = "a";
  b.action = "bc";
  // Adjacent fields too: profile/evidence_digest.
  Event c = sample_event();
  Event d = sample_event();
  c.profile = "x";
  c.evidence_digest = "yz";
  d.profile = "xy";
  d.evidence_digest = "z";
  EXPECT_NE(canonical_encoding(1, kT0, a), canonical_encoding(1, kT0, b));
  EXPECT_NE(chain_hash(genesis_hash(), 1, kT0, a), chain_hash(genesis_hash(), 1, kT0, b));
  EXPECT_NE(chain_hash(genesis_hash(), 1, kT0, c), chain_hash(genesis_hash(), 1, kT0, d));
}

TEST(AuditRecord, HashCoversEveryFieldSequenceTimeAndPreviousHash) {
  const Event e = sample_event();
  const auto base_hash = chain_hash(genesis_hash(), 1, kT0, e);
  EXPECT_EQ(base_hash.size(), kHashSize);
  EXPECT_NE(chain_hash(genesis_hash(), 2, kT0, e), base_hash);
  EXPECT_NE(chain_hash(genesis_hash(), 1, kT0 + std::chrono::seconds{1}, e), base_hash);
  base::Bytes other_prev(32, 1);
  EXPECT_NE(chain_hash(other_prev, 1, kT0, e), base_hash);
  auto changed = [&](auto mutate) {
    Event m = e;
    mutate(m);
    return chain_hash(genesis_hash(), 1, kT0, m) != base_hash;
  };
  EXPECT_TRUE(changed([](Event& m) { m.actor += "x"; }));
  EXPECT_TRUE(changed([](Event& m) { m.channel = Channel::Runtime; }));
  EXPECT_TRUE(changed([](Event& m) { m.action += "x"; }));
  EXPECT_TRUE(changed([](Event& m) { m.cert_serial += "x"; }));
  EXPECT_TRUE(changed([](Event& m) { m.profile += "x"; }));
  EXPECT_TRUE(changed([](Event& m) { m.evidence_digest = "ab"; }));
  EXPECT_TRUE(changed([](Event& m) { m.detail += "x"; }));
}

TEST(AuditRecord, HashIsSha256OfPreviousHashAndEncoding) {
  const Event e = sample_event();
  base::Bytes input = genesis_hash();
  const auto enc = canonical_encoding(1, kT0, e);
  input.insert(input.end(), enc.begin(), enc.end());
  EXPECT_EQ(chain_hash(genesis_hash(), 1, kT0, e), base::sha256(input));
}

TEST(AuditRecord, SealLinksToThePreviousRecord) {
  const Record first = seal(std::nullopt, kT0, sample_event());
  EXPECT_EQ(first.sequence, 1u);
  EXPECT_EQ(first.prev_hash, genesis_hash());
  EXPECT_EQ(first.hash, chain_hash(genesis_hash(), 1, kT0, sample_event()));
  EXPECT_EQ(first.event, sample_event());

  const Record second = seal(first, kT0 + std::chrono::seconds{5}, sample_event());
  EXPECT_EQ(second.sequence, 2u);
  EXPECT_EQ(second.prev_hash, first.hash);
  EXPECT_EQ(second.hash, chain_hash(first.hash, 2, second.time, sample_event()));
  EXPECT_NE(second.hash, first.hash);
}

TEST(AuditRecord, CheckpointMessageIsDomainSeparatedAndCoversItsInputs) {
  const base::Bytes head(32, 7);
  const auto msg = checkpoint_message(1000, head, kT0);
  EXPECT_EQ(base::to_string(base::ByteView(msg).first(28)), "hallmark-audit-checkpoint-v1");
  EXPECT_NE(checkpoint_message(1001, head, kT0), msg);
  EXPECT_NE(checkpoint_message(1000, base::Bytes(32, 8), kT0), msg);
  EXPECT_NE(checkpoint_message(1000, head, kT0 + std::chrono::seconds{1}), msg);
}
