// Shared by the http unit tests: certificates made with the openssl CLI (a
// self-signed server certificate for 127.0.0.1/localhost; a client certificate
// from an unrelated CA), a handler that records what it saw, curl and raw
// socket helpers.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/server.h"
#include "support/test_support.h"

namespace hallmark::http::test {

struct Certs {
  testing::TempDir dir;
  std::string server_pem, server_key;  // self-signed, SAN DNS:localhost, IP:127.0.0.1
  std::string client_chain_pem;        // client leaf + client CA
  std::string client_key;
  base::Bytes client_der, client_ca_der;
  std::string path(const std::string& name) const { return (dir / name).string(); }
};

// Made once per test binary.
const Certs& certs();

// Records every request and answers 200 "<method> <path> <body>" (or whatever
// `respond` returns when set).
class Recorder {
 public:
  Handler handler();
  std::vector<Request> seen() const;
  std::function<Response(const Request&)> respond;

 private:
  mutable std::mutex m_mutex;
  std::vector<Request> m_seen;
};

ServerConfig tls_config();    // 127.0.0.1:0, the test certificate, 2 threads
ServerConfig plain_config();  // 127.0.0.1:0, plain HTTP, 2 threads
std::unique_ptr<Server> start_server(ServerConfig config, Handler handler);

// curl against https://127.0.0.1:<port><path> (or http:// when `tls` is false)
// trusting the test certificate; `extra` is appended verbatim. Prints the body
// then "\n<status>".
testing::CommandResult curl(std::uint16_t port, const std::string& path, const std::string& extra = {},
                            bool tls = true);
// The status code curl printed last (0 when none).
int status_of(const testing::CommandResult& r);

// `openssl s_client` handshake attempt with the given options; exit code 0 when
// the handshake succeeded.
testing::CommandResult s_client(std::uint16_t port, const std::string& options);

// A raw TCP connection to 127.0.0.1:port.
class RawSocket {
 public:
  explicit RawSocket(std::uint16_t port);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  bool connected() const { return m_fd >= 0; }
  void send(const std::string& data);
  // Reads until the peer closes or `timeout` passes. `closed` says which.
  struct ReadResult {
    std::string data;
    bool closed = false;
    std::chrono::milliseconds elapsed{0};
  };
  ReadResult read_until_closed(std::chrono::milliseconds timeout);
  // Reads until `needle` appears or timeout.
  std::string read_until(const std::string& needle, std::chrono::milliseconds timeout);

 private:
  int m_fd = -1;
};

}  // namespace hallmark::http::test
