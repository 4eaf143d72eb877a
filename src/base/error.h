// The one error type of Hallmark: a code, a detail that is safe to show to a
// client, and an internal cause that is only logged.
#pragma once

#include <string>
#include <string_view>

namespace hallmark::base {

enum class ErrorCode {
  InvalidArgument,  // the caller passed something unusable (programmer or CLI user)
  Malformed,        // input could not be decoded
  Unsupported,      // well-formed but not something we accept (algorithm, version)
  BadSignature,     // a signature did not verify
  PolicyDenied,     // policy refuses the request (profile, channel, scope)
  NotFound,         // the named object does not exist
  AlreadyExists,    // a unique value is taken (serial, key, device)
  Unauthenticated,  // no or invalid credentials
  Forbidden,        // authenticated but not allowed
  TooLarge,         // input exceeds a configured bound
  Unavailable,      // a dependency (store, token) is down; retry later
  Tampered,         // integrity check failed (audit chain, bundle)
  Io,               // file system or network I/O failed
  Internal,         // a bug or an unexpected library failure
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string detail;  // client-safe, actionable
  std::string cause;   // internal, logged only

  // "detail" or "detail (cause)" for logs and CLI output of local users.
  std::string describe() const;
};

inline Error make_error(ErrorCode code, std::string detail, std::string cause = {}) {
  return Error{code, std::move(detail), std::move(cause)};
}

}  // namespace hallmark::base
