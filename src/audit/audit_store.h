// The storage port the audit log needs (implemented in store/).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "audit/record.h"
#include "base/result.h"

namespace hallmark::audit {

class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // Appends one event in its own transaction. The chain head is read inside
  // that transaction, so several processes may append to one store.
  virtual base::Result<Record> append(const Event& event, base::TimePoint time) = 0;
  // Records with sequence >= from, in order, at most `limit`.
  virtual base::Result<std::vector<Record>> records(std::uint64_t from, std::size_t limit) const = 0;
  virtual base::Result<std::optional<Record>> head() const = 0;

  virtual base::Status add_checkpoint(const Checkpoint& checkpoint) = 0;
  virtual base::Result<std::vector<Checkpoint>> checkpoints() const = 0;
};

}  // namespace hallmark::audit
