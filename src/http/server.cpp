// The server: an acceptor on its own strand, one Session per connection (each
// on its own strand, so a session's steps never run concurrently), N io threads
// sharing one io_context. Boost exceptions never leave this file: everything
// uses error_code overloads and the handler is called inside try/catch.
#include "http/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "base/log.h"
#include "http/tls_context.h"

namespace hallmark::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using base::ErrorCode;
using base::make_error;

constexpr std::size_t kFirstRead = 4096;
constexpr std::size_t kReadSlack = 16 * 1024;  // unparsed bytes beyond max_header a read may leave in the buffer
constexpr std::chrono::seconds kTlsShutdownTimeout{1};
// After refusing a request whose body is still arriving: how long and how much
// to read and discard before closing (see Session::drain_then_close).
constexpr std::chrono::seconds kDrainTimeout{2};
constexpr std::size_t kDrainLimit = 16 * 1024 * 1024;

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  const std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// What a session needs to reach from the server; outlives the io_context so
// that sessions destroyed with it can still unregister.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Any thread: asks the session to finish (see Server::stop).
  virtual void request_stop() = 0;
};

struct Shared {
  ServerConfig config;
  Handler handler;
  std::atomic<bool> stopping{false};

  std::mutex mutex;
  std::condition_variable all_closed;
  struct Entry {
    std::weak_ptr<SessionBase> session;
    std::string address;  // the client's IP address
  };
  std::unordered_map<SessionBase*, Entry> sessions;          // guarded by mutex
  std::unordered_map<std::string, std::size_t> per_address;  // open sessions per client address

  void remove(SessionBase* s) {
    std::lock_guard lock(mutex);
    auto it = sessions.find(s);
    if (it == sessions.end()) return;
    if (auto a = per_address.find(it->second.address); a != per_address.end() && --a->second == 0) per_address.erase(a);
    sessions.erase(it);
    if (sessions.empty()) all_closed.notify_all();
  }
};

