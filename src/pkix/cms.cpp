#include "pkix/cms.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include "pkix/ossl.h"

namespace hallmark::pkix {

using base::ErrorCode;
using base::make_error;

namespace {
using Pkcs7Ptr = std::unique_ptr<PKCS7, ossl::Deleter<PKCS7, PKCS7_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, ossl::Deleter<CMS_ContentInfo, CMS_ContentInfo_free>>;
using BioPtr = std::unique_ptr<BIO, ossl::Deleter<BIO, BIO_free_all>>;
using ObjPtr = std::unique_ptr<ASN1_OBJECT, ossl::Deleter<ASN1_OBJECT, ASN1_OBJECT_free>>;

base::Error fail(const std::string& what) {
  return make_error(ErrorCode::Internal, "cannot build EnvelopedData: " + what, base::openssl_error_string());
}

// A fresh EnvelopedData (AES-256-CBC) announcing `content_type_oid`.
base::Result<CmsPtr> new_enveloped(const char* content_type_oid) {
  CmsPtr cms(CMS_EnvelopedData_create(EVP_aes_256_cbc()));
  if (!cms) return fail("create");
  ObjPtr type(OBJ_txt2obj(content_type_oid, 1));
  if (!type || CMS_set1_eContentType(cms.get(), type.get()) != 1) return fail("content type");
  // Attached content: without this CMS_final encrypts into a null sink and the
  // EnvelopedData carries no encryptedContent (CMS_encrypt does the same).
  if (CMS_set_detached(cms.get(), 0) != 1) return fail("attach content");
  return cms;
}

// Encrypts `content` for the recipients already added and encodes the result.
base::Result<base::Bytes> finish(CMS_ContentInfo* cms, base::ByteView content) {
  BioPtr in(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  if (!in || CMS_final(cms, in.get(), nullptr, CMS_BINARY) != 1) return fail("encrypt");
  unsigned char* out = nullptr;
  const int len = i2d_CMS_ContentInfo(cms, &out);
  if (len <= 0) return fail("encode");
  base::Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

unsigned char* openssl_copy(base::ByteView v) {
  auto* p = static_cast<unsigned char*>(OPENSSL_malloc(v.size()));
  if (p != nullptr) std::copy(v.begin(), v.end(), p);
  return p;
}
}  // namespace

base::Result<base::Bytes> encode_certs_only(const std::vector<Certificate>& certs) {
  if (certs.empty()) return make_error(ErrorCode::InvalidArgument, "a certs-only message needs a certificate");
  // The layout `openssl crl2pkcs7 -nocrl` produces: SignedData version 1 whose
  // encapsulated content is id-data with the content absent (RFC 5652 §5.2).
  Pkcs7Ptr p7(PKCS7_new());
  if (!p7 || PKCS7_set_type(p7.get(), NID_pkcs7_signed) != 1) {
    return make_error(ErrorCode::Internal, "cannot build PKCS#7", base::openssl_error_string());
  }
  PKCS7_SIGNED* sd = p7->d.sign;
  sd->contents->type = OBJ_nid2obj(NID_pkcs7_data);
  for (const auto& cert : certs) {
    const unsigned char* p = cert.der().data();
    ossl::X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(cert.der().size())));
    if (!x) return make_error(ErrorCode::Internal, "cannot re-read a certificate", base::openssl_error_string());
    if (PKCS7_add_certificate(p7.get(), x.get()) != 1) {  // takes its own reference
      return make_error(ErrorCode::Internal, "cannot add a certificate to PKCS#7", base::openssl_error_string());
    }
  }
  unsigned char* out = nullptr;
  const int len = i2d_PKCS7(p7.get(), &out);
  if (len <= 0) return make_error(ErrorCode::Internal, "cannot encode PKCS#7", base::openssl_error_string());
  base::Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

base::Result<std::vector<Certificate>> decode_certs_only(base::ByteView der) {
  const unsigned char* p = der.data();
  Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  if (!p7 || p != der.data() + der.size()) {
    return make_error(ErrorCode::Malformed, "not a DER PKCS#7 message", base::openssl_error_string());
  }
  if (PKCS7_type_is_signed(p7.get()) == 0 || p7->d.sign == nullptr) {
    return make_error(ErrorCode::Malformed, "PKCS#7 message is not SignedData");
  }
  STACK_OF(X509)* stack = p7->d.sign->cert;
  const int n = stack ? sk_X509_num(stack) : 0;
  if (n == 0) return make_error(ErrorCode::Malformed, "PKCS#7 message carries no certificate");
  std::vector<Certificate> out;
  for (int i = 0; i < n; ++i) {
    unsigned char* buf = nullptr;
    const int len = i2d_X509(sk_X509_value(stack, i), &buf);
    if (len <= 0) return make_error(ErrorCode::Malformed, "cannot re-encode a certificate in PKCS#7");
    base::Bytes cert_der(buf, buf + len);
    OPENSSL_free(buf);
    HM_TRY(auto cert, Certificate::parse(cert_der));
    out.push_back(std::move(cert));
  }
  return out;
}

base::Result<base::Bytes> encrypt_for_kek(base::ByteView content, const char* content_type_oid, base::ByteView kek,
                                          base::ByteView key_id) {
  if (kek.size() != 16 && kek.size() != 24 && kek.size() != 32) {
    return make_error(ErrorCode::InvalidArgument, "a key-encryption key is 16, 24 or 32 octets (AES key wrap)");
  }
  if (key_id.empty()) return make_error(ErrorCode::InvalidArgument, "a key-encryption key needs an identifier");
  HM_TRY(CmsPtr cms, new_enveloped(content_type_oid));
  // add0: the recipient info takes both buffers (and clears the key when freed).
  unsigned char* key = openssl_copy(kek);
  unsigned char* id = openssl_copy(key_id);
  if (key == nullptr || id == nullptr ||
      CMS_add0_recipient_key(cms.get(), NID_undef, key, kek.size(), id, key_id.size(), nullptr, nullptr, nullptr) ==
          nullptr) {
    OPENSSL_clear_free(key, kek.size());
    OPENSSL_free(id);
    return fail("KEK recipient");
  }
  return finish(cms.get(), content);
}

base::Result<base::Bytes> encrypt_for_certificate(base::ByteView content, const char* content_type_oid,
                                                  const Certificate& recipient) {
  const unsigned char* p = recipient.der().data();
  ossl::X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(recipient.der().size())));
  if (!x) return make_error(ErrorCode::InvalidArgument, "cannot read the recipient certificate");
  HM_TRY(CmsPtr cms, new_enveloped(content_type_oid));
  if (CMS_add1_recipient_cert(cms.get(), x.get(), 0) == nullptr) {
    return make_error(ErrorCode::Unsupported, "the recipient certificate's key cannot receive an encrypted key",
                      base::openssl_error_string());
  }
  return finish(cms.get(), content);
}

}  // namespace hallmark::pkix
