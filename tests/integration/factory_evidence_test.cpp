// Evidence records (issue 8, "Policy and records"): the SE evidence a station
// verified is stored under the digest its certificate records, travels in the
// signed ledger bundle, is re-hashed and stored at `ledger import`, is shown by
// `cert show` and written back byte for byte by `cert evidence`; the same SE
// attestation key at two sites is a duplicate_hardware_identity finding. The
// digests and certificate fields are checked with sha256sum and the openssl CLI.
#include <fstream>

#include "integration/factory_fixture.h"

namespace hallmark::testing {
namespace {

using nlohmann::json;

class FactoryEvidenceTest : public FactoryTest {
 protected:
  void SetUp() override {
    FactoryTest::SetUp();
    if (HasFatalFailure()) return;
    auto v = hallmark("device se vendor-init --dir " + file("vendor") + " --name 'Acme Secure'");
    ASSERT_EQ(v.exit_code, 0) << v.err;
    m_station = se_station("se", "SN-00002000..SN-00002099", "st");
  }

  std::string se_station(const std::string& site, const std::string& range, const std::string& name) {
    const auto auth = create_site(site, range, 50, "--attestation required --se-roots " + file("vendor") + "/root.pem");
    return init_station(name, auth + "/station-1");
  }

  std::string challenge(const std::string& station) {
    auto r = hallmark("station challenge --dir " + station);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }

  json se_line(const std::string& serial_number, const std::string& nonce, const std::string& key_out = "") {
    auto r = hallmark("device se make --vendor " + file("vendor") + " --serial " + serial_number +
                      " --product sensor-v2 --nonce " + nonce + (key_out.empty() ? "" : " --key-out " + key_out));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }

  std::vector<json> provision_at(const std::string& station, const std::vector<json>& lines, const std::string& name) {
    std::vector<std::string> text;
    for (const auto& l : lines) text.push_back(l.dump());
    write_lines(file(name + ".jsonl"), text);
    auto r = provision(station, file(name + ".jsonl"), file(name));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return results(file(name));
  }

  std::string export_bundle(const std::string& station, const std::string& name) {
    auto r = hallmark("station export --dir " + station + " --out " + file(name));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return file(name);
  }

  std::pair<int, json> import(const std::string& bundle) {
    auto r = hallmark("ledger import --json --dir " + dir() + " " + bundle);
    return {r.exit_code, json::parse(r.out, nullptr, false)};
  }

