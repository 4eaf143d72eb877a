// PKCS#11 URIs (RFC 7512) naming a key in a token:
//   pkcs11:token=<label>;object=<label>?module-path=<.so>&pin-source=file:<path>
// The PIN comes from the file named by pin-source, else from HALLMARK_PKCS11_PIN;
// a pin-value attribute is refused so that no PIN is ever stored or logged.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace hallmark::keys {

struct Pkcs11Uri {
  std::string token;        // path attribute "token": the token label
  std::string object;       // path attribute "object": the key's CKA_LABEL
  std::string module_path;  // query attribute "module-path"
  std::string pin_source;   // query attribute "pin-source" ("file:<path>" or a path); may be empty

  // Parses and percent-decodes (RFC 7512 §2.3). InvalidArgument with the reason
  // for anything malformed, a pin-value, or a missing token / module-path.
  static base::Result<Pkcs11Uri> parse(std::string_view text);
  // The canonical text (percent-encoded where needed); never contains a secret.
  std::string text() const;
  Pkcs11Uri with_object(std::string label) const;
};

// True when `reference` names a PKCS#11 key rather than a key file.
bool is_pkcs11_uri(std::string_view reference);

// The user PIN: the pin-source file (first line, at most 256 bytes), else
// HALLMARK_PKCS11_PIN. InvalidArgument when neither is set.
base::Result<std::string> resolve_pin(const Pkcs11Uri& uri);

}  // namespace hallmark::keys
