// The JSON-lines export of the audit log and its offline verification.
//
// One JSON object per line:
//   {"type":"record","sequence":N,"time":"RFC 3339","actor":…,"channel":…,"action":…,
//    "cert_serial":…,"profile":…,"evidence_digest":…,"detail":…,"prev_hash":"hex","hash":"hex"}
//   {"type":"checkpoint","sequence":N,"head_hash":"hex","time":"…",
//    "signature_algorithm":"…","signature":"base64"}
//   {"type":"key","public_key":"base64 DER SubjectPublicKeyInfo"}   (last; informational)
// A text field that is not valid UTF-8 (JSON strings must be) is written as
// {"base64":"…"} instead of a string, so that every record round-trips to the exact
// octets its hash covers.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "audit/audit_log.h"
#include "audit/chain_verifier.h"

namespace hallmark::audit {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kPageSize = 10000;

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<std::uint8_t>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past Unicode are invalid.
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Json text(const std::string& s) {
  if (valid_utf8(s)) return s;
  return Json{{"base64", base::base64_encode(base::view(s))}};
}

Json record_line(const Record& r) {
  Json j;
  j["type"] = "record";
  j["sequence"] = r.sequence;
  j["time"] = base::format_rfc3339(r.time);
  j["actor"] = text(r.event.actor);
  j["channel"] = std::string(to_string(r.event.channel));
  j["action"] = text(r.event.action);
  j["cert_serial"] = text(r.event.cert_serial);
  j["profile"] = text(r.event.profile);
  j["evidence_digest"] = text(r.event.evidence_digest);
  j["detail"] = text(r.event.detail);
  j["prev_hash"] = base::hex_encode(r.prev_hash);
  j["hash"] = base::hex_encode(r.hash);
  return j;
}

Json checkpoint_line(const Checkpoint& cp) {
  Json j;
  j["type"] = "checkpoint";
  j["sequence"] = cp.sequence;
  j["head_hash"] = base::hex_encode(cp.head_hash);
  j["time"] = base::format_rfc3339(cp.time);
  j["signature_algorithm"] = cp.signature_algorithm;
  j["signature"] = base::base64_encode(cp.signature);
  return j;
}

base::Status write_line(std::ostream& out, const Json& j) {
  try {
    out << j.dump() << '\n';
  } catch (const Json::exception& e) {
    return base::make_error(base::ErrorCode::Internal, "cannot encode an audit export line", e.what());
  }
  if (!out) return base::make_error(base::ErrorCode::Io, "cannot write the audit export");
  return {};
}

// --- reading -----------------------------------------------------------------

// Parses a field of one export line; errors name the line for the person who
// has to look at the file.
class LineReader {
 public:
  LineReader(const Json& j, std::uint64_t line) : m_j(j), m_line(line) {}

  base::Error bad(std::string_view field, std::string_view why) const {
    return base::make_error(base::ErrorCode::Malformed, "audit export line " + std::to_string(m_line) + ": field '" +
                                                            std::string(field) + "' " + std::string(why));
  }

  base::Result<std::string> string(const char* field) const {
    const auto it = m_j.find(field);
    if (it == m_j.end()) return bad(field, "is missing");
    if (!it->is_string()) return bad(field, "is not a string");
    return it->get<std::string>();
  }

  // A string, or {"base64": "…"} for octets that are not UTF-8.
  base::Result<std::string> text(const char* field) const {
    const auto it = m_j.find(field);
    if (it == m_j.end()) return bad(field, "is missing");
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->size() == 1 && it->contains("base64") && (*it)["base64"].is_string()) {
      auto raw = base::base64_decode((*it)["base64"].get<std::string>());
      if (!raw.ok()) return bad(field, "is not valid base64");
      return base::to_string(raw.value());
    }
    return bad(field, "is not a string");
  }

  base::Result<std::uint64_t> u64(const char* field) const {
    const auto it = m_j.find(field);
    if (it == m_j.end()) return bad(field, "is missing");
    if (!it->is_number_unsigned()) return bad(field, "is not a non-negative integer");
    return it->get<std::uint64_t>();
  }

  base::Result<base::TimePoint> time(const char* field) const {
    HM_TRY(const auto s, string(field));
    auto t = parse_rfc3339(s);
    if (!t) return bad(field, "is not a time of the form YYYY-MM-DDTHH:MM:SSZ");
    return *t;
  }

  base::Result<base::Bytes> hash(const char* field) const {
    HM_TRY(const auto s, string(field));
    auto h = base::hex_decode(s);
    if (!h.ok() || h->size() != kHashSize) return bad(field, "is not a hex SHA-256 hash");
    return std::move(h).value();
  }

  base::Result<base::Bytes> base64(const char* field) const {
    HM_TRY(const auto s, string(field));
    auto b = base::base64_decode(s);
    if (!b.ok()) return bad(field, "is not valid base64");
    return std::move(b).value();
  }

  base::Result<Record> record() const {
    Record r;
    HM_TRY(r.sequence, u64("sequence"));
    HM_TRY(r.time, time("time"));
    HM_TRY(r.event.actor, text("actor"));
    HM_TRY(const auto channel, string("channel"));
    auto c = parse_channel(channel);
    if (!c.ok()) return bad("channel", "is not factory, runtime or admin");
    r.event.channel = c.value();
    HM_TRY(r.event.action, text("action"));
    HM_TRY(r.event.cert_serial, text("cert_serial"));
    HM_TRY(r.event.profile, text("profile"));
    HM_TRY(r.event.evidence_digest, text("evidence_digest"));
    HM_TRY(r.event.detail, text("detail"));
    HM_TRY(r.prev_hash, hash("prev_hash"));
    HM_TRY(r.hash, hash("hash"));
    return r;
  }

