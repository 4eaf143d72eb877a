// `hallmark serve`: the runtime HTTPS server (EST today).
#include <pthread.h>
#include <signal.h>

#include <iostream>

#include "app/cli.h"
#include "app/est_server.h"
#include "app/pki.h"
#include "base/log.h"

namespace hallmark::app {

namespace {

int run_serve(const std::string& dir, std::string listen, const std::string& store) {
  // Block SIGINT/SIGTERM before any thread starts so that every io thread
  // inherits the mask and this thread alone receives them (sigwait below).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto pki_r = Pki::open(dir, true, store);
  if (!pki_r.ok()) return report(pki_r.error());
  auto& pki = *pki_r.value();
  if (listen.empty()) listen = pki.config().server.listen;
  base::log::set_level(base::log::Level::Info);
  auto server = EstServer::start(pki, listen);
  if (!server.ok()) {
    (void)pki.finish();
    return report(server.error());
  }
  const auto host = listen.substr(0, listen.rfind(':'));
  std::cout << "hallmark: EST on https://" << host << ":" << server.value()->port() << "/.well-known/est/ ("
            << server.value()->anchor_count() << " IDevID trust anchor(s)); store " << pki.store().engine() << " "
            << pki.store().location() << "; Ctrl-C stops" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  std::cerr << "hallmark: stopping (signal " << sig << ")" << std::endl;
  server.value()->stop();
  if (auto f = pki.finish(); !f.ok()) return report(f.error());
  return kExitOk;
}

}  // namespace

void add_serve_command(CommandRegistry reg) {
  auto dir = std::make_shared<std::string>();
  auto listen = std::make_shared<std::string>();
  auto store = std::make_shared<std::string>();
  auto* cmd = reg.app.add_subcommand("serve", "Run the runtime enrollment server (EST over HTTPS)");
  cmd->add_option("--dir", *dir, "Data folder")->required();
  cmd->add_option("--listen", *listen,
                  "host:port to listen on (default from [server] listen: 127.0.0.1:8443; "
                  "port 0 picks a free port)");
  cmd->add_option("--store", *store,
                  "postgresql:// DSN overriding [store] dsn (several nodes may serve from one PostgreSQL database)");
  cmd->footer(
      "On first start the server's TLS certificate is issued from the runtime CA (tls-server profile, SANs "
      "for the listen address and localhost), so `curl --cacert <(hallmark ca export --dir D)` verifies it. "
      "Devices authenticate with their IDevID (simpleenroll) or current LDevID (simplereenroll).");
  cmd->callback([dir, listen, store, &exit_code = reg.exit_code] { exit_code = run_serve(*dir, *listen, *store); });
}

}  // namespace hallmark::app
