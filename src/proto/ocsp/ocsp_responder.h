// OcspResponder: answers OCSP requests (RFC 6960) for the issuers it holds a
// delegated responder for, from the RevocationStore, over HTTP (POST /ocsp,
// GET /ocsp/<url-encoded base64>, RFC 6960 Appendix A.1).
//
// Cached path (no nonce, one CertID, RFC 9919 style): the pre-signed response
// is served from memory until `refresh_margin` before its nextUpdate, and all
// cached responses are dropped when the store's revocation generation changes.
// The generation is read at most every `generation_check`, so a revocation by
// another process shows within that time without a database round trip per
// request. Fresh path (nonce): looked up and signed per request, nonce echoed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "ca/revocation.h"
#include "http/message.h"
#include "keys/signer.h"
#include "pkix/certificate.h"
#include "pkix/ocsp.h"

namespace hallmark::proto::ocsp {

// One issuer the responder is authoritative for.
struct ResponderAuthority {
  std::string issuer;                          // issuer name in the registry
  pkix::Certificate issuer_cert;               // the CA
  pkix::Certificate responder_cert;            // issued by the CA: OCSPSigning + ocsp-nocheck
  std::shared_ptr<const keys::Signer> signer;  // the responder's key
};

struct ResponderConfig {
  std::chrono::seconds validity{3600};       // nextUpdate - thisUpdate
  std::chrono::seconds refresh_margin{300};  // replace a cached response this long before nextUpdate
  std::chrono::milliseconds generation_check{250};
  std::size_t max_request = 8 * 1024;  // larger bodies: malformedRequest
  std::size_t max_cached = 200'000;    // beyond: the cache starts over
};

// What answer() produced (for HTTP caching headers and tests).
struct OcspAnswer {
  pkix::OcspStatus status = pkix::OcspStatus::Successful;
  std::shared_ptr<const base::Bytes> der;
  bool from_cache = false;
  base::TimePoint produced_at;
  base::TimePoint next_update;  // successful responses
  std::string etag;             // successful cacheable responses
};

class OcspResponder {
 public:
  // InvalidArgument when a responder certificate is not issued by its CA or lacks OCSPSigning.
  static base::Result<std::unique_ptr<OcspResponder>> create(std::vector<ResponderAuthority> authorities,
                                                             const ca::RevocationStore& store, const base::Clock& clock,
                                                             ResponderConfig config = {});

  // Always an OCSPResponse: errors become unsigned statuses (errors.cpp).
  OcspAnswer answer(base::ByteView request_der);

  // http::Handler for /ocsp and /ocsp/...; thread-safe.
  http::Response handle(const http::Request& request);

  std::size_t authority_count() const { return m_authorities.size(); }

 private:
  struct Entry {
    std::shared_ptr<const base::Bytes> der;
    base::TimePoint produced_at;
    base::TimePoint next_update;
    std::int64_t generation = 0;
    std::string etag;
  };
  OcspResponder(std::vector<ResponderAuthority> authorities, std::vector<pkix::OcspIssuerKey> keys,
                const ca::RevocationStore& store, const base::Clock& clock, ResponderConfig config);
  std::int64_t current_generation();
  base::Result<OcspAnswer> respond(const pkix::OcspRequest& request, std::int64_t generation);

  std::vector<ResponderAuthority> m_authorities;
  std::vector<pkix::OcspIssuerKey> m_keys;  // parallel to m_authorities
  const ca::RevocationStore& m_store;
  const base::Clock& m_clock;
  ResponderConfig m_config;

  std::atomic<std::int64_t> m_generation{-1};
  std::atomic<std::int64_t> m_checked_at{0};  // steady-clock ns of the last generation read
  std::mutex m_check_mutex;

  std::mutex m_cache_mutex;
  std::unordered_map<std::string, Entry> m_cache;  // key: CertID DER
};

}  // namespace hallmark::proto::ocsp
