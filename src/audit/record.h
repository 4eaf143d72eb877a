// Audit records and the hash chain that links them.
//
// hash(n) = SHA-256( prev_hash(n) || canonical_encoding(record n) ), with
// prev_hash(1) = 32 zero octets. The canonical encoding is a fixed sequence of
// length-prefixed fields (see record.cpp), so that the same record always hashes
// the same wherever it is stored or exported.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"

namespace hallmark::audit {

enum class Channel { Factory, Runtime, Admin };
std::string_view to_string(Channel c);
base::Result<Channel> parse_channel(std::string_view s);

// What happened; the caller fills this in.
struct Event {
  std::string actor;  // who: "cli:root", "station:site-1/station-1", "est:<fp>"
  Channel channel = Channel::Admin;
  std::string action;                    // "signing", "signed", "revoke", "init", …
  std::string cert_serial;               // upper-case hex, or empty
  std::string profile;                   // or empty
  std::string evidence_digest = "none";  // hex SHA-256 of the evidence, or "none"
  std::string detail;                    // free text (device serial, reason…)
  bool operator==(const Event&) const = default;
};

// An event placed in the chain.
struct Record {
  std::uint64_t sequence = 0;  // 1, 2, 3, … without gaps
  base::TimePoint time;
  Event event;
  base::Bytes prev_hash;  // 32 octets
  base::Bytes hash;       // 32 octets
};

inline constexpr std::size_t kHashSize = 32;
base::Bytes genesis_hash();  // 32 zero octets

base::Bytes canonical_encoding(std::uint64_t sequence, base::TimePoint time, const Event& e);
base::Bytes chain_hash(base::ByteView prev_hash, std::uint64_t sequence, base::TimePoint time, const Event& e);
// A record linked after `prev` (nullopt for the first record).
Record seal(const std::optional<Record>& prev, base::TimePoint time, Event e);

// A signed statement "the chain has `sequence` records and its head hash is `head_hash`".
struct Checkpoint {
  std::uint64_t sequence = 0;
  base::Bytes head_hash;
  base::TimePoint time;
  std::string signature_algorithm;  // base::to_string(SignatureAlgorithm)
  base::Bytes signature;
};
// The octets an audit key signs for a checkpoint.
base::Bytes checkpoint_message(std::uint64_t sequence, base::ByteView head_hash, base::TimePoint time);

}  // namespace hallmark::audit
