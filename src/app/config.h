// The configuration file (TOML) and its embedded defaults.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "audit/audit_log.h"
#include "base/result.h"
#include "ca/settings.h"

namespace hallmark::app {

struct Config {
  ca::Settings ca;
  audit::CheckpointPolicy checkpoints;
  std::filesystem::path passphrase_file;  // empty: env or generated file
  std::string durability = "normal";      // "normal" | "full" (SQLite synchronous)
};

// The commented default configuration `hallmark init` writes.
std::string default_config_text();
base::Result<Config> parse_config(const std::string& text, const std::string& origin);
base::Result<Config> load_config(const std::filesystem::path& path);

}  // namespace hallmark::app
