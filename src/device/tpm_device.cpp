#include "device/tpm_device.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

namespace hallmark::device {

using base::ErrorCode;
using base::make_error;

namespace {

base::Error tpm_error(const char* what, TSS2_RC rc) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%x", static_cast<unsigned>(rc));
  std::string hint;
  if (rc == TPM2_RC_FAILURE) {
    hint = ": the TPM is in failure mode (restart it; a simulator: check its state folder and log)";
  } else if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER) {
    hint = ": the TPM could not be reached through this TCTI (is it running, on that host and port?)";
  }
  return make_error(ErrorCode::Unavailable, std::string("TPM: ") + what + " failed (" + hex + ")" + hint);
}

// The LDevID key's template differs from the IDevID key's only by this unique
// field: the TPM derives a different key from the same owner seed.
constexpr char kLdevidUnique[] = "hallmark LDevID key";

// How long opening a TPM may take (TCTI connect + TPM2_Startup); swtpm answers in milliseconds.
constexpr int kOpenTimeoutSeconds = 20;

// TCG DevID key templates: ECC P-256, SHA-256 Name, no symmetric, ECDSA-SHA256.
TPM2B_PUBLIC key_template(TpmKey key) {
  const bool restricted = key == TpmKey::Iak;
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                  TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT |
                                  (restricted ? TPMA_OBJECT_RESTRICTED : 0);
  auto& ecc = t.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  if (key == TpmKey::Ldevid) {
    auto& x = t.publicArea.unique.ecc.x;
    x.size = sizeof kLdevidUnique - 1;
    std::memcpy(x.buffer, kLdevidUnique, x.size);
  }
  return t;
}

const char* key_name(TpmKey key) {
  switch (key) {
    case TpmKey::Iak:
      return "the IAK";
    case TpmKey::Idevid:
      return "the IDevID key";
    case TpmKey::Ldevid:
      return "the LDevID key";
  }
  return "a key";
}

// RFC 5480 SubjectPublicKeyInfo of a P-256 point: a fixed prefix (id-ecPublicKey,
// prime256v1, BIT STRING of 66 octets), then the uncompressed point 04 || X || Y.
constexpr unsigned char kP256SpkiPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};

base::Bytes p256_spki(const TPM2B_PUBLIC& p) {
  const auto& x = p.publicArea.unique.ecc.x;
  const auto& y = p.publicArea.unique.ecc.y;
  if (x.size > 32 || y.size > 32) return {};
  base::Bytes out(std::begin(kP256SpkiPrefix), std::end(kP256SpkiPrefix));
  out.resize(out.size() + 64, 0);
  std::memcpy(out.data() + sizeof kP256SpkiPrefix + (32 - x.size), x.buffer, x.size);
  std::memcpy(out.data() + sizeof kP256SpkiPrefix + 32 + (32 - y.size), y.buffer, y.size);
  return out;
}

base::Bytes marshal_public(const TPM2B_PUBLIC& p) {
  base::Bytes out(sizeof(TPM2B_PUBLIC));
  std::size_t off = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Marshal(&p, out.data(), out.size(), &off) != TSS2_RC_SUCCESS) return {};
  out.resize(off);
  return out;
}

}  // namespace

struct TpmDevice::Impl {
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  ESYS_CONTEXT* ctx = nullptr;
  struct Object {
    ESYS_TR handle = ESYS_TR_NONE;
    base::Bytes pub;   // TPM2B_PUBLIC
    base::Bytes spki;  // SubjectPublicKeyInfo
  };
  Object objects[3];      // by TpmKey
  std::mutex sign_mutex;  // sign_digest may be called from TLS and CSR signing alike

  Object& object(TpmKey key) { return objects[static_cast<int>(key)]; }

  ~Impl() {
    if (ctx != nullptr) {
      for (auto& o : objects) {
        if (o.handle != ESYS_TR_NONE) Esys_FlushContext(ctx, o.handle);
      }
      Esys_Finalize(&ctx);
    }
    if (tcti != nullptr) Tss2_TctiLdr_Finalize(&tcti);
  }

