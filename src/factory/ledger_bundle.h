// Ledger bundles: how a station's issuance records travel to the operator, and
// how the operator imports and reconciles them.
//
// Format (JSON lines, one object per line, UTF-8, '\n' separated):
//   {"type":"header","format":"hallmark-ledger-bundle/2","site","station","from_sequence","to_sequence",
//    "created","final","authorization","authorization_signature"}
//   {"type":"record", …audit record of the station's chain…}      in sequence order
//   {"type":"certificate","serial","profile","device_serial","product","origin","evidence_digest",
//    "created","der","evidence"?}                                  after the record that signed it
//      "evidence": {"type","content" (base64 of the stored octets),"verified_at"} when the digest is not "none"
//   {"type":"checkpoint", …signed by the station key over the last record…}
//   {"type":"signature","algorithm","value"}                       always last
// The signature (DER, base64) is made with the station key bound in the site
// authorization over the ASCII lower-case hex SHA-256 of every byte before the
// signature line, so `openssl dgst -sha256 -verify` can check it too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "audit/audit_store.h"
#include "base/clock.h"
#include "base/result.h"
#include "ca/ledger.h"
#include "factory/authorization.h"
#include "factory/ports.h"
#include "keys/signer.h"
#include "pkix/certificate.h"

namespace hallmark::factory {

// Format 2 carries the evidence on certificate lines; format 1 bundles (digest
// only, made before evidence was kept) still import, without evidence.
inline constexpr char kBundleFormat[] = "hallmark-ledger-bundle/2";
inline constexpr char kBundleFormatV1[] = "hallmark-ledger-bundle/1";

struct ExportSummary {
  std::uint64_t from_sequence = 0, to_sequence = 0, records = 0, certificates = 0;
};

// Writes the records after `exported_up_to` (and the certificates they signed,
// each with the evidence `evidence` holds for its digest) and the newest
// checkpoint, which must cover the head (the caller checkpoints first).
base::Result<ExportSummary> write_bundle(std::ostream& out, const SignedAuthorization& authorization,
                                         const audit::AuditStore& audit, const ca::Ledger& ledger,
                                         const EvidenceArchive& evidence, const keys::Signer& station_key,
                                         const base::Clock& clock, std::uint64_t exported_up_to, bool final,
                                         const base::Bytes* site_crl = nullptr);

// Reconciliation finding codes (stable; docs/factory.md).
namespace finding {
inline constexpr char kSerialOutOfRange[] = "serial_out_of_range";
inline constexpr char kProductNotAllowed[] = "product_not_allowed";
inline constexpr char kProfileNotAllowed[] = "profile_not_allowed";
inline constexpr char kOutsideWindow[] = "outside_window";
inline constexpr char kAfterRetirement[] = "after_retirement";
inline constexpr char kOverQuota[] = "over_quota";
inline constexpr char kDuplicateSerial[] = "duplicate_serial";
inline constexpr char kDuplicateKey[] = "duplicate_key";
inline constexpr char kBadCertificate[] = "bad_certificate";
inline constexpr char kChainGap[] = "chain_gap";
inline constexpr char kChainFork[] = "chain_fork";
inline constexpr char kChainBroken[] = "chain_broken";
inline constexpr char kMissingCertificate[] = "missing_certificate";
inline constexpr char kUnrecordedCertificate[] = "unrecorded_certificate";
inline constexpr char kEvidenceMismatch[] = "evidence_mismatch";
inline constexpr char kEvidenceMissing[] = "evidence_missing";
inline constexpr char kDuplicateHardwareIdentity[] = "duplicate_hardware_identity";
}  // namespace finding

struct Finding {
  std::string code;
  std::string cert_serial;
  std::string device_serial;
  std::string detail;
};

struct ImportReport {
  std::string site;
  int station = 0;
  std::uint64_t records = 0, new_records = 0, certificates = 0, imported = 0, already_imported = 0;
  std::uint64_t evidence_stored = 0;  // imported certificates whose evidence was stored
  std::vector<Finding> findings;
  // The site's OCSP responder certificate, when the bundle carries one for the
  // key the authorization names (issued by the station at init).
  std::optional<base::Bytes> ocsp_responder_der;
  // The site CA's CRL the station signed at export (verified with the site CA).
  std::optional<base::Bytes> site_crl_der;
  base::TimePoint site_crl_this_update, site_crl_next_update;
};

struct ImportContext {
  const pkix::Certificate& factory_ca;
  const SiteRegistry& sites;
  ImportLedger& ledger;
  const EvidenceArchive& evidence;  // duplicate hardware identities (evidence is stored through `ledger`)
  std::string actor = "cli";
};

// Verifies the bundle's signature with the station key of the authorization the
// operator recorded for that site/station (BadSignature / NotFound / Malformed
// refuse the whole bundle; nothing is imported), then imports its certificates
// with channel factory and their evidence (re-hashed: a digest that does not
// match is a finding) and reports every finding.
base::Result<ImportReport> import_bundle(const std::filesystem::path& bundle, ImportContext& context);

}  // namespace hallmark::factory
