// The offline root's key ceremony (`hallmark ceremony --config F`): the root
// key is generated in its token, the root self-signs, signs each issuing CA
// (from its CSR, or from a key the ceremony generates in a token) and its first
// CRL. Only certificates, the CRL and a signed audit record are written; no key
// ever reaches the disk, and no database is involved.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"

namespace hallmark::app {

// The example configuration `hallmark ceremony --help` prints.
std::string ceremony_config_example();

// Runs the ceremony described by `config_file` (paths in it are relative to
// its folder). Refuses before writing anything when the output folder exists,
// the root key's label is taken, or a CSR does not verify.
base::Status run_ceremony(const std::filesystem::path& config_file, std::vector<std::string>& messages);

}  // namespace hallmark::app
