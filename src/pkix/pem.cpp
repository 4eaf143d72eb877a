#include "pkix/pem.h"

#include <algorithm>

namespace hallmark::pkix {

using base::Bytes;
using base::ByteView;
using base::ErrorCode;
using base::make_error;

namespace {

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kEnd = "-----END ";
constexpr std::string_view kDashes = "-----";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool only_whitespace(std::string_view s) {
  return std::all_of(s.begin(), s.end(), is_space);
}

std::string describe_labels(std::initializer_list<std::string_view> labels) {
  std::string out;
  for (auto l : labels) {
    if (!out.empty()) out += " or ";
    out += "'" + std::string(l) + "'";
  }
  return out;
}

std::string excerpt(std::string_view s) {
  // Shown to the person who sent the data, so keep it short and printable.
  std::string out;
  for (char c : s) {
    if (out.size() >= 24) {
      out += "...";
      break;
    }
    out.push_back(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F ? c : '?');
  }
  return out;
}

base::Status check_outside_text(std::string_view text, PemText mode) {
  if (mode == PemText::Ignore || only_whitespace(text)) return {};
  const auto first = std::find_if_not(text.begin(), text.end(), is_space);
  return make_error(ErrorCode::Malformed, "PEM data has text outside the PEM block ('" +
                                              excerpt(text.substr(static_cast<std::size_t>(first - text.begin()))) +
                                              "'); remove everything before -----BEGIN and after -----END");
}

}  // namespace

bool looks_like_pem(ByteView data) {
  const std::string_view s(reinterpret_cast<const char*>(data.data()), data.size());
  const auto first = std::find_if_not(s.begin(), s.end(), is_space);
  return s.substr(static_cast<std::size_t>(first - s.begin())).starts_with(kBegin);
}

base::Result<std::vector<Bytes>> pem_decode_all(ByteView data, std::initializer_list<std::string_view> labels) {
  return pem_decode_all(data, labels, PemText::Refuse);
}

base::Result<std::vector<Bytes>> pem_decode_all(ByteView data, std::initializer_list<std::string_view> labels,
                                                PemText text) {
  // RFC 7468 §2: "-----BEGIN label-----", base64 lines, "-----END label-----".
  const std::string_view s(reinterpret_cast<const char*>(data.data()), data.size());
  std::vector<Bytes> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t begin = s.find(kBegin, pos);
    if (begin == std::string_view::npos) {
      HM_CHECK(check_outside_text(s.substr(pos), text));
      break;
    }
    HM_CHECK(check_outside_text(s.substr(pos, begin - pos), text));

    const std::size_t label_start = begin + kBegin.size();
    const std::size_t label_end = s.find(kDashes, label_start);
    const std::size_t eol = s.find('\n', label_start);
    if (label_end == std::string_view::npos || (eol != std::string_view::npos && eol < label_end)) {
      return make_error(ErrorCode::Malformed, "PEM begin line is not of the form -----BEGIN label-----");
    }
    const std::string_view label = s.substr(label_start, label_end - label_start);
    const std::string end_line = std::string(kEnd) + std::string(label) + std::string(kDashes);
    const std::size_t body_start = label_end + kDashes.size();
    const std::size_t end = s.find(end_line, body_start);
    const std::size_t other_end = s.find(kEnd, body_start);
    if (end == std::string_view::npos || other_end < end) {
      return make_error(ErrorCode::Malformed,
                        "PEM block '" + std::string(label) + "' is not terminated by " + end_line);
    }
    const std::string_view body = s.substr(body_start, end - body_start);
    pos = end + end_line.size();

    if (std::find(labels.begin(), labels.end(), label) == labels.end()) continue;
    auto decoded = base::base64_decode(body);
    if (!decoded.ok()) {
      return make_error(ErrorCode::Malformed,
                        "PEM block '" + std::string(label) + "' has a body that is not valid base64",
                        decoded.error().detail);
    }
    if (decoded->empty()) {
      return make_error(ErrorCode::Malformed, "PEM block '" + std::string(label) + "' is empty");
    }
    out.push_back(std::move(decoded).value());
  }
  if (out.empty()) {
    return make_error(ErrorCode::NotFound, "no PEM block labelled " + describe_labels(labels));
  }
  return out;
}

base::Result<Bytes> to_der(ByteView data, std::initializer_list<std::string_view> labels) {
  if (!looks_like_pem(data)) return Bytes(data.begin(), data.end());
  HM_TRY(auto blocks, pem_decode_all(data, labels));
  if (blocks.size() != 1) {
    return make_error(ErrorCode::Malformed, "expected one PEM block labelled " + describe_labels(labels) + ", found " +
                                                std::to_string(blocks.size()));
  }
  return std::move(blocks.front());
}

std::string pem_encode(ByteView der, std::string_view label) {
  const std::string b64 = base::base64_encode(der);
  std::string out = std::string(kBegin) + std::string(label) + std::string(kDashes) + "\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64);
    out.push_back('\n');
  }
  out += std::string(kEnd) + std::string(label) + std::string(kDashes) + "\n";
  return out;
}

}  // namespace hallmark::pkix