  json show(const std::string& cert_serial) {
    auto r = hallmark("cert show --json --dir " + dir() + " " + cert_serial);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  std::string sha256_of(const std::string& path) {
    return run("sha256sum " + path + " | cut -c1-64").out.substr(0, 64);
  }

  // The SE's signature over "hallmark-se-attestation-v1" || nonce with `key` (PEM), made by openssl.
  std::string openssl_se_signature(const std::string& key, const std::string& nonce) {
    {
      std::ofstream msg(file("msg.bin"), std::ios::binary | std::ios::trunc);
      msg << "hallmark-se-attestation-v1";
      const auto octets = base::hex_decode(nonce).value();
      msg.write(reinterpret_cast<const char*>(octets.data()), static_cast<std::streamsize>(octets.size()));
    }
    auto r = run("openssl dgst -sha256 -sign " + key + " " + file("msg.bin") + " | base64 -w0");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  static std::vector<json> findings(const json& report, const std::string& code) {
    std::vector<json> out;
    for (const auto& f : report["findings"]) {
      if (f["code"] == code) out.push_back(f);
    }
    return out;
  }

  std::string m_station;
};

TEST_F(FactoryEvidenceTest, TheEvidenceSurvivesExportAndImportAndCertShowPrintsItsSummary) {
  const auto nonce = challenge(m_station);
  const auto device = se_line(serial(2000), nonce);
  const auto rows = provision_at(m_station, {device}, "b1");
  ASSERT_EQ(rows[0]["status"], "issued") << rows[0].dump();
  const auto cert_serial = rows[0]["cert_serial"].get<std::string>();

  write_text(file("evidence.json"), device["evidence"].dump());
  const auto digest = sha256_of(file("evidence.json"));
  // Stored at the station, with the certificate record.
  auto at_station = hallmark("cert show --json --dir " + m_station + " " + cert_serial);
  ASSERT_EQ(at_station.exit_code, 0) << at_station.err;
  const auto station_doc = json::parse(at_station.out);
  EXPECT_EQ(station_doc["evidence_digest"], digest);
  EXPECT_EQ(station_doc["evidence"]["type"], "se") << station_doc.dump();
  EXPECT_EQ(station_doc["evidence"]["digest_matches"], true);
  auto station_octets = hallmark("cert evidence --dir " + m_station + " " + cert_serial + " --out " + file("st.json"));
  ASSERT_EQ(station_octets.exit_code, 0) << station_octets.err;
  EXPECT_EQ(sha256_of(file("st.json")), digest);
  auto [code, report] = import(export_bundle(m_station, "st.bundle"));
  ASSERT_EQ(code, 0) << report.dump();
  EXPECT_EQ(report["imported"], 1);
  EXPECT_EQ(report["evidence_stored"], 1);

  // The operator's record, checked against the SE vendor certificate with openssl.
  write_text(file("leaf.b64"), device["evidence"]["chain"][0].get<std::string>());
  ASSERT_EQ(run("base64 -d " + file("leaf.b64") + " | openssl x509 -inform DER -out " + file("leaf.pem")).exit_code, 0);
  const auto leaf_serial = run("openssl x509 -in " + file("leaf.pem") + " -noout -serial | cut -d= -f2").out;
  auto fingerprint = run("openssl x509 -in " + file("leaf.pem") +
                         " -noout -fingerprint -sha256 | cut -d= -f2 | tr -d "
                         "':\\n' | tr A-F a-f")
                         .out;
  const auto spki_digest = run("openssl x509 -in " + file("leaf.pem") +
                               " -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | "
                               "cut -c1-64")
                               .out.substr(0, 64);
  const auto doc = show(cert_serial);
  EXPECT_EQ(doc["evidence_digest"], digest);
  const auto& ev = doc["evidence"];
  EXPECT_EQ(ev["type"], "se") << doc.dump();
  EXPECT_EQ(ev["digest"], digest);
  EXPECT_EQ(ev["stored"], true);
  EXPECT_EQ(ev["digest_matches"], true);
  EXPECT_EQ(ev["nonce"], nonce);
  EXPECT_EQ(ev["attestation_certificate"]["serial"], leaf_serial.substr(0, leaf_serial.find('\n')));
  EXPECT_EQ(ev["attestation_certificate"]["sha256_fingerprint"], fingerprint);
  EXPECT_EQ(ev["hardware_id"], "se:" + spki_digest);
  ASSERT_EQ(ev["vendor_chain"].size(), device["evidence"]["chain"].size());
  EXPECT_NE(ev["vendor_chain"][0].get<std::string>().find("Acme Secure SE " + serial(2000)), std::string::npos);
  EXPECT_FALSE(ev["verified_at"].get<std::string>().empty());

  auto text = hallmark("cert show --dir " + dir() + " " + cert_serial);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("evidence: se"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("nonce: " + nonce), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(matches the stored octets)"), std::string::npos) << text.out;

  // The auditor gets the octets back: they hash to the digest and are the manifest's evidence.
  auto out = hallmark("cert evidence --dir " + dir() + " " + cert_serial + " --out " + file("stored.json"));
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(sha256_of(file("stored.json")), digest);
  EXPECT_EQ(read_text(file("stored.json")), device["evidence"].dump());
  // ... and re-verify the SE chain from them.
  write_text(file("stored-leaf.b64"), json::parse(read_text(file("stored.json")))["chain"][0].get<std::string>());
  ASSERT_EQ(run("base64 -d " + file("stored-leaf.b64") + " | openssl x509 -inform DER -out " + file("stored-leaf.pem"))
                .exit_code,
            0);
  auto verify = run("openssl verify -x509_strict -CAfile " + file("vendor") + "/root.pem " + file("stored-leaf.pem"));
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

TEST_F(FactoryEvidenceTest, CertShowSaysWhyACertificateHasNoEvidence) {
  // A site that opted out of attestation.
  const auto plain = init_station("plain-st", create_site("plain", "SN-00003000..SN-00003009", 5) + "/station-1");
  write_lines(file("plain.jsonl"), {line(serial(3000), fresh_csr())});
  ASSERT_EQ(provision(plain, file("plain.jsonl"), file("plain")).exit_code, 0);
  const auto rows = results(file("plain"));
  ASSERT_EQ(rows[0]["status"], "issued") << rows[0].dump();
  ASSERT_EQ(import(export_bundle(plain, "plain.bundle")).first, 0);
  const auto opted_out = show(rows[0]["cert_serial"].get<std::string>());
  EXPECT_EQ(opted_out["evidence"]["type"], "none");
  EXPECT_NE(opted_out["evidence"]["reason"].get<std::string>().find("opted out"), std::string::npos);

  // The admin channel.
  const auto csr = openssl_csr("admin", "/CN=ignored");
  auto issued = hallmark("issue --json --dir " + dir() +
                         " --profile idevid --serial-number SN-ADMIN-1 --product "
                         "sensor-v2 --csr " +
                         csr);
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  const auto admin = show(json::parse(issued.out)["serial"].get<std::string>());
  EXPECT_EQ(admin["evidence"]["type"], "none");
  EXPECT_NE(admin["evidence"]["reason"].get<std::string>().find("admin channel"), std::string::npos);

  // There are no octets to write back.
  auto none = hallmark("cert evidence --dir " + dir() + " " + admin["serial"].get<std::string>());
  EXPECT_EQ(none.exit_code, 4);
  EXPECT_NE(none.err.find("admin channel"), std::string::npos) << none.err;
  EXPECT_EQ(hallmark("cert evidence --dir " + dir() + " 0BADC0DE").exit_code, 4);
}

TEST_F(FactoryEvidenceTest, AlteredEvidenceIsRefusedByTheBundleSignatureAndAResignedMismatchIsAFinding) {
  const auto a = se_line(serial(2000), challenge(m_station));
  const auto b = se_line(serial(2001), challenge(m_station));
  const auto c = se_line(serial(2003), challenge(m_station));
  const auto rows = provision_at(m_station, {a, b, c}, "b1");
  for (const auto& r : rows) ASSERT_EQ(r["status"], "issued") << r.dump();
  const auto bundle = export_bundle(m_station, "st.bundle");

  // Evidence for a's certificate swapped for other (valid) SE evidence, b's removed, c's garbled.
  const auto other = se_line(serial(2002), challenge(m_station));
  std::vector<std::string> body;
  for (const auto& l : read_lines(bundle)) {
    auto j = json::parse(l);
    if (j["type"] == "signature") continue;
    if (j["type"] == "certificate" && j["device_serial"] == serial(2000)) {
      EXPECT_EQ(base::to_string(base::base64_decode(j["evidence"]["content"].get<std::string>()).value()),
                a["evidence"].dump());
      j["evidence"]["content"] = base::base64_encode(base::to_bytes(other["evidence"].dump()));
    }
    if (j["type"] == "certificate" && j["device_serial"] == serial(2001)) j.erase("evidence");
    if (j["type"] == "certificate" && j["device_serial"] == serial(2003)) j["evidence"] = "se";
    body.push_back(j.dump());
  }
  // With the station's signature line kept: the whole bundle is refused.
  auto lines = body;
  lines.push_back(read_lines(bundle).back());
  write_lines(file("altered.bundle"), lines);
  auto refused = hallmark("ledger import --dir " + dir() + " " + file("altered.bundle"));
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("signature"), std::string::npos) << refused.err;
  EXPECT_EQ(hallmark("cert show --dir " + dir() + " " + rows[0]["cert_serial"].get<std::string>()).exit_code, 4);

  // Re-signed with the station key (a rogue or broken station): imported, and reported.
  resign_bundle(m_station, file("resigned.bundle"), body);
  auto [code, report] = import(file("resigned.bundle"));
  EXPECT_EQ(code, 1) << report.dump();
  EXPECT_EQ(report["imported"], 3);
  EXPECT_EQ(report["evidence_stored"], 1);  // a's swapped octets, under their own digest
  const auto mismatch = findings(report, "evidence_mismatch");
  ASSERT_EQ(mismatch.size(), 2u) << report.dump();
  // Certificates are signed on two workers: their order in the bundle is not fixed.
  const auto& swapped = mismatch[0]["device_serial"] == serial(2000) ? mismatch[0] : mismatch[1];
  const auto& garbled = mismatch[0]["device_serial"] == serial(2000) ? mismatch[1] : mismatch[0];
  EXPECT_EQ(garbled["device_serial"], serial(2003));
  EXPECT_NE(garbled["detail"].get<std::string>().find("not stored"), std::string::npos) << garbled.dump();
  EXPECT_EQ(swapped["device_serial"], serial(2000));
  EXPECT_EQ(swapped["cert_serial"], rows[0]["cert_serial"]);
  write_text(file("other.json"), other["evidence"].dump());
  EXPECT_NE(swapped["detail"].get<std::string>().find(sha256_of(file("other.json"))), std::string::npos)
      << swapped.dump();
  const auto missing = findings(report, "evidence_missing");
  ASSERT_EQ(missing.size(), 1u) << report.dump();
  EXPECT_EQ(missing[0]["device_serial"], serial(2001));

  // The certificate keeps the digest the station's chain signed; the evidence
  // that does not match it is not shown as its evidence.
  const auto doc = show(rows[0]["cert_serial"].get<std::string>());
  write_text(file("a.json"), a["evidence"].dump());
  EXPECT_EQ(doc["evidence_digest"], sha256_of(file("a.json")));
  EXPECT_EQ(doc["evidence"]["stored"], false) << doc.dump();
  EXPECT_EQ(hallmark("cert evidence --dir " + dir() + " " + rows[0]["cert_serial"].get<std::string>()).exit_code, 4);
}

TEST_F(FactoryEvidenceTest, TheSameSeKeyAtTwoSitesIsADuplicateHardwareIdentityAtImport) {
  const auto original = se_line(serial(2000), challenge(m_station), file("se.key"));
  ASSERT_EQ(provision_at(m_station, {original}, "b1")[0]["status"], "issued");
  auto [first, first_report] = import(export_bundle(m_station, "st.bundle"));
  ASSERT_EQ(first, 0) << first_report.dump();

  // A cloned SE at another site: same key and vendor certificate, its own serial,
  // a genuine signature over that station's nonce. That station cannot know.
  const auto other = se_station("se2", "SN-00005000..SN-00005099", "st2");
  const auto nonce = challenge(other);
  auto clone = original;
  clone["serial"] = serial(5000);
  clone["evidence"]["nonce"] = nonce;
  clone["evidence"]["signature"] = openssl_se_signature(file("se.key"), nonce);
  const auto genuine = se_line(serial(5001), challenge(other));
  const auto rows = provision_at(other, {clone, genuine}, "b2");
  ASSERT_EQ(rows[0]["status"], "issued") << rows[0].dump();
  ASSERT_EQ(rows[1]["status"], "issued") << rows[1].dump();

  auto [code, report] = import(export_bundle(other, "st2.bundle"));
  EXPECT_EQ(code, 1) << report.dump();
  const auto dup = findings(report, "duplicate_hardware_identity");
  ASSERT_EQ(dup.size(), 1u) << report.dump();
  EXPECT_EQ(dup[0]["device_serial"], serial(5000));
  EXPECT_EQ(dup[0]["cert_serial"], rows[0]["cert_serial"]);
  EXPECT_NE(dup[0]["detail"].get<std::string>().find(serial(2000)), std::string::npos) << dup[0].dump();
  EXPECT_NE(dup[0]["detail"].get<std::string>().find("SE attestation key"), std::string::npos) << dup[0].dump();
  // Both devices' evidence is kept, and names the same hardware.
  EXPECT_EQ(show(rows[0]["cert_serial"].get<std::string>())["evidence"]["hardware_id"],
            show(json::parse(read_lines(file("b1/results.jsonl"))[0])["cert_serial"]
                     .get<std::string>())["evidence"]["hardware_id"]);
  // The genuine device at the second site is not flagged.
  for (const auto& f : report["findings"]) EXPECT_NE(f["device_serial"], serial(5001)) << f.dump();
}

TEST_F(FactoryEvidenceTest, AFormat1BundleStillImportsWithoutEvidenceAndAnUnknownFormatIsRefused) {
  const auto rows = provision_at(m_station, {se_line(serial(2000), challenge(m_station))}, "b1");
  ASSERT_EQ(rows[0]["status"], "issued") << rows[0].dump();
  const auto cert_serial = rows[0]["cert_serial"].get<std::string>();
  const auto bundle = export_bundle(m_station, "st.bundle");
  auto rewrite = [&](const std::string& format) {
    std::vector<std::string> body;
    for (const auto& l : read_lines(bundle)) {
      auto j = json::parse(l);
      if (j["type"] == "signature") continue;
      if (j["type"] == "header") {
        EXPECT_EQ(j["format"], "hallmark-ledger-bundle/2");
        j["format"] = format;
      }
      j.erase("evidence");  // what a station before format 2 wrote
      body.push_back(j.dump());
    }
    return body;
  };
  resign_bundle(m_station, file("v9.bundle"), rewrite("hallmark-ledger-bundle/9"));
  auto refused = hallmark("ledger import --dir " + dir() + " " + file("v9.bundle"));
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("hallmark-ledger-bundle/9"), std::string::npos) << refused.err;
  EXPECT_EQ(hallmark("cert show --dir " + dir() + " " + cert_serial).exit_code, 4);

  resign_bundle(m_station, file("v1.bundle"), rewrite("hallmark-ledger-bundle/1"));
  auto [code, report] = import(file("v1.bundle"));
  EXPECT_EQ(code, 0) << report.dump();
  EXPECT_EQ(report["imported"], 1);
  EXPECT_EQ(report["evidence_stored"], 0);
  const auto doc = show(cert_serial);
  EXPECT_EQ(doc["evidence"]["type"], "unknown") << doc.dump();
  EXPECT_EQ(doc["evidence"]["stored"], false);
  EXPECT_EQ(doc["evidence"]["digest"], doc["evidence_digest"]);
}

}  // namespace
}  // namespace hallmark::testing
