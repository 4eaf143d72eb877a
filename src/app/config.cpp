#include "app/config.h"

#include <toml++/toml.h>

#include "base/files.h"
#include "keys/pkcs11_uri.h"

namespace hallmark::app {

using base::ErrorCode;
using base::make_error;

std::string default_config_text() {
  return R"toml(# Hallmark configuration. Every value shown is the embedded default.

[organization]
name = "Hallmark Example Devices"   # O= of CA subjects and default IDevID vendor
country = "US"

[ca.root]                 # offline root: P-384, 30 years
common_name = "Hallmark Root CA"
key = "p384"
validity_years = 30

[ca.factory]              # issues IDevIDs; site CAs go under it (pathLen 1)
common_name = "Hallmark Factory CA"
key = "p256"
validity_years = 25
path_len = 1

[ca.runtime]              # issues LDevIDs and TLS certificates (pathLen 0)
common_name = "Hallmark Runtime CA"
key = "p256"
validity_years = 5
path_len = 0

[profiles.ldevid]
validity_days = 90
ext_key_usage = ["clientAuth"]

[profiles.tls-server]
validity_days = 365

# The product table: name -> vendor (O= of the IDevID) and hwType OID of the
# HardwareModuleName. Unknown products get default_hw_type and a warning.
[products]
default_hw_type = "1.3.6.1.4.1.65535.1.1"

[products.sensor-v2]
vendor = "Hallmark Example Devices"
hw_type = "1.3.6.1.4.1.65535.1.2"

[products.gateway-x1]
vendor = "Hallmark Example Devices"
hw_type = "1.3.6.1.4.1.65535.1.3"

[audit]
checkpoint_every_records = 1000
checkpoint_every_seconds = 60

[keys]
# passphrase_file = "/etc/hallmark/passphrase"   # else HALLMARK_KEY_PASSPHRASE or <dir>/passphrase
# store = "pkcs11:token=ca;object=hallmark?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/hallmark/pin"
#   CA and audit keys in a PKCS#11 token (object = label prefix); `hallmark init --keystore` sets it

[store]
durability = "normal"     # SQLite WAL synchronous=NORMAL survives kill -9; "full" survives power loss
# dsn = "postgresql://hallmark@db.example:5432/hallmark"   # PostgreSQL instead of <dir>/hallmark.db
#   (several `hallmark serve` nodes may share it; keep the password in ~/.pgpass or PGPASSWORD)
pool = 8                  # PostgreSQL connections per process

[server]                  # `hallmark serve`
listen = "127.0.0.1:8443"
# tls_cert = "/etc/hallmark/tls.pem"   # else issued from the runtime CA (tls-server) on first start
# tls_key = "/etc/hallmark/tls.key"
max_body = 65536

[revocation]              # CRLs at /crl/<issuer>.crl and OCSP at /ocsp
# base_url = "http://pki.example.com"   # runtime certificates then carry CRL DP <url>/crl/<issuer>.crl and OCSP AIA <url>/ocsp
crl_validity_hours = 24   # nextUpdate - thisUpdate; re-issued on every revocation too
crl_reissue_hours = 12    # `serve` re-issues a CRL once it is this old
ocsp_validity_minutes = 60
# listen_http = "127.0.0.1:8080"        # plain HTTP for /crl and /ocsp (`serve --listen-http`)

[profiles.ocsp-signing]   # delegated OCSP responders (OCSPSigning + ocsp-nocheck)
validity_days = 30

[est]                     # RFC 7030 enrollment authenticated by the IDevID
profile = "ldevid"        # /.well-known/est/<op>
require_rekey = false
pop_linking = false       # when true, the CSR's challengePassword must carry tls-unique / tls-exporter
http_basic = false        # when true, a device without an IDevID may enroll once with a per-device credential
                          # from `hallmark est credential add` (never a shared secret)
server_keygen = true
# Trusted IDevID issuers: the factory and site CAs, plus imported manufacturer CAs:
idevid_anchor_dir = "trust/idevid"   # every *.pem in it (relative to the data folder)
# idevid_anchors = ["/etc/hallmark/acme-idevid-ca.pem"]

[est.labels.ldevid]       # /.well-known/est/ldevid/<op>; add more labels the same way
profile = "ldevid"
)toml";
}