// One connection: [TLS handshake] then requests until the client, an error, a
// timeout or the shutdown closes it.
template <bool Tls>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Tls>> {
  using Stream = std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;
  enum class State { Handshake, Idle, Busy, Closing };

 public:
  Session(std::shared_ptr<Shared> shared, tcp::socket socket, net::ssl::context* ssl)
      : m_shared(std::move(shared)), m_stream(make_stream(std::move(socket), ssl)) {
    error_code ec;
    const auto peer = lowest().socket().remote_endpoint(ec);
    m_peer = ec ? "?" : endpoint_text(peer);
  }
  ~Session() override { m_shared->remove(this); }

  void run() {
    net::dispatch(m_stream.get_executor(), [self = this->shared_from_this()] { self->start(); });
  }

  void request_stop() override {
    net::post(m_stream.get_executor(), [self = this->shared_from_this()] {
      self->m_stop_requested = true;
      // Nothing in flight: close now (cancels the pending read or handshake).
      // Otherwise the current request finishes and its response closes.
      if (self->m_state == State::Handshake || self->m_state == State::Idle) {
        self->lowest().close();
      }
    });
  }

 private:
  static Stream make_stream(tcp::socket socket, net::ssl::context* ssl) {
    if constexpr (Tls) {
      return Stream(std::move(socket), *ssl);
    } else {
      return Stream(std::move(socket));
    }
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(m_stream); }
  const ServerConfig& config() const { return m_shared->config; }
  template <class F>
  auto bind(F f) {
    return [self = this->shared_from_this(), f](auto&&... args) {
      (self.get()->*f)(std::forward<decltype(args)>(args)...);
    };
  }

  void start() {
    if constexpr (Tls) {
      m_state = State::Handshake;
      lowest().expires_after(config().handshake_timeout);
      m_stream.async_handshake(net::ssl::stream_base::server, bind(&Session::on_handshake));
    } else {
      wait_for_request();
    }
  }

  void on_handshake(error_code ec) {
    if (ec) {
      base::log::debug(config().name + " " + m_peer + ": TLS handshake failed: " + ec.message());
      return;  // the session ends; the socket closes with it
    }
    if constexpr (Tls) m_tls = detail::connection_facts(m_stream.native_handle(), true);
    wait_for_request();
  }

  // Waits for the first byte of the next request under the idle deadline (the
  // request deadline for a connection's first request), so that the request
  // deadline below counts from when the client actually starts sending.
  void wait_for_request() {
    if (m_stop_requested || m_shared->stopping) return close();
    if (m_buffer.size() > 0) return read_header();  // pipelined bytes already here
    m_state = State::Idle;
    lowest().expires_after(m_requests == 0 ? config().request_timeout : config().idle_timeout);
    m_stream.async_read_some(m_buffer.prepare(kFirstRead), bind(&Session::on_first_bytes));
  }

  void on_first_bytes(error_code ec, std::size_t n) {
    if (ec) return;  // closed by the peer, idle timeout or shutdown: nothing to answer
    m_buffer.commit(n);
    read_header();
  }

  void read_header() {
    m_state = State::Busy;
    m_started = Clock::now();
    lowest().expires_after(config().request_timeout);  // covers headers and body together
    m_log_request = "-";
    m_parser.emplace();
    m_parser->header_limit(static_cast<std::uint32_t>(config().max_header));
    m_parser->body_limit(config().max_body);
    // The parser limits the header and the body, not a chunk header's
    // extensions or the trailer, which it keeps in this buffer until their
    // line ends: bounding the buffer bounds them (431 beyond).
    m_buffer.max_size(config().max_header + kReadSlack);
    bhttp::async_read_header(m_stream, m_buffer, *m_parser, bind(&Session::on_header));
  }

  void on_header(error_code ec, std::size_t) {
    if (m_parser->is_header_done()) {  // also when the declared body is already too large
      const auto& msg = m_parser->get();
      m_log_request =
          std::string(msg.method_string()) + " " + std::string(msg.target().substr(0, msg.target().find('?')));
    }
    if (ec) return fail_request(ec);
    const auto& msg = m_parser->get();
    // RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" waits for
    // this before sending the body (curl does for larger bodies).
    if (!m_parser->is_done() && msg.version() == 11 && iequals(msg[bhttp::field::expect], "100-continue")) {
      m_continue.emplace(bhttp::status::continue_, 11);
      bhttp::async_write(m_stream, *m_continue, bind(&Session::on_continue_sent));
      return;
    }
    read_body();
  }

  void on_continue_sent(error_code ec, std::size_t) {
    if (ec) return;
    read_body();
  }

  void read_body() {
    if (m_parser->is_done()) return handle_request();
    bhttp::async_read(m_stream, m_buffer, *m_parser, bind(&Session::on_body));
  }

  void on_body(error_code ec, std::size_t) {
    if (ec) return fail_request(ec);
    handle_request();
  }

  Response error_response(int status, const std::string& reason) const {
    return config().error_response ? config().error_response(status, reason) : Response::text(status, reason + "\n");
  }

  void fail_request(error_code ec) {
    if (ec == bhttp::error::body_limit) {
      m_drain_before_close = true;  // the client is still sending the rest of it
      return respond(error_response(413, "request body too large"), false);
    }
    if (ec == bhttp::error::header_limit) {
      return respond(error_response(431, "request header too large"), false);
    }
    if (ec == bhttp::error::buffer_overflow) {
      m_drain_before_close = true;
      return respond(error_response(431, "chunk header or trailer too large"), false);
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      return respond(error_response(400, "malformed request"), false);
    }
    // Timeout (the stream is already closed), reset, or the peer went away
    // mid-request: nobody to answer.
    base::log::debug(config().name + " " + m_peer + ": request not completed: " + ec.message());
    close();
  }

  void handle_request() {
    auto msg = m_parser->release();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    const auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& field : msg) {
      req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    req.body = std::move(msg.body());
    req.peer_chain = m_tls.peer_chain;
    req.tls_version = m_tls.version;
    req.channel_binding_type = m_tls.binding_type;
    req.channel_binding = m_tls.binding;
    req.peer_address = m_peer;

    Response res;
    try {
      res = m_shared->handler(req);
    } catch (const std::exception& e) {
      base::log::error(config().name + ": handler threw on " + req.method + " " + req.path + ": " + e.what());
      res = error_response(500, "internal error");
    } catch (...) {
      base::log::error(config().name + ": handler threw on " + req.method + " " + req.path);
      res = error_response(500, "internal error");
    }
    const bool keep_alive = msg.keep_alive() && !m_stop_requested && !m_shared->stopping;
    respond(std::move(res), keep_alive, msg.method() == bhttp::verb::head, msg.version());
  }

  void respond(Response res, bool keep_alive, bool head = false, unsigned version = 11) {
    m_state = State::Busy;
    m_keep_alive = keep_alive;
    m_response.emplace(static_cast<bhttp::status>(res.status), version);
    for (auto& [name, value] : res.headers) m_response->insert(name, value);
    m_response->body() = std::move(res.body);
    m_response->prepare_payload();
    m_response->keep_alive(keep_alive);
    if (head) m_response->body().clear();  // Content-Length still says what GET would send
    m_body_bytes = m_response->body().size();
    lowest().expires_after(config().request_timeout);
    bhttp::async_write(m_stream, *m_response, bind(&Session::on_written));
  }

  void on_written(error_code ec, std::size_t) {
    log_access();
    m_response.reset();
    if (!ec && m_drain_before_close) return drain_then_close();
    if (ec || !m_keep_alive) return close();
    ++m_requests;
    wait_for_request();
  }

  void log_access() {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - m_started).count();
    std::ostringstream line;
    line << config().name << " " << m_peer << " \"" << m_log_request << "\" " << m_response->result_int() << " "
         << m_body_bytes << "B " << ms << "ms cert=" << (m_tls.peer_chain.empty() ? "no" : "yes");
    base::log::info(line.str());
  }

  // Closing a socket with unread request data makes TCP answer with a reset,
  // which can destroy the response before the client has read it (RFC 9112
  // §9.6): read and discard what the client still sends, bounded in time and
  // size, then close.
  void drain_then_close() {
    m_drain_before_close = false;
    m_drained = 0;
    lowest().expires_after(kDrainTimeout);
    if constexpr (!Tls) {
      error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    drain_some();
  }

  void drain_some() {
    m_stream.async_read_some(net::buffer(m_scratch), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      self->m_drained += n;
      if (ec || self->m_drained > kDrainLimit) return self->close();
      self->drain_some();
    });
  }

  void close() {
    if (m_state == State::Closing) return;
    m_state = State::Closing;
    error_code ec;
    if constexpr (Tls) {
      // Send close_notify; do not wait long for the peer's.
      lowest().expires_after(kTlsShutdownTimeout);
      m_stream.async_shutdown([self = this->shared_from_this()](error_code) { self->lowest().close(); });
    } else {
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      lowest().close();
    }
  }

  std::shared_ptr<Shared> m_shared;
  Stream m_stream;
  std::string m_peer;
  detail::TlsFacts m_tls;
  beast::flat_buffer m_buffer;
  std::optional<bhttp::request_parser<bhttp::string_body>> m_parser;
  std::optional<bhttp::response<bhttp::empty_body>> m_continue;
  std::optional<bhttp::response<bhttp::string_body>> m_response;
  State m_state = State::Idle;
  bool m_stop_requested = false;
  bool m_keep_alive = false;
  bool m_drain_before_close = false;
  std::size_t m_drained = 0;
  std::array<char, 16384> m_scratch{};
  std::size_t m_requests = 0;
  std::size_t m_body_bytes = 0;
  std::string m_log_request;
  Clock::time_point m_started = Clock::now();
};

