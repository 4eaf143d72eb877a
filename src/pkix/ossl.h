// Internal: RAII owners for the OpenSSL objects pkix uses. Never hold a raw
// owning OpenSSL pointer; wrap it here the moment it is created.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

#include "base/crypto.h"

namespace hallmark::pkix::ossl {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};

using PkeyPtr = base::EvpPkeyPtr;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

}  // namespace hallmark::pkix::ossl