namespace {

base::Status read_ca(const toml::table& root, const char* name, ca::CaSettings& out) {
  const auto* t = root["ca"][name].as_table();
  if (t == nullptr) return {};
  if (auto v = (*t)["common_name"].value<std::string>()) out.common_name = *v;
  if (auto v = (*t)["key"].value<std::string>()) {
    HM_TRY(out.key, base::parse_key_algorithm(*v));
  }
  if (auto v = (*t)["validity_years"].value<int>()) out.validity_years = *v;
  if (auto v = (*t)["path_len"].value<int>()) out.path_len = *v;
  if (out.validity_years < 1 || out.validity_years > 50) {
    return make_error(ErrorCode::InvalidArgument, std::string("ca.") + name + ".validity_years must be 1..50");
  }
  return {};
}

void read_label(const toml::table& t, EstLabelSettings& out) {
  if (auto v = t["profile"].value<std::string>()) out.profile = *v;
  if (auto v = t["require_rekey"].value<bool>()) out.require_rekey = *v;
  if (auto v = t["pop_linking"].value<bool>()) out.pop_linking = *v;
  if (auto v = t["http_basic"].value<bool>()) out.http_basic = *v;
}

base::Status read_est(const toml::table& root, Config& c) {
  if (const auto* s = root["server"].as_table()) {
    if (auto v = (*s)["listen"].value<std::string>()) c.server.listen = *v;
    if (auto v = (*s)["tls_cert"].value<std::string>()) c.server.tls_cert = *v;
    if (auto v = (*s)["tls_key"].value<std::string>()) c.server.tls_key = *v;
    if (auto v = (*s)["max_body"].value<std::int64_t>()) {
      if (*v < 1024 || *v > (16 << 20))
        return make_error(ErrorCode::InvalidArgument, "server.max_body must be 1024..16777216");
      c.server.max_body = static_cast<std::size_t>(*v);
    }
    if (auto v = (*s)["threads"].value<int>()) c.server.threads = *v;
    if (c.server.tls_cert.empty() != c.server.tls_key.empty()) {
      return make_error(ErrorCode::InvalidArgument, "server.tls_cert and server.tls_key go together");
    }
  }
  const auto* e = root["est"].as_table();
  if (e == nullptr) return {};
  read_label(*e, c.est.default_label);
  if (auto v = (*e)["server_keygen"].value<bool>()) c.est.server_keygen = *v;
  if (auto v = (*e)["idevid_anchor_dir"].value<std::string>()) c.est.idevid_anchor_dir = *v;
  if (const auto* arr = (*e)["idevid_anchors"].as_array()) {
    for (const auto& el : *arr) {
      if (auto s = el.value<std::string>()) c.est.idevid_anchors.push_back(*s);
    }
  }
  if (const auto* labels = (*e)["labels"].as_table()) {
    c.est.labels.clear();
    for (const auto& [key, node] : *labels) {
      const auto* t = node.as_table();
      if (t == nullptr) continue;
      const std::string name(key.str());
      if (name.empty() || name.find_first_of("/%?#") != std::string::npos) {
        return make_error(ErrorCode::InvalidArgument, "est.labels: '" + name + "' cannot be a URL path segment");
      }
      EstLabelSettings l;
      read_label(*t, l);
      c.est.labels[name] = l;
    }
  }
  return {};
}

}  // namespace

