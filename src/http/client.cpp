// The client runs its own single-threaded io_context: every operation is
// started asynchronously (so Beast's tcp_stream deadlines apply) and then the
// context is run to completion on the caller's thread.
#include "http/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <optional>

#include "http/tls_context.h"

namespace hallmark::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using base::ErrorCode;
using base::make_error;

}  // namespace

struct Client::Impl {
  ClientConfig config;
  std::string host;
  std::uint16_t port = 0;
  net::io_context ioc{1};
  std::optional<net::ssl::context> ssl;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream;
  std::optional<beast::tcp_stream> plain_stream;
  beast::flat_buffer buffer;
  detail::TlsFacts facts;
  bool open = false;

  beast::tcp_stream& lowest() { return tls_stream ? beast::get_lowest_layer(*tls_stream) : *plain_stream; }

  // Starts an async operation with `start(handler)` and runs it to completion.
  template <class Start>
  error_code run(Start&& start) {
    error_code result = net::error::would_block;
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  base::Error io_error(const std::string& what, error_code ec) {
    close();
    std::string cause = ec.message();
    const auto ssl_errors = detail::openssl_errors();
    if (!ssl_errors.empty()) cause += " (" + ssl_errors + ")";
    return make_error(ErrorCode::Io, what + " " + host + ":" + std::to_string(port) + " failed", cause);
  }

  void close() {
    open = false;
    if (tls_stream || plain_stream) {
      error_code ec;
      lowest().socket().close(ec);
    }
    tls_stream.reset();
    plain_stream.reset();
    buffer.clear();
    facts = {};
  }

  base::Status connect() {
    close();
    error_code ec;
    tcp::resolver resolver(ioc);
    const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return io_error("resolving", ec);

    if (config.tls) {
      tls_stream.emplace(ioc, *ssl);
    } else {
      plain_stream.emplace(ioc);
    }
    lowest().expires_after(config.timeout);
    ec = run([&](auto handler) { lowest().async_connect(endpoints, handler); });
    if (ec) return io_error("connecting to", ec);
    // Requests go out as several small writes (TLS records, header then body):
    // with Nagle on, the last one waits for the peer's delayed ACK (~40 ms).
    lowest().socket().set_option(tcp::no_delay(true), ec);

    if (config.tls) {
      const auto& name = config.server_name.empty() ? host : config.server_name;
      HM_CHECK(detail::configure_client_connection(tls_stream->native_handle(), name, config.verify_server));
      ec = run([&](auto handler) { tls_stream->async_handshake(net::ssl::stream_base::client, handler); });
      if (ec) return io_error("TLS handshake with", ec);
      facts = detail::connection_facts(tls_stream->native_handle(), false);
    }
    open = true;
    return base::ok_status();
  }

  template <class Stream>
  base::Result<Response> exchange(Stream& stream, bhttp::request<bhttp::string_body>& req) {
    lowest().expires_after(config.timeout);
    auto ec = run([&](auto handler) { bhttp::async_write(stream, req, handler); });
    if (ec) return io_error("sending a request to", ec);

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(config.max_body);
    if (req.method() == bhttp::verb::head) parser.skip(true);
    ec = run([&](auto handler) { bhttp::async_read(stream, buffer, parser, handler); });
    if (ec) return io_error("reading the response from", ec);

    auto msg = parser.release();
    Response res;
    res.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      res.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    res.body = std::move(msg.body());
    if (!msg.keep_alive()) close();
    return res;
  }
};

Client::Client(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Client::~Client() = default;

base::Result<std::unique_ptr<Client>> Client::connect(std::string host, std::uint16_t port, ClientConfig config) {
  try {
    return connect_impl(std::move(host), port, std::move(config));
  } catch (const std::exception& e) {  // Asio reports resource failures by throwing
    return make_error(ErrorCode::Internal, "cannot create an HTTP client", e.what());
  }
}

base::Result<std::unique_ptr<Client>> Client::connect_impl(std::string host, std::uint16_t port, ClientConfig config) {
  auto impl = std::make_unique<Impl>();
  impl->host = std::move(host);
  impl->port = port;
  impl->config = std::move(config);
  if (impl->config.tls) {
    impl->ssl.emplace(net::ssl::context::tls_client);
    const auto& c = impl->config;
    HM_CHECK(detail::configure_client_context(
        impl->ssl->native_handle(), {c.trust_anchors_pem, c.verify_server, c.cert_chain_pem, c.key_pem, c.key.get(),
                                     c.client_sigalgs, c.tls_version}));
  }
  HM_CHECK(impl->connect());
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

base::Result<Response> Client::request(std::string_view method, std::string_view target, std::string body,
                                       Headers headers) {
  auto& impl = *m_impl;
  bhttp::request<bhttp::string_body> req;
  try {  // Beast throws on a method, target or header value it cannot send
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, impl.host + ":" + std::to_string(impl.port));
    req.set(bhttp::field::user_agent, "hallmark");
    for (auto& [name, value] : headers) req.set(name, value);
    req.body() = std::move(body);
    req.prepare_payload();
  } catch (const std::exception& e) {
    return make_error(ErrorCode::InvalidArgument, "cannot send this request", e.what());
  }
  try {
    if (!impl.open) HM_CHECK(impl.connect());
    if (impl.tls_stream) return impl.exchange(*impl.tls_stream, req);
    return impl.exchange(*impl.plain_stream, req);
  } catch (const std::exception& e) {
    impl.close();
    return make_error(ErrorCode::Internal, "HTTP client failure", e.what());
  }
}

bool Client::is_open() const {
  return m_impl->open;
}
const std::string& Client::tls_version() const {
  return m_impl->facts.version;
}
const std::string& Client::channel_binding_type() const {
  return m_impl->facts.binding_type;
}
const base::Bytes& Client::channel_binding() const {
  return m_impl->facts.binding;
}
std::uint16_t Client::local_port() const {
  if (!m_impl->open) return 0;
  error_code ec;
  return m_impl->lowest().socket().local_endpoint(ec).port();
}

}  // namespace hallmark::http
