// Storage ports the factory module needs (implemented in store/sqlite/
// sqlite_factory_store.*; app wires them). The station keeps the CA's own
// ca::Ledger for its certificates; these add what the CA ledger does not answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/record.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"
#include "ca/ledger.h"

namespace hallmark::factory {

// --- station side ----------------------------------------------------------

class StationRecords {
 public:
  virtual ~StationRecords() = default;
  // The device serial an issued (or revoked) certificate with this key
  // fingerprint (hex SHA-256 of the SPKI) is bound to; nullopt when none.
  virtual base::Result<std::optional<std::string>> key_owner(const std::string& key_fingerprint) const = 0;
  // Devices holding an issued IDevID (the quota used).
  virtual base::Result<std::uint64_t> devices_issued() const = 0;
  // The audit sequence up to which records were exported (0 before the first export).
  virtual base::Result<std::uint64_t> exported_up_to() const = 0;
  virtual base::Status set_exported_up_to(std::uint64_t sequence) = 0;
};

// Secure-element challenge nonces (attest/se_attestation.h): the station issues
// them and each may be used once, before it expires.
enum class NonceUse { Accepted, Unknown, Expired, Reused };

class ChallengeNonces {
 public:
  virtual ~ChallengeNonces() = default;
  // Records a nonce (lower-case hex) the station just handed out.
  virtual base::Status add_nonce(const std::string& nonce_hex, base::TimePoint created, base::TimePoint expires) = 0;
  // Check and mark as used in one step (atomic for every process sharing the
  // store): Accepted only the first time, and only before it expires. `used_by`
  // (the key fingerprint) is recorded for the audit trail.
  virtual base::Result<NonceUse> use_nonce(const std::string& nonce_hex, base::TimePoint now,
                                           const std::string& used_by) = 0;
  // What use_nonce would answer now, without marking anything: Accepted when
  // the nonce was issued, is unexpired and unused (a later use_nonce may still
  // find it used: only use_nonce decides).
  virtual base::Result<NonceUse> nonce_state(const std::string& nonce_hex, base::TimePoint now) = 0;
};

// --- both sides: hardware evidence -----------------------------------------

// Hardware evidence as the station verified it (docs/factory.md "Evidence
// records"), filed under its digest: `content` is exactly the octets whose
// SHA-256 the certificate's ledger entry and audit records carry as
// evidence_digest, so the digest and the stored bytes are the same by
// construction (make it with factory::make_evidence_record; the stores refuse
// a record whose digest is not SHA-256 of its content).
struct EvidenceRecord {
  std::string digest;   // lower-case hex SHA-256 of `content`
  std::string type;     // "se" (later "tpm")
  base::Bytes content;  // SE: the manifest line's "evidence" as compact JSON with sorted keys
  // A generic hardware identity fingerprint: "se:<hex SHA-256 of the SPKI the SE
  // vendor attested>" (later "tpm-ek:<hex SHA-256 of the EK SPKI>"); empty when none.
  std::string hardware_id;
  base::TimePoint verified_at;  // when the station verified it
};

class EvidenceArchive {
 public:
  virtual ~EvidenceArchive() = default;
  // Stores the records whose digest is not stored yet (a repeat is ignored), in
  // one transaction; InvalidArgument (nothing stored) when a record's digest is
  // not the SHA-256 of its content.
  virtual base::Status add_evidence(const std::vector<EvidenceRecord>& records) = 0;
  virtual base::Result<std::optional<EvidenceRecord>> find_evidence(const std::string& digest) const = 0;
  // A device other than `device_serial` holding a (non-pending) certificate
  // whose evidence has this hardware identity; nullopt when none (or `hardware_id` is empty).
  virtual base::Result<std::optional<std::string>> hardware_owner(const std::string& hardware_id,
                                                                  const std::string& device_serial) const = 0;
};

// --- operator side ---------------------------------------------------------

struct SiteRecord {
  std::string id;
  std::string status = "active";  // "active" | "retired"
  std::string scope;              // JSON: ranges, quota, window, products, profiles, stations
  base::TimePoint created;
  std::optional<base::TimePoint> retired;
};

struct StationRecord {
  std::string site;
  int station = 1;
  std::string statement;  // the signed authorization octets
  base::Bytes signature;
  std::uint64_t last_sequence = 0;  // newest station audit record imported
  base::Bytes last_hash;            // its hash (empty before the first import)
};

class SiteRegistry {
 public:
  virtual ~SiteRegistry() = default;
  virtual base::Status add_site(const SiteRecord& site, const std::vector<StationRecord>& stations) = 0;
  virtual base::Result<std::vector<SiteRecord>> sites() const = 0;
  virtual base::Result<std::optional<SiteRecord>> find_site(const std::string& id) const = 0;
  virtual base::Result<std::vector<StationRecord>> stations(const std::string& site) const = 0;
  // Marks the site and its CA (issuer "site:<id>") retired at `when`.
  virtual base::Status retire_site(const std::string& id, base::TimePoint when) = 0;
};

// What an import needs to know about certificates already at the operator.
struct KnownDevice {
  std::string issuer;  // issuer of its IDevID
  std::string idevid_serial;
};

class ImportLedger {
 public:
  virtual ~ImportLedger() = default;
  virtual base::Result<std::optional<base::Bytes>> station_record_hash(const std::string& site, int station,
                                                                       std::uint64_t sequence) const = 0;
  // Remembers station audit record hashes (for fork detection) and advances the station's head.
  virtual base::Status add_station_records(const std::string& site, int station,
                                           const std::vector<std::pair<std::uint64_t, base::Bytes>>& records) = 0;
  virtual base::Result<bool> certificate_known(const std::string& cert_serial) const = 0;
  virtual base::Result<std::optional<KnownDevice>> device(const std::string& device_serial) const = 0;
  // Device serials (other than `device_serial`) holding a certificate with this key.
  virtual base::Result<std::optional<std::string>> key_owner(const std::string& key_fingerprint,
                                                             const std::string& device_serial) const = 0;
  // Devices with an IDevID whose origin starts with `origin_prefix` (e.g. "site:s1/" or "site:s1/station:2/").
  virtual base::Result<std::uint64_t> devices_with_origin(const std::string& origin_prefix) const = 0;
  // One transaction: insert the issued certificate (status issued), register the
  // device when it is an IDevID and the serial is free, store `evidence` when
  // given (as EvidenceArchive::add_evidence), append `event` to the audit chain.
  virtual base::Status import_certificate(const ca::LedgerEntry& entry, const audit::Event& event,
                                          const EvidenceRecord* evidence) = 0;
};

}  // namespace hallmark::factory
