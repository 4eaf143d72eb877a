#include "store/evidence_check.h"

#include "base/crypto.h"

namespace hallmark::store {

base::Status check_evidence_record(const factory::EvidenceRecord& r) {
  using base::ErrorCode;
  if (r.type.empty() || r.content.empty()) {
    return base::make_error(ErrorCode::InvalidArgument, "an evidence record needs a type and content");
  }
  // Checked here rather than trusted from the caller: a digest that does not
  // name its bytes would make the ledger point at evidence it does not have.
  if (r.digest != base::hex_encode(base::sha256(r.content))) {
    return base::make_error(ErrorCode::InvalidArgument,
                            "evidence digest " + r.digest.substr(0, 64) + " is not the SHA-256 of its content");
  }
  return {};
}

}  // namespace hallmark::store
