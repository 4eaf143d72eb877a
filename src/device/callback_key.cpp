// The "hallmark-tpm" provider: an EC KEYMGMT holding a P-256 public key and a
// signing function, and one SIGNATURE that hashes with SHA-256 and calls it.
//
// How OpenSSL 3.0 routes a TLS signature here. libssl signs CertificateVerify
// (TLS 1.2 and 1.3) with EVP_DigestSignInit_ex(libctx of the SSL_CTX, "SHA256")
// then the one-shot EVP_DigestSign. In EVP_DigestSignInit_ex, do_sigver_init
// asks the key's KEYMGMT which signature to use (query_operation_name, here
// kSignatureName), then tries EVP_SIGNATURE_fetch of that name in the caller's
// library context — which fails, as no provider there has it — and then
// evp_signature_fetch_from_prov from the key's own provider, which finds ours;
// the key needs no export because the KEYMGMT of that provider is its own.
// A provider signature must offer digest_sign_init: do_sigver_init does not
// fall back to hashing in libcrypto and calling sign ("do_sigver_init:
// initialization error" on 3.0.19), and libssl's check_cert_usable, which
// asks EVP_PKEY_digestsign_supports_digest (an EVP_DigestSignInit_ex) of every
// signature scheme, then silently sends no client certificate at all.
// EVP_DigestSign calls digest_sign when there is one, so no update/final.
//
// Why a library context of its own: a fetch without a property query (how
// libssl fetches digests, the RNG and the ECDHE "EC" KEYMGMT) takes the first
// implementation of the name in ossl_method_store_fetch, whatever its
// properties, so an "EC" KEYMGMT loaded next to "default" could win an ECDHE
// keygen or a certificate decode. Loaded alone in its own OSSL_LIB_CTX it is
// reached only through keys made from it; the one thing the default
// provider's keys do with it is evp_pkey_cmp_any (EVP_PKEY_eq from
// X509_check_private_key in SSL_CTX_use_PrivateKey, EVP_PKEY_parameters_eq
// from EVP_PKEY_copy_parameters), which imports the certificate's public key
// into this KEYMGMT and calls match.
#include "device/callback_key.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include <cstring>
#include <new>

#include "base/crypto.h"

namespace hallmark::device {

using base::ErrorCode;
using base::make_error;

namespace {

constexpr char kProviderName[] = "hallmark-tpm";
constexpr char kProperties[] = "provider=hallmark-tpm";
// Not "ECDSA": no other provider has this name, so the first fetch in
// do_sigver_init can never pick the default provider's ECDSA (which would try
// to take the key over by export and then sign without a private key).
constexpr char kSignatureName[] = "HALLMARK-TPM-ECDSA";
// Private import parameter carrying the signing function (a shared_ptr, copied).
constexpr char kSignFnParam[] = "hallmark-digest-sign-fn";
constexpr char kGroupName[] = "prime256v1";  // what OBJ_txt2nid (ssl_get_EC_curve_nid) knows
constexpr int kMaxSignatureSize = 72;        // DER ECDSA-Sig-Value with two 33-byte INTEGERs

using SignFnPtr = std::shared_ptr<const DigestSignFn>;

struct KeyData {
  bool has_group = false;
  base::Bytes pub;  // encoded point, as the certificate's key exports it
  SignFnPtr sign;   // null for keys imported only to be compared
};

struct SignCtx {
  SignFnPtr sign;
};

void raise(const char* what) {
  ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s: %s", kProviderName, what);
}

bool is_p256(const char* name) {
  if (name == nullptr) return false;
  int nid = OBJ_txt2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  return nid == NID_X9_62_prime256v1;
}

// ---- KEYMGMT ----

void* key_new(void*) {
  return new (std::nothrow) KeyData;
}
void key_free(void* key) {
  delete static_cast<KeyData*>(key);
}

int key_has(const void* keydata, int selection) {
  const auto* key = static_cast<const KeyData*>(keydata);
  if (key == nullptr) return 0;
  bool ok = true;
  if ((selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0) ok = ok && key->has_group;
  if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0) ok = ok && !key->pub.empty();
  // The signing function stands for the private key.
  if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) ok = ok && key->sign != nullptr;
  return ok ? 1 : 0;
}

// Like the default provider's EC import: the group always, then the public
// key; the "private key" is the signing function, from callback_evp_pkey only.
int key_import(void* keydata, int selection, const OSSL_PARAM params[]) {
  auto* key = static_cast<KeyData*>(keydata);
  if (key == nullptr || (selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) == 0) return 0;
  const char* group = nullptr;
  const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME);
  if (p == nullptr || OSSL_PARAM_get_utf8_string_ptr(p, &group) != 1 || !is_p256(group)) return 0;
  key->has_group = true;
  if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0) {
    const void* pub = nullptr;
    std::size_t size = 0;
    p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
    if (p == nullptr || OSSL_PARAM_get_octet_string_ptr(p, &pub, &size) != 1 || size == 0) return 0;
    const auto* bytes = static_cast<const std::uint8_t*>(pub);
    key->pub.assign(bytes, bytes + size);
  }
  if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) {
    const void* fn = nullptr;
    std::size_t size = 0;
    p = OSSL_PARAM_locate_const(params, kSignFnParam);
    if (p == nullptr || OSSL_PARAM_get_octet_string_ptr(p, &fn, &size) != 1 || size != sizeof(SignFnPtr)) return 0;
    key->sign = *static_cast<const SignFnPtr*>(fn);
  }
  return 1;
}