base::Result<tcp::endpoint> parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return make_error(ErrorCode::InvalidArgument, "listen must be host:port: " + listen);
  }
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(port_text, &used);
    if (used != port_text.size() || port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return make_error(ErrorCode::InvalidArgument, "bad port in listen address: " + listen);
  }
  error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    const auto results = resolver.resolve(host, port_text, ec);
    if (ec || results.empty()) {
      return make_error(ErrorCode::InvalidArgument, "cannot resolve listen host " + host, ec.message());
    }
    return results.begin()->endpoint();
  }
  return tcp::endpoint(address, static_cast<std::uint16_t>(port));
}

}  // namespace

struct Server::Impl {
  // What runs on the io threads. Destroying it destroys the sessions that its
  // pending handlers still own, which closes their connections.
  struct Io {
    explicit Io(int threads) : ioc(threads), acceptor(net::make_strand(ioc)) {}
    net::io_context ioc;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    tcp::acceptor acceptor;
    std::optional<net::steady_timer> retry_timer;
  };

  Impl(std::shared_ptr<Shared> s, int threads) : shared(std::move(s)), io(std::make_unique<Io>(threads)) {}

  // Destruction runs in reverse: io (and the sessions it owns) goes before
  // the TLS context and Shared, which sessions use until their last moment.
  std::shared_ptr<Shared> shared;
  std::optional<net::ssl::context> ssl;
  std::unique_ptr<Io> io;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  bool stopped = false;

