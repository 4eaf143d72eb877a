#include "factory/ledger_bundle.h"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "audit/record.h"
#include "base/crypto.h"
#include "factory/evidence.h"
#include "factory/line_reader.h"
#include "pkix/crl.h"
#include "pkix/oid.h"

namespace hallmark::factory {

using base::ErrorCode;
using base::make_error;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxBundleLine = 1 << 20;
// IDevIDs are backdated by the issuer (ca/issuer.cpp); the issuance time is notBefore + this.
constexpr std::chrono::seconds kBackdate{60};

// Streaming SHA-256 (the bundle may be far larger than memory should hold).
class Sha256Stream {
 public:
  Sha256Stream() : m_ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free) { EVP_DigestInit_ex(m_ctx.get(), EVP_sha256(), nullptr); }
  void update(std::string_view s) { EVP_DigestUpdate(m_ctx.get(), s.data(), s.size()); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(m_ctx.get(), md, &len);
    return base::hex_encode(base::ByteView(md, len));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> m_ctx;
};

// What a hardware identity fingerprint names, for findings.
std::string hardware_kind(const std::string& hardware_id) {
  if (hardware_id.rfind(kSeHardwarePrefix, 0) == 0) return "an SE attestation key";
  return "a hardware identity";
}

std::int64_t secs(base::TimePoint t) {
  return t.time_since_epoch().count();
}
base::TimePoint tp(std::int64_t s) {
  return base::TimePoint{std::chrono::seconds{s}};
}

json record_json(const audit::Record& r) {
  return {{"type", "record"},
          {"sequence", r.sequence},
          {"time", secs(r.time)},
          {"actor", r.event.actor},
          {"channel", std::string(audit::to_string(r.event.channel))},
          {"action", r.event.action},
          {"cert_serial", r.event.cert_serial},
          {"profile", r.event.profile},
          {"evidence_digest", r.event.evidence_digest},
          {"detail", r.event.detail},
          {"prev_hash", base::hex_encode(r.prev_hash)},
          {"hash", base::hex_encode(r.hash)}};
}

base::Result<audit::Record> record_from_json(const json& j) {
  try {
    audit::Record r;
    r.sequence = j.at("sequence").get<std::uint64_t>();
    r.time = tp(j.at("time").get<std::int64_t>());
    r.event.actor = j.at("actor").get<std::string>();
    HM_TRY(r.event.channel, audit::parse_channel(j.at("channel").get<std::string>()));
    r.event.action = j.at("action").get<std::string>();
    r.event.cert_serial = j.at("cert_serial").get<std::string>();
    r.event.profile = j.at("profile").get<std::string>();
    r.event.evidence_digest = j.at("evidence_digest").get<std::string>();
    r.event.detail = j.at("detail").get<std::string>();
    HM_TRY(r.prev_hash, base::hex_decode(j.at("prev_hash").get<std::string>()));
    HM_TRY(r.hash, base::hex_decode(j.at("hash").get<std::string>()));
    return r;
  } catch (const json::exception&) {
    return make_error(ErrorCode::Malformed, "a record line of the bundle is incomplete");
  }
}

}  // namespace