// The group and the public key, never a private key: an export that asks for
// one (evp_pkey_export_to_provider, which moves a key to another provider's
// operation, asks for OSSL_KEYMGMT_SELECT_ALL) fails, so no other provider
// ends up with a public-only copy it would try to sign with.
int key_export(void* keydata, int selection, OSSL_CALLBACK* callback, void* arg) {
  const auto* key = static_cast<const KeyData*>(keydata);
  if (key == nullptr || !key->has_group || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 ||
      (selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) == 0)
    return 0;
  OSSL_PARAM params[3];
  int n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(kGroupName), 0);
  if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0) {
    if (key->pub.empty()) return 0;
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<std::uint8_t*>(key->pub.data()),
                                                    key->pub.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  return callback(params, arg);
}

const OSSL_PARAM* key_io_types(int) {
  static const OSSL_PARAM types[] = {
      OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
      OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
      OSSL_PARAM_END,
  };
  return types;
}

// evp_keymgmt_util_cache_keyinfo reads bits, security-bits and max-size once
// (EVP_PKEY_get_bits, EVP_PKEY_get_security_bits for SSL_CTX_use_PrivateKey's
// security level, EVP_PKEY_get_size); libssl reads the group name to match
// the key with the TLS 1.3 ecdsa_secp256r1_sha256 scheme.
int key_get_params(void* keydata, OSSL_PARAM params[]) {
  const auto* key = static_cast<const KeyData*>(keydata);
  if (key == nullptr) return 0;
  OSSL_PARAM* p = nullptr;
  if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != nullptr && OSSL_PARAM_set_int(p, 256) != 1) return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != nullptr && OSSL_PARAM_set_int(p, 128) != 1)
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != nullptr &&
      OSSL_PARAM_set_int(p, kMaxSignatureSize) != 1)
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_GROUP_NAME)) != nullptr &&
      OSSL_PARAM_set_utf8_string(p, kGroupName) != 1)
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST)) != nullptr &&
      OSSL_PARAM_set_utf8_string(p, "SHA256") != 1)
    return 0;
  for (const char* name : {OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, OSSL_PKEY_PARAM_PUB_KEY}) {
    if ((p = OSSL_PARAM_locate(params, name)) != nullptr &&
        (key->pub.empty() || OSSL_PARAM_set_octet_string(p, key->pub.data(), key->pub.size()) != 1))
      return 0;
  }
  return 1;
}

const OSSL_PARAM* key_gettable_params(void*) {
  static const OSSL_PARAM gettable[] = {
      OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
      OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
      OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
      OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
      OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
      OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
      OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
      OSSL_PARAM_END,
  };
  return gettable;
}

int key_match(const void* keydata1, const void* keydata2, int selection) {
  const auto* a = static_cast<const KeyData*>(keydata1);
  const auto* b = static_cast<const KeyData*>(keydata2);
  if (a == nullptr || b == nullptr) return 0;
  bool ok = true;
  if ((selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0) ok = ok && a->has_group && b->has_group;
  if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0) ok = ok && !a->pub.empty() && a->pub == b->pub;
  return ok ? 1 : 0;
}

const char* key_query_operation_name(int operation_id) {
  return operation_id == OSSL_OP_SIGNATURE ? kSignatureName : nullptr;
}

// ---- SIGNATURE ----

