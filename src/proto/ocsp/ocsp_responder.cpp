#include "proto/ocsp/ocsp_responder.h"

#include <algorithm>
#include <ctime>

#include "base/crypto.h"
#include "base/log.h"
#include "pkix/oid.h"
#include "proto/ocsp/errors.h"

namespace hallmark::proto::ocsp {

using base::Bytes;
using base::ByteView;
using base::ErrorCode;
using base::make_error;

namespace {

constexpr char kRequestType[] = "application/ocsp-request";
constexpr char kResponseType[] = "application/ocsp-response";

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string http_date(base::TimePoint t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding of the GET path segment; '+' stays '+' (base64).
base::Result<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size() || hex_value(in[i + 1]) < 0 || hex_value(in[i + 2]) < 0) {
      return make_error(ErrorCode::Malformed, "bad percent-encoding in the OCSP GET request");
    }
    out += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
    i += 2;
  }
  return out;
}

OcspAnswer error_answer(pkix::OcspStatus status) {
  static const auto responses = [] {
    std::unordered_map<int, std::shared_ptr<const Bytes>> m;
    for (auto s : {pkix::OcspStatus::MalformedRequest, pkix::OcspStatus::InternalError, pkix::OcspStatus::TryLater,
                   pkix::OcspStatus::SigRequired, pkix::OcspStatus::Unauthorized}) {
      m[static_cast<int>(s)] = std::make_shared<const Bytes>(pkix::ocsp_error_response(s));
    }
    return m;
  }();
  OcspAnswer a;
  a.status = status;
  a.der = responses.at(static_cast<int>(status));
  return a;
}

}  // namespace

base::Result<std::unique_ptr<OcspResponder>> OcspResponder::create(std::vector<ResponderAuthority> authorities,
                                                                   const ca::RevocationStore& store,
                                                                   const base::Clock& clock, ResponderConfig config) {
  std::vector<pkix::OcspIssuerKey> keys;
  for (const auto& a : authorities) {
    // RFC 6960 §4.2.2.2: a delegated responder is certified directly by the CA
    // it answers for and carries id-kp-OCSPSigning.
    HM_TRY(auto ca_key, a.issuer_cert.public_key());
    if (a.responder_cert.issuer() != a.issuer_cert.subject() || !a.responder_cert.verify_signature(ca_key).ok()) {
      return make_error(ErrorCode::InvalidArgument,
                        "the OCSP responder certificate for '" + a.issuer + "' is not issued by that CA");
    }
    auto eku = a.responder_cert.find_extension(pkix::oid::kExtKeyUsage);
    auto ekus = eku ? pkix::decode_ext_key_usage(eku->value)
                    : base::Result<std::vector<std::string>>(std::vector<std::string>{});
    if (!ekus.ok() || std::find(ekus->begin(), ekus->end(), pkix::oid::kOcspSigning) == ekus->end()) {
      return make_error(ErrorCode::InvalidArgument,
                        "the OCSP responder certificate for '" + a.issuer + "' lacks extendedKeyUsage OCSPSigning");
    }
    if (a.signer == nullptr || a.signer->public_key_der() != a.responder_cert.subject_public_key_info()) {
      return make_error(ErrorCode::InvalidArgument,
                        "the OCSP responder key for '" + a.issuer + "' does not match its certificate");
    }
    HM_TRY(auto key, pkix::ocsp_issuer_key(a.issuer_cert));
    keys.push_back(std::move(key));
  }
  return std::unique_ptr<OcspResponder>(
      new OcspResponder(std::move(authorities), std::move(keys), store, clock, config));
}

OcspResponder::OcspResponder(std::vector<ResponderAuthority> authorities, std::vector<pkix::OcspIssuerKey> keys,
                             const ca::RevocationStore& store, const base::Clock& clock, ResponderConfig config)
    : m_authorities(std::move(authorities)),
      m_keys(std::move(keys)),
      m_store(store),
      m_clock(clock),
      m_config(config) {}

std::int64_t OcspResponder::current_generation() {
  const auto now = steady_ns();
  const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(m_config.generation_check).count();
  if (now - m_checked_at.load(std::memory_order_acquire) < interval) {
    return m_generation.load(std::memory_order_acquire);
  }
  std::lock_guard lock(m_check_mutex);
  if (steady_ns() - m_checked_at.load(std::memory_order_acquire) >= interval) {
    auto g = m_store.generation();
    if (g.ok()) {
      if (g.value() != m_generation.load()) {
        std::lock_guard cache_lock(m_cache_mutex);
        m_cache.clear();  // replaced on revocation (entries carry their generation too)
        m_generation.store(g.value(), std::memory_order_release);
      }
      m_checked_at.store(steady_ns(), std::memory_order_release);
    } else {
      base::log::warn("ocsp: cannot read the revocation generation: " + g.error().describe());
      return -1;  // unknown: nothing may be served from the cache
    }
  }
  return m_generation.load(std::memory_order_acquire);
}

