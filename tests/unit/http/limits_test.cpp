// Bounds and lifecycle: body/header limits, malformed input, slow clients,
// connection cap, graceful stop, plain-HTTP listener.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "http_test_fixture.h"

namespace hallmark::http::test {
namespace {

using namespace std::chrono_literals;
using testing::shell_quote;

TEST(HttpLimits, AnswersABodyOverTheLimitWith413WithoutCallingTheHandler) {
  Recorder rec;
  auto config = tls_config();
  config.max_body = 1000;
  auto server = start_server(config, rec.handler());
  ASSERT_TRUE(server);
  testing::TempDir dir;
  testing::write_text(dir / "big", std::string(1001, 'x'));
  testing::write_text(dir / "fits", std::string(1000, 'x'));

  auto big = curl(server->port(), "/up", "--data-binary @" + shell_quote((dir / "big").string()));
  EXPECT_EQ(status_of(big), 413) << big.out << big.err;
  // Chunked: no Content-Length up front, the limit is enforced while reading.
  auto chunked = curl(server->port(), "/up",
                      "-H 'Transfer-Encoding: chunked' --data-binary @" + shell_quote((dir / "big").string()));
  EXPECT_EQ(status_of(chunked), 413) << chunked.out << chunked.err;
  // Far over the limit, still sending when the answer is written: the client
  // reads the 413 rather than a connection reset.
  testing::write_text(dir / "huge", std::string(4 * 1024 * 1024, 'x'));
  for (int i = 0; i < 3; ++i) {
    auto huge = curl(server->port(), "/up",
                     "-H 'Transfer-Encoding: chunked' --data-binary @" + shell_quote((dir / "huge").string()));
    EXPECT_EQ(status_of(huge), 413) << huge.out << huge.err;
  }
  EXPECT_TRUE(rec.seen().empty());

  auto fits = curl(server->port(), "/up", "--data-binary @" + shell_quote((dir / "fits").string()));
  EXPECT_EQ(status_of(fits), 200) << fits.err;
  ASSERT_EQ(rec.seen().size(), 1u);
  EXPECT_EQ(rec.seen()[0].body.size(), 1000u);
}

TEST(HttpLimits, AcceptsTheDefault64KiBBodyAndRefusesMore) {
  Recorder rec;
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  testing::TempDir dir;
  testing::write_text(dir / "ok", std::string(64 * 1024, 'a'));
  testing::write_text(dir / "big", std::string(100 * 1024, 'a'));
  // curl sends "Expect: 100-continue" for these; the server answers it.
  auto ok = curl(server->port(), "/", "--data-binary @" + shell_quote((dir / "ok").string()));
  EXPECT_EQ(status_of(ok), 200) << ok.err;
  auto big = curl(server->port(), "/", "--data-binary @" + shell_quote((dir / "big").string()));
  EXPECT_EQ(status_of(big), 413) << big.err;
}

TEST(HttpLimits, BoundsChunkExtensionsAndTrailersLikeHeaders) {
  Recorder rec;
  auto server = start_server(plain_config(), rec.handler());
  ASSERT_TRUE(server);
  const std::string head = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& tail :
       {"10;" + std::string(1 << 20, 'e'), "4\r\nabcd\r\n0\r\nX-T: " + std::string(1 << 20, 't')}) {
    RawSocket s(server->port());
    ASSERT_TRUE(s.connected());
    s.send(head + tail);
    const auto r = s.read_until_closed(5s);
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.data.rfind("HTTP/1.1 431", 0), 0u) << r.data.substr(0, 200);
  }
  EXPECT_TRUE(rec.seen().empty());
  EXPECT_EQ(status_of(curl(server->port(), "/after", "", false)), 200);
}

TEST(HttpLimits, AnswersOversizedHeadersWith431) {
  Recorder rec;
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  auto r = curl(server->port(), "/", "-H 'X-Big: " + std::string(9000, 'h') + "'");
  EXPECT_EQ(status_of(r), 431) << r.err;
  EXPECT_TRUE(rec.seen().empty());
}

