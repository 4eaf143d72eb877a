#include "keys/pkcs11_key_store.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "base/rng.h"
#include "keys/pkcs11_uri.h"

namespace hallmark::keys {
namespace {

using base::Bytes;
using base::ErrorCode;
using base::make_error;
using base::Result;

std::string rv_name(CK_RV rv) {
  switch (rv) {
    case CKR_DEVICE_REMOVED:
      return "CKR_DEVICE_REMOVED";
    case CKR_TOKEN_NOT_PRESENT:
      return "CKR_TOKEN_NOT_PRESENT";
    case CKR_SESSION_HANDLE_INVALID:
      return "CKR_SESSION_HANDLE_INVALID";
    case CKR_SESSION_CLOSED:
      return "CKR_SESSION_CLOSED";
    case CKR_DEVICE_ERROR:
      return "CKR_DEVICE_ERROR";
    case CKR_PIN_INCORRECT:
      return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED:
      return "CKR_PIN_LOCKED";
    case CKR_USER_NOT_LOGGED_IN:
      return "CKR_USER_NOT_LOGGED_IN";
    case CKR_MECHANISM_INVALID:
      return "CKR_MECHANISM_INVALID";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR 0x%08lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

// Return values after which the sessions we hold are worthless: the token went
// away or was reset. The caller gets Unavailable and the pool is rebuilt.
bool is_device_failure(CK_RV rv) {
  switch (rv) {
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_SLOT_ID_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
      return true;
    default:
      return false;
  }
}

// One dlopen'ed module, initialised once for the life of the process
// (C_Initialize is per process, PKCS#11 v2.40 §5.4; we let the OS lock).
struct Module {
  void* handle = nullptr;
  CK_FUNCTION_LIST* fn = nullptr;
};

Result<CK_FUNCTION_LIST*> load_module(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, Module> modules;
  std::lock_guard lock(mutex);
  if (auto it = modules.find(path); it != modules.end()) return it->second.fn;
  if (!std::filesystem::exists(path)) {
    return make_error(ErrorCode::NotFound, "PKCS#11 module '" + path + "' does not exist");
  }
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return make_error(ErrorCode::NotFound, "cannot load PKCS#11 module '" + path + "'", why ? why : "");
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* fn = nullptr;
  if (get_list == nullptr || get_list(&fn) != CKR_OK || fn == nullptr) {
    ::dlclose(handle);
    return make_error(ErrorCode::Unsupported, "'" + path + "' is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  const CK_RV rv = fn->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    ::dlclose(handle);
    return make_error(ErrorCode::Unavailable, "PKCS#11 module '" + path + "' failed to initialise", rv_name(rv));
  }
  modules.emplace(path, Module{handle, fn});
  return fn;
}

std::string trimmed(const unsigned char* text, std::size_t n) {
  std::string s(reinterpret_cast<const char*>(text), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

// A token and its pool of logged-in sessions; shared by every Signer on it.
class Token {
 public:
  Token(CK_FUNCTION_LIST* fn, std::string module, std::string label, std::string pin)
      : m_fn(fn), m_module(std::move(module)), m_label(std::move(label)), m_pin(std::move(pin)) {}

  CK_FUNCTION_LIST* fn() const { return m_fn; }
  const std::string& label() const { return m_label; }
  bool pin_matches(const std::string& pin) const { return pin == m_pin; }

  // A session borrowed from the pool; back to the pool on destruction unless
  // it failed or the pool was rebuilt meanwhile.
  class Session {
   public:
    Session(Token* t, CK_SESSION_HANDLE h, std::uint64_t gen) : m_token(t), m_handle(h), m_generation(gen) {}
    Session(Session&& o) noexcept : m_token(o.m_token), m_handle(o.m_handle), m_generation(o.m_generation) {
      o.m_token = nullptr;
    }
    Session& operator=(Session&&) = delete;
    ~Session() {
      if (m_token != nullptr) m_token->give_back(m_handle, m_generation);
    }
    CK_SESSION_HANDLE handle() const { return m_handle; }
    std::uint64_t generation() const { return m_generation; }

   private:
    Token* m_token;
    CK_SESSION_HANDLE m_handle;
    std::uint64_t m_generation;
  };

  Result<Session> session() {
    std::lock_guard lock(m_mutex);
    if (!m_connected) HM_CHECK(connect_locked());
    if (!m_idle.empty()) {
      const auto h = m_idle.back();
      m_idle.pop_back();
      return Session(this, h, m_generation);
    }
    CK_SESSION_HANDLE h = 0;
    const CK_RV rv = m_fn->C_OpenSession(m_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h);
    if (rv != CKR_OK) return failure_locked(rv, "opening a session");
    return Session(this, h, m_generation);
  }

  // Maps a failed call to an Error; device-class failures drop the pool.
  base::Error fail(CK_RV rv, const std::string& what) {
    std::lock_guard lock(m_mutex);
    return failure_locked(rv, what);
  }

 private:
  base::Error failure_locked(CK_RV rv, const std::string& what) {
    if (is_device_failure(rv)) {
      // The sessions are gone with the device; closing them may fail too.
      for (const auto h : m_idle) m_fn->C_CloseSession(h);
      m_idle.clear();
      m_connected = false;
      ++m_generation;
      return make_error(ErrorCode::Unavailable, "PKCS#11 token '" + m_label + "' is unavailable; retry later",
                        what + ": " + rv_name(rv));
    }
    return make_error(ErrorCode::Internal, "PKCS#11 token '" + m_label + "' failed " + what, rv_name(rv));
  }

  base::Status connect_locked() {
    if (m_bad_pin) return make_error(ErrorCode::Unauthenticated, "wrong PIN for PKCS#11 token '" + m_label + "'");
    CK_ULONG n = 0;
    CK_RV rv = m_fn->C_GetSlotList(CK_TRUE, nullptr, &n);
    std::vector<CK_SLOT_ID> slots(n);
    if (rv == CKR_OK && n > 0) rv = m_fn->C_GetSlotList(CK_TRUE, slots.data(), &n);
    if (rv != CKR_OK) return failure_locked(rv, "listing slots");
    slots.resize(n);
    std::string present;
    bool found = false;
    for (const auto slot : slots) {
      CK_TOKEN_INFO info{};
      if (m_fn->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
      const auto label = trimmed(info.label, sizeof info.label);
      if (label == m_label) {
        m_slot = slot;
        found = true;
        break;
      }
      present += (present.empty() ? "'" : ", '") + label + "'";
    }
    if (!found) {
      return make_error(ErrorCode::NotFound,
                        "no PKCS#11 token labelled '" + m_label + "' in '" + m_module + "'" +
                            (present.empty() ? " (no initialised token)" : " (present: " + present + ")"));
    }
    CK_SESSION_HANDLE h = 0;
    rv = m_fn->C_OpenSession(m_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h);
    if (rv != CKR_OK) return failure_locked(rv, "opening a session");
    // Logging in one session logs in every session of this application (§5.6).
    rv = m_fn->C_Login(h, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(m_pin.data()), m_pin.size());
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_LOCKED || rv == CKR_PIN_INVALID) {
      m_fn->C_CloseSession(h);
      m_bad_pin = true;  // never retry a wrong PIN: tokens lock after a few
      return make_error(ErrorCode::Unauthenticated, "wrong PIN for PKCS#11 token '" + m_label + "'", rv_name(rv));
    }
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      m_fn->C_CloseSession(h);
      return failure_locked(rv, "logging in");
    }
    m_idle.push_back(h);
    m_connected = true;
    return {};
  }

  void give_back(CK_SESSION_HANDLE h, std::uint64_t gen) {
    std::lock_guard lock(m_mutex);
    if (gen == m_generation && m_connected) {
      m_idle.push_back(h);
    } else {
      m_fn->C_CloseSession(h);
    }
  }

  CK_FUNCTION_LIST* m_fn;
  std::string m_module;
  std::string m_label;
  std::string m_pin;
  std::mutex m_mutex;
  CK_SLOT_ID m_slot = 0;
  bool m_connected = false;
  bool m_bad_pin = false;
  std::uint64_t m_generation = 1;
  std::vector<CK_SESSION_HANDLE> m_idle;
};

Result<std::shared_ptr<Token>> open_token(const Pkcs11Uri& uri) {
  HM_TRY(auto pin, resolve_pin(uri));
  HM_TRY(auto* fn, load_module(uri.module_path));
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<Token>> tokens;
  std::lock_guard lock(mutex);
  const std::string key = uri.module_path + '\n' + uri.token;
  auto it = tokens.find(key);
  if (it == tokens.end()) {
    it = tokens.emplace(key, std::make_shared<Token>(fn, uri.module_path, uri.token, std::move(pin))).first;
  } else if (!it->second->pin_matches(pin)) {
    // The token is already logged in for this process: a different PIN must not ride on it.
    return make_error(ErrorCode::Unauthenticated, "wrong PIN for PKCS#11 token '" + uri.token + "'");
  }
  return it->second;
}

// --- DER for the SubjectPublicKeyInfo built from the token's attributes ---
Bytes tlv(std::uint8_t tag, const Bytes& content) {
  Bytes out{tag};
  const auto n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n < 0x100) {
    out.insert(out.end(), {0x81, static_cast<std::uint8_t>(n)});
  } else {
    out.insert(out.end(), {0x82, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes der_integer(Bytes v) {
  while (v.size() > 1 && v[0] == 0) v.erase(v.begin());
  if (!v.empty() && (v[0] & 0x80)) v.insert(v.begin(), 0);
  return tlv(0x02, v);
}

const Bytes kOidP256{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const Bytes kOidP384{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
const Bytes kOidEcPublicKey{0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
const Bytes kOidRsaEncryption{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
// DigestInfo prefixes for RSASSA-PKCS1-v1_5 (RFC 8017 §9.2 note 1).
const Bytes kDigestInfoSha256{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                              0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
const Bytes kDigestInfoSha384{0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                              0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};

Result<Bytes> get_attribute(Token& token, const Token::Session& s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = token.fn()->C_GetAttributeValue(s.handle(), obj, &a, 1);
  if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 4096) {
    return token.fail(rv == CKR_OK ? CKR_ATTRIBUTE_TYPE_INVALID : rv, "reading a key attribute");
  }
  Bytes value(a.ulValueLen);
  a.pValue = value.data();
  rv = token.fn()->C_GetAttributeValue(s.handle(), obj, &a, 1);
  if (rv != CKR_OK) return token.fail(rv, "reading a key attribute");
  value.resize(a.ulValueLen);
  return value;
}

// The object of `cls` labelled `label`: nullopt when none, InvalidArgument when several.
Result<std::optional<CK_OBJECT_HANDLE>> find_object(Token& token, const Token::Session& s, CK_OBJECT_CLASS cls,
                                                    const std::string& label) {
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
  CK_RV rv = token.fn()->C_FindObjectsInit(s.handle(), tmpl, 2);
  if (rv != CKR_OK) return token.fail(rv, "searching for objects");
  CK_OBJECT_HANDLE found[2];
  CK_ULONG n = 0;
  rv = token.fn()->C_FindObjects(s.handle(), found, 2, &n);
  token.fn()->C_FindObjectsFinal(s.handle());
  if (rv != CKR_OK) return token.fail(rv, "searching for objects");
  if (n == 0) return std::optional<CK_OBJECT_HANDLE>{};
  if (n > 1) {
    return make_error(ErrorCode::InvalidArgument,
                      "PKCS#11 token '" + token.label() + "' holds several keys labelled '" + label + "'");
  }
  return std::optional<CK_OBJECT_HANDLE>{found[0]};
}

class Pkcs11Signer final : public Signer {
 public:
  Pkcs11Signer(std::shared_ptr<Token> token, std::string label, base::KeyAlgorithm alg, Bytes spki,
               std::string reference)
      : m_token(std::move(token)),
        m_label(std::move(label)),
        m_alg(alg),
        m_sig_alg(base::default_signature_algorithm(alg)),
        m_spki(std::move(spki)),
        m_reference(std::move(reference)) {}

  base::KeyAlgorithm key_algorithm() const override { return m_alg; }
  base::SignatureAlgorithm signature_algorithm() const override { return m_sig_alg; }
  const Bytes& public_key_der() const override { return m_spki; }
  std::string reference() const override { return m_reference; }

  Result<Bytes> sign(base::ByteView message) const override {
    // SoftHSM2 2.6 refuses CKM_ECDSA_SHA256 & co., so we hash here and hand the
    // token the digest: CKM_ECDSA, or CKM_RSA_PKCS over a DigestInfo.
    const bool sha384 =
        m_sig_alg == base::SignatureAlgorithm::EcdsaSha384 || m_sig_alg == base::SignatureAlgorithm::RsaPkcs1Sha384;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(message.data(), message.size(), md, &md_len, sha384 ? EVP_sha384() : EVP_sha256(), nullptr) != 1) {
      return make_error(ErrorCode::Internal, "digest failed", base::openssl_error_string());
    }
    const bool ec = m_alg == base::KeyAlgorithm::EcP256 || m_alg == base::KeyAlgorithm::EcP384;
    Bytes input;
    if (!ec) input = sha384 ? kDigestInfoSha384 : kDigestInfoSha256;
    input.insert(input.end(), md, md + md_len);

    HM_TRY(auto session, m_token->session());
    HM_TRY(const CK_OBJECT_HANDLE key, key_handle(session));
    CK_MECHANISM mech{ec ? CKM_ECDSA : CKM_RSA_PKCS, nullptr, 0};
    auto* fn = m_token->fn();
    CK_RV rv = fn->C_SignInit(session.handle(), &mech, key);
    if (rv != CKR_OK) return m_token->fail(rv, "starting a signature");
    Bytes sig(512);
    CK_ULONG len = sig.size();
    rv = fn->C_Sign(session.handle(), input.data(), input.size(), sig.data(), &len);
    if (rv != CKR_OK) return m_token->fail(rv, "signing");
    sig.resize(len);
    // CKM_ECDSA returns r||s, each as wide as the order (PKCS#11 v2.40 §2.3.1):
    // exactly the raw form the Signer contract promises; pkix makes it DER.
    const std::size_t width = m_alg == base::KeyAlgorithm::EcP384 ? 48 : 32;
    if (ec && sig.size() != 2 * width) {
      return make_error(ErrorCode::Internal, "PKCS#11 token returned an ECDSA signature of unexpected length");
    }
    return sig;
  }

 private:
  // The private key's handle, found again after the pool was rebuilt (handles
  // need not survive a token coming back).
  Result<CK_OBJECT_HANDLE> key_handle(const Token::Session& s) const {
    {
      std::lock_guard lock(m_mutex);
      if (m_handle_generation == s.generation()) return m_handle;
    }
    HM_TRY(auto h, find_object(*m_token, s, CKO_PRIVATE_KEY, m_label));
    if (!h) {
      return make_error(ErrorCode::NotFound,
                        "no private key labelled '" + m_label + "' in PKCS#11 token '" + m_token->label() + "'");
    }
    std::lock_guard lock(m_mutex);
    m_handle = *h;
    m_handle_generation = s.generation();
    return *h;
  }

  std::shared_ptr<Token> m_token;
  std::string m_label;
  base::KeyAlgorithm m_alg;
  base::SignatureAlgorithm m_sig_alg;
  Bytes m_spki;
  std::string m_reference;
  mutable std::mutex m_mutex;
  mutable CK_OBJECT_HANDLE m_handle = 0;
  mutable std::uint64_t m_handle_generation = 0;
};

Result<std::unique_ptr<Signer>> open_signer(const Pkcs11Uri& uri, std::shared_ptr<Token> token) {
  HM_TRY(auto session, token->session());
  HM_TRY(auto priv, find_object(*token, session, CKO_PRIVATE_KEY, uri.object));
  if (!priv) {
    return make_error(ErrorCode::NotFound,
                      "no private key labelled '" + uri.object + "' in PKCS#11 token '" + uri.token + "'");
  }
  HM_TRY(auto pub, find_object(*token, session, CKO_PUBLIC_KEY, uri.object));
  if (!pub) {
    return make_error(ErrorCode::NotFound,
                      "no public key labelled '" + uri.object + "' in PKCS#11 token '" + uri.token + "'");
  }
  HM_TRY(auto type_bytes, get_attribute(*token, session, *pub, CKA_KEY_TYPE));
  CK_KEY_TYPE type = 0;
  if (type_bytes.size() != sizeof type) return make_error(ErrorCode::Internal, "bad CKA_KEY_TYPE");
  std::memcpy(&type, type_bytes.data(), sizeof type);
  Bytes spki;
  base::KeyAlgorithm alg{};
  if (type == CKK_EC) {
    HM_TRY(auto params, get_attribute(*token, session, *pub, CKA_EC_PARAMS));
    HM_TRY(auto point, get_attribute(*token, session, *pub, CKA_EC_POINT));
    std::size_t width = 0;
    if (params == kOidP256) {
      alg = base::KeyAlgorithm::EcP256;
      width = 32;
    } else if (params == kOidP384) {
      alg = base::KeyAlgorithm::EcP384;
      width = 48;
    } else {
      return make_error(ErrorCode::Unsupported, "PKCS#11 key '" + uri.object + "' is on an unsupported curve");
    }
    // CKA_EC_POINT is a DER OCTET STRING around the point (SoftHSM2); accept the bare point too.
    if (point.size() == 2 * width + 3 && point[0] == 0x04 && point[1] == 2 * width + 1) {
      point.erase(point.begin(), point.begin() + 2);
    }
    if (point.size() != 2 * width + 1 || point[0] != 0x04) {
      return make_error(ErrorCode::Unsupported, "PKCS#11 key '" + uri.object + "' has an unexpected EC point");
    }
    Bytes bits{0x00};
    bits.insert(bits.end(), point.begin(), point.end());
    spki = tlv(0x30, cat({tlv(0x30, cat({kOidEcPublicKey, params})), tlv(0x03, bits)}));
  } else if (type == CKK_RSA) {
    HM_TRY(auto n, get_attribute(*token, session, *pub, CKA_MODULUS));
    HM_TRY(auto e, get_attribute(*token, session, *pub, CKA_PUBLIC_EXPONENT));
    while (n.size() > 1 && n[0] == 0) n.erase(n.begin());
    if (n.size() == 256) {
      alg = base::KeyAlgorithm::Rsa2048;
    } else if (n.size() == 384) {
      alg = base::KeyAlgorithm::Rsa3072;
    } else if (n.size() == 512) {
      alg = base::KeyAlgorithm::Rsa4096;
    } else {
      return make_error(ErrorCode::Unsupported, "PKCS#11 RSA key '" + uri.object + "' has an unsupported size");
    }
    Bytes bits{0x00};
    const Bytes rsa_key = tlv(0x30, cat({der_integer(n), der_integer(e)}));
    bits.insert(bits.end(), rsa_key.begin(), rsa_key.end());
    spki = tlv(0x30, cat({tlv(0x30, cat({kOidRsaEncryption, Bytes{0x05, 0x00}})), tlv(0x03, bits)}));
  } else {
    return make_error(ErrorCode::Unsupported, "PKCS#11 key '" + uri.object + "' is neither EC nor RSA");
  }
  HM_TRY(auto decoded, base::decode_public_key(spki));  // our DER must be what OpenSSL reads
  (void)decoded;
  return std::unique_ptr<Signer>(
      std::make_unique<Pkcs11Signer>(std::move(token), uri.object, alg, std::move(spki), uri.text()));
}

Result<Pkcs11Uri> parse_key_uri(std::string_view text) {
  HM_TRY(auto uri, Pkcs11Uri::parse(text));
  if (uri.object.empty()) {
    return make_error(ErrorCode::InvalidArgument, "PKCS#11 URI names no key (object=<label>)");
  }
  return uri;
}

}  // namespace

Result<std::unique_ptr<Signer>> pkcs11_load(std::string_view text) {
  HM_TRY(auto uri, parse_key_uri(text));
  HM_TRY(auto token, open_token(uri));
  return open_signer(uri, std::move(token));
}

Result<bool> pkcs11_key_exists(std::string_view text) {
  HM_TRY(auto uri, parse_key_uri(text));
  HM_TRY(auto token, open_token(uri));
  HM_TRY(auto session, token->session());
  HM_TRY(auto found, find_object(*token, session, CKO_PRIVATE_KEY, uri.object));
  return found.has_value();
}

Result<std::unique_ptr<Signer>> pkcs11_generate(std::string_view text, base::KeyAlgorithm alg) {
  HM_TRY(auto uri, parse_key_uri(text));
  HM_TRY(auto token, open_token(uri));
  {
    HM_TRY(auto session, token->session());
    HM_TRY(auto existing, find_object(*token, session, CKO_PRIVATE_KEY, uri.object));
    if (existing) {
      return make_error(ErrorCode::AlreadyExists,
                        "PKCS#11 token '" + uri.token + "' already holds a key labelled '" + uri.object + "'");
    }
    CK_BBOOL yes = CK_TRUE;
    CK_BBOOL no = CK_FALSE;
    base::SystemRng rng;
    Bytes id = rng.bytes(16);
    CK_ULONG bits = 0;
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    const Bytes* curve = nullptr;
    CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    switch (alg) {
      case base::KeyAlgorithm::EcP256:
        curve = &kOidP256;
        break;
      case base::KeyAlgorithm::EcP384:
        curve = &kOidP384;
        break;
      case base::KeyAlgorithm::Rsa2048:
        bits = 2048;
        break;
      case base::KeyAlgorithm::Rsa3072:
        bits = 3072;
        break;
      case base::KeyAlgorithm::Rsa4096:
        bits = 4096;
        break;
      case base::KeyAlgorithm::Ed25519:
        return make_error(ErrorCode::Unsupported, "Ed25519 keys are not generated in PKCS#11 tokens");
    }
    auto* label = const_cast<char*>(uri.object.data());
    std::vector<CK_ATTRIBUTE> pub{{CKA_TOKEN, &yes, sizeof yes},         {CKA_VERIFY, &yes, sizeof yes},
                                  {CKA_ENCRYPT, &no, sizeof no},         {CKA_WRAP, &no, sizeof no},
                                  {CKA_LABEL, label, uri.object.size()}, {CKA_ID, id.data(), id.size()}};
    if (curve != nullptr) {
      pub.push_back({CKA_EC_PARAMS, const_cast<std::uint8_t*>(curve->data()), curve->size()});
    } else {
      mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
      pub.push_back({CKA_MODULUS_BITS, &bits, sizeof bits});
      pub.push_back({CKA_PUBLIC_EXPONENT, exponent, sizeof exponent});
    }
    // The private key is sensitive and never extractable: it cannot leave the
    // token. It signs and does nothing else (no decrypt, unwrap or derive).
    CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, sizeof yes},         {CKA_PRIVATE, &yes, sizeof yes},
                           {CKA_SENSITIVE, &yes, sizeof yes},     {CKA_EXTRACTABLE, &no, sizeof no},
                           {CKA_SIGN, &yes, sizeof yes},          {CKA_DECRYPT, &no, sizeof no},
                           {CKA_UNWRAP, &no, sizeof no},          {CKA_DERIVE, &no, sizeof no},
                           {CKA_LABEL, label, uri.object.size()}, {CKA_ID, id.data(), id.size()}};
    CK_OBJECT_HANDLE pub_h = 0;
    CK_OBJECT_HANDLE priv_h = 0;
    const CK_RV rv = token->fn()->C_GenerateKeyPair(session.handle(), &mech, pub.data(), pub.size(), priv,
                                                    sizeof priv / sizeof priv[0], &pub_h, &priv_h);
    if (rv != CKR_OK) return token->fail(rv, "generating a key pair");
  }
  return open_signer(uri, std::move(token));
}

}  // namespace hallmark::keys
