#include "proto/est/errors.h"

#include "base/log.h"

namespace hallmark::proto::est {

using base::ErrorCode;

int status_for(ErrorCode code) {
  switch (code) {
    // Bad input is the client's fault, never a 500 (issue 4: wire rules).
    case ErrorCode::InvalidArgument:
    case ErrorCode::Malformed:
    case ErrorCode::Unsupported:
    case ErrorCode::BadSignature:
      return 400;
    case ErrorCode::Unauthenticated:
      return 401;  // RFC 7030 §3.2.3; libest uses 401 for PoP mismatch too
    case ErrorCode::Forbidden:
    case ErrorCode::PolicyDenied:
    case ErrorCode::AlreadyExists:
      return 403;
    case ErrorCode::NotFound:
      return 404;
    case ErrorCode::TooLarge:
      return 413;
    case ErrorCode::Unavailable:
      return 503;
    case ErrorCode::Tampered:
    case ErrorCode::Io:
    case ErrorCode::Internal:
      return 500;
  }
  return 500;
}

http::Response error_response(const base::Error& error) {
  const int status = status_for(error.code);
  if (status >= 500) {
    base::log::error("est: " + error.describe());
    // Internal failures say nothing about internals to the client.
    return http::Response::text(
        status, status == 503 ? error.detail + "\n" : "internal error; the server log has the details\n");
  }
  if (!error.cause.empty()) base::log::debug("est: " + error.describe());
  return http::Response::text(status, error.detail + "\n");
}

}  // namespace hallmark::proto::est
