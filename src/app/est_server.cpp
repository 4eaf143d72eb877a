#include "app/est_server.h"

#include <arpa/inet.h>

#include <cctype>
#include <filesystem>

#include "base/files.h"
#include "base/log.h"
#include "keys/software_key_store.h"
#include "keys/tls_key.h"
#include "pkix/extensions.h"
#include "pkix/oid.h"

namespace hallmark::app {

using base::ErrorCode;
using base::make_error;
namespace fs = std::filesystem;

namespace {

constexpr char kTlsKeyName[] = "tls-server";

bool is_ip(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string host_of(const std::string& listen) {
  if (!listen.empty() && listen.front() == '[') return listen.substr(1, listen.find(']') - 1);
  return listen.substr(0, listen.rfind(':'));
}

// The names the server certificate must carry for `listen`.
void wanted_names(const std::string& listen, std::vector<std::string>& dns, std::vector<std::string>& ips) {
  dns = {"localhost"};
  ips = {"127.0.0.1"};
  const auto host = host_of(listen);
  if (host.empty() || host == "0.0.0.0" || host == "::") return;  // wildcard: local names only
  if (is_ip(host)) {
    if (host != "127.0.0.1") ips.push_back(host);
  } else if (host != "localhost") {
    dns.push_back(host);
  }
}

bool covers(const pkix::Certificate& cert, const std::vector<std::string>& dns, const std::vector<std::string>& ips,
            base::TimePoint now) {
  if (!cert.not_after().no_expiry && cert.not_after().time < now + std::chrono::hours(24 * 30)) return false;
  auto ext = cert.find_extension(pkix::oid::kSubjectAltName);
  if (!ext) return false;
  auto san = pkix::decode_subject_alt_name(ext->value);
  if (!san.ok()) return false;
  for (const auto& d : dns) {
    if (std::find(san->dns.begin(), san->dns.end(), d) == san->dns.end()) return false;
  }
  for (const auto& i : ips) {
    if (std::find(san->ip.begin(), san->ip.end(), i) == san->ip.end()) return false;
  }
  return true;
}

// Key-encryption material for serverkeygen (RFC 7030 §4.4.1), named by the
// lower-case hex of the identifier the CSR carries:
//   <dir>/est/kek/<id>.key         a pre-provisioned AES key, hex (32, 48 or 64 digits)
//   <dir>/est/recipients/<id>.pem  a client's encryption certificate (id = its SKI)
// Read per request, so keys can be provisioned while the server runs.
base::Result<std::optional<base::Bytes>> find_kek(const fs::path& dir, base::ByteView id) {
  const auto file = dir / "est" / "kek" / (base::hex_encode(id) + ".key");
  if (!fs::exists(file)) return std::optional<base::Bytes>{};
  HM_TRY(auto text, base::read_file(file, 1024));
  std::string hex(text.begin(), text.end());
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.pop_back();
  auto key = base::hex_decode(hex);
  if (!key.ok() || (key->size() != 16 && key->size() != 24 && key->size() != 32)) {
    return make_error(ErrorCode::Internal, "the EST key-encryption key " + file.string() +
                                               " is not 32, 48 or 64 hex digits (an AES-128/192/256 key)");
  }
  return std::optional<base::Bytes>(std::move(key).value());
}

base::Result<std::optional<pkix::Certificate>> find_recipient(const fs::path& dir, base::ByteView id) {
  const auto file = dir / "est" / "recipients" / (base::hex_encode(id) + ".pem");
  if (!fs::exists(file)) return std::optional<pkix::Certificate>{};
  HM_TRY(auto pem, base::read_file(file, 64 * 1024));
  auto cert = pkix::Certificate::parse(pem);
  if (!cert.ok()) {
    return make_error(ErrorCode::Internal, "the EST encryption certificate " + file.string() + " cannot be read",
                      cert.error().detail);
  }
  return std::optional<pkix::Certificate>(std::move(cert).value());
}

}  // namespace

base::Result<TlsIdentity> ensure_tls_identity(Pki& pki, const std::string& listen) {
  const auto& cfg = pki.config();
  if (!cfg.server.tls_cert.empty()) {
    HM_TRY(auto chain, base::read_file(cfg.server.tls_cert, 1 << 20));
    HM_TRY(auto key_pem, base::read_file(cfg.server.tls_key, 1 << 20));
    // http decodes an unencrypted PEM key itself; an EVP key would win.
    return TlsIdentity{base::to_string(chain), nullptr, base::to_string(key_pem), "configured " + cfg.server.tls_cert};
  }
  HM_TRY(auto pass, keys::resolve_passphrase({pki.paths().dir, cfg.passphrase_file}, false));
  keys::SoftwareKeyStore store(pki.paths().keys(), pass.value);
  const auto key_path = store.path_of(kTlsKeyName);
  std::unique_ptr<keys::Signer> signer;
  if (fs::exists(key_path)) {
    HM_TRY(signer, store.load(kTlsKeyName));
  } else {
    HM_TRY(signer, store.generate(kTlsKeyName, base::KeyAlgorithm::EcP256));
  }
  HM_TRY(auto key, keys::load_tls_key(key_path, pass.value));
  HM_TRY(auto runtime, pki.authority("runtime"));

  std::vector<std::string> dns, ips;
  wanted_names(listen, dns, ips);
  const auto cert_path = pki.paths().dir / "server" / "tls-server.pem";
  if (fs::exists(cert_path)) {
    HM_TRY(auto data, base::read_file(cert_path, 1 << 20));
    auto cert = pkix::Certificate::parse(data);
    if (cert.ok() && cert->subject_public_key_info() == signer->public_key_der() &&
        covers(cert.value(), dns, ips, base::SystemClock().now()) && cert->issuer() == runtime.certificate->subject()) {
      return TlsIdentity{cert->pem() + runtime.certificate->pem(), key, {}, "reused " + cert_path.string()};
    }
  }
  ca::IssuanceRequest req;
  req.profile = "tls-server";
  req.public_key_der = signer->public_key_der();
  req.common_name = dns.size() > 1 ? dns.back() : (ips.size() > 1 ? ips.back() : "localhost");
  req.dns_names = dns;
  req.ip_addresses = ips;
  req.channel = audit::Channel::Admin;
  req.actor = "serve";
  req.origin = "serve:tls";
  HM_TRY(auto issued, pki.issuer().issue(runtime, req));
  std::error_code ec;
  fs::create_directories(cert_path.parent_path(), ec);
  HM_CHECK(base::write_file(cert_path, issued.certificate.pem(), 0644));
  return TlsIdentity{issued.certificate.pem() + runtime.certificate->pem(),
                     key,
                     {},
                     "issued " + issued.certificate.serial_hex() + " from the runtime CA into " + cert_path.string()};
}

base::Result<std::vector<attest::TrustAnchor>> idevid_anchors(Pki& pki) {
  std::vector<attest::TrustAnchor> out;
  HM_TRY(auto issuers, pki.issuers());
  for (const auto& i : issuers) {
    // A retired site's devices stay valid (its CA is an anchor still); a revoked
    // site CA is refused per request by the revocation check.
    if (i.role == "site" || (i.role == "factory" && i.status == "active")) {
      HM_TRY(auto cert, pkix::Certificate::parse(i.cert_der));
      out.push_back({i.name, std::move(cert)});
    }
  }
  const auto& est = pki.config().est;
  std::vector<fs::path> files;
  for (const auto& f : est.idevid_anchors) files.emplace_back(f);
  fs::path dir = est.idevid_anchor_dir;
  if (dir.is_relative()) dir = pki.paths().dir / dir;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".pem" || e.path().extension() == ".crt") found.push_back(e.path());
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  for (const auto& f : files) {
    HM_TRY(auto data, base::read_file(f, 1 << 20));
    auto certs = pkix::Certificate::parse_all(data);
    if (!certs.ok()) {
      return make_error(ErrorCode::InvalidArgument, "IDevID anchor file '" + f.string() + "': " + certs.error().detail);
    }
    for (auto& c : certs.value()) {
      if (!c.is_ca()) {
        return make_error(ErrorCode::InvalidArgument, "IDevID anchor in '" + f.string() + "' is not a CA certificate");
      }
      out.push_back({"imported:" + f.filename().string(), std::move(c)});
    }
  }
  return out;
}

base::Result<std::unique_ptr<EstServer>> EstServer::start(Pki& pki, const std::string& listen, OtherRoutes other) {
  std::unique_ptr<EstServer> s(new EstServer());
  HM_TRY(auto tls, ensure_tls_identity(pki, listen));
  HM_TRY(auto anchors, idevid_anchors(pki));
  std::vector<attest::TrustAnchor> runtime_anchors;
  HM_TRY(auto issuers, pki.issuers());
  HM_TRY(auto runtime, pki.authority("runtime"));
  std::optional<pkix::Certificate> root;
  for (const auto& i : issuers) {
    if (i.role == "runtime" && i.status == "active") {
      HM_TRY(auto cert, pkix::Certificate::parse(i.cert_der));
      runtime_anchors.push_back({i.name, std::move(cert)});
    }
    if (i.role == "root" && i.status == "active") {
      HM_TRY(root, pkix::Certificate::parse(i.cert_der));
    }
  }
  s->m_devices = std::make_unique<attest::IdevidVerifier>(std::move(anchors), s->m_clock);
  s->m_renewals = std::make_unique<attest::IdevidVerifier>(std::move(runtime_anchors), s->m_clock);
  s->m_enrollment = std::make_unique<ra::EnrollmentService>(
      pki.issuer(), [&pki](const std::string& name) { return pki.authority(name); }, pki.store().certificates(),
      *s->m_devices, *s->m_renewals, "est");
  s->m_enrollment->enable_http_basic(pki.store().credentials());
  s->m_enrollment->audit_refusals([&pki](const audit::Event& e) {
    if (auto a = pki.audit().append(e); !a.ok())
      base::log::error("est: cannot audit a refusal: " + a.error().describe());
  });

  const auto& est = pki.config().est;
  auto policy_of = [](const std::string& label, const EstLabelSettings& l) {
    ra::EnrollmentPolicy p;
    p.label = label;
    p.profile = l.profile;
    p.issuer = "runtime";
    p.require_rekey = l.require_rekey;
    p.pop_linking = l.pop_linking;
    p.http_basic = l.http_basic;
    return p;
  };
  proto::est::EstConfig ec;
  ec.default_policy = policy_of("", est.default_label);
  for (const auto& [name, l] : est.labels) {
    HM_TRY(auto profile, pki.profiles().find(l.profile));
    if (!profile->channels.contains(audit::Channel::Runtime)) {
      return make_error(ErrorCode::InvalidArgument,
                        "est.labels." + name + ": profile '" + l.profile + "' cannot be issued at runtime");
    }
    ec.labels[name] = policy_of(name, l);
  }
  HM_TRY(auto default_profile, pki.profiles().find(est.default_label.profile));
  if (!default_profile->channels.contains(audit::Channel::Runtime)) {
    return make_error(ErrorCode::InvalidArgument,
                      "est.profile '" + est.default_label.profile + "' cannot be issued at runtime");
  }
  ec.ca_certs.push_back(*runtime.certificate);
  if (root) ec.ca_certs.push_back(*root);
  ec.server_keygen = est.server_keygen;
  ec.symmetric_key = [dir = pki.paths().dir](base::ByteView id) { return find_kek(dir, id); };
  ec.encryption_certificate = [dir = pki.paths().dir](base::ByteView id) { return find_recipient(dir, id); };
  s->m_est = std::make_unique<proto::est::EstService>(std::move(ec), *s->m_enrollment);

  http::ServerConfig sc;
  sc.listen = listen;
  sc.cert_chain_pem = tls.chain_pem;
  if (tls.key) {
    sc.key = tls.key;
  } else {
    sc.key_pem = tls.key_pem;
  }
  sc.max_body = pki.config().server.max_body;
  sc.threads = pki.config().server.threads;
  sc.name = "est";
  auto* est_service = s->m_est.get();
  HM_TRY(s->m_server, http::Server::start(sc, [est_service, other](const http::Request& r) {
           if (other) {
             if (auto answered = other(r)) return std::move(*answered);
           }
           return est_service->handle(r);
         }));
  return s;
}

}  // namespace hallmark::app