base::Result<ExportSummary> write_bundle(std::ostream& out, const SignedAuthorization& authorization,
                                         const audit::AuditStore& audit, const ca::Ledger& ledger,
                                         const EvidenceArchive& evidence, const keys::Signer& station_key,
                                         const base::Clock& clock, std::uint64_t exported_up_to, bool final,
                                         const base::Bytes* site_crl) {
  HM_TRY(auto head, audit.head());
  ExportSummary summary;
  summary.from_sequence = exported_up_to + 1;
  summary.to_sequence = head ? head->sequence : 0;
  HM_TRY(auto checkpoints, audit.checkpoints());
  const audit::Checkpoint* cover = nullptr;
  for (const auto& c : checkpoints) {
    if (c.sequence == summary.to_sequence) cover = &c;
  }
  if (summary.to_sequence > 0 && cover == nullptr) {
    return make_error(ErrorCode::Internal, "no checkpoint covers the head of the station's audit chain");
  }
  Sha256Stream digest;
  auto emit = [&](const json& j) {
    const auto line = j.dump() + "\n";
    digest.update(line);
    out << line;
  };
  const auto& a = authorization.value;
  emit({{"type", "header"},
        {"format", kBundleFormat},
        {"site", a.site},
        {"station", a.station},
        {"from_sequence", summary.from_sequence},
        {"to_sequence", summary.to_sequence},
        {"created", base::format_rfc3339(clock.now())},
        {"final", final},
        {"authorization", authorization.statement},
        {"authorization_signature", base::base64_encode(authorization.signature)}});
  for (std::uint64_t from = summary.from_sequence; from <= summary.to_sequence;) {
    HM_TRY(auto page, audit.records(from, 1000));
    if (page.empty()) break;
    for (const auto& r : page) {
      if (r.sequence > summary.to_sequence) break;
      emit(record_json(r));
      ++summary.records;
      if (r.event.action == "signed" && !r.event.cert_serial.empty()) {
        HM_TRY(auto entry, ledger.find(r.event.cert_serial));
        if (!entry || entry->der.empty()) continue;  // the chain says so; the importer reports it
        json line = {{"type", "certificate"},
                     {"serial", entry->serial},
                     {"profile", entry->profile},
                     {"device_serial", entry->device_serial},
                     {"product", entry->product},
                     {"origin", entry->origin},
                     {"evidence_digest", entry->evidence_digest},
                     {"created", secs(entry->created)},
                     {"der", base::base64_encode(entry->der)}};
        if (entry->evidence_digest != "none") {
          // Absent when the station holds none for the digest (issued before it
          // kept evidence): the importer reports evidence_missing.
          HM_TRY(auto stored, evidence.find_evidence(entry->evidence_digest));
          if (stored) {
            line["evidence"] = {{"type", stored->type},
                                {"content", base::base64_encode(stored->content)},
                                {"verified_at", secs(stored->verified_at)}};
          }
        }
        emit(line);
        ++summary.certificates;
      }
    }
    from = page.back().sequence + 1;
  }
  if (site_crl != nullptr) emit({{"type", "crl"}, {"der", base::base64_encode(*site_crl)}});
  if (cover != nullptr) {
    emit({{"type", "checkpoint"},
          {"sequence", cover->sequence},
          {"head_hash", base::hex_encode(cover->head_hash)},
          {"time", secs(cover->time)},
          {"signature_algorithm", cover->signature_algorithm},
          {"signature", base::base64_encode(cover->signature)}});
  }
  const auto hex = digest.hex();
  HM_TRY(auto raw, station_key.sign(base::view(hex)));
  HM_TRY(auto der, signature_to_der(station_key.signature_algorithm(), raw));
  out << json{{"type", "signature"},
              {"algorithm", std::string(base::to_string(station_key.signature_algorithm()))},
              {"value", base::base64_encode(der)}}
             .dump()
      << "\n";
  out.flush();
  if (!out) return make_error(ErrorCode::Io, "writing the bundle failed");
  return summary;
}

// --- import ----------------------------------------------------------------

namespace {

struct Header {
  std::string site;
  int station = 0;
  bool final = false;
  int format = 2;
};

base::Result<Header> parse_header(const std::string& line) {
  const auto j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("type", "") != "header") {
    return make_error(ErrorCode::Malformed, "not a Hallmark ledger bundle (the first line is no bundle header)");
  }
  const auto format = j.value("format", "");
  if (format != kBundleFormat && format != kBundleFormatV1) {
    return make_error(ErrorCode::Unsupported, "the bundle's format '" + format.substr(0, 64) +
                                                  "' is not one this Hallmark reads (" + kBundleFormatV1 + ", " +
                                                  kBundleFormat + ")");
  }
  try {
    return Header{j.at("site").get<std::string>(), j.at("station").get<int>(), j.value("final", false),
                  format == kBundleFormatV1 ? 1 : 2};
  } catch (const json::exception&) {
    return make_error(ErrorCode::Malformed, "the bundle header has no site or station");
  }
}

