#include "device/tpm_device.h"

#include <cstring>

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
  return make_error(ErrorCode::Unavailable, std::string("TPM: ") + what + " failed (" + hex + ")");
}

// TCG DevID key templates: ECC P-256, SHA-256 Name, no symmetric, ECDSA-SHA256.
TPM2B_PUBLIC key_template(bool restricted) {
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
  return t;
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
  ESYS_TR iak = ESYS_TR_NONE, idevid = ESYS_TR_NONE;
  base::Bytes iak_pub, idevid_pub;

  ~Impl() {
    if (ctx != nullptr) {
      if (iak != ESYS_TR_NONE) Esys_FlushContext(ctx, iak);
      if (idevid != ESYS_TR_NONE) Esys_FlushContext(ctx, idevid);
      Esys_Finalize(&ctx);
    }
    if (tcti != nullptr) Tss2_TctiLdr_Finalize(&tcti);
  }

  base::Status create(bool restricted) {
    ESYS_TR& handle = restricted ? iak : idevid;
    if (handle != ESYS_TR_NONE) return {};
    TPM2B_SENSITIVE_CREATE sensitive{};
    const auto in_public = key_template(restricted);
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PUBLIC* out_public = nullptr;
    const ESYS_TR hierarchy = restricted ? ESYS_TR_RH_ENDORSEMENT : ESYS_TR_RH_OWNER;
    const auto rc = Esys_CreatePrimary(ctx, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                                       &in_public, &outside, &pcrs, &handle, &out_public, nullptr, nullptr, nullptr);
    if (rc != TSS2_RC_SUCCESS) return tpm_error(restricted ? "creating the IAK" : "creating the IDevID key", rc);
    (restricted ? iak_pub : idevid_pub) = marshal_public(*out_public);
    Esys_Free(out_public);
    return {};
  }
};

TpmDevice::TpmDevice(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
TpmDevice::~TpmDevice() = default;

base::Result<std::unique_ptr<TpmDevice>> TpmDevice::open(const std::string& tcti) {
  auto impl = std::make_unique<Impl>();
  if (auto rc = Tss2_TctiLdr_Initialize(tcti.c_str(), &impl->tcti); rc != TSS2_RC_SUCCESS) {
    return tpm_error(("opening TCTI '" + tcti + "'").c_str(), rc);
  }
  if (auto rc = Esys_Initialize(&impl->ctx, impl->tcti, nullptr); rc != TSS2_RC_SUCCESS) {
    return tpm_error("Esys_Initialize", rc);
  }
  return std::unique_ptr<TpmDevice>(new TpmDevice(std::move(impl)));
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
  HM_CHECK(m_impl->create(true));
  return m_impl->iak_pub;
}

base::Result<base::Bytes> TpmDevice::idevid_public() {
  HM_CHECK(m_impl->create(false));
  return m_impl->idevid_pub;
}

base::Result<TpmDevice::Certified> TpmDevice::certify(base::ByteView nonce) {
  HM_CHECK(m_impl->create(true));
  HM_CHECK(m_impl->create(false));
  TPM2B_DATA qualifying{};
  if (nonce.size() > sizeof(qualifying.buffer)) return make_error(ErrorCode::InvalidArgument, "nonce too long");
  qualifying.size = static_cast<UINT16>(nonce.size());
  std::memcpy(qualifying.buffer, nonce.data(), nonce.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;  // the IAK's own scheme (ECDSA-SHA256)
  TPM2B_ATTEST* attest = nullptr;
  TPMT_SIGNATURE* sig = nullptr;
  if (auto rc = Esys_Certify(m_impl->ctx, m_impl->idevid, m_impl->iak, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                             &qualifying, &scheme, &attest, &sig);
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

base::Result<base::Bytes> TpmDevice::sign_digest(base::ByteView digest) {
  HM_CHECK(m_impl->create(false));
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
  if (auto rc = Esys_Sign(m_impl->ctx, m_impl->idevid, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme,
                          &ticket, &sig);
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
  HM_CHECK(m_impl->create(true));
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
    rc = Esys_ActivateCredential(ctx, m_impl->iak, ek, ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &blob, &secret,
                                 &cert_info);
  }
  Esys_FlushContext(ctx, session);  // ignore the result: a spent session may already be gone
  if (rc != TSS2_RC_SUCCESS) return tpm_error("TPM2_ActivateCredential", rc);
  base::Bytes out(cert_info->buffer, cert_info->buffer + cert_info->size);
  Esys_Free(cert_info);
  return out;
}

}  // namespace hallmark::device
