// The main job end to end: `hallmark demo --exit --devices 200 --json`, with
// the numbers a user would check, and the chain checked by openssl. Three of
// the 200 devices are TPM-backed (swtpm, started by the demo) when swtpm is
// installed, as tools/deps.sh makes sure.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace hallmark::testing {
namespace {

using nlohmann::json;

TEST(Demo, ProvisionsReconcilesAndEnrollsTheFleet) {
  TempDir tmp;
  const auto dir = (tmp / "demo").string();
  auto r = hallmark("demo --exit --devices 200 --json --dir " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = json::parse(r.out);  // stdout holds exactly one JSON document
  const bool swtpm = run("command -v swtpm && command -v swtpm_setup && command -v swtpm_localca").exit_code == 0;
  ASSERT_EQ(doc["tpm"]["swtpm"], swtpm) << doc["tpm"].dump(2);
  const int tpm = swtpm ? 3 : 0;  // the default --tpm-devices

  EXPECT_EQ(doc["factory"]["issued"], 200);
  EXPECT_EQ(doc["factory"]["evidence"]["se"], 200 - tpm) << doc.dump(2);
  EXPECT_EQ(doc["factory"]["evidence"]["tpm"], tpm) << doc.dump(2);
  EXPECT_EQ(doc["tpm"]["devices"], tpm) << doc["tpm"].dump(2);
  EXPECT_EQ(doc["factory"]["refused"]["serial_out_of_range"], 1) << doc.dump(2);
  EXPECT_EQ(doc["factory"]["refused"]["duplicate_key"], 1) << doc.dump(2);         // a cloned secure element
  EXPECT_EQ(doc["factory"]["refused"]["attestation_required"], 1) << doc.dump(2);  // a key no SE attests
  EXPECT_EQ(doc["reconciliation"]["imported"], 200) << doc.dump(2);
  EXPECT_TRUE(doc["reconciliation"]["findings"].empty()) << doc.dump(2);

  // Every device enrolls; the TPM-backed ones with their TLS client key in the TPM.
  EXPECT_EQ(doc["runtime"]["enrolled"], 200) << doc.dump(2);
  EXPECT_EQ(doc["runtime"]["enrolled_with_tpm"], tpm) << doc.dump(2);
  EXPECT_EQ(doc["runtime"]["enrolled_with_curl"], 3);
  EXPECT_EQ(doc["runtime"]["reenrolled"], 1);
  EXPECT_EQ(doc["runtime"]["refused"]["forged-serial"], 1) << doc.dump(2);
  EXPECT_EQ(doc["runtime"]["refused"]["no-client-certificate"], 1) << doc.dump(2);
  // One IDevID revoked with the CLI while the server runs: its enrollment is refused (401).
  EXPECT_EQ(doc["runtime"]["refused"]["revoked-idevid"], 1) << doc.dump(2);
  EXPECT_EQ(doc["runtime"]["revoked"]["reason_code"], 1) << doc.dump(2);
  EXPECT_EQ(doc["runtime"]["revoked"]["http_status"], "401") << doc.dump(2);

  EXPECT_EQ(doc["audit"]["verified"], true);
  EXPECT_GT(doc["audit"]["records"].get<int>(), 400);
  ASSERT_EQ(doc["sites"].size(), 1u);

  // A third party checks an IDevID the demo's line wrote and the LDevID curl got.
  const auto chain = dir + "/ca-chain.pem";
  const auto idevid = dir + "/curl-device-1/idevid.pem";
  auto v = run("openssl verify -x509_strict -CAfile " + chain + " -untrusted " + idevid + " " + idevid);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto p7 = run("base64 -d " + dir + "/curl-device-1/ldevid.p7b64 | openssl pkcs7 -inform DER -print_certs > " +
                (tmp / "ldevid.pem").string() + " && openssl verify -x509_strict -CAfile " + chain + " " +
                (tmp / "ldevid.pem").string());
  EXPECT_EQ(p7.exit_code, 0) << p7.out << p7.err;
  // The operator kept the secure element's evidence with the IDevID.
  auto serial = run("openssl x509 -noout -serial -in " + idevid + " | cut -d= -f2 | tr -d '\\n'");
  auto shown = hallmark("cert show --json --dir " + dir + "/operator " + serial.out);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(json::parse(shown.out)["evidence"]["type"], "se") << shown.out;

  // The TPM-backed devices were issued on TPM evidence, kept by the operator with the EK as hardware identity.
  ASSERT_EQ(doc["tpm"]["issued"].size(), static_cast<std::size_t>(tpm));
  for (const auto& d : doc["tpm"]["issued"]) {
    auto tpm_shown = hallmark("cert show --json --dir " + dir + "/operator " + d["idevid_serial"].get<std::string>());
    ASSERT_EQ(tpm_shown.exit_code, 0) << tpm_shown.err;
    const auto cert = json::parse(tpm_shown.out);
    EXPECT_EQ(cert["evidence"]["type"], "tpm") << tpm_shown.out;
    EXPECT_EQ(cert["evidence"]["digest_matches"], true) << tpm_shown.out;
    EXPECT_EQ(cert["evidence"]["hardware_id"].get<std::string>().rfind("tpm-ek:", 0), 0u) << tpm_shown.out;
    // cert show decodes the HardwareModuleName: tcg-sv-tpm20 and the TCG <manufacturer>:<EK AKI>:<EK serial>.
    EXPECT_EQ(cert["hardware_module"]["hw_type"], "2.23.133.1.2") << tpm_shown.out;
    const auto hw_serial = cert["hardware_module"].value("hw_serial", std::string());
    EXPECT_EQ(std::count(hw_serial.begin(), hw_serial.end(), ':'), 2) << tpm_shown.out;
  }
  if (tpm > 0) {
    // openssl: the first TPM device's IDevID chains to the operator's CAs and its SAN's
    // HardwareModuleName has hwType tcg-sv-tpm20 (2.23.133.1.2, DER 06 05 67 81 05 01 02).
    const auto tpm_idevid = dir + "/tpm-device-1/idevid.pem";
    auto tv = run("openssl verify -x509_strict -CAfile " + chain + " -untrusted " + tpm_idevid + " " + tpm_idevid);
    EXPECT_EQ(tv.exit_code, 0) << tv.out << tv.err;
    auto der = run("openssl x509 -in " + tpm_idevid + " -outform der | od -An -tx1 -v | tr -d ' \\n'");
    EXPECT_NE(der.out.find("06056781050102"), std::string::npos) << der.out;
    // Its LDevID (enrolled over EST with the TPM-held key) chains too and names the same device.
    const auto tpm_ldevid = dir + "/tpm-device-1/ldevid.pem";
    auto lv = run("openssl verify -x509_strict -CAfile " + chain + " " + tpm_ldevid);
    EXPECT_EQ(lv.exit_code, 0) << lv.out << lv.err;
    auto subject = run("openssl x509 -noout -subject -nameopt multiline -in " + tpm_ldevid);
    EXPECT_NE(subject.out.find(doc["tpm"]["issued"][0]["serial"].get<std::string>()), std::string::npos) << subject.out;
  }

  // The story goes to stderr.
  EXPECT_NE(r.err.find("1. The operator's PKI"), std::string::npos);
  EXPECT_NE(r.err.find("7. Summary"), std::string::npos);
}

TEST(Demo, RefusesToWipeAFolderItDidNotMake) {
  TempDir tmp;
  write_text(tmp / "precious.txt", "keep me");
  auto r = hallmark("demo --exit --devices 2 --dir " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("not made by the demo"), std::string::npos) << r.err;
  EXPECT_EQ(read_text(tmp / "precious.txt"), "keep me");
}

}  // namespace
}  // namespace hallmark::testing
