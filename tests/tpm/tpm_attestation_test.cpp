// TpmAttestationVerifier over real evidence from swtpm (swtpm_fixture.sh made
// it with swtpm_setup/swtpm_localca, tpm2-tools and TPM2_Certify through ESAPI):
// the genuine evidence passes, and each tampering is reported as its own check.
#include "attest/tpm_attestation.h"

#include <gtest/gtest.h>

#include "base/files.h"
#include "support/test_support.h"

namespace hallmark::attest {
namespace {

const std::filesystem::path kDir = HALLMARK_SWTPM_DIR;

base::Bytes file(const std::string& name) {
  auto b = base::read_file(kDir / name, 1 << 20);
  EXPECT_TRUE(b.ok()) << name;
  return b.ok() ? b.value() : base::Bytes{};
}

TrustAnchor anchor(const std::string& name, const std::string& file_name) {
  return {name, pkix::Certificate::parse(file(file_name)).value()};
}

class TpmAttestationTest : public ::testing::Test {
 protected:
  TpmEvidence evidence(const std::string& key = "idevid") {
    TpmEvidence e;
    e.ek_certificate = file("ek.der");
    e.ek_intermediates = {file("ek_issuer.der")};
    e.ek_public = file("ek.pub");
    e.iak_public = file("iak.pub");
    e.idevid_public = file(key + ".pub");
    e.certify_info = file(key + ".attest");
    e.certify_signature = file(key + ".sig");
    e.nonce = file("nonce.bin");
    return e;
  }
  TpmVerdict verify(const TpmEvidence& e, const std::string& spki = "idevid_spki.der") {
    TpmAttestationVerifier v({anchor("tpm-vendor", "tpm_root.der")}, m_clock);
    return v.verify(e, file(spki));
  }
  base::SystemClock m_clock;
};

TEST_F(TpmAttestationTest, AcceptsSwtpmEvidenceForTheKeyTpm2ToolsExports) {
  const auto v = verify(evidence());
  ASSERT_TRUE(v.ok()) << v.detail;
  EXPECT_EQ(v.manufacturer_root, "tpm-vendor");
  EXPECT_EQ(v.iak_name, file("iak.name"));  // the Name tpm2_readpublic reports
  EXPECT_FALSE(v.ek_serial_hex.empty());
}

TEST_F(TpmAttestationTest, TheNameOfAPublicAreaIsTheOneTheTpmReports) {
  auto iak = decode_tpm_public(file("iak.pub"));
  ASSERT_TRUE(iak.ok()) << iak.error().detail;
  EXPECT_EQ(iak->name, file("iak.name"));
  auto idevid = decode_tpm_public(file("idevid.pub"));
  ASSERT_TRUE(idevid.ok());
  EXPECT_EQ(idevid->spki_der, file("idevid_spki.der"));
  // A bare TPMT_PUBLIC (the TPM2B_PUBLIC without its size) decodes to the same.
  const auto p2b = file("idevid.pub");
  auto bare = decode_tpm_public(base::ByteView(p2b).subspan(2));
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->name, idevid->name);
}

TEST_F(TpmAttestationTest, RefusesAnEkChainToAnUnknownRoot) {
  TpmAttestationVerifier rogue({anchor("rogue", "rogue_root.der")}, m_clock);
  EXPECT_EQ(rogue.verify(evidence(), file("idevid_spki.der")).check, TpmCheck::EkChain);
  TpmAttestationVerifier none({}, m_clock);
  EXPECT_EQ(none.verify(evidence(), file("idevid_spki.der")).check, TpmCheck::EkChain);
  auto e = evidence();
  e.ek_intermediates.clear();  // the EK certificate alone does not reach the root
  EXPECT_EQ(verify(e).check, TpmCheck::EkChain);
}

TEST_F(TpmAttestationTest, RefusesAnEkPublicAreaThatIsNotTheCertifiedEk) {
  auto e = evidence();
  e.ek_public = file("iak.pub");
  const auto v = verify(e);
  EXPECT_EQ(v.check, TpmCheck::EkChain) << v.detail;
}

TEST_F(TpmAttestationTest, RefusesAnIdevidKeyThatCanDecrypt) {
  const auto v = verify(evidence("decrypt"), "decrypt_spki.der");
  EXPECT_EQ(v.check, TpmCheck::IdevidAttributes) << v.detail;
  EXPECT_NE(v.detail.find("decrypt"), std::string::npos);
}

TEST_F(TpmAttestationTest, RefusesAnIdevidKeyWithoutFixedTpm) {
  const auto v = verify(evidence("movable"));
  EXPECT_EQ(v.check, TpmCheck::IdevidAttributes) << v.detail;
  EXPECT_NE(v.detail.find("fixedTPM"), std::string::npos);
}

TEST_F(TpmAttestationTest, RefusesAnIakThatIsNotRestricted) {
  auto e = evidence();
  e.iak_public = file("idevid.pub");
  EXPECT_EQ(verify(e).check, TpmCheck::IakAttributes);
}

TEST_F(TpmAttestationTest, RefusesACertifyOfAnotherKeyThanThePublicAreaGiven) {
  auto e = evidence();
  e.certify_info = file("decrypt.attest");  // certifies the decrypt key, signed by the real IAK
  e.certify_signature = file("decrypt.sig");
  const auto v = verify(e);
  EXPECT_EQ(v.check, TpmCheck::Name) << v.detail;
}

TEST_F(TpmAttestationTest, RefusesAnotherNonce) {
  auto e = evidence();
  e.nonce[0] ^= 1;
  EXPECT_EQ(verify(e).check, TpmCheck::Nonce);
}

TEST_F(TpmAttestationTest, RefusesAStructureWithoutTheTpmMagicOrOfAnotherType) {
  auto e = evidence();
  e.certify_info[0] = 0x00;  // magic ff 54 43 47
  EXPECT_EQ(verify(e).check, TpmCheck::AttestMagic);
  e = evidence();
  e.certify_info[5] = 0x1a;  // TPM_ST_ATTEST_CREATION (same layout as a certify) instead of 0x8017
  EXPECT_EQ(verify(e).check, TpmCheck::AttestType);
}

TEST_F(TpmAttestationTest, RefusesAForgedCertifySignature) {
  // An altered TPMS_ATTEST (clock info) keeps the signature that no longer matches.
  auto e = evidence();
  e.certify_info[e.certify_info.size() - 1 - 2 * 34 - 8] ^= 0x01;
  auto v = verify(e);
  EXPECT_EQ(v.check, TpmCheck::Signature) << v.detail;
  // The genuine TPMS_ATTEST with the IAK's signature over another structure.
  e = evidence();
  e.certify_signature = file("decrypt.sig");
  v = verify(e);
  EXPECT_EQ(v.check, TpmCheck::Signature) << v.detail;
}

TEST_F(TpmAttestationTest, RefusesACsrKeyThatIsNotTheCertifiedKey) {
  const auto v = verify(evidence(), "decrypt_spki.der");
  EXPECT_EQ(v.check, TpmCheck::KeyMismatch) << v.detail;
}

TEST_F(TpmAttestationTest, RefusesGarbageAsMalformed) {
  auto e = evidence();
  e.certify_signature = {1, 2, 3};
  EXPECT_EQ(verify(e).check, TpmCheck::Malformed);
  e = evidence();
  e.idevid_public.resize(10);
  EXPECT_EQ(verify(e).check, TpmCheck::Malformed);
  e = evidence();
  e.nonce.resize(8);
  EXPECT_EQ(verify(e).check, TpmCheck::Malformed);
}

}  // namespace
}  // namespace hallmark::attest
