#include "keys/tls_key.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/files.h"

namespace hallmark::keys {

base::Result<std::shared_ptr<evp_pkey_st>> load_tls_key(const std::filesystem::path& file,
                                                        const std::string& passphrase) {
  HM_TRY(auto data, base::read_file(file, 1 << 20));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())), &BIO_free);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>(passphrase.c_str()));
  if (key == nullptr) {
    ERR_clear_error();
    return base::make_error(base::ErrorCode::Unauthenticated,
                            "cannot decrypt key '" + file.string() + "': wrong passphrase or not a key");
  }
  return std::shared_ptr<evp_pkey_st>(key, &EVP_PKEY_free);
}

}  // namespace hallmark::keys
