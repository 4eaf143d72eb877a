// Factory channel fixture: an operator PKI (CliTest), sites and real station
// folders, manifests with CSRs made in-process (distinct P-256 keys, fast), and
// helpers to tamper with and re-sign ledger bundles the way a rogue station could.
#pragma once

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "integration/cli_fixture.h"
#include "keys/software_key_store.h"
#include "pkix/csr.h"
#include "pkix/name.h"
#include "pkix/oid.h"

namespace hallmark::testing {

class FactoryTest : public CliTest {
 protected:
  static constexpr char kPass[] = "integration-test-passphrase";

  // base64 DER of a CSR for a fresh P-256 key.
  static std::string fresh_csr() {
    auto key = keys::generate_ephemeral(base::KeyAlgorithm::EcP256);
    EXPECT_TRUE(key.ok());
    pkix::Name subject;
    EXPECT_TRUE(subject.add(pkix::oid::kCommonName, "device").ok());
    auto info = pkix::encode_csr_info(subject, (*key)->public_key_der());
    auto sig = (*key)->sign(info.value());
    auto der = pkix::assemble_csr(info.value(), (*key)->signature_algorithm(), sig.value());
    return base::base64_encode(der.value());
  }

  static std::string line(const std::string& serial, const std::string& csr, const std::string& product = "sensor-v2",
                          const std::string& extra = "") {
    auto j = nlohmann::json{{"serial", serial}, {"product", product}, {"csr", csr}};
    if (!extra.empty()) j.update(nlohmann::json::parse(extra));
    return j.dump();
  }

  static std::string serial(int n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "SN-%08d", n);
    return buf;
  }

  // `site create` with --attestation none unless `extra` says otherwise; returns the --out folder.
  std::string create_site(const std::string& id, const std::string& range, int quota, const std::string& extra = "") {
    const auto out = file("auth-" + id);
    auto r = hallmark("site create --dir " + dir() + " --id " + id + " --serial-range " + range + " --quota " +
                      std::to_string(quota) + " --not-after 2040-01-01 --products sensor-v2,gateway-x1" +
                      " --profiles idevid,ldevid " +
                      (extra.find("--attestation") == std::string::npos ? "--attestation none " : "") + extra +
                      " --out " + out);
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    return out;
  }

  std::string init_station(const std::string& name, const std::string& auth) {
    const auto st = file(name);
    auto r = hallmark("station init --dir " + st + " --authorization " + auth);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return st;
  }

  void write_lines(const std::string& path, const std::vector<std::string>& lines) {
    std::ofstream out(path, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
  }

  std::vector<nlohmann::json> results(const std::string& outdir) {
    std::vector<nlohmann::json> rows;
    std::ifstream in(outdir + "/results.jsonl");
    for (std::string l; std::getline(in, l);) rows.push_back(nlohmann::json::parse(l));
    return rows;
  }

  CommandResult provision(const std::string& station, const std::string& manifest, const std::string& out,
                          const std::string& extra = "") {
    return hallmark("station provision --quiet --dir " + station + " --input " + manifest + " --out " + out + " " +
                    extra);
  }

  // Replaces a bundle's signature line with one made by the station key (decrypted with openssl).
  void resign_bundle(const std::string& station, const std::string& bundle,
                     const std::vector<std::string>& body_lines) {
    const auto key = file("station-plain.pem");
    ASSERT_EQ(run("openssl pkey -in " + station + "/keys/station.key -passin pass:" + kPass + " -out " + key).exit_code,
              0);
    const auto body = file("bundle-body");
    write_lines(body, body_lines);
    auto sig = run("printf %s \"$(sha256sum " + body + " | cut -c1-64)\" | openssl dgst -sha256 -sign " + key +
                   " | base64 -w0");
    ASSERT_EQ(sig.exit_code, 0) << sig.err;
    auto lines = body_lines;
    lines.push_back(
        nlohmann::json{{"type", "signature"}, {"algorithm", "ecdsa-with-SHA256"}, {"value", sig.out}}.dump());
    write_lines(bundle, lines);
  }

  std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> out;
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
};

}  // namespace hallmark::testing