  base::Status create(TpmKey key) {
    auto& o = object(key);
    if (o.handle != ESYS_TR_NONE) return {};
    TPM2B_SENSITIVE_CREATE sensitive{};
    const auto in_public = key_template(key);
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PUBLIC* out_public = nullptr;
    const ESYS_TR hierarchy = key == TpmKey::Iak ? ESYS_TR_RH_ENDORSEMENT : ESYS_TR_RH_OWNER;
    const auto rc = Esys_CreatePrimary(ctx, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                                       &in_public, &outside, &pcrs, &o.handle, &out_public, nullptr, nullptr, nullptr);
    if (rc != TSS2_RC_SUCCESS) return tpm_error((std::string("creating ") + key_name(key)).c_str(), rc);
    o.pub = marshal_public(*out_public);
    o.spki = p256_spki(*out_public);
    Esys_Free(out_public);
    return {};
  }
};

TpmDevice::TpmDevice(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
TpmDevice::~TpmDevice() = default;

base::Result<std::unique_ptr<TpmDevice>> TpmDevice::open(const std::string& tcti) {
  // tpm2-tss logs its own warnings and errors to stderr; our messages say what
  // failed. TSS2_LOG set by the user (e.g. all+debug) still wins.
  ::setenv("TSS2_LOG", "all+none", 0);
  // The swtpm TCTI connects and then reads without a timeout: a peer that
  // accepts and never answers would hang the command. The opening runs on its
  // own thread, bounded; a thread still blocked is left behind (the command is
  // about to exit with the error).
  struct Opening {
    std::unique_ptr<Impl> impl = std::make_unique<Impl>();
    base::Status status;
  };
  auto opening = std::make_shared<Opening>();
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  std::thread([opening, done, tcti] {
    auto& impl = *opening->impl;
    if (auto rc = Tss2_TctiLdr_Initialize(tcti.c_str(), &impl.tcti); rc != TSS2_RC_SUCCESS) {
      opening->status = tpm_error(("opening TCTI '" + tcti + "'").c_str(), rc);
    } else if (auto rc2 = Esys_Initialize(&impl.ctx, impl.tcti, nullptr); rc2 != TSS2_RC_SUCCESS) {
      opening->status = tpm_error("Esys_Initialize", rc2);
    }
    done->set_value();
  }).detach();
  if (finished.wait_for(std::chrono::seconds(kOpenTimeoutSeconds)) != std::future_status::ready) {
    return make_error(ErrorCode::Unavailable,
                      "TPM: no answer within " + std::to_string(kOpenTimeoutSeconds) + " s through TCTI '" + tcti +
                          "' (something accepts the connection but is not a TPM that responds)");
  }
  HM_CHECK(opening->status);
  return std::unique_ptr<TpmDevice>(new TpmDevice(std::move(opening->impl)));
}

base::Result<base::Bytes> TpmDevice::ek_certificate() {
  auto* ctx = m_impl->ctx;
  ESYS_TR index = ESYS_TR_NONE;
  if (auto rc = Esys_TR_FromTPMPublic(ctx, kEkCertIndex, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &index);
      rc != TSS2_RC_SUCCESS) {
    return tpm_error("finding the EK certificate NV index", rc);
  }
  TPM2B_NV_PUBLIC* nv_public = nullptr;
  if (auto rc = Esys_NV_ReadPublic(ctx, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv_public, nullptr);
      rc != TSS2_RC_SUCCESS) {
    return tpm_error("reading the EK certificate NV public area", rc);
  }
  const std::uint16_t size = nv_public->nvPublic.dataSize;
  Esys_Free(nv_public);
  base::Bytes out;
  while (out.size() < size) {
    const auto chunk = static_cast<std::uint16_t>(std::min<std::size_t>(512, size - out.size()));
    TPM2B_MAX_NV_BUFFER* data = nullptr;
    const auto rc = Esys_NV_Read(ctx, ESYS_TR_RH_OWNER, index, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, chunk,
                                 static_cast<std::uint16_t>(out.size()), &data);
    if (rc != TSS2_RC_SUCCESS) return tpm_error("reading the EK certificate", rc);
    out.insert(out.end(), data->buffer, data->buffer + data->size);
    Esys_Free(data);
  }
  // The index is sized for the largest certificate: the DER SEQUENCE says how much is the certificate.
  if (out.size() >= 4 && out[0] == 0x30 && out[1] == 0x82) {
    const std::size_t len = 4 + ((static_cast<std::size_t>(out[2]) << 8) | out[3]);
    if (len <= out.size()) out.resize(len);
  }
  return out;
}

base::Result<base::Bytes> TpmDevice::ek_public() {
  auto* ctx = m_impl->ctx;
  ESYS_TR ek = ESYS_TR_NONE;
  if (auto rc = Esys_TR_FromTPMPublic(ctx, kEkHandle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ek);
      rc != TSS2_RC_SUCCESS) {
    return tpm_error("finding the EK at 0x81010001", rc);
  }
  TPM2B_PUBLIC* pub = nullptr;
  if (auto rc = Esys_ReadPublic(ctx, ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, nullptr, nullptr);
      rc != TSS2_RC_SUCCESS) {
    return tpm_error("reading the EK public area", rc);
  }
  auto out = marshal_public(*pub);
  Esys_Free(pub);
  return out;
}

base::Result<base::Bytes> TpmDevice::iak_public() {
  HM_CHECK(m_impl->create(TpmKey::Iak));
  return m_impl->object(TpmKey::Iak).pub;
}

base::Result<base::Bytes> TpmDevice::idevid_public() {
  HM_CHECK(m_impl->create(TpmKey::Idevid));
  return m_impl->object(TpmKey::Idevid).pub;
}

base::Result<base::Bytes> TpmDevice::public_key_der(TpmKey key) {
  HM_CHECK(m_impl->create(key));
  const auto& spki = m_impl->object(key).spki;
  if (spki.empty()) return make_error(ErrorCode::Internal, std::string("TPM: ") + key_name(key) + " is not P-256");
  return spki;
}

base::Result<TpmDevice::Certified> TpmDevice::certify(base::ByteView nonce) {
  HM_CHECK(m_impl->create(TpmKey::Iak));
  HM_CHECK(m_impl->create(TpmKey::Idevid));
  TPM2B_DATA qualifying{};
  if (nonce.size() > sizeof(qualifying.buffer)) return make_error(ErrorCode::InvalidArgument, "nonce too long");
  qualifying.size = static_cast<UINT16>(nonce.size());
  std::memcpy(qualifying.buffer, nonce.data(), nonce.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;  // the IAK's own scheme (ECDSA-SHA256)
  TPM2B_ATTEST* attest = nullptr;
  TPMT_SIGNATURE* sig = nullptr;
  if (auto rc = Esys_Certify(m_impl->ctx, m_impl->object(TpmKey::Idevid).handle, m_impl->object(TpmKey::Iak).handle,
                             ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &qualifying, &scheme, &attest, &sig);
      rc != TSS2_RC_SUCCESS) {
    return tpm_error("TPM2_Certify", rc);
  }
  Certified out;
  out.attest.assign(attest->attestationData, attest->attestationData + attest->size);
  out.signature.resize(sizeof(TPMT_SIGNATURE));
  std::size_t off = 0;
  const auto rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, out.signature.data(), out.signature.size(), &off);
  Esys_Free(attest);
  Esys_Free(sig);
  if (rc != TSS2_RC_SUCCESS) return tpm_error("marshalling the signature", rc);
  out.signature.resize(off);
  return out;
}

base::Result<base::Bytes> TpmDevice::sign_digest(base::ByteView digest, TpmKey key) {
  if (key == TpmKey::Iak) return make_error(ErrorCode::InvalidArgument, "the IAK signs only TPM-made structures");
  std::lock_guard lock(m_impl->sign_mutex);
  HM_CHECK(m_impl->create(key));
  TPM2B_DIGEST d{};
  if (digest.size() != 32) return make_error(ErrorCode::InvalidArgument, "a SHA-256 digest has 32 octets");
  d.size = 32;
  std::memcpy(d.buffer, digest.data(), 32);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  TPMT_TK_HASHCHECK ticket{};  // a NULL ticket: the key is unrestricted
  ticket.tag = TPM2_ST_HASHCHECK;
  ticket.hierarchy = TPM2_RH_NULL;
  TPMT_SIGNATURE* sig = nullptr;
  if (auto rc = Esys_Sign(m_impl->ctx, m_impl->object(key).handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d,
                          &scheme, &ticket, &sig);
      rc != TSS2_RC_SUCCESS) {
    return tpm_error("TPM2_Sign", rc);
  }
  base::Bytes raw(64, 0);
  const auto& r = sig->signature.ecdsa.signatureR;
  const auto& s = sig->signature.ecdsa.signatureS;
  if (r.size > 32 || s.size > 32) {
    Esys_Free(sig);
    return make_error(ErrorCode::Internal, "TPM2_Sign returned an oversized ECDSA signature");
  }
  std::memcpy(raw.data() + (32 - r.size), r.buffer, r.size);
  std::memcpy(raw.data() + 32 + (32 - s.size), s.buffer, s.size);
  Esys_Free(sig);
  return raw;
}

base::Result<base::Bytes> TpmDevice::activate(base::ByteView credential_blob, base::ByteView encrypted_secret) {
  HM_CHECK(m_impl->create(TpmKey::Iak));
  auto* ctx = m_impl->ctx;
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
  std::size_t off = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(credential_blob.data(), credential_blob.size(), &off, &blob) !=
          TSS2_RC_SUCCESS ||
      off != credential_blob.size()) {
    return make_error(ErrorCode::Malformed, "the credential blob is not a TPM2B_ID_OBJECT");
  }
  off = 0;
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(encrypted_secret.data(), encrypted_secret.size(), &off, &secret) !=
          TSS2_RC_SUCCESS ||
      off != encrypted_secret.size()) {
    return make_error(ErrorCode::Malformed, "the encrypted secret is not a TPM2B_ENCRYPTED_SECRET");
  }
  ESYS_TR ek = ESYS_TR_NONE;
  if (auto rc = Esys_TR_FromTPMPublic(ctx, kEkHandle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ek);
      rc != TSS2_RC_SUCCESS) {
    return tpm_error("finding the EK at 0x81010001", rc);
  }
  // The standard EK's authPolicy is PolicySecret(TPM_RH_ENDORSEMENT).
  TPMT_SYM_DEF sym{};
  sym.algorithm = TPM2_ALG_NULL;
  ESYS_TR session = ESYS_TR_NONE;
  if (auto rc = Esys_StartAuthSession(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                      nullptr, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &session);
      rc != TSS2_RC_SUCCESS) {
    return tpm_error("starting a policy session", rc);
  }
  auto rc = Esys_PolicySecret(ctx, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                              nullptr, nullptr, nullptr, 0, nullptr, nullptr);
  TPM2B_DIGEST* cert_info = nullptr;
  if (rc == TSS2_RC_SUCCESS) {
    rc = Esys_ActivateCredential(ctx, m_impl->object(TpmKey::Iak).handle, ek, ESYS_TR_PASSWORD, session, ESYS_TR_NONE,
                                 &blob, &secret, &cert_info);
  }
  Esys_FlushContext(ctx, session);  // ignore the result: a spent session may already be gone
  if (rc != TSS2_RC_SUCCESS) return tpm_error("TPM2_ActivateCredential", rc);
  base::Bytes out(cert_info->buffer, cert_info->buffer + cert_info->size);
  Esys_Free(cert_info);
  return out;
}

}  // namespace hallmark::device