class Importer {
 public:
  Importer(ImportContext& ctx, const Authorization& auth, const SiteRecord& site, const StationRecord& station,
           std::uint64_t site_quota, int format)
      : m_ctx(ctx), m_auth(auth), m_site(site), m_station(station), m_site_quota(site_quota), m_format(format) {}

  base::Status record(const json& j, ImportReport& rep) {
    HM_TRY(auto r, record_from_json(j));
    ++rep.records;
    if (r.event.action == "signed" && !r.event.cert_serial.empty()) {
      m_signed.insert(r.event.cert_serial);
      m_signed_digest[r.event.cert_serial] = r.event.evidence_digest;
    }
    const bool first = !m_prev_seq.has_value();
    if (!first && r.sequence != *m_prev_seq + 1) {
      add(rep, finding::kChainGap, "", "",
          "station audit records " + std::to_string(*m_prev_seq + 1) + ".." + std::to_string(r.sequence - 1) +
              " are missing from the bundle");
    } else if (!first && r.prev_hash != m_prev_hash) {
      add(rep, finding::kChainBroken, "", "",
          "station audit record " + std::to_string(r.sequence) + " does not link to the record before it");
    }
    if (audit::chain_hash(r.prev_hash, r.sequence, r.time, r.event) != r.hash) {
      add(rep, finding::kChainBroken, r.event.cert_serial, "",
          "station audit record " + std::to_string(r.sequence) + " does not match its hash (edited)");
    }
    if (first) {
      const auto last = m_station.last_sequence;
      if (r.sequence > last + 1) {
        add(rep, finding::kChainGap, "", "",
            "station audit records " + std::to_string(last + 1) + ".." + std::to_string(r.sequence - 1) +
                " were never imported (a bundle is missing)");
      } else if (r.sequence == last + 1 && last > 0 && r.prev_hash != m_station.last_hash) {
        add(rep, finding::kChainFork, "", "",
            "station audit record " + std::to_string(r.sequence) + " does not continue the chain imported before");
      }
    }
    if (r.sequence <= m_station.last_sequence) {
      HM_TRY(auto known, m_ctx.ledger.station_record_hash(m_auth.site, m_auth.station, r.sequence));
      if (known && *known != r.hash) {
        add(rep, finding::kChainFork, "", "",
            "station audit record " + std::to_string(r.sequence) + " differs from the one imported before (fork)");
      }
    } else {
      m_new.emplace_back(r.sequence, r.hash);
    }
    m_prev_seq = r.sequence;
    m_prev_hash = r.hash;
    m_hashes_at_end = r.hash;
    return {};
  }

  void checkpoint(const json& j, ImportReport& rep) {
    try {
      const auto seq = j.at("sequence").get<std::uint64_t>();
      auto head = base::hex_decode(j.at("head_hash").get<std::string>());
      auto sig = base::base64_decode(j.at("signature").get<std::string>());
      auto alg = base::parse_signature_algorithm(j.at("signature_algorithm").get<std::string>());
      const auto time = tp(j.at("time").get<std::int64_t>());
      bool ok = head.ok() && sig.ok() && alg.ok() &&
                base::verify_signature(m_auth.station_key_spki, alg.value(),
                                       audit::checkpoint_message(seq, head.value(), time), sig.value())
                    .ok();
      if (!ok) {
        add(rep, finding::kChainBroken, "", "", "the bundle's checkpoint is not signed by the station key");
      } else if (!m_prev_seq || seq != *m_prev_seq || head.value() != m_hashes_at_end) {
        add(rep, finding::kChainBroken, "", "",
            "the station's signed chain head (record " + std::to_string(seq) + ") does not match the bundle's records");
      }
      m_checkpointed = true;
    } catch (const json::exception&) {
      add(rep, finding::kChainBroken, "", "", "the bundle's checkpoint line is incomplete");
    }
  }