  base::Result<Checkpoint> checkpoint() const {
    Checkpoint cp;
    HM_TRY(cp.sequence, u64("sequence"));
    HM_TRY(cp.head_hash, hash("head_hash"));
    HM_TRY(cp.time, time("time"));
    HM_TRY(cp.signature_algorithm, string("signature_algorithm"));
    HM_TRY(cp.signature, base64("signature"));
    return cp;
  }

  // "YYYY-MM-DDTHH:MM:SSZ" exactly, as format_rfc3339 writes it.
  static std::optional<base::TimePoint> parse_rfc3339(std::string_view s) {
    if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z') {
      return std::nullopt;
    }
    bool digits = true;
    auto field = [&](std::size_t pos, std::size_t len) {
      unsigned v = 0;
      for (std::size_t i = pos; i < pos + len; ++i) {
        if (s[i] < '0' || s[i] > '9') digits = false;
        v = v * 10 + static_cast<unsigned>(s[i] - '0');
      }
      return v;
    };
    const unsigned y = field(0, 4), mo = field(5, 2), d = field(8, 2);
    const unsigned h = field(11, 2), mi = field(14, 2), sec = field(17, 2);
    if (!digits) return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::year{static_cast<int>(y)}, std::chrono::month{mo},
                                          std::chrono::day{d}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
    return base::TimePoint{std::chrono::sys_days{ymd}} + std::chrono::hours{h} + std::chrono::minutes{mi} +
           std::chrono::seconds{sec};
  }

 private:
  const Json& m_j;
  std::uint64_t m_line;
};

base::Error bad_line(std::uint64_t line, std::string_view why) {
  return base::make_error(base::ErrorCode::Malformed,
                          "audit export line " + std::to_string(line) + ": " + std::string(why));
}

}  // namespace

base::Status AuditLog::export_jsonl(std::ostream& out) {
  if (m_signer == nullptr) {
    return base::make_error(base::ErrorCode::InvalidArgument,
                            "no audit key is configured: cannot export the audit log (an export "
                            "ends with a signed checkpoint)");
  }
  HM_CHECK(checkpoint());
  // Checkpoints before records, and records only up to the newest checkpoint:
  // records appended meanwhile by other processes are left for the next export,
  // so the export always ends with a checkpoint over its last record.
  HM_TRY(const auto checkpoints, m_store.checkpoints());
  std::uint64_t covered = 0;
  for (const auto& cp : checkpoints) covered = std::max(covered, cp.sequence);

  std::uint64_t from = 0;
  bool done = false;
  while (!done) {
    HM_TRY(const auto page, m_store.records(from, kPageSize));
    for (const auto& r : page) {
      if (r.sequence > covered) {
        done = true;
        break;
      }
      HM_CHECK(write_line(out, record_line(r)));
    }
    if (done || page.size() < kPageSize) break;
    const std::uint64_t last = page.back().sequence;
    if (last < from || last == std::numeric_limits<std::uint64_t>::max()) {
      return base::make_error(base::ErrorCode::Internal, "the audit store returned records out of order");
    }
    from = last + 1;
  }
  for (const auto& cp : checkpoints) HM_CHECK(write_line(out, checkpoint_line(cp)));
  Json key;
  key["type"] = "key";
  key["public_key"] = base::base64_encode(m_signer->public_key_der());
  HM_CHECK(write_line(out, key));
  out.flush();
  if (!out) return base::make_error(base::ErrorCode::Io, "cannot write the audit export");
  return {};
}

base::Result<VerifyReport> verify_export(std::istream& in, base::ByteView audit_public_key_der) {
  ChainVerifier verifier;
  std::vector<Checkpoint> checkpoints;
  std::string line;
  std::uint64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (std::ranges::all_of(line, [](char c) { return c == ' ' || c == '\t'; })) continue;
    try {
      const auto j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) return bad_line(number, "not valid JSON");
      if (!j.is_object()) return bad_line(number, "not a JSON object");
      const LineReader reader(j, number);
      HM_TRY(const auto type, reader.string("type"));
      if (type == "record") {
        HM_TRY(const auto record, reader.record());
        verifier.add(record);
      } else if (type == "checkpoint") {
        HM_TRY(auto cp, reader.checkpoint());
        checkpoints.push_back(std::move(cp));
      } else if (type == "key") {
        // Informational only: trusting a key shipped with the log would let whoever
        // rewrote the log sign it too. The caller's own copy is used.
      } else {
        return bad_line(number, "unknown type '" + type + "'");
      }
    } catch (const Json::exception& e) {
      return bad_line(number, std::string("cannot be read (") + e.what() + ")");
    }
  }
  if (in.bad()) return base::make_error(base::ErrorCode::Io, "cannot read the audit export");
  auto report = verifier.finish(checkpoints, audit_public_key_der, /*require_covered_head=*/true);
  // Every export starts at record 1 and ends with a checkpoint over its last
  // record, so one that holds none proves nothing: not "verified".
  if (report.ok && report.records == 0) {
    report.ok = false;
    report.problem = "the export holds no audit records (an empty or cut file is not a verified chain)";
  }
  return report;
}

}  // namespace hallmark::audit
