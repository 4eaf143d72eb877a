#include "app/cli.h"

#include <iostream>

#include "base/log.h"

namespace hallmark::app {

int exit_code_for(const base::Error& e) {
  using base::ErrorCode;
  switch (e.code) {
    case ErrorCode::InvalidArgument:
    case ErrorCode::Malformed:
    case ErrorCode::Unsupported:
    case ErrorCode::BadSignature:
    case ErrorCode::PolicyDenied:
    case ErrorCode::AlreadyExists:
    case ErrorCode::Unauthenticated:
    case ErrorCode::Forbidden:
    case ErrorCode::TooLarge:
      return kExitRefused;
    case ErrorCode::NotFound:
      return kExitNotFound;
    case ErrorCode::Tampered:
      return kExitFindings;
    case ErrorCode::Unavailable:
    case ErrorCode::Io:
    case ErrorCode::Internal:
      return kExitFailure;
  }
  return kExitFailure;
}

int report(const base::Error& e) {
  std::cerr << "error: " << e.detail << "\n";
  if (!e.cause.empty()) base::log::debug("cause: " + e.cause);
  return exit_code_for(e);
}

void print_json(const nlohmann::json& doc) {
  std::cout << doc.dump(2) << "\n";
}

}  // namespace hallmark::app