  // The site CA's CRL, signed by the station at export (issue 6).
  base::Status crl(const json& j, ImportReport& rep) {
    HM_TRY(auto site_ca, pkix::Certificate::parse(m_auth.site_ca_der));
    auto der = base::base64_decode(j.value("der", ""));
    auto info = der.ok() ? pkix::verify_crl(der.value(), site_ca) : base::Result<pkix::CrlInfo>(der.error());
    if (!info.ok()) {
      add(rep, finding::kBadCertificate, "", "", "the bundle's CRL is not the site CA's: " + info.error().detail);
      return {};
    }
    rep.site_crl_der = std::move(der).value();
    rep.site_crl_this_update = info->this_update;
    rep.site_crl_next_update = info->next_update;
    return {};
  }

  base::Status certificate(const json& j, ImportReport& rep) {
    ++rep.certificates;
    std::string claimed_serial = j.value("serial", "");
    m_certs.insert(claimed_serial);
    auto der = base::base64_decode(j.value("der", ""));
    auto cert = der.ok() ? pkix::Certificate::parse(der.value()) : base::Result<pkix::Certificate>(der.error());
    HM_TRY(auto site_ca, pkix::Certificate::parse(m_auth.site_ca_der));
    HM_TRY(auto site_key, site_ca.public_key());
    if (!cert.ok() || !cert->verify_signature(site_key).ok() || cert->issuer() != site_ca.subject()) {
      add(rep, finding::kBadCertificate, claimed_serial, j.value("device_serial", ""),
          "the certificate does not decode or is not signed by the site CA; not imported");
      return {};
    }
    const auto serial = cert->serial_hex();
    if (serial != claimed_serial) m_certs.insert(serial);
    if (j.value("profile", "") == "ocsp-signing") {
      // Not a device certificate: the responder certificate for the operator's
      // key named in the authorization, or a finding.
      auto eku = cert->find_extension(pkix::oid::kExtKeyUsage);
      auto ekus = eku ? pkix::decode_ext_key_usage(eku->value)
                      : base::Result<std::vector<std::string>>(std::vector<std::string>{});
      const bool ocsp_eku = ekus.ok() && std::find(ekus->begin(), ekus->end(), pkix::oid::kOcspSigning) != ekus->end();
      if (m_auth.ocsp_key_spki.empty() || cert->subject_public_key_info() != m_auth.ocsp_key_spki || !ocsp_eku) {
        add(rep, finding::kBadCertificate, serial, "",
            "an OCSP responder certificate for a key the authorization does not name; not used");
      } else {
        rep.ocsp_responder_der = cert->der();
      }
      return {};
    }
    // A certificate already known (a re-import, or an import cut off half way)
    // is checked again, so that a rerun reports what the first run would have;
    // only the quota (which counts it already) and the import are skipped.
    HM_TRY(bool known, m_ctx.ledger.certificate_known(serial));
    if (known) ++rep.already_imported;
    ca::LedgerEntry e;
    e.serial = serial;
    e.issuer = m_auth.issuer;
    e.profile = j.value("profile", "");
    e.device_serial = cert->subject().get(pkix::oid::kSerialNumber).value_or("");
    e.product = j.value("product", "");
    e.channel = audit::Channel::Factory;
    const auto prefix = m_auth.station_id() + "/";
    e.origin = j.value("origin", "");
    if (e.origin.rfind(prefix, 0) != 0) e.origin = prefix + "batch:unknown";
    e.evidence_digest = j.value("evidence_digest", "none");
    HM_TRY(auto key, cert->public_key());
    e.key_fingerprint = base::hex_encode(key.fingerprint());
    e.subject = cert->subject().to_string();
    e.der = cert->der();
    e.status = ca::CertificateStatus::Issued;
    e.created = cert->not_before().time + kBackdate;
    e.not_after = cert->not_after().time;

    const auto& dev = e.device_serial;
    if (!in_ranges(m_auth.serial_ranges, dev)) {
      add(rep, finding::kSerialOutOfRange, serial, dev, "device serial '" + dev + "' is outside the station's ranges");
    }
    if (!m_auth.products.contains(e.product)) {
      add(rep, finding::kProductNotAllowed, serial, dev, "product '" + e.product + "' is not authorized at the site");
    }
    if (!m_auth.allows_profile(e.profile)) {
      add(rep, finding::kProfileNotAllowed, serial, dev,
          "profile '" + e.profile + "' is not authorized for the station");
    }
    if (!m_auth.in_window(e.created)) {
      add(rep, finding::kOutsideWindow, serial, dev,
          "issued " + base::format_rfc3339(e.created) + ", outside the authorization window " +
              base::format_rfc3339(m_auth.not_before) + ".." + base::format_rfc3339(m_auth.not_after));
    }
    if (m_site.retired && e.created > *m_site.retired) {
      add(rep, finding::kAfterRetirement, serial, dev,
          "issued " + base::format_rfc3339(e.created) + ", after the site was retired on " +
              base::format_rfc3339(*m_site.retired));
    }
    if (e.profile == "idevid") {
      HM_TRY(auto existing, m_ctx.ledger.device(dev));
      if (existing && existing->idevid_serial != serial) {
        add(rep, finding::kDuplicateSerial, serial, dev,
            "device " + dev + " already has IDevID " + existing->idevid_serial + " from " + existing->issuer);
      }
      HM_TRY(auto at_station, m_ctx.ledger.devices_with_origin(prefix));
      HM_TRY(auto at_site, m_ctx.ledger.devices_with_origin("site:" + m_auth.site + "/"));
      if (known) {
        // already counted in at_station and at_site: no quota finding of its own
      } else if (at_station >= m_auth.quota) {
        add(rep, finding::kOverQuota, serial, dev,
            "the station's quota of " + std::to_string(m_auth.quota) + " devices was already used");
      } else if (at_site >= m_site_quota) {
        add(rep, finding::kOverQuota, serial, dev,
            "the site's quota of " + std::to_string(m_site_quota) + " devices was already used");
      }
    }
    HM_TRY(auto owner, m_ctx.ledger.key_owner(e.key_fingerprint, dev));
    if (owner) {
      add(rep, finding::kDuplicateKey, serial, dev, "the public key is also certified for device " + *owner);
    }
    HM_TRY(auto evidence, carried_evidence(j, e, rep));
    if (evidence && !evidence->hardware_id.empty()) {
      HM_TRY(auto twin, m_ctx.evidence.hardware_owner(evidence->hardware_id, dev));
      if (twin) {
        add(rep, finding::kDuplicateHardwareIdentity, serial, dev,
            "the hardware identity " + evidence->hardware_id + " (" + hardware_kind(evidence->hardware_id) +
                ") is also in the evidence of device " + *twin);
      }
    }
    if (known) return {};
    audit::Event ev;
    ev.actor = m_ctx.actor;
    ev.channel = audit::Channel::Factory;
    ev.action = "imported";
    ev.cert_serial = serial;
    ev.profile = e.profile;
    ev.evidence_digest = e.evidence_digest;
    ev.detail = "device " + dev + " from " + e.origin;
    HM_CHECK(m_ctx.ledger.import_certificate(e, ev, evidence ? &*evidence : nullptr));
    ++rep.imported;
    if (evidence) ++rep.evidence_stored;
    return {};
  }

