#include "base/error.h"

namespace hallmark::base {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument:
      return "invalid-argument";
    case ErrorCode::Malformed:
      return "malformed";
    case ErrorCode::Unsupported:
      return "unsupported";
    case ErrorCode::BadSignature:
      return "bad-signature";
    case ErrorCode::PolicyDenied:
      return "policy-denied";
    case ErrorCode::NotFound:
      return "not-found";
    case ErrorCode::AlreadyExists:
      return "already-exists";
    case ErrorCode::Unauthenticated:
      return "unauthenticated";
    case ErrorCode::Forbidden:
      return "forbidden";
    case ErrorCode::TooLarge:
      return "too-large";
    case ErrorCode::Unavailable:
      return "unavailable";
    case ErrorCode::Tampered:
      return "tampered";
    case ErrorCode::Io:
      return "io";
    case ErrorCode::Internal:
      return "internal";
  }
  return "internal";
}

std::string Error::describe() const {
  if (cause.empty()) return detail;
  return detail + " (" + cause + ")";
}

}  // namespace hallmark::base
