#include "proto/ocsp/errors.h"

namespace hallmark::proto::ocsp {

using base::ErrorCode;
using pkix::OcspStatus;

OcspStatus status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::Malformed:
    case ErrorCode::InvalidArgument:
    case ErrorCode::Unsupported:  // e.g. a CertID hash other than SHA-1/SHA-256
    case ErrorCode::TooLarge:
      return OcspStatus::MalformedRequest;
    case ErrorCode::NotFound:  // no issuer we are authoritative for (RFC 6960 §2.3)
    case ErrorCode::Forbidden:
      return OcspStatus::Unauthorized;
    case ErrorCode::Unavailable:
      return OcspStatus::TryLater;
    default:
      return OcspStatus::InternalError;
  }
}

std::string_view to_string(OcspStatus status) {
  switch (status) {
    case OcspStatus::Successful:
      return "successful";
    case OcspStatus::MalformedRequest:
      return "malformedRequest";
    case OcspStatus::InternalError:
      return "internalError";
    case OcspStatus::TryLater:
      return "tryLater";
    case OcspStatus::SigRequired:
      return "sigRequired";
    case OcspStatus::Unauthorized:
      return "unauthorized";
  }
  return "internalError";
}

}  // namespace hallmark::proto::ocsp
