// The module's own client against the server: keep-alive, client certificates,
// server verification, and the channel binding computed independently on both
// ends of the connection.
#include "http/client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "http_test_fixture.h"

namespace hallmark::http::test {
namespace {

ClientConfig client_config(std::string version = {}) {
  ClientConfig c;
  c.trust_anchors_pem = certs().server_pem;
  c.tls_version = std::move(version);
  c.timeout = std::chrono::seconds(10);
  return c;
}

// Answers with "<type> <hex binding>" as the server saw it.
Response echo_binding(const Request& req) {
  return Response::text(200, req.channel_binding_type + " " + base::hex_encode(req.channel_binding));
}

TEST(HttpClient, SeesTheSameTlsExporterBindingAsTheServerOverTls13) {
  auto server = start_server(tls_config(), echo_binding);
  ASSERT_TRUE(server);
  auto client = Client::connect("127.0.0.1", server->port(), client_config("1.3"));
  ASSERT_TRUE(client.ok()) << client.error().describe();
  auto res = (*client)->request("GET", "/");
  ASSERT_TRUE(res.ok()) << res.error().describe();
  EXPECT_EQ((*client)->tls_version(), "TLSv1.3");
  EXPECT_EQ((*client)->channel_binding().size(), 32u);
  EXPECT_EQ(res->body, "tls-exporter " + base::hex_encode((*client)->channel_binding()));
}

TEST(HttpClient, SeesTheSameTlsUniqueBindingAsTheServerOverTls12) {
  auto server = start_server(tls_config(), echo_binding);
  ASSERT_TRUE(server);
  auto client = Client::connect("127.0.0.1", server->port(), client_config("1.2"));
  ASSERT_TRUE(client.ok()) << client.error().describe();
  auto res = (*client)->request("GET", "/");
  ASSERT_TRUE(res.ok()) << res.error().describe();
  EXPECT_EQ((*client)->tls_version(), "TLSv1.2");
  EXPECT_EQ((*client)->channel_binding().size(), 12u);
  EXPECT_EQ(res->body, "tls-unique " + base::hex_encode((*client)->channel_binding()));
}

TEST(HttpClient, ReusesOneConnectionAndPresentsItsClientCertificate) {
  Recorder rec;
  auto server = start_server(tls_config(), rec.handler());
  ASSERT_TRUE(server);
  auto config = client_config();
  config.cert_chain_pem = certs().client_chain_pem;
  config.key_pem = certs().client_key;
  auto client = Client::connect("127.0.0.1", server->port(), config);
  ASSERT_TRUE(client.ok()) << client.error().describe();
  auto first = (*client)->request("POST", "/a", "one", {{"Content-Type", "text/plain"}});
  auto second = (*client)->request("POST", "/b", "two");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(second->body, "POST /b two");
  EXPECT_EQ(first->header("content-type"), "text/plain; charset=utf-8");

  const auto seen = rec.seen();
  ASSERT_EQ(seen.size(), 2u);
  const auto local = "127.0.0.1:" + std::to_string((*client)->local_port());
  EXPECT_EQ(seen[0].peer_address, local);
  EXPECT_EQ(seen[1].peer_address, local);
  EXPECT_EQ(seen[0].header("Content-Type"), "text/plain");
  ASSERT_EQ(seen[1].peer_chain.size(), 2u);
  EXPECT_EQ(seen[1].peer_chain[0], certs().client_der);
}

std::shared_ptr<evp_pkey_st> ready_key(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return {PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free};
}

// The way a TPM-backed key comes in (device/tpm_key.h): an EVP_PKEY, with the
// signature algorithms it can make.
TEST(HttpClient, PresentsItsClientCertificateWithAReadyKeyLimitedToTheGivenSignatureAlgorithms) {
  for (const std::string version : {"1.2", "1.3"}) {
    Recorder rec;
    auto server = start_server(tls_config(), rec.handler());
    ASSERT_TRUE(server);
    auto config = client_config(version);
    config.cert_chain_pem = certs().client_chain_pem;
    config.key = ready_key(certs().client_key);
    ASSERT_TRUE(config.key);
    config.client_sigalgs = "ECDSA+SHA256";
    auto client = Client::connect("127.0.0.1", server->port(), config);
    ASSERT_TRUE(client.ok()) << version << ": " << client.error().describe();
    ASSERT_TRUE((*client)->request("GET", "/").ok());
    ASSERT_EQ(rec.seen().size(), 1u);
    EXPECT_EQ(rec.seen()[0].peer_chain.at(0), certs().client_der) << version;
  }
}

TEST(HttpClient, RefusesAReadyKeyForAnotherCertificateAndUnknownSignatureAlgorithms) {
  auto server = start_server(tls_config(), echo_binding);
  ASSERT_TRUE(server);
  auto config = client_config();
  config.cert_chain_pem = certs().client_chain_pem;
  config.key = ready_key(certs().server_key);
  auto other = Client::connect("127.0.0.1", server->port(), config);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, base::ErrorCode::InvalidArgument);
  config.key = ready_key(certs().client_key);
  config.client_sigalgs = "NOPE+SHA256";
  auto bad = Client::connect("127.0.0.1", server->port(), config);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, base::ErrorCode::InvalidArgument);
}

TEST(HttpClient, RefusesAServerItsTrustAnchorsDoNotCover) {
  auto server = start_server(tls_config(), echo_binding);
  ASSERT_TRUE(server);
  auto config = client_config();
  config.trust_anchors_pem = testing::read_text(certs().path("clientca.pem"));
  auto client = Client::connect("127.0.0.1", server->port(), config);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, base::ErrorCode::Io);
  EXPECT_NE(client.error().cause.find("certificate verify failed"), std::string::npos) << client.error().describe();
}

TEST(HttpClient, RefusesAServerCertificateForAnotherName) {
  auto server = start_server(tls_config(), echo_binding);
  ASSERT_TRUE(server);
  auto config = client_config();
  config.server_name = "est.example.com";
  EXPECT_FALSE(Client::connect("127.0.0.1", server->port(), config).ok());
  config.server_name = "localhost";  // in the certificate's SAN
  EXPECT_TRUE(Client::connect("127.0.0.1", server->port(), config).ok());
}

TEST(HttpClient, SpeaksPlainHttpAndReconnectsAfterConnectionClose) {
  Recorder rec;
  rec.respond = [](const Request& req) {
    Response r = Response::text(200, req.body);
    return r;
  };
  auto server = start_server(plain_config(), rec.handler());
  ASSERT_TRUE(server);
  ClientConfig config;
  config.tls = false;
  auto client = Client::connect("127.0.0.1", server->port(), config);
  ASSERT_TRUE(client.ok()) << client.error().describe();
  auto res = (*client)->request("PUT", "/x", "body", {{"Connection", "close"}});
  ASSERT_TRUE(res.ok()) << res.error().describe();
  EXPECT_EQ(res->body, "body");
  EXPECT_FALSE((*client)->is_open());
  auto again = (*client)->request("GET", "/y");
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_TRUE((*client)->channel_binding().empty());
  const auto seen = rec.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0].peer_address, seen[1].peer_address);
}

}  // namespace
}  // namespace hallmark::http::test
