// Internal to audit: checks a chain record by record, so that a log of millions of
// records is verified without holding it in memory (only each record's 32-octet
// hash is kept, to match the checkpoints at the end). verify_chain, AuditLog::verify
// and verify_export all go through it, so they report the same problems in the same
// words.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "audit/audit_log.h"
#include "audit/record.h"
#include "base/bytes.h"

namespace hallmark::audit {

class ChainVerifier {
 public:
  // Feeds the next record in log order. After the first broken record the rest
  // are only counted.
  void add(const Record& record);

  // Checks the checkpoints (in any order) against the records fed so far and the
  // audit public key, and returns the report. With `require_covered_head` the
  // newest record must be covered by a checkpoint: an export always ends with one,
  // so records past the last checkpoint were appended to it or its final
  // checkpoint was removed.
  VerifyReport finish(const std::vector<Checkpoint>& checkpoints, base::ByteView audit_public_key_der,
                      bool require_covered_head = false);

 private:
  void fail(std::optional<std::uint64_t> first_bad, std::string problem);

  VerifyReport m_report;
  std::uint64_t m_expected = 1;
  base::Bytes m_prev = genesis_hash();
  std::vector<std::array<std::uint8_t, kHashSize>> m_hashes;  // [i] = hash of record i+1
};

// The SignatureAlgorithm a checkpoint names (base::to_string's spelling).
base::Result<base::SignatureAlgorithm> parse_signature_algorithm(std::string_view name);

}  // namespace hallmark::audit
