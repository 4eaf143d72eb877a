// `hallmark serve`: the runtime HTTPS server (EST, CRLs, OCSP) and, with
// --listen-http, a plain-HTTP listener for /crl and /ocsp.
#include <pthread.h>
#include <signal.h>

#include <iostream>

#include "app/cli.h"
#include "app/est_server.h"
#include "app/pki.h"
#include "app/revocation.h"
#include "base/log.h"
#include "http/server.h"

namespace hallmark::app {

namespace {

int run_serve(const std::string& dir, std::string listen, std::string listen_http, const std::string& store) {
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
  if (listen_http.empty()) listen_http = pki.config().revocation.listen_http;
  base::log::set_level(base::log::Level::Info);
  std::vector<std::string> messages;
  auto revocation = RevocationService::start(pki, messages);
  for (const auto& m : messages) std::cerr << "hallmark: " << m << std::endl;
  if (!revocation.ok()) {
    (void)pki.finish();
    return report(revocation.error());
  }
  auto* rev = revocation.value().get();
  auto server = EstServer::start(pki, listen, [rev](const http::Request& r) { return rev->handle(r); });
  if (!server.ok()) {
    (void)pki.finish();
    return report(server.error());
  }
  std::unique_ptr<http::Server> plain;
  if (!listen_http.empty()) {
    http::ServerConfig sc;
    sc.listen = listen_http;
    sc.tls = false;
    sc.name = "http";
    sc.threads = pki.config().server.threads;
    sc.max_body = 16 * 1024;
    auto started = http::Server::start(sc, [rev](const http::Request& r) {
      if (auto answered = rev->handle(r)) return std::move(*answered);
      return http::Response::text(404, "this listener serves /crl/<issuer>.crl and /ocsp only\n");
    });
    if (!started.ok()) {
      server.value()->stop();
      (void)pki.finish();
      return report(started.error());
    }
    plain = std::move(started).value();
  }
  const auto host = listen.substr(0, listen.rfind(':'));
  std::cout << "hallmark: EST on https://" << host << ":" << server.value()->port() << "/.well-known/est/ ("
            << server.value()->anchor_count() << " IDevID trust anchor(s)); store " << pki.store().engine() << " "
            << pki.store().location() << "; Ctrl-C stops" << std::endl;
  if (plain) {
    const auto hhost = listen_http.substr(0, listen_http.rfind(':'));
    std::cout << "hallmark: CRLs and OCSP on http://" << hhost << ":" << plain->port() << "/ ("
              << rev->responder_count() << " OCSP responder(s))" << std::endl;
  }
  // Wait for a signal; meanwhile sign audit checkpoints as the policy asks
  // (every N records or T seconds), so a running server's chain is covered
  // by signatures without waiting for an export or a shutdown.
  int sig = 0;
  const timespec tick{1, 0};
  while ((sig = sigtimedwait(&signals, nullptr, &tick)) < 0) {
    if (auto c = pki.audit().checkpoint_if_due(); !c.ok()) {
      base::log::error("serve: cannot sign an audit checkpoint: " + c.error().describe());
    }
  }
  std::cerr << "hallmark: stopping (signal " << sig << ")" << std::endl;
  if (plain) plain->stop();
  server.value()->stop();
  if (auto f = pki.finish(); !f.ok()) return report(f.error());
  return kExitOk;
}

}  // namespace

void add_serve_command(CommandRegistry reg) {
  auto dir = std::make_shared<std::string>();
  auto listen = std::make_shared<std::string>();
  auto store = std::make_shared<std::string>();
  auto listen_http = std::make_shared<std::string>();
  auto* cmd = reg.app.add_subcommand("serve", "Run the runtime server (EST over HTTPS, CRLs, OCSP)");
  cmd->add_option("--dir", *dir, "Data folder")->required();
  cmd->add_option("--listen", *listen,
                  "host:port to listen on (default from [server] listen: 127.0.0.1:8443; "
                  "port 0 picks a free port)");
  cmd->add_option("--listen-http", *listen_http,
                  "host:port for plain HTTP serving /crl/<issuer>.crl and /ocsp only, as relying parties "
                  "expect (default [revocation] listen_http; none when empty)");
  cmd->add_option("--store", *store,
                  "postgresql:// DSN overriding [store] dsn (several nodes may serve from one PostgreSQL database)");
  cmd->footer(
      "On first start the server's TLS certificate is issued from the runtime CA (tls-server profile, SANs "
      "for the listen address and localhost), so `curl --cacert <(hallmark ca export --dir D)` verifies it. "
      "Devices authenticate with their IDevID (simpleenroll) or current LDevID (simplereenroll). "
      "/crl/<issuer>.crl (DER) and /ocsp (RFC 6960, POST and GET) are served on both listeners; a delegated "
      "OCSP responder certificate per issuer is issued into <dir>/ocsp/ on first start.");
  cmd->callback([dir, listen, listen_http, store, &exit_code = reg.exit_code] {
    exit_code = run_serve(*dir, *listen, *listen_http, *store);
  });
}

}  // namespace hallmark::app
