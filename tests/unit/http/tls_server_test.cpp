// The HTTPS server against third-party clients (curl, openssl s_client):
// versions, cipher policy, keep-alive, client certificates and channel binding.
#include <gtest/gtest.h>

#include "http_test_fixture.h"

namespace hallmark::http::test {
namespace {

using testing::shell_quote;

TEST(HttpsServer, ServesGetAndPostOverTls12WithTlsUniqueBinding) {
  Recorder rec;
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  ASSERT_NE(server->port(), 0);

  auto get = curl(server->port(), "/hello/world?x=1&y=2", "--tlsv1.2 --tls-max 1.2");
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "GET /hello/world \n200");
  auto post = curl(server->port(), "/submit", "--tlsv1.2 --tls-max 1.2 --data-binary payload");
  ASSERT_EQ(post.exit_code, 0) << post.err;
  EXPECT_EQ(status_of(post), 200);

  const auto seen = rec.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/hello/world?x=1&y=2");
  EXPECT_EQ(seen[0].path, "/hello/world");
  EXPECT_EQ(seen[0].query, "x=1&y=2");
  EXPECT_TRUE(seen[0].header("user-agent").has_value());
  EXPECT_EQ(seen[0].tls_version, "TLSv1.2");
  EXPECT_EQ(seen[0].channel_binding_type, "tls-unique");
  EXPECT_EQ(seen[0].channel_binding.size(), 12u);  // TLS 1.2 Finished verify_data
  EXPECT_TRUE(seen[0].peer_chain.empty());
  EXPECT_EQ(seen[0].peer_address.rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].body, "payload");
  EXPECT_NE(seen[0].channel_binding, seen[1].channel_binding);  // two connections
}

TEST(HttpsServer, ServesOverTls13WithTlsExporterBinding) {
  Recorder rec;
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  auto r = curl(server->port(), "/x", "--tlsv1.3 --data-binary abc");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "POST /x abc\n200");
  const auto seen = rec.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].tls_version, "TLSv1.3");
  EXPECT_EQ(seen[0].channel_binding_type, "tls-exporter");
  EXPECT_EQ(seen[0].channel_binding.size(), 32u);
}

TEST(HttpsServer, KeepsTheConnectionAliveAcrossRequests) {
  Recorder rec;
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  const auto base = "https://127.0.0.1:" + std::to_string(server->port());
  auto r = testing::run("curl -sS --cacert " + shell_quote(certs().path("server.pem")) + " " +
                        shell_quote(base + "/one") + " " + shell_quote(base + "/two"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto seen = rec.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].path, "/one");
  EXPECT_EQ(seen[1].path, "/two");
  EXPECT_EQ(seen[0].peer_address, seen[1].peer_address);  // same client port: one connection
  EXPECT_EQ(seen[0].channel_binding, seen[1].channel_binding);
}

TEST(HttpsServer, HandsTheUnverifiedClientChainLeafFirstOverBothVersions) {
  for (const std::string version : {"--tlsv1.2 --tls-max 1.2", "--tlsv1.3"}) {
    Recorder rec;
    auto server = start_server(tls_config(), rec.handler());
    ASSERT_TRUE(server);
    // The client CA is unknown to the server: the handshake still succeeds.
    auto r = curl(server->port(), "/enroll",
                  version + " --cert " + shell_quote(certs().path("client-chain.pem")) + " --key " +
                      shell_quote(certs().path("client.key")));
    ASSERT_EQ(r.exit_code, 0) << version << ": " << r.err;
    const auto seen = rec.seen();
    ASSERT_EQ(seen.size(), 1u);
    ASSERT_EQ(seen[0].peer_chain.size(), 2u) << version;
    EXPECT_EQ(seen[0].peer_chain[0], certs().client_der) << version;
    EXPECT_EQ(seen[0].peer_chain[1], certs().client_ca_der) << version;
    EXPECT_FALSE(seen[0].channel_binding.empty()) << version;
  }
}

TEST(HttpsServer, WithoutClientCertificateTheHandlerDecidesAndAnswers401) {
  Recorder rec;
  rec.respond = [](const Request& req) {
    return req.peer_chain.empty() ? Response::text(401, "client certificate required\n") : Response::text(200, "ok\n");
  };
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  auto r = curl(server->port(), "/enroll");
  ASSERT_EQ(r.exit_code, 0) << r.err;  // no TLS alert
  EXPECT_EQ(r.out, "client certificate required\n\n401");
  ASSERT_EQ(rec.seen().size(), 1u);
  EXPECT_TRUE(rec.seen()[0].peer_chain.empty());
}

TEST(HttpsServer, RefusesTls11EvenFromAWillingClient) {
  Recorder rec;
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  // SECLEVEL=0 makes the local OpenSSL client willing to speak TLS 1.1, so the
  // refusal must come from the server.
  auto old = s_client(server->port(), "-tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'");
  EXPECT_NE(old.exit_code, 0) << old.out;
  auto curl11 = curl(server->port(), "/", "--tlsv1.1 --tls-max 1.1");
  EXPECT_NE(curl11.exit_code, 0);
  auto ok = s_client(server->port(), "-tls1_2");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(rec.seen().empty());
}

TEST(HttpsServer, RefusesCipherSuitesWithoutEcdheAndAead) {
  Recorder rec;
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  for (const char* weak : {"AES128-SHA", "AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
                           "DHE-RSA-AES128-GCM-SHA256"}) {
    auto r = s_client(server->port(), std::string("-tls1_2 -cipher ") + weak);
    EXPECT_NE(r.exit_code, 0) << weak << " was accepted";
  }
  for (const char* good :
       {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    auto r = s_client(server->port(), std::string("-tls1_2 -cipher ") + good);
    EXPECT_EQ(r.exit_code, 0) << good << ": " << r.err;
  }
}

TEST(HttpsServer, AnswersAMalformedRequestLineWith400) {
  Recorder rec;
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  auto r = testing::run(
      "printf 'THIS IS NOT HTTP\\r\\n\\r\\n' | timeout 20 openssl s_client -quiet "
      "-connect 127.0.0.1:" +
      std::to_string(server->port()));
  EXPECT_EQ(r.out.rfind("HTTP/1.1 400", 0), 0u) << r.out << r.err;
  EXPECT_TRUE(rec.seen().empty());
}

TEST(HttpsServer, RejectsAnUnusableCertificateOrKeyAtStart) {
  auto config = tls_config();
  config.key_pem = "not a key";
  auto r = Server::start(config, [](const Request&) { return Response{}; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, base::ErrorCode::InvalidArgument);

  config = tls_config();
  config.key_pem = certs().client_key;  // does not match the server certificate
  r = Server::start(config, [](const Request&) { return Response{}; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, base::ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace hallmark::http::test
