// ProvisioningEngine: the station's per-device operation and its batch driver.
//
// Per manifest line {"serial","product","csr","evidence"?,"profiles"?} (or, with
// TCG-CSR-IDEVID evidence, no "csr": the key is its signingPub and "serial"
// may come from its prodSerial): decode
// and verify the CSR; under an authorization that requires attestation, verify
// the line's SE or TPM evidence (factory/evidence.h; the nonce, and a TPM line's
// credential activation, are consumed only when a certificate is about to be
// issued, and the evidence is then stored under the digest the certificate
// records); check product, serial in range, serial not issued to another key,
// key not certified for another device, quota and time window; issue the IDevID
// (and further profiles the line asks for and the authorization allows) through
// ca::Issuer under the site CA with channel factory and origin
// "site:<id>/station:<n>/batch:<b>".
//
// Batches stream: lines are read in chunks; each chunk is parsed and its CSRs
// verified on worker threads, then decided strictly in input order (against the
// ledger plus the chunk's earlier lines), then the accepted lines are signed on
// worker threads, then results are emitted in input order. Memory is bounded by
// the chunk, and the outcome equals a sequential run: decisions never depend on
// thread timing, and a chunk is complete in the ledger before the next is decided.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attest/se_attestation.h"
#include "attest/tpm_attestation.h"
#include "base/clock.h"
#include "base/result.h"
#include "ca/issuer.h"
#include "ca/ledger.h"
#include "factory/authorization.h"
#include "factory/ports.h"

namespace hallmark::factory {

inline constexpr std::size_t kMaxManifestLine = 64 * 1024;

// Stable reason codes (docs/factory.md lists them with their meaning).
namespace reason {
inline constexpr char kLineTooLong[] = "line_too_long";
inline constexpr char kInvalidJson[] = "invalid_json";
inline constexpr char kMissingField[] = "missing_field";
inline constexpr char kInvalidField[] = "invalid_field";
inline constexpr char kBadCsr[] = "bad_csr";
inline constexpr char kCsrSignature[] = "csr_signature";
inline constexpr char kUnsupportedCsr[] = "unsupported_csr";
inline constexpr char kAttestationRequired[] = "attestation_required";
inline constexpr char kEvidenceMalformed[] = "evidence_malformed";
inline constexpr char kEvidenceUnsupported[] = "evidence_unsupported";
inline constexpr char kSeChainUntrusted[] = "se_chain_untrusted";
inline constexpr char kSeKeyMismatch[] = "se_key_mismatch";
inline constexpr char kSeSignature[] = "se_signature";
inline constexpr char kTpmEkUntrusted[] = "tpm_ek_untrusted";
inline constexpr char kTpmIakAttributes[] = "tpm_iak_attributes";
inline constexpr char kTpmIdevidAttributes[] = "tpm_idevid_attributes";
inline constexpr char kTpmAttestMagic[] = "tpm_attest_magic";
inline constexpr char kTpmAttestType[] = "tpm_attest_type";
inline constexpr char kTpmNonceMismatch[] = "tpm_nonce_mismatch";
inline constexpr char kTpmNameMismatch[] = "tpm_name_mismatch";
inline constexpr char kTpmSignature[] = "tpm_signature";
inline constexpr char kTpmKeyMismatch[] = "tpm_key_mismatch";
inline constexpr char kTpmActivationRequired[] = "tpm_activation_required";
inline constexpr char kTpmActivationWrong[] = "tpm_activation_wrong";
inline constexpr char kTpmActivationReplayed[] = "tpm_activation_replayed";
inline constexpr char kTpmActivationExpired[] = "tpm_activation_expired";
inline constexpr char kTcgCsrTruncated[] = "tcg_csr_truncated";
inline constexpr char kTcgCsrSizeOverflow[] = "tcg_csr_size_overflow";
inline constexpr char kTcgCsrTrailingData[] = "tcg_csr_trailing_data";
inline constexpr char kTcgCsrStructVer[] = "tcg_csr_struct_ver";
inline constexpr char kTcgCsrHashAlg[] = "tcg_csr_hash_alg";
inline constexpr char kTcgCsrIncomplete[] = "tcg_csr_incomplete";
inline constexpr char kTcgCsrSignature[] = "tcg_csr_signature";
inline constexpr char kTcgCsrIakOnly[] = "tcg_csr_iak_only_unsupported";
inline constexpr char kTcgCsrSerialMismatch[] = "tcg_csr_serial_mismatch";
inline constexpr char kNonceUnknown[] = "nonce_unknown";
inline constexpr char kNonceExpired[] = "nonce_expired";
inline constexpr char kNonceReused[] = "nonce_reused";
inline constexpr char kOutsideWindow[] = "outside_window";
inline constexpr char kSiteRevoked[] = "site_revoked";
inline constexpr char kProductNotAllowed[] = "product_not_allowed";
inline constexpr char kProfileNotAllowed[] = "profile_not_allowed";
inline constexpr char kSerialOutOfRange[] = "serial_out_of_range";
inline constexpr char kSerialAlreadyIssued[] = "serial_already_issued";
inline constexpr char kDuplicateKey[] = "duplicate_key";
inline constexpr char kQuotaExhausted[] = "quota_exhausted";
inline constexpr char kIssuanceFailed[] = "issuance_failed";
}  // namespace reason

struct DeviceCertificate {
  std::string profile;
  std::string serial;  // certificate serial, upper-case hex
  base::Bytes der;
};

struct ProvisionResult {
  std::uint64_t line = 0;
  std::string serial;                           // device serial (empty when unreadable)
  std::string status;                           // "issued" | "existing" | "refused"
  std::string reason_code;                      // refused only
  std::string reason;                           // refused only
  std::vector<DeviceCertificate> certificates;  // idevid first
  std::vector<std::string> warnings;
};

struct BatchCounts {
  std::uint64_t lines = 0, issued = 0, existing = 0, refused = 0;
  std::map<std::string, std::uint64_t> by_reason;
};

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // Called once per manifest line, in input order.
  virtual base::Status accept(const ProvisionResult& result) = 0;
};

