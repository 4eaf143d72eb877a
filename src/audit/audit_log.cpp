#include "audit/audit_log.h"

#include <algorithm>
#include <limits>

#include "audit/chain_verifier.h"
#include "base/crypto.h"

namespace hallmark::audit {
namespace {

// Records are read in pages so that verifying a large log never holds it whole.
constexpr std::size_t kPageSize = 10000;

base::Error no_signer(std::string_view what) {
  return base::make_error(base::ErrorCode::InvalidArgument, "no audit key is configured: cannot " + std::string(what));
}

}  // namespace

AuditLog::AuditLog(AuditStore& store, const CheckpointSigner* signer, const base::Clock& clock, CheckpointPolicy policy)
    : m_store(store), m_signer(signer), m_clock(clock), m_policy(policy) {
  // The time trigger counts from start-up: records appended before it were this
  // process's predecessor's to checkpoint, and a checkpoint at the next append
  // or timer tick covers them anyway.
  m_last_checkpoint_time = m_clock.now();
}

base::Result<Record> AuditLog::append(const Event& event) {
  std::lock_guard lock(m_mutex);
  HM_TRY(auto record, m_store.append(event, m_clock.now()));
  ++m_since_checkpoint;
  return record;
}

void AuditLog::note_appended(std::uint64_t count) {
  std::lock_guard lock(m_mutex);
  m_since_checkpoint += count;
}

base::Status AuditLog::checkpoint() {
  if (m_signer == nullptr) return no_signer("sign an audit checkpoint");
  // One checkpoint at a time in this process; other processes may sign one for
  // the same head concurrently, which is harmless (both verify).
  std::lock_guard lock(m_mutex);
  HM_TRY(const auto head, m_store.head());
  const auto now = m_clock.now();
  if (!head) {
    m_since_checkpoint = 0;
    m_last_checkpoint_time = now;
    return {};
  }
  HM_TRY(const auto existing, m_store.checkpoints());
  const bool covered =
      std::ranges::any_of(existing, [&](const Checkpoint& cp) { return cp.sequence >= head->sequence; });
  if (!covered) {
    Checkpoint cp;
    cp.sequence = head->sequence;
    cp.head_hash = head->hash;
    cp.time = now;
    cp.signature_algorithm = std::string(base::to_string(m_signer->algorithm()));
    const auto message = checkpoint_message(cp.sequence, cp.head_hash, cp.time);
    HM_TRY(cp.signature, m_signer->sign(message));
    // A signer wired to the wrong key or signature format would otherwise leave a
    // log whose every checkpoint fails verification, found only at audit time.
    auto self_check = base::verify_signature(m_signer->public_key_der(), m_signer->algorithm(), message, cp.signature);
    if (!self_check.ok()) {
      return base::make_error(base::ErrorCode::Internal,
                              "the audit key's checkpoint signature does not verify with its "
                              "public key",
                              self_check.error().describe());
    }
    HM_CHECK(m_store.add_checkpoint(cp));
  }
  m_since_checkpoint = 0;
  m_last_checkpoint_time = now;
  return {};
}

base::Status AuditLog::checkpoint_if_due() {
  {
    std::lock_guard lock(m_mutex);
    if (m_since_checkpoint == 0) return {};
    const bool by_count = m_policy.every_records > 0 && m_since_checkpoint >= m_policy.every_records;
    const bool by_time =
        m_policy.every_seconds.count() > 0 && m_clock.now() - m_last_checkpoint_time >= m_policy.every_seconds;
    if (!by_count && !by_time) return {};
  }
  // Another thread may checkpoint in between; checkpoint() is then a no-op.
  return checkpoint();
}

base::Result<VerifyReport> AuditLog::verify() const {
  if (m_signer == nullptr) return no_signer("verify the audit checkpoints");
  return verify(m_signer->public_key_der());
}

base::Result<VerifyReport> AuditLog::verify(base::ByteView audit_public_key_der) const {
  // Checkpoints before records: a checkpoint signed while we read must not cover
  // records we did not read, or it would look as if they had been deleted.
  HM_TRY(const auto checkpoints, m_store.checkpoints());
  ChainVerifier verifier;
  // From 0, not 1: a record renumbered 0 must be seen, not skipped.
  std::uint64_t from = 0;
  for (;;) {
    HM_TRY(const auto page, m_store.records(from, kPageSize));
    for (const auto& r : page) verifier.add(r);
    if (page.size() < kPageSize) break;
    const std::uint64_t last = page.back().sequence;
    if (last < from || last == std::numeric_limits<std::uint64_t>::max()) {
      return base::make_error(base::ErrorCode::Internal, "the audit store returned records out of order");
    }
    from = last + 1;
  }
  return verifier.finish(checkpoints, audit_public_key_der);
}

}  // namespace hallmark::audit