  // The evidence a certificate line carries, re-hashed and decoded: the record
  // to store (under the digest of the octets that arrived, so nothing is lost
  // and nothing is filed under a digest it does not have), or nullopt. Every
  // disagreement with the recorded digest is a finding.
  base::Result<std::optional<EvidenceRecord>> carried_evidence(const json& j, const ca::LedgerEntry& e,
                                                               ImportReport& rep) {
    const auto& serial = e.serial;
    const auto& dev = e.device_serial;
    if (auto it = m_signed_digest.find(serial); it != m_signed_digest.end() && it->second != e.evidence_digest) {
      add(rep, finding::kEvidenceMismatch, serial, dev,
          "the certificate line records evidence digest " + e.evidence_digest.substr(0, 64) +
              " but the station's audit chain signed it with " + it->second.substr(0, 64));
    }
    if (!j.contains("evidence")) {
      if (e.evidence_digest != "none" && m_format >= 2) {
        add(rep, finding::kEvidenceMissing, serial, dev,
            "the certificate records evidence digest " + e.evidence_digest.substr(0, 64) +
                " but the bundle carries no evidence for it");
      }
      return std::optional<EvidenceRecord>{};
    }
    const auto& ev = j["evidence"];
    base::Result<base::Bytes> content = make_error(ErrorCode::Malformed, "no content");
    std::string type;
    std::int64_t verified_at = 0;
    if (ev.is_object() && ev.contains("content") && ev["content"].is_string() && ev.contains("type") &&
        ev["type"].is_string() && ev.contains("verified_at") && ev["verified_at"].is_number_integer()) {
      content = base::base64_decode(ev["content"].get<std::string>());
      type = ev["type"].get<std::string>();
      verified_at = ev["verified_at"].get<std::int64_t>();
    }
    if (!content.ok() || content->empty() || type.empty()) {
      add(rep, finding::kEvidenceMismatch, serial, dev,
          "the evidence carried for it is not {\"type\",\"content\" (base64),\"verified_at\"}; not stored");
      return std::optional<EvidenceRecord>{};
    }
    const auto actual = evidence_digest(content.value());
    if (actual != e.evidence_digest) {
      add(rep, finding::kEvidenceMismatch, serial, dev,
          "the evidence carried for it hashes to " + actual + ", not to the recorded digest " +
              e.evidence_digest.substr(0, 64) + " (stored under its own digest)");
    }
    auto record = evidence_record_from(type, content.value(), tp(verified_at));
    if (!record.ok()) {
      if (actual == e.evidence_digest) {
        add(rep, finding::kEvidenceMismatch, serial, dev,
            "the evidence carried for it matches its digest but is not " + type.substr(0, 32) +
                " evidence: " + record.error().detail);
      }
      // Kept as it came, without a hardware identity.
      return std::optional<EvidenceRecord>(
          make_evidence_record(type.substr(0, 32), std::move(content).value(), "", tp(verified_at)));
    }
    return std::optional<EvidenceRecord>(std::move(record).value());
  }