  void accept() {
    io->acceptor.async_accept(net::make_strand(io->ioc),
                              [this](error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
  }

  void on_accept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !io->acceptor.is_open()) return;
    if (ec) {
      // Typically EMFILE: back off briefly instead of spinning.
      base::log::warn(shared->config.name + ": accept failed: " + ec.message());
      io->retry_timer.emplace(io->acceptor.get_executor(), std::chrono::milliseconds(100));
      io->retry_timer->async_wait([this](error_code e) {
        if (!e) accept();
      });
      return;
    }
    if (shared->stopping) return;
    // Responses are written as header + body records: without TCP_NODELAY the
    // second waits for the client's delayed ACK (~40 ms per request).
    socket.set_option(tcp::no_delay(true), ec);
    const auto peer = socket.remote_endpoint(ec);
    const std::string address = ec ? "?" : peer.address().to_string();
    std::shared_ptr<SessionBase> session;
    {
      std::lock_guard lock(shared->mutex);
      auto& from_address = shared->per_address[address];
      if (shared->sessions.size() >= shared->config.max_connections) {
        base::log::warn(shared->config.name + ": " + std::to_string(shared->sessions.size()) +
                        " connections open (max_connections); closing a new one");
        socket.close(ec);
      } else if (from_address >= shared->config.max_connections_per_address) {
        base::log::warn(shared->config.name + ": " + std::to_string(from_address) + " connections open from " +
                        address + " (max_connections_per_address); closing a new one");
        socket.close(ec);
      } else if (shared->config.tls) {
        session = std::make_shared<Session<true>>(shared, std::move(socket), &*ssl);
      } else {
        session = std::make_shared<Session<false>>(shared, std::move(socket), nullptr);
      }
      if (session) {
        shared->sessions.emplace(session.get(), Shared::Entry{session, address});
        ++from_address;
      } else if (from_address == 0) {
        shared->per_address.erase(address);
      }
    }
    if (session) {
      if (shared->config.tls) {
        static_cast<Session<true>&>(*session).run();
      } else {
        static_cast<Session<false>&>(*session).run();
      }
    }
    accept();
  }
};

Server::Server(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Server::~Server() {
  stop(std::chrono::milliseconds(0));
}

std::uint16_t Server::port() const {
  return m_impl->port;
}

base::Result<std::unique_ptr<Server>> Server::start(ServerConfig config, Handler handler) {
  // Asio reports resource failures (SSL_CTX_new, threads) by throwing.
  try {
    return start_impl(std::move(config), std::move(handler));
  } catch (const std::exception& e) {
    return make_error(ErrorCode::Internal, "cannot start the HTTP server", e.what());
  }
}

base::Result<std::unique_ptr<Server>> Server::start_impl(ServerConfig config, Handler handler) {
  if (!handler) return make_error(ErrorCode::InvalidArgument, "no request handler");
  if (config.max_connections == 0 || config.max_header == 0) {
    return make_error(ErrorCode::InvalidArgument, "max_connections and max_header must be > 0");
  }
  int threads = config.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  HM_TRY(const auto endpoint, parse_listen(config.listen));

  auto shared = std::make_shared<Shared>();
  shared->config = std::move(config);
  shared->handler = std::move(handler);
  auto impl = std::make_unique<Impl>(shared, threads);
  const auto& cfg = shared->config;

  if (cfg.tls) {
    impl->ssl.emplace(net::ssl::context::tls_server);
    HM_CHECK(
        detail::configure_server_context(impl->ssl->native_handle(), cfg.cert_chain_pem, cfg.key_pem, cfg.key.get()));
  }

  error_code ec;
  auto& acceptor = impl->io->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    // The operator's own address: the reason (address in use, permission) is safe to show.
    return make_error(ErrorCode::Io, "cannot listen on " + cfg.listen + ": " + ec.message());
  }
  impl->port = acceptor.local_endpoint(ec).port();

  impl->io->work.emplace(impl->io->ioc.get_executor());
  impl->accept();
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([raw = impl.get()] {
      for (;;) {
        try {
          raw->io->ioc.run();
          return;
        } catch (const std::exception& e) {
          base::log::error(raw->shared->config.name + ": io thread: " + e.what());
        }
      }
    });
  }
  base::log::info(cfg.name + ": listening on " + endpoint_text(tcp::endpoint(endpoint.address(), impl->port)) +
                  (cfg.tls ? " (TLS)" : " (plain HTTP)"));
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::stop(std::chrono::milliseconds grace) {
  auto& impl = *m_impl;
  if (impl.stopped) return;
  impl.stopped = true;
  impl.shared->stopping = true;
  net::post(impl.io->acceptor.get_executor(), [io = impl.io.get()] {
    error_code ec;
    io->acceptor.close(ec);
    if (io->retry_timer) io->retry_timer->cancel();
  });

  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard lock(impl.shared->mutex);
    for (auto& [raw, entry] : impl.shared->sessions) {
      if (auto s = entry.session.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->request_stop();
  live.clear();  // our references must not keep sessions alive

  {
    std::unique_lock lock(impl.shared->mutex);
    const bool done = impl.shared->all_closed.wait_for(lock, grace, [&] { return impl.shared->sessions.empty(); });
    if (!done) {
      base::log::warn(impl.shared->config.name + ": " + std::to_string(impl.shared->sessions.size()) +
                      " connection(s) still open after the shutdown grace period; closing them");
    }
  }
  impl.io->work.reset();
  impl.io->ioc.stop();
  for (auto& t : impl.threads) t.join();
  impl.threads.clear();
  impl.io.reset();  // closes whatever outlived the grace period
  base::log::info(impl.shared->config.name + ": stopped");
}

}  // namespace hallmark::http
