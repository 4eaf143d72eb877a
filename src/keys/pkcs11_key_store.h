// PKCS#11 keys: key pairs generated inside a token (CKA_SENSITIVE, never
// CKA_EXTRACTABLE) and Signers that sign there, named by RFC 7512 URIs
// (keys/pkcs11_uri.h). The module is dlopen'ed once per process; one logged-in
// session pool per token is shared by every Signer of that token, so signing
// scales across threads. A token that fails while serving (device removed,
// token not present, session handle invalid...) makes the call fail with
// Unavailable; the pool is dropped and the next call opens fresh sessions.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/crypto.h"
#include "base/result.h"
#include "keys/signer.h"

namespace hallmark::keys {

// Generates a key pair labelled uri.object in the token (ECDSA P-256/P-384,
// RSA-2048/3072/4096). AlreadyExists when a key with that label is there.
base::Result<std::unique_ptr<Signer>> pkcs11_generate(std::string_view uri, base::KeyAlgorithm alg);

// Opens the token (module, token, PIN) and says whether a private key labelled
// uri.object is there, so that callers can refuse before writing anything.
base::Result<bool> pkcs11_key_exists(std::string_view uri);

// Opens the private key (and reads the public key) labelled uri.object.
// NotFound for a missing module, token or object; Unauthenticated for a wrong PIN.
base::Result<std::unique_ptr<Signer>> pkcs11_load(std::string_view uri);

}  // namespace hallmark::keys
