// KeyStore: one door to every kind of key reference. A `pkcs11:` URI goes to
// the token (the key stays there); anything else names a software key file
// under the key folder (or a path), decrypted with the passphrase.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/crypto.h"
#include "base/result.h"
#include "keys/signer.h"
#include "keys/software_key_store.h"

namespace hallmark::keys {

class KeyStore {
 public:
  KeyStore(std::filesystem::path key_dir, std::string passphrase);

  // Generates the key `reference` names: in the token for a pkcs11: URI (its
  // object= is the label), else an encrypted file <key_dir>/<reference>.key.
  base::Result<std::unique_ptr<Signer>> generate(const std::string& reference, base::KeyAlgorithm alg);
  base::Result<std::unique_ptr<Signer>> load(const std::string& reference) const;
  // Whether the key `reference` names is there (token object, or key file).
  base::Result<bool> exists(const std::string& reference) const;

 private:
  SoftwareKeyStore m_files;
};

}  // namespace hallmark::keys
