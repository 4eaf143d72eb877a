// One JSON document from a manifest line or a request body, refusing keys an
// object holds twice (RFC 8259 §4 leaves duplicates to the parser: nlohmann keeps
// the last, another tool the first, so a repeated "serial" would mean two things).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/bytes.h"

namespace hallmark::factory {

// Discarded when not JSON; `repeated` names the first key an object holds twice.
nlohmann::json parse_json_line(const std::string& text, std::string& repeated);

// A "csr" field's DER: the PEM text as is (the CSR parser reads PEM), else base64 of DER; nullopt when neither.
std::optional<base::Bytes> csr_field_der(const std::string& text);

}  // namespace hallmark::factory
