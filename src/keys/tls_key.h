// Keys a TLS stack holds itself (the HTTPS server's own key): the key file stays
// encrypted at rest like every software key; this hands the decrypted key to
// the TLS library as an EVP_PKEY, in memory only. CA keys never go this way.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/result.h"

struct evp_pkey_st;

namespace hallmark::keys {

// Decrypts the PKCS#8 key file written by SoftwareKeyStore::generate.
// Unauthenticated on a wrong passphrase; Io/NotFound when the file is missing.
base::Result<std::shared_ptr<evp_pkey_st>> load_tls_key(const std::filesystem::path& file,
                                                        const std::string& passphrase);

}  // namespace hallmark::keys
