// The configuration file (TOML) and its embedded defaults.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "base/result.h"
#include "ca/settings.h"

namespace hallmark::app {

// [est]: runtime enrollment over EST (issue 4).
struct EstLabelSettings {
  std::string profile = "ldevid";
  bool require_rekey = false;  // simplereenroll must bring a new key
  bool pop_linking = false;    // CSR challengePassword = TLS channel binding (RFC 7030 §3.5)
  bool http_basic = false;     // simpleenroll without a client certificate by a single-use credential
};
struct EstSettings {
  EstLabelSettings default_label;                                  // /.well-known/est/<op>
  std::map<std::string, EstLabelSettings> labels{{"ldevid", {}}};  // /.well-known/est/<label>/<op>
  std::vector<std::string> idevid_anchors;                         // PEM files of imported manufacturer IDevID CAs
  std::string idevid_anchor_dir = "trust/idevid";                  // relative to the data folder; every *.pem in it
  bool server_keygen = true;
};
// [server]: `hallmark serve`.
struct ServerSettings {
  std::string listen = "127.0.0.1:8443";
  std::string tls_cert;  // PEM chain; empty: issued from the runtime CA on first start
  std::string tls_key;   // unencrypted PEM key for tls_cert
  std::size_t max_body = 64 * 1024;
  int threads = 0;
};

// [revocation]: CRLs and OCSP (issue 6).
struct RevocationSettings {
  int crl_validity_hours = 24;     // nextUpdate - thisUpdate
  int crl_reissue_hours = 12;      // `serve` re-issues a CRL once it is this old
  int ocsp_validity_minutes = 60;  // nextUpdate - thisUpdate of OCSP responses
  std::string listen_http;         // default for `serve --listen-http` (empty: none)
};

struct Config {
  EstSettings est;
  RevocationSettings revocation;
  ServerSettings server;
  ca::Settings ca;
  audit::CheckpointPolicy checkpoints;
  std::filesystem::path passphrase_file;  // empty: env or generated file
  std::string keystore;                   // keys.store: empty (key files) or a pkcs11: URI naming the token
  std::string durability = "normal";      // "normal" | "full" (SQLite synchronous)
  std::string store_dsn;                  // [store] dsn: postgresql:// DSN; empty: SQLite <dir>/hallmark.db
  std::size_t store_pool = 8;             // [store] pool: PostgreSQL connections per process
};

// The commented default configuration `hallmark init` writes.
std::string default_config_text();
base::Result<Config> parse_config(const std::string& text, const std::string& origin);
base::Result<Config> load_config(const std::filesystem::path& path);

}  // namespace hallmark::app