TEST(HttpLimits, AnswersGarbageWith400OnPlainHttp) {
  Recorder rec;
  auto server = start_server(plain_config(), rec.handler());
  ASSERT_TRUE(server);
  RawSocket s(server->port());
  ASSERT_TRUE(s.connected());
  s.send("GET /\x01 bad HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto r = s.read_until_closed(5s);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.data.rfind("HTTP/1.1 400", 0), 0u) << r.data;
  EXPECT_TRUE(rec.seen().empty());
}

TEST(HttpLimits, DisconnectsASlowClientAtTheRequestDeadlineWhileServingOthers) {
  Recorder rec;
  auto config = tls_config();
  config.request_timeout = 1500ms;
  auto server = start_server(config, rec.handler());
  ASSERT_TRUE(server);
  const auto port = server->port();
  // A TLS client that completes the handshake, then stalls mid-header.
  auto slow = std::async(std::launch::async, [&] {
    const auto start = std::chrono::steady_clock::now();
    // bash: process substitution, so only s_client's exit is waited for.
    const std::string script = "timeout 20 openssl s_client -quiet -connect 127.0.0.1:" + std::to_string(port) +
                               " < <(printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: '; sleep 8)";
    auto r = testing::run("bash -c " + shell_quote(script));
    (void)r;
    return std::chrono::steady_clock::now() - start;
  });
  std::this_thread::sleep_for(300ms);
  const auto start = std::chrono::steady_clock::now();
  auto other = curl(server->port(), "/other");
  EXPECT_EQ(status_of(other), 200) << other.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);  // not blocked by the slow one
  const auto slow_elapsed = slow.get();
  EXPECT_LT(slow_elapsed, 5s) << "the stalled client was not disconnected by the deadline";
  ASSERT_EQ(rec.seen().size(), 1u);
}

TEST(HttpLimits, ClosesASilentConnectionAtTheHandshakeDeadline) {
  Recorder rec;
  auto config = tls_config();
  config.handshake_timeout = 1s;
  auto server = start_server(config, rec.handler());
  ASSERT_TRUE(server);
  RawSocket s(server->port());
  ASSERT_TRUE(s.connected());
  const auto r = s.read_until_closed(5s);
  EXPECT_TRUE(r.closed);
  EXPECT_GE(r.elapsed, 900ms);
  EXPECT_LT(r.elapsed, 3s);
}

TEST(HttpLimits, ClosesAnIdleKeptAliveConnectionAfterTheIdleTimeout) {
  Recorder rec;
  auto config = plain_config();
  config.idle_timeout = 1s;
  auto server = start_server(config, rec.handler());
  ASSERT_TRUE(server);
  RawSocket s(server->port());
  ASSERT_TRUE(s.connected());
  s.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto r = s.read_until_closed(5s);
  EXPECT_EQ(r.data.rfind("HTTP/1.1 200", 0), 0u) << r.data;
  EXPECT_TRUE(r.closed);
  EXPECT_GE(r.elapsed, 900ms);
  EXPECT_LT(r.elapsed, 3s);
}

