#include "ca/ledger.h"

namespace hallmark::ca {

std::string_view to_string(CertificateStatus s) {
  switch (s) {
    case CertificateStatus::Pending:
      return "pending";
    case CertificateStatus::Issued:
      return "issued";
    case CertificateStatus::Revoked:
      return "revoked";
  }
  return "pending";
}

}  // namespace hallmark::ca