  base::Status finish(ImportReport& rep) {
    for (const auto& s : m_signed) {
      if (!m_certs.contains(s)) {
        add(rep, finding::kMissingCertificate, s, "",
            "the station's audit chain records signing certificate " + s + " but the bundle does not contain it");
      }
    }
    for (const auto& s : m_certs) {
      if (!s.empty() && !m_signed.contains(s)) {
        add(rep, finding::kUnrecordedCertificate, s, "",
            "certificate " + s + " is in the bundle but the station's audit chain never recorded signing it");
      }
    }
    if (m_prev_seq && !m_checkpointed) {
      add(rep, finding::kChainBroken, "", "", "the bundle carries no signed chain head");
    }
    rep.new_records = m_new.size();
    if (!m_new.empty()) HM_CHECK(m_ctx.ledger.add_station_records(m_auth.site, m_auth.station, m_new));
    return {};
  }

 private:
  void add(ImportReport& rep, const char* code, std::string cert, std::string dev, std::string detail) {
    rep.findings.push_back({code, std::move(cert), std::move(dev), std::move(detail)});
  }

  ImportContext& m_ctx;
  const Authorization& m_auth;
  const SiteRecord& m_site;
  const StationRecord& m_station;
  std::uint64_t m_site_quota;
  std::optional<std::uint64_t> m_prev_seq;
  base::Bytes m_prev_hash, m_hashes_at_end;
  bool m_checkpointed = false;
  int m_format;
  std::set<std::string> m_signed, m_certs;
  std::map<std::string, std::string> m_signed_digest;  // cert serial -> evidence digest of its "signed" record
  std::vector<std::pair<std::uint64_t, base::Bytes>> m_new;
};

}  // namespace

