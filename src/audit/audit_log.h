// AuditLog: appends events, signs checkpoints, verifies and exports the chain.
#pragma once

#include <chrono>
#include <cstdint>
#include <istream>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

#include "audit/audit_store.h"
#include "audit/record.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/result.h"

namespace hallmark::audit {

// The port through which checkpoints are signed (app wires it to a keys::Signer).
class CheckpointSigner {
 public:
  virtual ~CheckpointSigner() = default;
  virtual base::SignatureAlgorithm algorithm() const = 0;
  virtual const base::Bytes& public_key_der() const = 0;
  [[nodiscard]] virtual base::Result<base::Bytes> sign(base::ByteView message) const = 0;
};

// A zero in either field turns that trigger off.
struct CheckpointPolicy {
  std::uint64_t every_records = 1000;
  std::chrono::seconds every_seconds{60};
};

struct VerifyReport {
  bool ok = true;
  std::uint64_t records = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t last_checkpoint_sequence = 0;
  std::optional<base::TimePoint> last_checkpoint_time;  // newest verified checkpoint's time
  std::optional<std::uint64_t> first_bad_sequence;      // the first broken record, when known
  std::string problem;                                  // what is wrong, for a person
};

// Verifies records (in the order given) and checkpoints against the audit public key:
// sequence continuity, each prev_hash and hash, each checkpoint's signature and that
// it matches the record at its sequence, and that no checkpointed record is missing.
VerifyReport verify_chain(const std::vector<Record>& records, const std::vector<Checkpoint>& checkpoints,
                          base::ByteView audit_public_key_der);

class AuditLog {
 public:
  AuditLog(AuditStore& store, const CheckpointSigner* signer, const base::Clock& clock, CheckpointPolicy policy = {});

  base::Result<Record> append(const Event& event);
  // Signs a checkpoint over the current head (no-op when the head is already checkpointed).
  base::Status checkpoint();
  // Signs a checkpoint when `every_records` records or `every_seconds` have passed
  // since the last one this process knows about.
  base::Status checkpoint_if_due();
  // Call after records were appended through another path (e.g. the ledger's transaction).
  void note_appended(std::uint64_t count = 1);

  // Verifies the whole stored chain with the signer's public key (an error when
  // there is no signer), or with the given audit public key (DER SPKI).
  base::Result<VerifyReport> verify() const;
  base::Result<VerifyReport> verify(base::ByteView audit_public_key_der) const;
  // Writes a fresh checkpoint, then JSON lines: one {"type":"record",…} per record and
  // one {"type":"checkpoint",…} per checkpoint, and a final {"type":"key",…} line with
  // the audit public key (informational: verifiers must use their own copy).
  base::Status export_jsonl(std::ostream& out);

 private:
  AuditStore& m_store;
  const CheckpointSigner* m_signer;
  const base::Clock& m_clock;
  CheckpointPolicy m_policy;
  std::mutex m_mutex;
  std::uint64_t m_since_checkpoint = 0;
  base::TimePoint m_last_checkpoint_time{};
};

// Checks an export offline with only the audit public key (the export's own "key"
// line is ignored). Malformed, naming the line, when a line cannot be read. Since an
// export always ends with a checkpoint over its last record, records past the last
// checkpoint are reported as a problem too.
base::Result<VerifyReport> verify_export(std::istream& in, base::ByteView audit_public_key_der);

}  // namespace hallmark::audit