OcspAnswer OcspResponder::answer(ByteView request_der) {
  if (request_der.size() > m_config.max_request) return error_answer(pkix::OcspStatus::MalformedRequest);
  auto request = pkix::decode_ocsp_request(request_der);
  if (!request.ok()) return error_answer(status_for(request.error().code));
  const auto generation = current_generation();
  if (generation < 0) return error_answer(pkix::OcspStatus::TryLater);

  const bool cacheable = !request->nonce && request->ids.size() == 1;
  const std::string key = cacheable ? base::to_string(request->ids.front().encoded) : std::string();
  if (cacheable) {
    std::lock_guard lock(m_cache_mutex);
    auto it = m_cache.find(key);
    if (it != m_cache.end() && it->second.generation == generation &&
        m_clock.now() + m_config.refresh_margin < it->second.next_update) {
      OcspAnswer a;
      a.der = it->second.der;
      a.from_cache = true;
      a.produced_at = it->second.produced_at;
      a.next_update = it->second.next_update;
      a.etag = it->second.etag;
      return a;
    }
  }
  auto fresh = respond(request.value(), generation);
  if (!fresh.ok()) {
    if (fresh.error().code != ErrorCode::NotFound) base::log::warn("ocsp: " + fresh.error().describe());
    return error_answer(status_for(fresh.error().code));
  }
  if (cacheable) {
    fresh->etag = "\"" + base::hex_encode(ByteView(base::sha256(*fresh->der)).subspan(0, 16)) + "\"";
    std::lock_guard lock(m_cache_mutex);
    if (m_cache.size() >= m_config.max_cached) m_cache.clear();
    // Tagged with the generation read before the lookup: if a revocation
    // landed meanwhile, the next generation check makes it stale.
    m_cache[key] = Entry{fresh->der, fresh->produced_at, fresh->next_update, generation, fresh->etag};
  }
  return std::move(fresh).value();
}

base::Result<OcspAnswer> OcspResponder::respond(const pkix::OcspRequest& request, std::int64_t generation) {
  (void)generation;
  // All CertIDs must name one issuer we answer for: one responder signs the response.
  std::optional<std::size_t> which;
  for (const auto& id : request.ids) {
    std::optional<std::size_t> match;
    for (std::size_t i = 0; i < m_keys.size(); ++i) {
      if (m_keys[i].matches(id)) match = i;
    }
    if (!match || (which && *which != *match)) {
      return make_error(ErrorCode::NotFound, "not authoritative for the issuer in the request");
    }
    which = match;
  }
  const auto& authority = m_authorities[*which];
  const auto now = std::chrono::floor<std::chrono::seconds>(m_clock.now());

  pkix::OcspResponseSpec spec;
  spec.signature_algorithm = authority.signer->signature_algorithm();
  spec.responder_spki = authority.responder_cert.subject_public_key_info();
  spec.produced_at = now;
  spec.nonce = request.nonce;
  for (const auto& id : request.ids) {
    pkix::OcspSingleResponse single;
    single.cert_id = id.encoded;
    single.this_update = now;
    single.next_update = now + m_config.validity;
    if (!id.serial_negative) {
      HM_TRY(auto state, m_store.state(authority.issuer, id.serial_hex));
      if (state.kind == ca::CertificateState::Kind::Good) single.kind = pkix::OcspSingleResponse::Kind::Good;
      if (state.kind == ca::CertificateState::Kind::Revoked && state.revocation) {
        single.kind = pkix::OcspSingleResponse::Kind::Revoked;
        single.revocation_time = state.revocation->revoked_at;
        if (state.revocation->reason != ca::RevocationReason::Unspecified) {
          single.reason = static_cast<int>(state.revocation->reason);
        }
      }
    }
    spec.responses.push_back(std::move(single));
  }
  HM_TRY(auto data, pkix::encode_ocsp_response_data(spec));
  HM_TRY(auto signature, authority.signer->sign(data));
  HM_TRY(auto der,
         pkix::assemble_ocsp_response(data, spec.signature_algorithm, signature, {authority.responder_cert.der()}));
  OcspAnswer a;
  a.der = std::make_shared<const Bytes>(std::move(der));
  a.produced_at = now;
  a.next_update = now + m_config.validity;
  return a;
}

http::Response OcspResponder::handle(const http::Request& request) {
  OcspAnswer a;
  if (request.method == "POST" && (request.path == "/ocsp" || request.path == "/ocsp/")) {
    auto type = request.header("Content-Type");
    if (type && !http::media_type_is(*type, kRequestType)) {
      return http::Response::text(415, "OCSP requests are " + std::string(kRequestType) + "\n");
    }
    a = answer(base::view(request.body));
  } else if ((request.method == "GET" || request.method == "HEAD") && request.path.rfind("/ocsp/", 0) == 0) {
    // RFC 6960 Appendix A.1: GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}.
    const auto encoded = std::string_view(request.path).substr(6);
    if (encoded.size() > m_config.max_request * 2) {
      a = error_answer(pkix::OcspStatus::MalformedRequest);
    } else {
      auto text = percent_decode(encoded);
      auto der = text.ok() ? base::base64_decode(text.value()) : base::Result<Bytes>(text.take_error());
      a = der.ok() ? answer(der.value()) : error_answer(pkix::OcspStatus::MalformedRequest);
    }
  } else if (request.path == "/ocsp" || request.path.rfind("/ocsp/", 0) == 0) {
    auto r = http::Response::text(405, "OCSP takes POST /ocsp or GET /ocsp/<base64 request>\n");
    r.headers.emplace_back("Allow", "GET, POST");
    return r;
  } else {
    return http::Response::text(404, "not found\n");
  }
  auto r = http::Response::with(200, kResponseType, base::to_string(*a.der));
  if (request.method == "GET" && !a.etag.empty()) {
    // RFC 9919 §6 / RFC 5019 §6: let HTTP caches keep it until nextUpdate.
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(a.next_update - m_clock.now()).count();
    r.headers.emplace_back("Cache-Control", "max-age=" + std::to_string(std::max<std::int64_t>(0, left)) +
                                                ", public, no-transform, must-revalidate");
    r.headers.emplace_back("Last-Modified", http_date(a.produced_at));
    r.headers.emplace_back("Expires", http_date(a.next_update));
    r.headers.emplace_back("ETag", a.etag);
  }
  return r;
}

}  // namespace hallmark::proto::ocsp