void* sig_newctx(void*, const char*) {
  return new (std::nothrow) SignCtx;
}
void sig_freectx(void* ctx) {
  delete static_cast<SignCtx*>(ctx);
}
void* sig_dupctx(void* ctx) {
  return new (std::nothrow) SignCtx(*static_cast<const SignCtx*>(ctx));
}

int sig_sign_init(void* ctx, void* keydata, const OSSL_PARAM[]) {
  const auto* key = static_cast<const KeyData*>(keydata);
  if (ctx == nullptr || key == nullptr || key->sign == nullptr) {
    raise("the key cannot sign");
    return 0;
  }
  static_cast<SignCtx*>(ctx)->sign = key->sign;
  return 1;
}

// A 32-byte digest in, a DER ECDSA-Sig-Value out; sig == nullptr asks the size.
int sig_sign(void* ctx, unsigned char* sig, std::size_t* siglen, std::size_t sigsize, const unsigned char* tbs,
             std::size_t tbslen) {
  if (sig == nullptr) {
    *siglen = kMaxSignatureSize;
    return 1;
  }
  const auto& sign = static_cast<const SignCtx*>(ctx)->sign;
  if (sign == nullptr || tbslen != 32) {
    raise("only a SHA-256 digest can be signed");
    return 0;
  }
  try {
    auto der = (*sign)(base::ByteView(tbs, tbslen));
    if (!der.ok()) {
      const auto& e = der.error();
      raise((e.detail + (e.cause.empty() ? "" : " (" + e.cause + ")")).c_str());
      return 0;
    }
    if (der->empty() || der->size() > sigsize) {
      raise("the signature does not fit");
      return 0;
    }
    std::memcpy(sig, der->data(), der->size());
    *siglen = der->size();
    return 1;
  } catch (...) {  // nothing may unwind through OpenSSL
    raise("the signing function threw");
    return 0;
  }
}

// libssl passes the digest of the signature scheme; anything but SHA-256 is
// refused here, which is how EVP_PKEY_digestsign_supports_digest (libssl's
// check_cert_usable) learns that this key makes only ECDSA+SHA256.
int sig_digest_sign_init(void* ctx, const char* mdname, void* keydata, const OSSL_PARAM params[]) {
  if (mdname != nullptr) {
    EVP_MD* md = EVP_MD_fetch(nullptr, mdname, nullptr);
    const bool sha256 = md != nullptr && EVP_MD_is_a(md, "SHA2-256");
    EVP_MD_free(md);
    if (!sha256) {
      raise("the key signs only with SHA-256");
      return 0;
    }
  }
  return sig_sign_init(ctx, keydata, params);
}

// The hash is the default provider's, in the default library context.
int sig_digest_sign(void* ctx, unsigned char* sig, std::size_t* siglen, std::size_t sigsize, const unsigned char* tbs,
                    std::size_t tbslen) {
  if (sig == nullptr) return sig_sign(ctx, nullptr, siglen, sigsize, nullptr, 0);
  unsigned char digest[32];
  unsigned int length = 0;
  if (EVP_Digest(tbs, tbslen, digest, &length, EVP_sha256(), nullptr) != 1 || length != sizeof(digest)) return 0;
  return sig_sign(ctx, sig, siglen, sigsize, digest, length);
}

template <typename F>
void (*fn(F* f))(void) {
  return reinterpret_cast<void (*)(void)>(f);
}

const OSSL_DISPATCH kKeymgmtFunctions[] = {
    {OSSL_FUNC_KEYMGMT_NEW, fn(key_new)},
    {OSSL_FUNC_KEYMGMT_FREE, fn(key_free)},
    {OSSL_FUNC_KEYMGMT_HAS, fn(key_has)},
    {OSSL_FUNC_KEYMGMT_MATCH, fn(key_match)},
    {OSSL_FUNC_KEYMGMT_IMPORT, fn(key_import)},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, fn(key_io_types)},
    {OSSL_FUNC_KEYMGMT_EXPORT, fn(key_export)},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, fn(key_io_types)},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, fn(key_get_params)},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, fn(key_gettable_params)},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, fn(key_query_operation_name)},
    {0, nullptr},
};

