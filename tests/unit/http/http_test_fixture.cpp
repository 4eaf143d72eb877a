#include "http_test_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace hallmark::http::test {
namespace {

using testing::read_text;
using testing::run;
using testing::shell_quote;

base::Bytes read_bytes(const std::string& path) {
  const auto text = read_text(path);
  return {text.begin(), text.end()};
}

void must(const std::string& command) {
  const auto r = run(command);
  if (r.exit_code != 0) throw std::runtime_error(command + " failed: " + r.err);
}

Certs* make_certs() {
  auto* c = new Certs;
  const auto p = [&](const char* name) { return shell_quote(c->path(name)); };
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  must("openssl req -x509" + ec + " -keyout " + p("server.key") + " -out " + p("server.pem") +
       " -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1");
  must("openssl req -x509" + ec + " -keyout " + p("clientca.key") + " -out " + p("clientca.pem") +
       " -days 2 -subj '/CN=Unrelated Client CA'");
  must("openssl req -new" + ec + " -keyout " + p("client.key") + " -out " + p("client.csr") + " -subj /CN=device-0001");
  testing::write_text(c->path("client.ext"),
                      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                      "extendedKeyUsage=clientAuth\n");
  must("openssl x509 -req -in " + p("client.csr") + " -CA " + p("clientca.pem") + " -CAkey " + p("clientca.key") +
       " -CAcreateserial -days 2 -extfile " + p("client.ext") + " -out " + p("client.pem"));
  must("cat " + p("client.pem") + " " + p("clientca.pem") + " > " + p("client-chain.pem"));
  must("openssl x509 -in " + p("client.pem") + " -outform DER -out " + p("client.der"));
  must("openssl x509 -in " + p("clientca.pem") + " -outform DER -out " + p("clientca.der"));
  c->server_pem = read_text(c->path("server.pem"));
  c->server_key = read_text(c->path("server.key"));
  c->client_chain_pem = read_text(c->path("client-chain.pem"));
  c->client_key = read_text(c->path("client.key"));
  c->client_der = read_bytes(c->path("client.der"));
  c->client_ca_der = read_bytes(c->path("clientca.der"));
  return c;
}

}  // namespace

const Certs& certs() {
  static const Certs* instance = make_certs();  // leaked on purpose: lives for the binary
  return *instance;
}

Handler Recorder::handler() {
  return [this](const Request& req) {
    {
      std::lock_guard lock(m_mutex);
      m_seen.push_back(req);
    }
    if (respond) return respond(req);
    return Response::text(200, req.method + " " + req.path + " " + req.body);
  };
}

std::vector<Request> Recorder::seen() const {
  std::lock_guard lock(m_mutex);
  return m_seen;
}

ServerConfig tls_config() {
  ServerConfig c;
  c.listen = "127.0.0.1:0";
  c.cert_chain_pem = certs().server_pem;
  c.key_pem = certs().server_key;
  c.threads = 2;
  c.name = "test-https";
  return c;
}

ServerConfig plain_config() {
  ServerConfig c;
  c.listen = "127.0.0.1:0";
  c.tls = false;
  c.threads = 2;
  c.name = "test-http";
  return c;
}

std::unique_ptr<Server> start_server(ServerConfig config, Handler handler) {
  auto server = Server::start(std::move(config), std::move(handler));
  if (!server.ok()) {
    ADD_FAILURE() << server.error().describe();
    return nullptr;
  }
  return std::move(server).value();
}

testing::CommandResult curl(std::uint16_t port, const std::string& path, const std::string& extra, bool tls) {
  const std::string url = std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port) + path;
  return run("curl -sS --max-time 20 --cacert " + shell_quote(certs().path("server.pem")) + " -w '\\n%{http_code}' " +
             extra + " " + shell_quote(url));
}

int status_of(const testing::CommandResult& r) {
  const auto nl = r.out.rfind('\n');
  try {
    return std::stoi(nl == std::string::npos ? r.out : r.out.substr(nl + 1));
  } catch (const std::exception&) {
    return 0;
  }
}

testing::CommandResult s_client(std::uint16_t port, const std::string& options) {
  return run("timeout 20 openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " " + options);
}

RawSocket::RawSocket(std::uint16_t port) {
  m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(m_fd);
    m_fd = -1;
  }
}

RawSocket::~RawSocket() {
  if (m_fd >= 0) ::close(m_fd);
}

void RawSocket::send(const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::send(m_fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

RawSocket::ReadResult RawSocket::read_until_closed(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  ReadResult r;
  for (;;) {
    const auto left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (left.count() <= 0) break;
    pollfd p{m_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    const auto n = ::recv(m_fd, buf, sizeof buf, 0);
    if (n <= 0) {
      r.closed = true;
      break;
    }
    r.data.append(buf, static_cast<std::size_t>(n));
  }
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return r;
}

std::string RawSocket::read_until(const std::string& needle, std::chrono::milliseconds timeout) {
  std::string data;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (data.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{m_fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const auto n = ::recv(m_fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

}  // namespace hallmark::http::test
