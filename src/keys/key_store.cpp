#include "keys/key_store.h"

#include "keys/pkcs11_key_store.h"
#include "keys/pkcs11_uri.h"

namespace hallmark::keys {

KeyStore::KeyStore(std::filesystem::path key_dir, std::string passphrase)
    : m_files(std::move(key_dir), std::move(passphrase)) {}

base::Result<std::unique_ptr<Signer>> KeyStore::generate(const std::string& reference, base::KeyAlgorithm alg) {
  if (is_pkcs11_uri(reference)) return pkcs11_generate(reference, alg);
  return m_files.generate(reference, alg);
}

base::Result<std::unique_ptr<Signer>> KeyStore::load(const std::string& reference) const {
  if (is_pkcs11_uri(reference)) return pkcs11_load(reference);
  return m_files.load(reference);
}

base::Result<bool> KeyStore::exists(const std::string& reference) const {
  if (is_pkcs11_uri(reference)) return pkcs11_key_exists(reference);
  std::error_code ec;
  return std::filesystem::exists(m_files.path_of(reference), ec);
}

}  // namespace hallmark::keys
