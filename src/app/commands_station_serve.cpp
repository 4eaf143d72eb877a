// `hallmark station serve`: the station's per-device operation for the line's MES over HTTPS.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>

#include "app/cli.h"
#include "app/station_server.h"
#include "base/log.h"

namespace hallmark::app {

namespace {

struct StationServeOptions {
  std::string dir, listen = "127.0.0.1:8444", tls_cert, tls_key;
};

int run_station_serve(const StationServeOptions& o) {
  // As in `hallmark serve`: signals go to this thread only (sigwait below).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto st = Station::open(o.dir);
  if (!st.ok()) return report(st.error());
  auto& station = *st.value();
  StationServer::Options so;
  so.listen = o.listen;
  so.tls_cert_file = o.tls_cert;
  so.tls_key_file = o.tls_key;
  const char* env_token = std::getenv("HALLMARK_STATION_TOKEN");
  so.token = env_token != nullptr && *env_token != '\0' ? env_token : station.config().serve_token;
  base::log::set_level(base::log::Level::Info);
  auto server = StationServer::start(station, so);
  if (!server.ok()) {
    (void)station.finish();
    return report(server.error());
  }
  const auto host = o.listen.substr(0, o.listen.rfind(':'));
  std::cout << "hallmark: station " << station.scope().station_id() << " provisioning on https://" << host << ":"
            << server.value()->port() << kProvisionPath << "; Ctrl-C stops" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  std::cerr << "hallmark: stopping (signal " << sig << ")" << std::endl;
  server.value()->stop();
  if (auto f = station.finish(); !f.ok()) return report(f.error());
  return kExitOk;
}

}  // namespace

void add_station_serve_command(CLI::App& station, int& exit_code) {
  auto o = std::make_shared<StationServeOptions>();
  auto* cmd = station.add_subcommand("serve", "Provision devices one at a time for the line's MES over HTTPS");
  cmd->add_option("--dir", o->dir, "Station folder")->required();
  cmd->add_option("--listen", o->listen, "host:port (default 127.0.0.1:8444; port 0 picks a free port)");
  cmd->add_option("--tls-cert", o->tls_cert, "The line's TLS certificate chain (PEM, leaf first)")->required();
  cmd->add_option("--tls-key", o->tls_key, "Its unencrypted private key (PEM)")->required();
  cmd->footer(
      "POST /factory/v1/provision with one manifest line as JSON "
      "({\"serial\",\"product\",\"csr\",...}) and "
      "'Authorization: Bearer <token>' ([serve] token in station.toml or HALLMARK_STATION_TOKEN). "
      "201 issued, "
      "200 existing (with the certificates), 400 malformed, 401 no/wrong token, 403 outside the "
      "authorization, 409 serial or key already used. The same checks and records as `station "
      "provision`. POST /factory/v1/challenge (same token) returns a fresh nonce {\"nonce\",\"expires\"} for SE or "
      "TPM evidence. POST /factory/v1/tpm/activate (same token) with {\"evidence\":{\"type\":\"tpm\",...},\"csr\"?} "
      "(or {\"evidence\":{\"type\":\"tpm\",\"tcg_csr_idevid\":\"<base64>\"}}, the TCG-CSR-IDEVID, without csr) "
      "verifies the TPM evidence and returns 201 {\"credential_blob\",\"encrypted_secret\",\"expires\"} (base64 "
      "TPM2B_ID_OBJECT / TPM2B_ENCRYPTED_SECRET) for the device's TPM2_ActivateCredential; the manifest line then "
      "carries the recovered secret as the evidence's \"activated_secret\" (docs/factory.md).");
  cmd->callback([o, &exit_code] { exit_code = run_station_serve(*o); });
}

}  // namespace hallmark::app