base::Result<ImportReport> import_bundle(const std::filesystem::path& path, ImportContext& ctx) {
  // Pass 1: the signature over everything before the last line; nothing is
  // trusted (or imported) before it verifies.
  if (std::error_code ec; std::filesystem::is_directory(path, ec)) {
    return make_error(ErrorCode::InvalidArgument, "'" + path.string() + "' is a folder; give the bundle file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::NotFound, "cannot read bundle '" + path.string() + "'");
  LineReader reader(in, kMaxBundleLine);
  LineReader::Line line;
  if (!reader.next(line) || line.too_long) return make_error(ErrorCode::Malformed, "the bundle is empty");
  HM_TRY(auto header, parse_header(line.text));
  Sha256Stream digest;
  std::string pending = line.text;
  std::uint64_t lines = 1;
  while (reader.next(line)) {
    if (line.too_long)
      return make_error(ErrorCode::Malformed, "bundle line " + std::to_string(lines + 1) + " is too long");
    digest.update(pending);
    digest.update("\n");
    pending = std::move(line.text);
    ++lines;
  }
  const auto sig_line = json::parse(pending, nullptr, false);
  if (lines < 2 || sig_line.is_discarded() || sig_line.value("type", "") != "signature") {
    return make_error(ErrorCode::Malformed, "the bundle has no signature line (truncated?)");
  }
  HM_TRY(auto site, ctx.sites.find_site(header.site));
  if (!site) return make_error(ErrorCode::NotFound, "the bundle comes from site '" + header.site + "', unknown here");
  HM_TRY(auto stations, ctx.sites.stations(header.site));
  const StationRecord* station = nullptr;
  for (const auto& s : stations) {
    if (s.station == header.station) station = &s;
  }
  if (station == nullptr) {
    return make_error(ErrorCode::NotFound,
                      "site '" + header.site + "' has no station " + std::to_string(header.station));
  }
  // The station key comes from the authorization the operator signed and kept, never from the bundle.
  HM_TRY(auto auth, verify_authorization(station->statement, station->signature, ctx.factory_ca));
  HM_TRY(auto sig, base::base64_decode(sig_line.value("value", "")));
  auto verified = verify_der_signature(auth.value.station_key_spki, base::view(digest.hex()), sig);
  if (!verified.ok()) {
    return make_error(ErrorCode::BadSignature, "the bundle's signature does not verify with the key of " +
                                                   auth.value.station_id() +
                                                   ": it was altered or made by someone else; nothing was imported");
  }
  std::uint64_t site_quota = auth.value.quota;
  {
    const auto scope = json::parse(site->scope, nullptr, false);
    if (!scope.is_discarded()) site_quota = scope.value("quota", site_quota);
  }

  // Pass 2: reconcile and import.
  ImportReport rep;
  rep.site = header.site;
  rep.station = header.station;
  Importer importer(ctx, auth.value, *site, *station, site_quota, header.format);
  in.clear();
  in.seekg(0);
  LineReader again(in, kMaxBundleLine);
  std::uint64_t n = 0;
  while (again.next(line)) {
    ++n;
    if (n == 1 || n == lines) continue;
    const auto j = json::parse(line.text, nullptr, false);
    if (j.is_discarded()) return make_error(ErrorCode::Malformed, "bundle line " + std::to_string(n) + " is not JSON");
    const auto type = j.value("type", "");
    if (type == "record") {
      HM_CHECK(importer.record(j, rep));
    } else if (type == "certificate") {
      HM_CHECK(importer.certificate(j, rep));
    } else if (type == "checkpoint") {
      importer.checkpoint(j, rep);
    } else if (type == "crl") {
      HM_CHECK(importer.crl(j, rep));
    } else {
      return make_error(ErrorCode::Malformed, "bundle line " + std::to_string(n) + " has an unknown type");
    }
  }
  HM_CHECK(importer.finish(rep));
  return rep;
}

}  // namespace hallmark::factory
