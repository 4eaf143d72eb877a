#include "audit/chain_verifier.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "base/clock.h"
#include "base/crypto.h"

namespace hallmark::audit {
namespace {

std::string num(std::uint64_t n) {
  return std::to_string(n);
}

bool equal(base::ByteView a, base::ByteView b) {
  return std::ranges::equal(a, b);
}

std::string describe(const Checkpoint& cp) {
  return "checkpoint at record " + num(cp.sequence) + " (signed " + base::format_rfc3339(cp.time) + ")";
}

}  // namespace

base::Result<base::SignatureAlgorithm> parse_signature_algorithm(std::string_view name) {
  using base::SignatureAlgorithm;
  for (auto a : {SignatureAlgorithm::EcdsaSha256, SignatureAlgorithm::EcdsaSha384, SignatureAlgorithm::RsaPkcs1Sha256,
                 SignatureAlgorithm::RsaPkcs1Sha384, SignatureAlgorithm::Ed25519}) {
    if (base::to_string(a) == name) return a;
  }
  return base::make_error(base::ErrorCode::Unsupported, "unknown signature algorithm '" + std::string(name) + "'");
}

void ChainVerifier::fail(std::optional<std::uint64_t> first_bad, std::string problem) {
  m_report.ok = false;
  m_report.first_bad_sequence = first_bad;
  m_report.problem = std::move(problem);
}

void ChainVerifier::add(const Record& r) {
  ++m_report.records;
  if (!m_report.ok) return;
  const std::uint64_t seq = r.sequence;

  // Continuity first: a missing, duplicated or moved record shows up here before
  // its hashes are even looked at, which gives the clearest explanation.
  if (seq != m_expected) {
    if (m_hashes.empty()) {
      fail(1, "the log starts at record " + num(seq) + " instead of record 1: the oldest records are missing");
    } else if (seq == m_expected - 1) {
      fail(seq, "record " + num(seq) + " appears twice: a record was inserted or duplicated");
    } else {
      fail(m_expected,
           "record " + num(seq) + " follows record " + num(m_expected - 1) + ": records are missing or reordered");
    }
    return;
  }
  if (!equal(r.prev_hash, m_prev)) {
    if (seq == 1) {
      fail(seq, "record 1 does not start from the genesis hash: the start of the chain was altered");
    } else {
      fail(seq, "record " + num(seq) + " does not link to record " + num(seq - 1) + ": record " + num(seq - 1) +
                    " was altered, or a record was inserted or removed between them");
    }
    return;
  }
  const auto hash = chain_hash(r.prev_hash, seq, r.time, r.event);
  if (!equal(hash, r.hash)) {
    fail(seq, "record " + num(seq) + " was altered: its hash does not match its contents");
    return;
  }
  std::array<std::uint8_t, kHashSize> h{};
  std::copy(hash.begin(), hash.end(), h.begin());
  m_hashes.push_back(h);
  m_prev = hash;
  ++m_expected;
}

VerifyReport ChainVerifier::finish(const std::vector<Checkpoint>& checkpoints, base::ByteView key,
                                   bool require_covered_head) {
  m_report.checkpoints = checkpoints.size();
  if (!m_report.ok) return m_report;

  // Earliest checkpoint first, so that the first problem reported is the oldest.
  std::vector<std::size_t> order(checkpoints.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return checkpoints[a].sequence < checkpoints[b].sequence; });

  const std::uint64_t last = m_hashes.size();  // sequence of the newest record
  const auto genesis = genesis_hash();
  for (const auto i : order) {
    const Checkpoint& cp = checkpoints[i];
    // The signature first: an unsigned statement about the chain proves nothing.
    auto alg = parse_signature_algorithm(cp.signature_algorithm);
    if (!alg.ok()) {
      fail(std::nullopt, describe(cp) + " names an unknown signature algorithm '" + cp.signature_algorithm + "'");
      return m_report;
    }
    auto st =
        base::verify_signature(key, alg.value(), checkpoint_message(cp.sequence, cp.head_hash, cp.time), cp.signature);
    if (!st.ok()) {
      if (st.error().code == base::ErrorCode::BadSignature) {
        fail(std::nullopt, describe(cp) +
                               " does not verify with the audit public key: it was forged or "
                               "altered, or signed with another key");
      } else {
        fail(std::nullopt, describe(cp) + " cannot be checked with the audit public key: " + st.error().detail);
      }
      return m_report;
    }
    // A genuine checkpoint beyond the newest record: records it covered are gone.
    if (cp.sequence > last) {
      const std::string where = last == 0 ? std::string("the log is empty") : "the log ends at record " + num(last);
      fail(last + 1, where + " but a signed checkpoint covers " + num(cp.sequence) + " records (signed " +
                         base::format_rfc3339(cp.time) + "): the newest records were deleted");
      return m_report;
    }
    // A genuine checkpoint whose head differs from the record now at its
    // sequence: the chain is internally consistent (it passed above), so someone
    // changed a record and recomputed every later hash. Which record exactly
    // cannot be known, only that it lies after the previous matching checkpoint.
    const base::ByteView expected =
        cp.sequence == 0 ? base::ByteView(genesis) : base::ByteView(m_hashes[cp.sequence - 1]);
    if (!equal(cp.head_hash, expected)) {
      const std::uint64_t from = m_report.last_checkpoint_sequence + 1;
      const std::string range = from == cp.sequence ? "record " + num(cp.sequence)
                                                    : "a record between " + num(from) + " and " + num(cp.sequence);
      fail(std::nullopt, describe(cp) + " does not match record " + num(cp.sequence) +
                             ": the chain was rewritten after it (" + range +
                             " was altered, inserted or removed and every later hash recomputed)");
      return m_report;
    }
    m_report.last_checkpoint_sequence = cp.sequence;
    if (!m_report.last_checkpoint_time || *m_report.last_checkpoint_time < cp.time) {
      m_report.last_checkpoint_time = cp.time;
    }
  }

  if (require_covered_head && last > m_report.last_checkpoint_sequence) {
    fail(m_report.last_checkpoint_sequence + 1,
         "records " + num(m_report.last_checkpoint_sequence + 1) + " to " + num(last) +
             " are not covered by a signed checkpoint: an export always ends with a checkpoint "
             "over its last record, so records were added to it or its final checkpoint was "
             "removed");
  }
  return m_report;
}

VerifyReport verify_chain(const std::vector<Record>& records, const std::vector<Checkpoint>& checkpoints,
                          base::ByteView audit_public_key_der) {
  ChainVerifier verifier;
  for (const auto& r : records) verifier.add(r);
  return verifier.finish(checkpoints, audit_public_key_der);
}

}  // namespace hallmark::audit
