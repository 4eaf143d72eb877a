// The SoftHSM2 token of the pkcs11 tier: made by make_token.sh (a CTest
// fixture) in HALLMARK_TEST_TOKEN_DIR. Tests point SOFTHSM2_CONF at it and
// name keys with URIs on it; labels are unique per test so tests stay independent.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <string>

#include "support/test_support.h"

namespace hallmark::testing {

inline constexpr char kSoftHsmModule[] = "/usr/lib/softhsm/libsofthsm2.so";

inline std::string token_dir() {
  return HALLMARK_TEST_TOKEN_DIR;
}
inline std::string pin_file() {
  return token_dir() + "/pin";
}
inline std::string token_pin() {
  return "246810";
}

inline void use_test_token() {
  ::setenv("SOFTHSM2_CONF", (token_dir() + "/softhsm2.conf").c_str(), 1);
  ::unsetenv("HALLMARK_PKCS11_PIN");
}

// A label no other test uses (tests of one binary share the token).
inline std::string unique_label(const std::string& stem) {
  static std::atomic<int> n{0};
  return stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// pkcs11:token=<token>[;object=<object>]?module-path=<module>&pin-source=file:<pin file>
inline std::string token_uri(const std::string& object, const std::string& token = "hallmark-test",
                             const std::string& module = kSoftHsmModule, const std::string& pin = pin_file()) {
  std::string uri = "pkcs11:token=" + token;
  if (!object.empty()) uri += ";object=" + object;
  uri += "?module-path=" + module;
  if (!pin.empty()) uri += "&pin-source=file:" + pin;
  return uri;
}

// `pkcs11-tool --list-objects` of the private keys (the third party's view of the token).
inline CommandResult list_private_keys(const std::string& token = "hallmark-test") {
  return run(std::string("pkcs11-tool --module ") + kSoftHsmModule + " --token-label " + token + " --login --pin " +
             token_pin() + " --list-objects --type privkey");
}

}  // namespace hallmark::testing
