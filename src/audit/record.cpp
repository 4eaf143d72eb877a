#include "audit/record.h"

#include "base/crypto.h"

namespace hallmark::audit {
namespace {

// Domain tags: a record encoding can never be mistaken for a checkpoint message
// (or for anything else the audit key or the chain might cover), and a future
// encoding gets a new tag instead of silently changing what old hashes mean.
constexpr std::string_view kRecordTag = "hallmark-audit-v1";
constexpr std::string_view kCheckpointTag = "hallmark-audit-checkpoint-v1";

void put_u64(base::Bytes& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>((v >> shift) & 0xFF));
  }
}

// Seconds since the epoch as a two's-complement 64-bit big-endian integer.
void put_time(base::Bytes& out, base::TimePoint t) {
  put_u64(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(t.time_since_epoch().count())));
}

// A 4-byte big-endian length, then the octets: with every variable field
// length-prefixed, no two different records share an encoding ("ab"+"c" is not
// "a"+"bc").
void put_field(base::Bytes& out, base::ByteView data) {
  // Fields are short texts; a 4 GiB field cannot reach here through any store.
  const auto len = static_cast<std::uint32_t>(data.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>((len >> shift) & 0xFF));
  }
  out.insert(out.end(), data.begin(), data.end());
}

void put_field(base::Bytes& out, std::string_view text) {
  put_field(out, base::view(text));
}

void put_tag(base::Bytes& out, std::string_view tag) {
  out.insert(out.end(), tag.begin(), tag.end());
}

}  // namespace

std::string_view to_string(Channel c) {
  switch (c) {
    case Channel::Factory:
      return "factory";
    case Channel::Runtime:
      return "runtime";
    case Channel::Admin:
      return "admin";
  }
  return "admin";
}

base::Result<Channel> parse_channel(std::string_view s) {
  for (auto c : {Channel::Factory, Channel::Runtime, Channel::Admin}) {
    if (to_string(c) == s) return c;
  }
  return base::make_error(base::ErrorCode::InvalidArgument,
                          "unknown channel '" + std::string(s) + "': use factory, runtime or admin");
}

base::Bytes genesis_hash() {
  return base::Bytes(kHashSize, 0);
}

// Layout (all integers big-endian):
//   "hallmark-audit-v1" | sequence (8) | time (8, signed seconds since epoch) |
//   len(4)+actor | len+channel | len+action | len+cert_serial | len+profile |
//   len+evidence_digest | len+detail
base::Bytes canonical_encoding(std::uint64_t sequence, base::TimePoint time, const Event& e) {
  base::Bytes out;
  out.reserve(kRecordTag.size() + 16 + 7 * 4 + e.actor.size() + e.action.size() + e.cert_serial.size() +
              e.profile.size() + e.evidence_digest.size() + e.detail.size() + 8);
  put_tag(out, kRecordTag);
  put_u64(out, sequence);
  put_time(out, time);
  put_field(out, e.actor);
  put_field(out, to_string(e.channel));
  put_field(out, e.action);
  put_field(out, e.cert_serial);
  put_field(out, e.profile);
  put_field(out, e.evidence_digest);
  put_field(out, e.detail);
  return out;
}

base::Bytes chain_hash(base::ByteView prev_hash, std::uint64_t sequence, base::TimePoint time, const Event& e) {
  base::Bytes input(prev_hash.begin(), prev_hash.end());
  const auto encoding = canonical_encoding(sequence, time, e);
  input.insert(input.end(), encoding.begin(), encoding.end());
  return base::sha256(input);
}

Record seal(const std::optional<Record>& prev, base::TimePoint time, Event e) {
  Record r;
  r.sequence = prev ? prev->sequence + 1 : 1;
  r.time = time;
  r.prev_hash = prev ? prev->hash : genesis_hash();
  r.hash = chain_hash(r.prev_hash, r.sequence, r.time, e);
  r.event = std::move(e);
  return r;
}

// Layout: "hallmark-audit-checkpoint-v1" | sequence (8) | len(4)+head_hash | time (8).
base::Bytes checkpoint_message(std::uint64_t sequence, base::ByteView head_hash, base::TimePoint time) {
  base::Bytes out;
  out.reserve(kCheckpointTag.size() + 8 + 4 + head_hash.size() + 8);
  put_tag(out, kCheckpointTag);
  put_u64(out, sequence);
  put_field(out, head_hash);
  put_time(out, time);
  return out;
}

}  // namespace hallmark::audit
