// Software TPM2_MakeCredential proven by the TPM: swtpm's TPM2_ActivateCredential
// (tpm2_activatecredential, with the real EK and IAK) returns our credential, and
// tpm2-tools' own software MakeCredential (`tpm2_makecredential -T none`) gives
// structures of the same shape that the TPM activates the same way.
#include "attest/tpm_credential.h"

#include <gtest/gtest.h>

#include "attest/tpm_attestation.h"
#include "base/files.h"
#include "support/test_support.h"

namespace hallmark::attest {
namespace {

using hallmark::testing::run;
using hallmark::testing::shell_quote;

const std::filesystem::path kDir = HALLMARK_SWTPM_DIR;

base::Bytes file(const std::filesystem::path& path) {
  auto b = base::read_file(path, 1 << 20);
  EXPECT_TRUE(b.ok()) << path;
  return b.ok() ? b.value() : base::Bytes{};
}

class TpmCredentialTest : public ::testing::Test {
 protected:
  // Activates `blob` on the swtpm; the recovered credential, or nullopt when the TPM refuses.
  std::optional<base::Bytes> activate(const MadeCredential& made, const std::string& ek = "rsa") {
    const auto in = m_tmp / "cred.bin";
    const auto out = m_tmp / "out.bin";
    EXPECT_TRUE(base::write_file(in, tpm2_tools_credential_file(made)).ok());
    std::filesystem::remove(out);
    const auto r = run(std::string(HALLMARK_TPM_ACTIVATE) + " " + shell_quote(kDir.string()) + " " +
                       shell_quote(in.string()) + " " + shell_quote(out.string()) + " " + ek);
    if (r.exit_code != 0) return std::nullopt;
    return file(out);
  }

  hallmark::testing::TempDir m_tmp;
  base::SystemRng m_rng;
};

TEST_F(TpmCredentialTest, TheTpmActivatesOurCredentialWithItsRsaEkAndIak) {
  const auto secret = m_rng.bytes(32);
  auto made = make_credential(file(kDir / "ek.pub"), file(kDir / "iak.name"), secret, m_rng);
  ASSERT_TRUE(made.ok()) << made.error().detail;
  // TPM2B_ID_OBJECT = size || TPM2B_DIGEST(HMAC-SHA256) || AES-CFB(TPM2B_DIGEST(32 octets));
  // TPM2B_ENCRYPTED_SECRET = size || RSA-2048 OAEP.
  EXPECT_EQ(made->credential_blob.size(), 2u + (2 + 32) + (2 + 32));
  EXPECT_EQ(made->encrypted_secret.size(), 2u + 256);
  const auto got = activate(made.value());
  ASSERT_TRUE(got.has_value()) << "tpm2_activatecredential refused our credential";
  EXPECT_EQ(*got, secret);
}

TEST_F(TpmCredentialTest, TheTpmActivatesOurCredentialWithItsEccP384Ek) {
  const auto secret = m_rng.bytes(32);
  auto made = make_credential(file(kDir / "ek_ecc.pub"), file(kDir / "iak.name"), secret, m_rng);
  ASSERT_TRUE(made.ok()) << made.error().detail;
  // SHA-384 outer HMAC; the secret is the ephemeral TPMS_ECC_POINT (two 48-octet coordinates).
  EXPECT_EQ(made->credential_blob.size(), 2u + (2 + 48) + (2 + 32));
  EXPECT_EQ(made->encrypted_secret.size(), 2u + (2 + 48) + (2 + 48));
  const auto got = activate(made.value(), "ecc");
  ASSERT_TRUE(got.has_value()) << "tpm2_activatecredential refused our ECC credential";
  EXPECT_EQ(*got, secret);
}

TEST_F(TpmCredentialTest, TheTpmRefusesACredentialMadeForAnotherObjectsName) {
  auto idevid = decode_tpm_public(file(kDir / "idevid.pub"));
  ASSERT_TRUE(idevid.ok());
  auto made = make_credential(file(kDir / "ek.pub"), idevid->name, m_rng.bytes(32), m_rng);
  ASSERT_TRUE(made.ok());
  EXPECT_FALSE(activate(made.value()).has_value());  // the outer HMAC binds the IAK's Name
}

TEST_F(TpmCredentialTest, Tpm2ToolsSoftwareMakeCredentialHasTheSameShape) {
  const auto secret = m_rng.bytes(32);
  ASSERT_TRUE(base::write_file(m_tmp / "secret.bin", secret).ok());
  const auto name_hex = base::hex_encode(file(kDir / "iak.name"));
  const auto r = run("tpm2_makecredential -T none -u " + shell_quote((kDir / "ek.pub").string()) + " -s " +
                     shell_quote((m_tmp / "secret.bin").string()) + " -n " + name_hex + " -o " +
                     shell_quote((m_tmp / "theirs.bin").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto theirs = file(m_tmp / "theirs.bin");
  auto ours = make_credential(file(kDir / "ek.pub"), file(kDir / "iak.name"), secret, m_rng);
  ASSERT_TRUE(ours.ok());
  const auto our_file = tpm2_tools_credential_file(ours.value());
  ASSERT_EQ(theirs.size(), our_file.size());
  // Same header and the same TPM2B sizes at the same offsets (the seed is random, so the bytes differ).
  EXPECT_TRUE(std::equal(our_file.begin(), our_file.begin() + 12, theirs.begin()));
  const std::size_t secret_at = 8 + ours->credential_blob.size();
  EXPECT_EQ(theirs[secret_at], our_file[secret_at]);
  EXPECT_EQ(theirs[secret_at + 1], our_file[secret_at + 1]);
  // Both activate to the same secret on the TPM.
  const auto split = base::ByteView(theirs).subspan(8);
  MadeCredential theirs_made{base::Bytes(split.begin(), split.begin() + ours->credential_blob.size()),
                             base::Bytes(split.begin() + ours->credential_blob.size(), split.end())};
  EXPECT_EQ(activate(theirs_made), secret);
  EXPECT_EQ(activate(ours.value()), secret);
}

}  // namespace
}  // namespace hallmark::attest