const OSSL_DISPATCH kSignatureFunctions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, fn(sig_newctx)},
    {OSSL_FUNC_SIGNATURE_FREECTX, fn(sig_freectx)},
    {OSSL_FUNC_SIGNATURE_DUPCTX, fn(sig_dupctx)},
    {OSSL_FUNC_SIGNATURE_SIGN_INIT, fn(sig_sign_init)},
    {OSSL_FUNC_SIGNATURE_SIGN, fn(sig_sign)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, fn(sig_digest_sign_init)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, fn(sig_digest_sign)},
    {0, nullptr},
};

// The names must include "EC": libssl's ssl_cert_lookup_by_pkey knows a key's
// type by EVP_PKEY_is_a, and evp_pkey_cmp_any compares only keys whose
// KEYMGMTs share a name.
const OSSL_ALGORITHM kKeymgmts[] = {
    {"EC:id-ecPublicKey:1.2.840.10045.2.1", kProperties, kKeymgmtFunctions, "P-256 key signing by callback"},
    {nullptr, nullptr, nullptr, nullptr},
};
const OSSL_ALGORITHM kSignatures[] = {
    {kSignatureName, kProperties, kSignatureFunctions, "ECDSA-SHA256 by callback"},
    {nullptr, nullptr, nullptr, nullptr},
};

const OSSL_ALGORITHM* query_operation(void*, int operation_id, int* no_cache) {
  *no_cache = 0;
  if (operation_id == OSSL_OP_KEYMGMT) return kKeymgmts;
  if (operation_id == OSSL_OP_SIGNATURE) return kSignatures;
  return nullptr;
}

int provider_init(const OSSL_CORE_HANDLE*, const OSSL_DISPATCH*, const OSSL_DISPATCH** out, void** provctx) {
  static const OSSL_DISPATCH functions[] = {
      {OSSL_FUNC_PROVIDER_QUERY_OPERATION, fn(query_operation)},
      {0, nullptr},
  };
  *out = functions;
  *provctx = nullptr;
  return 1;
}

// Made once and never freed: keys made in it, and the certificates' keys that
// cached their import into its KEYMGMT, may live until exit.
OSSL_LIB_CTX* provider_libctx() {
  static OSSL_LIB_CTX* const libctx = []() -> OSSL_LIB_CTX* {
    OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
    if (ctx == nullptr) return nullptr;
    if (OSSL_PROVIDER_add_builtin(ctx, kProviderName, provider_init) != 1 ||
        OSSL_PROVIDER_load(ctx, kProviderName) == nullptr) {
      OSSL_LIB_CTX_free(ctx);
      return nullptr;
    }
    return ctx;
  }();
  return libctx;
}

std::string drain_errors() {
  std::string out;
  char line[256];
  while (const unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, line, sizeof(line));
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

}  // namespace

base::Result<std::shared_ptr<evp_pkey_st>> callback_evp_pkey(base::ByteView spki_der, DigestSignFn sign) {
  if (!sign) return make_error(ErrorCode::InvalidArgument, "no signing function");
  // The public half, parsed by the default provider.
  const unsigned char* p = spki_der.data();
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pub(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())),
                                                          EVP_PKEY_free);
  char group[64] = {};
  std::size_t point_size = 0;
  if (!pub || EVP_PKEY_is_a(pub.get(), "EC") != 1 ||
      EVP_PKEY_get_group_name(pub.get(), group, sizeof(group), nullptr) != 1 || !is_p256(group) ||
      EVP_PKEY_get_octet_string_param(pub.get(), OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &point_size) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::InvalidArgument, "the key is not an ECDSA P-256 public key");
  }
  base::Bytes point(point_size);
  if (EVP_PKEY_get_octet_string_param(pub.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &point_size) !=
      1) {
    return make_error(ErrorCode::Internal, "cannot read the public key", drain_errors());
  }

  OSSL_LIB_CTX* libctx = provider_libctx();
  if (libctx == nullptr) return make_error(ErrorCode::Internal, "cannot load the key provider", drain_errors());
  SignFnPtr fn = std::make_shared<const DigestSignFn>(std::move(sign));
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(kGroupName), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point_size),
      OSSL_PARAM_construct_octet_string(kSignFnParam, &fn, sizeof(fn)),
      OSSL_PARAM_construct_end(),
  };
  // The property query makes the choice explicit, though this library context
  // holds no other provider.
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(libctx, "EC", kProperties),
                                                                  EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEYPAIR, params) != 1) {
    return make_error(ErrorCode::Internal, "cannot make the key", drain_errors());
  }
  return std::shared_ptr<evp_pkey_st>(key, EVP_PKEY_free);
}

}  // namespace hallmark::device
