#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "keys/software_key_store.h"
#include "support/test_support.h"

namespace {

using hallmark::base::ErrorCode;
using hallmark::keys::PassphraseSource;
using hallmark::keys::resolve_passphrase;
using hallmark::testing::TempDir;
using hallmark::testing::write_text;

constexpr char kEnv[] = "HALLMARK_KEY_PASSPHRASE";

// Each case starts and ends without the variable (gtest may run cases in one process).
class ResolvePassphrase : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv(kEnv); }
  void TearDown() override { ::unsetenv(kEnv); }
};

TEST_F(ResolvePassphrase, EnvironmentWinsOverEveryFile) {
  TempDir dir;
  write_text(dir / "configured", "from-config\n");
  write_text(dir / "passphrase", "from-generated\n");
  ::setenv(kEnv, "from-env", 1);
  auto p = resolve_passphrase(PassphraseSource{dir.path(), dir / "configured"}, true);
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(p->value, "from-env");
  EXPECT_EQ(p->origin, "HALLMARK_KEY_PASSPHRASE");
  EXPECT_FALSE(p->generated);
}

TEST_F(ResolvePassphrase, AnEmptyEnvironmentVariableIsIgnored) {
  TempDir dir;
  write_text(dir / "passphrase", "from-generated\n");
  ::setenv(kEnv, "", 1);
  auto p = resolve_passphrase(PassphraseSource{dir.path(), {}}, false);
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(p->value, "from-generated");
}

TEST_F(ResolvePassphrase, ConfiguredFileWinsOverTheGeneratedFile) {
  TempDir dir;
  write_text(dir / "configured", "from-config\r\n");
  write_text(dir / "passphrase", "from-generated\n");
  auto p = resolve_passphrase(PassphraseSource{dir.path(), dir / "configured"}, true);
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(p->value, "from-config");  // trailing CR/LF stripped
  EXPECT_EQ(p->origin, (dir / "configured").string());
  EXPECT_FALSE(p->generated);
}

TEST_F(ResolvePassphrase, GeneratedFileIsUsedWhenNothingElseIsConfigured) {
  TempDir dir;
  write_text(dir / "passphrase", "from-generated\n");
  auto p = resolve_passphrase(PassphraseSource{dir.path(), {}}, false);
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(p->value, "from-generated");
  EXPECT_EQ(p->origin, (dir / "passphrase").string());
  EXPECT_FALSE(p->generated);
}

TEST_F(ResolvePassphrase, CreatesAPrivateRandomFileWhenAllowed) {
  TempDir dir;
  auto p = resolve_passphrase(PassphraseSource{dir.path(), {}}, true);
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_TRUE(p->generated);
  EXPECT_EQ(p->origin, (dir / "passphrase").string());
  EXPECT_GE(p->value.size(), 32u);  // 32 random octets, base64url

  struct stat st {};
  ASSERT_EQ(::stat((dir / "passphrase").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  // The next resolution reads the same file and does not generate again.
  auto again = resolve_passphrase(PassphraseSource{dir.path(), {}}, true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->value, p->value);
  EXPECT_FALSE(again->generated);

  // Two data folders get different passphrases.
  TempDir other;
  auto third = resolve_passphrase(PassphraseSource{other.path(), {}}, true);
  ASSERT_TRUE(third.ok());
  EXPECT_NE(third->value, p->value);
}

TEST_F(ResolvePassphrase, NothingAvailableAndNoCreationIsNotFound) {
  TempDir dir;
  auto p = resolve_passphrase(PassphraseSource{dir.path(), {}}, false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::NotFound);
  EXPECT_NE(p.error().detail.find("HALLMARK_KEY_PASSPHRASE"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "passphrase"));
}

TEST_F(ResolvePassphrase, AnEmptyConfiguredFileIsRefused) {
  TempDir dir;
  write_text(dir / "configured", "\n");
  auto p = resolve_passphrase(PassphraseSource{dir.path(), dir / "configured"}, true);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::InvalidArgument);
}

TEST_F(ResolvePassphrase, AMissingConfiguredFileDoesNotFallBackToGenerating) {
  TempDir dir;
  auto p = resolve_passphrase(PassphraseSource{dir.path(), dir / "absent"}, true);
  ASSERT_FALSE(p.ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "passphrase"));
}

}  // namespace
