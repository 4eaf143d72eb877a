#include "pkix/cms.h"

#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include "pkix/ossl.h"

namespace hallmark::pkix {

using base::ErrorCode;
using base::make_error;

namespace {
using Pkcs7Ptr = std::unique_ptr<PKCS7, ossl::Deleter<PKCS7, PKCS7_free>>;
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

}  // namespace hallmark::pkix
