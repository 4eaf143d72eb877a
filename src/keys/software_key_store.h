// Software keys: private keys in PKCS#8 files encrypted at rest with a
// passphrase (PBES2, AES-256-CBC), written 0600.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/crypto.h"
#include "base/result.h"
#include "keys/signer.h"

namespace hallmark::keys {

// Where the passphrase comes from, in this order: HALLMARK_KEY_PASSPHRASE, the
// configured passphrase file, the data folder's generated `passphrase` file.
struct PassphraseSource {
  std::filesystem::path data_dir;         // holds the generated file, if any
  std::filesystem::path passphrase_file;  // configured file; empty when none
};

struct ResolvedPassphrase {
  std::string value;
  std::string origin;  // "HALLMARK_KEY_PASSPHRASE", a file path
  bool generated = false;
};

// Finds the passphrase; when none exists and `create_if_missing`, generates a
// random one into <data_dir>/passphrase (0600).
base::Result<ResolvedPassphrase> resolve_passphrase(const PassphraseSource& source, bool create_if_missing);

class SoftwareKeyStore {
 public:
  SoftwareKeyStore(std::filesystem::path key_dir, std::string passphrase);

  // Generates a key and writes it encrypted to <key_dir>/<name>.key (0600).
  // AlreadyExists when the file is there.
  base::Result<std::unique_ptr<Signer>> generate(const std::string& name, base::KeyAlgorithm alg);
  // Loads <key_dir>/<name>.key, or `name` itself when it is a path.
  base::Result<std::unique_ptr<Signer>> load(const std::string& name) const;

  std::filesystem::path path_of(const std::string& name) const;

 private:
  std::filesystem::path m_dir;
  std::string m_passphrase;
};

// An ephemeral in-memory key (tests, benchmarks, device emulation).
base::Result<std::unique_ptr<Signer>> generate_ephemeral(base::KeyAlgorithm alg);
// A signer over an unencrypted PKCS#8 / traditional PEM or DER key (tests, device side).
base::Result<std::unique_ptr<Signer>> load_unencrypted_key(base::ByteView pem_or_der, std::string reference);
// The unencrypted PKCS#8 PEM of an ephemeral key (device emulation only).
base::Result<std::string> export_unencrypted_pem(const Signer& signer);

}  // namespace hallmark::keys
