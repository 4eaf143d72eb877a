// EstService: the EST front end (RFC 7030 + RFC 8951), a thin mapping between
// HTTP and ra::EnrollmentService. Testable in-process: hand it http::Request
// values (with the peer chain and channel binding the server would set).
//
// Routes: /.well-known/est[/<label>]/{cacerts, simpleenroll, simplereenroll,
// csrattrs, serverkeygen, fullcmc}. Unknown label or operation: 404. fullcmc:
// 501 (on the roadmap). Bodies are base64 of DER in both directions, any
// whitespace accepted, Content-Transfer-Encoding ignored (RFC 8951 §3.2);
// a PEM-armoured CSR is accepted too. Responses are base64 with LF line ends.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "http/message.h"
#include "pkix/certificate.h"
#include "pkix/csr.h"
#include "ra/enrollment_service.h"

namespace hallmark::proto::est {

inline constexpr std::string_view kPrefix = "/.well-known/est";

struct EstConfig {
  ra::EnrollmentPolicy default_policy;                 // no label in the path
  std::map<std::string, ra::EnrollmentPolicy> labels;  // /.well-known/est/<label>/...
  std::vector<pkix::Certificate> ca_certs;             // /cacerts: the issuing CA and its root
  bool server_keygen = true;
  // Key-encryption material for serverkeygen (RFC 7030 §4.4.1), looked up per
  // request by the identifier the CSR names; unset or not found: 400.
  std::function<base::Result<std::optional<base::Bytes>>(base::ByteView key_id)> symmetric_key;
  std::function<base::Result<std::optional<pkix::Certificate>>(base::ByteView key_id)> encryption_certificate;
};

class EstService {
 public:
  EstService(EstConfig config, ra::EnrollmentService& enrollment);

  // Thread-safe (the server calls it from several io threads).
  http::Response handle(const http::Request& request);

 private:
  http::Response cacerts() const;
  http::Response csrattrs(const ra::EnrollmentPolicy& policy) const;
  http::Response enroll(const ra::EnrollmentPolicy& policy, const http::Request& request, bool renewal);
  http::Response server_keygen(const ra::EnrollmentPolicy& policy, const http::Request& request);
  // How a server-generated key is returned (RFC 7030 §4.4.2): plain PKCS#8
  // inside TLS, or EnvelopedData for the KEK / certificate the CSR names.
  struct KeyEncryption {
    base::Bytes key_id;
    std::optional<base::Bytes> kek;
    std::optional<pkix::Certificate> recipient;
    // (media type, DER) of the key part.
    base::Result<std::pair<std::string, base::Bytes>> seal(base::ByteView pkcs8) const;
  };
  base::Result<KeyEncryption> key_encryption_for(const pkix::Csr& csr) const;

  EstConfig m_config;
  ra::EnrollmentService& m_enrollment;
  std::string m_cacerts_body;  // computed once
};

// base64 of `der` in lines of 64 characters, each ending in LF.
std::string base64_lines(base::ByteView der);
// DER CsrAttrs (RFC 7030 §4.5.2) for a policy.
base::Bytes csr_attributes(const ra::EnrollmentPolicy& policy);

}  // namespace hallmark::proto::est