base::Result<Config> parse_config(const std::string& text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return make_error(ErrorCode::InvalidArgument, "configuration " + origin + " is not valid TOML: " +
                                                      std::string(e.description()) + " at " + where.str());
  }
  Config c;
  if (auto v = root["organization"]["name"].value<std::string>()) c.ca.organization = *v;
  if (auto v = root["organization"]["country"].value<std::string>()) c.ca.country = *v;
  HM_CHECK(read_ca(root, "root", c.ca.root));
  HM_CHECK(read_ca(root, "factory", c.ca.factory));
  HM_CHECK(read_ca(root, "runtime", c.ca.runtime));
  if (c.ca.factory.validity_years < 25) {
    return make_error(
        ErrorCode::InvalidArgument,
        "ca.factory.validity_years must be at least 25: IDevIDs never expire and their CA must outlive the devices");
  }
  if (c.ca.factory.validity_years > c.ca.root.validity_years ||
      c.ca.runtime.validity_years > c.ca.root.validity_years) {
    return make_error(ErrorCode::InvalidArgument, "issuing CAs cannot outlive the root (ca.*.validity_years)");
  }
  if (auto v = root["profiles"]["ldevid"]["validity_days"].value<int>()) c.ca.profiles.ldevid_validity_days = *v;
  if (auto* arr = root["profiles"]["ldevid"]["ext_key_usage"].as_array()) {
    c.ca.profiles.ldevid_ext_key_usage.clear();
    for (const auto& el : *arr) {
      if (auto s = el.value<std::string>()) c.ca.profiles.ldevid_ext_key_usage.push_back(*s);
    }
  }
  if (auto v = root["profiles"]["tls-server"]["validity_days"].value<int>())
    c.ca.profiles.tls_server_validity_days = *v;
  if (const auto* products = root["products"].as_table()) {
    for (const auto& [key, node] : *products) {
      if (key.str() == "default_hw_type") {
        if (auto v = node.value<std::string>()) c.ca.default_hw_type = *v;
        continue;
      }
      const auto* t = node.as_table();
      if (t == nullptr) continue;
      ca::Product p{c.ca.organization, c.ca.default_hw_type};
      if (auto v = (*t)["vendor"].value<std::string>()) p.vendor = *v;
      if (auto v = (*t)["hw_type"].value<std::string>()) p.hw_type = *v;
      c.ca.products[std::string(key.str())] = p;
    }
  }
  if (auto v = root["audit"]["checkpoint_every_records"].value<std::int64_t>()) {
    if (*v < 1) return make_error(ErrorCode::InvalidArgument, "audit.checkpoint_every_records must be >= 1");
    c.checkpoints.every_records = static_cast<std::uint64_t>(*v);
  }
  if (auto v = root["audit"]["checkpoint_every_seconds"].value<std::int64_t>()) {
    c.checkpoints.every_seconds = std::chrono::seconds(*v);
  }
  if (auto v = root["profiles"]["ocsp-signing"]["validity_days"].value<int>())
    c.ca.profiles.ocsp_signing_validity_days = *v;
  if (const auto* r = root["revocation"].as_table()) {
    if (auto v = (*r)["base_url"].value<std::string>()) {
      if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0) {
        return make_error(ErrorCode::InvalidArgument, "revocation.base_url must start with http:// or https://");
      }
      c.ca.revocation_base_url = *v;
      while (!c.ca.revocation_base_url.empty() && c.ca.revocation_base_url.back() == '/') {
        c.ca.revocation_base_url.pop_back();
      }
    }
    if (auto v = (*r)["crl_validity_hours"].value<int>()) c.revocation.crl_validity_hours = *v;
    if (auto v = (*r)["crl_reissue_hours"].value<int>()) c.revocation.crl_reissue_hours = *v;
    if (auto v = (*r)["ocsp_validity_minutes"].value<int>()) c.revocation.ocsp_validity_minutes = *v;
    if (auto v = (*r)["listen_http"].value<std::string>()) c.revocation.listen_http = *v;
    if (c.revocation.crl_validity_hours < 1 || c.revocation.crl_validity_hours > 24 * 366) {
      return make_error(ErrorCode::InvalidArgument, "revocation.crl_validity_hours must be 1..8784");
    }
    if (c.revocation.crl_reissue_hours < 1 || c.revocation.crl_reissue_hours >= c.revocation.crl_validity_hours) {
      return make_error(ErrorCode::InvalidArgument,
                        "revocation.crl_reissue_hours must be at least 1 and less than crl_validity_hours");
    }
    if (c.revocation.ocsp_validity_minutes < 5 || c.revocation.ocsp_validity_minutes > 7 * 24 * 60) {
      return make_error(ErrorCode::InvalidArgument, "revocation.ocsp_validity_minutes must be 5..10080");
    }
  }
  HM_CHECK(read_est(root, c));
  if (auto v = root["keys"]["passphrase_file"].value<std::string>()) c.passphrase_file = *v;
  if (auto v = root["keys"]["store"].value<std::string>()) {
    auto uri = keys::Pkcs11Uri::parse(*v);
    if (!uri) return make_error(ErrorCode::InvalidArgument, "keys.store: " + uri.error().detail);
    c.keystore = *v;
  }
  if (auto v = root["store"]["durability"].value<std::string>()) {
    if (*v != "normal" && *v != "full") {
      return make_error(ErrorCode::InvalidArgument, "store.durability must be \"normal\" or \"full\"");
    }
    c.durability = *v;
  }
  if (auto v = root["store"]["dsn"].value<std::string>()) {
    // Only PostgreSQL is configured by DSN; the SQLite file is always <dir>/hallmark.db.
    if (!v->starts_with("postgresql://") && !v->starts_with("postgres://")) {
      return make_error(ErrorCode::InvalidArgument, "store.dsn must start with postgresql://");
    }
    c.store_dsn = *v;
  }
  if (auto v = root["store"]["pool"].value<std::int64_t>()) {
    if (*v < 1 || *v > 256) return make_error(ErrorCode::InvalidArgument, "store.pool must be between 1 and 256");
    c.store_pool = static_cast<std::size_t>(*v);
  }
  return c;
}

base::Result<Config> load_config(const std::filesystem::path& path) {
  HM_TRY(auto data, base::read_file(path, 1 << 20));
  return parse_config(base::to_string(data), path.string());
}

}  // namespace hallmark::app
