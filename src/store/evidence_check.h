// The invariant both engines keep for stored evidence (factory::EvidenceArchive):
// a record is filed only under the SHA-256 of its own content.
#pragma once

#include "base/result.h"
#include "factory/ports.h"

namespace hallmark::store {

// InvalidArgument when `record` has no type or content, or its digest is not
// the lower-case hex SHA-256 of its content.
base::Status check_evidence_record(const factory::EvidenceRecord& record);

}  // namespace hallmark::store