struct EngineOptions {
  unsigned workers = 1;  // threads verifying and signing (>= 1)
  std::string batch_id;
  std::size_t max_line = kMaxManifestLine;
  std::size_t chunk_per_worker = 128;
  std::function<void(const BatchCounts&)> on_chunk;  // progress; may be empty
  std::function<void()> after_chunk;                 // e.g. audit checkpoint policy; may be empty
  // The station's SE challenge nonces; required when the authorization requires
  // attestation (without it every line is refused with nonce_unknown).
  ChallengeNonces* nonces = nullptr;
  // Where verified evidence is kept (docs/factory.md "Evidence records"); the
  // station always gives it; without it only the digest is recorded.
  EvidenceArchive* evidence = nullptr;
};

class ProvisioningEngine {
 public:
  ProvisioningEngine(const Authorization& authorization, ca::Issuer& issuer, ca::SigningAuthority authority,
                     ca::Ledger& ledger, const StationRecords& records, const base::Clock& clock,
                     EngineOptions options);
  ~ProvisioningEngine();

  // Provisions every line of `manifest`; an error only for a failure of the
  // station itself (store, output), never for a bad line.
  base::Result<BatchCounts> run(std::istream& manifest, ResultSink& sink);
  // One device (station serve): the same checks and issuance as a batch line.
  // Thread-compatible: callers serialize.
  ProvisionResult provision_one(const std::string& json_line);

  struct Parsed;
  struct Plan;

 private:
  void parse_line(Parsed& p) const;
  // Processes a prefix of `chunk` (all of it, or up to a line that must see an
  // earlier line of the chunk in the ledger); returns how many lines it took.
  base::Result<std::size_t> process_chunk(std::vector<Parsed>& chunk, ResultSink& sink, BatchCounts& counts);
  base::Status flush(std::vector<Parsed>& chunk, ResultSink& sink, BatchCounts& counts);

  const Authorization& m_auth;
  ca::Issuer& m_issuer;
  ca::SigningAuthority m_authority;
  ca::Ledger& m_ledger;
  const StationRecords& m_records;
  const base::Clock& m_clock;
  EngineOptions m_options;
  std::unique_ptr<attest::SeAttestationVerifier> m_se;
  std::unique_ptr<attest::TpmAttestationVerifier> m_tpm;
  class Pool;
  std::unique_ptr<Pool> m_pool;
};

}  // namespace hallmark::factory
