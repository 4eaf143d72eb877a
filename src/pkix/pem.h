// PEM/DER detection and conversion. The format is decided by the content,
// never by a file name (a ".csr" file may well be DER).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace hallmark::pkix {

// True when the data (after leading whitespace) starts a PEM block "-----BEGIN ".
bool looks_like_pem(base::ByteView data);

// Every PEM block whose label is one of `labels`, decoded. Malformed when a
// block's body is not valid base64, a block is not terminated, or non-whitespace
// text other than PEM blocks surrounds them ("junk"); NotFound when no block
// with one of the labels exists.
base::Result<std::vector<base::Bytes>> pem_decode_all(base::ByteView data,
                                                      std::initializer_list<std::string_view> labels);

// What pem_decode_all does with text outside the PEM blocks.
enum class PemText {
  Refuse,  // Malformed (the default above): a request must be exactly what it claims to be
  Ignore,  // skip it: `openssl x509 -text` output prints a description before the block
};
base::Result<std::vector<base::Bytes>> pem_decode_all(base::ByteView data,
                                                      std::initializer_list<std::string_view> labels, PemText text);

// The DER of a single object: the input itself when it is not PEM, else the one
// PEM block with one of `labels` (Malformed when there are several).
base::Result<base::Bytes> to_der(base::ByteView data, std::initializer_list<std::string_view> labels);

// PEM with 64-character lines and a final newline.
std::string pem_encode(base::ByteView der, std::string_view label);

}  // namespace hallmark::pkix