TEST(HttpLimits, ClosesConnectionsBeyondMaxConnections) {
  Recorder rec;
  auto config = plain_config();
  config.max_connections = 2;
  auto server = start_server(config, rec.handler());
  ASSERT_TRUE(server);
  {
    RawSocket a(server->port()), b(server->port());
    ASSERT_TRUE(a.connected() && b.connected());
    a.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");  // make sure both are accepted
    b.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(a.read_until("\r\n\r\n", 5s).find("200"), std::string::npos);
    EXPECT_NE(b.read_until("\r\n\r\n", 5s).find("200"), std::string::npos);

    RawSocket c(server->port());
    c.send("GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto r = c.read_until_closed(5s);
    EXPECT_TRUE(r.closed);
    EXPECT_TRUE(r.data.empty()) << r.data;
    EXPECT_LT(r.elapsed, 1s);
  }
  std::this_thread::sleep_for(200ms);  // the server notices a and b closing
  auto again = curl(server->port(), "/d", "", false);
  EXPECT_EQ(status_of(again), 200) << again.err;
  EXPECT_EQ(rec.seen().size(), 3u);
}

TEST(HttpLimits, OneClientAddressCannotTakeEveryConnection) {
  Recorder rec;
  auto config = plain_config();
  config.max_connections = 10;
  config.max_connections_per_address = 2;
  auto server = start_server(config, rec.handler());
  ASSERT_TRUE(server);
  RawSocket a(server->port()), b(server->port());
  ASSERT_TRUE(a.connected() && b.connected());
  a.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  b.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(a.read_until("\r\n\r\n", 5s).find("200"), std::string::npos);
  EXPECT_NE(b.read_until("\r\n\r\n", 5s).find("200"), std::string::npos);
  // A third from 127.0.0.1 is closed at once; another address is still served.
  RawSocket c(server->port());
  c.send("GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto r = c.read_until_closed(5s);
  EXPECT_TRUE(r.closed);
  EXPECT_TRUE(r.data.empty()) << r.data;
  auto other = curl(server->port(), "/d", "--interface 127.0.0.2", false);
  EXPECT_EQ(status_of(other), 200) << other.err;
}

TEST(HttpLifecycle, GracefulStopLetsAnInFlightRequestFinish) {
  Recorder rec;
  rec.respond = [](const Request&) {
    std::this_thread::sleep_for(800ms);
    return Response::text(200, "finished\n");
  };
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  const auto port = server->port();
  auto in_flight = std::async(std::launch::async, [&] { return curl(port, "/slow"); });
  RawSocket idle(port);  // an idle connection must not hold the shutdown up
  std::this_thread::sleep_for(300ms);

  const auto start = std::chrono::steady_clock::now();
  server->stop(5s);
  const auto stop_took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(stop_took, 3s);

  const auto r = in_flight.get();
  EXPECT_EQ(r.out, "finished\n\n200") << r.err;
  EXPECT_TRUE(idle.read_until_closed(2s).closed);
  auto after = curl(port, "/late");
  EXPECT_NE(after.exit_code, 0);  // no longer accepting
}

TEST(HttpLifecycle, StopCutsRequestsThatOutlastTheGracePeriod) {
  Recorder rec;
  rec.respond = [](const Request&) {
    std::this_thread::sleep_for(1500ms);
    return Response::text(200, "too late\n");
  };
  auto server = start_server(plain_config(), rec.handler());
  ASSERT_TRUE(server);
  RawSocket s(server->port());
  s.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(200ms);
  const auto start = std::chrono::steady_clock::now();
  server->stop(300ms);  // waits for the grace period, then for the handler's thread
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_TRUE(s.read_until_closed(3s).closed);
}

TEST(HttpLifecycle, PlainHttpListenerServesCurlWithoutTlsFacts) {
  Recorder rec;
  auto server = start_server(plain_config(), rec.handler());
  ASSERT_TRUE(server);
  auto r = curl(server->port(), "/crl/1.crl", "", false);
  EXPECT_EQ(r.out, "GET /crl/1.crl \n200") << r.err;
  const auto seen = rec.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].tls_version.empty());
  EXPECT_TRUE(seen[0].peer_chain.empty());
  EXPECT_TRUE(seen[0].channel_binding_type.empty());
  EXPECT_TRUE(seen[0].channel_binding.empty());
}

TEST(HttpLifecycle, AHandlerThatThrowsGets500AndTheServerKeepsServing) {
  Recorder rec;
  rec.respond = [](const Request& req) -> Response {
    if (req.path == "/boom") throw std::runtime_error("bug");
    return Response::text(200, "fine\n");
  };
  auto server = start_server(plain_config(), rec.handler());
  ASSERT_TRUE(server);
  EXPECT_EQ(status_of(curl(server->port(), "/boom", "", false)), 500);
  EXPECT_EQ(status_of(curl(server->port(), "/ok", "", false)), 200);
}

TEST(HttpLifecycle, RefusesAnAddressAlreadyInUse) {
  Recorder rec;
  auto first = start_server(plain_config(), rec.handler());
  ASSERT_TRUE(first);
  auto config = plain_config();
  config.listen = "127.0.0.1:" + std::to_string(first->port());
  auto second = Server::start(config, rec.handler());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, base::ErrorCode::Io);
}

}  // namespace
}  // namespace hallmark::http::test
