// The storage port the CA needs: the certificate ledger and the issuer registry.
// "Ledger before signature": an entry is reserved (serial + TBS) before the key
// signs and completed after, each in one transaction together with its audit record.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/record.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"

namespace hallmark::ca {

enum class CertificateStatus { Pending, Issued, Revoked };
std::string_view to_string(CertificateStatus s);

struct LedgerEntry {
  std::string serial;  // upper-case hex
  std::string issuer;  // issuer name (e.g. "factory")
  std::string profile;
  std::string device_serial;  // empty when not bound to a device
  std::string product;
  audit::Channel channel = audit::Channel::Admin;
  std::string origin;  // e.g. "cli", "site:s1/station-1/batch-7", "est:<fp>"
  std::string evidence_digest = "none";
  std::string key_fingerprint;  // hex SHA-256 of the SPKI
  std::string subject;          // printable subject
  base::Bytes tbs;              // the TBSCertificate recorded before signing
  base::Bytes der;              // empty while pending
  CertificateStatus status = CertificateStatus::Pending;
  base::TimePoint created;
  base::TimePoint not_after;
};

struct Reservation {
  LedgerEntry entry;
  audit::Event signing;
};

struct Completion {
  std::string serial;
  base::Bytes der;
  audit::Event signed_event;
};

class Ledger {
 public:
  virtual ~Ledger() = default;
  // One transaction: insert the pending entry and append `signing` to the audit
  // chain. AlreadyExists when the serial is taken (the caller draws another).
  virtual base::Status reserve(const LedgerEntry& pending, const audit::Event& signing) = 0;
  // One transaction: store the signed certificate, mark it issued, append `signed`.
  virtual base::Status complete(const std::string& serial, base::ByteView der, const audit::Event& signed_event) = 0;
  // Group commit: the reservations (or completions) of a batch in one transaction,
  // all or none. The stores override these; this default, for in-memory ledgers,
  // goes one by one and stops at the first failure.
  virtual base::Status reserve_all(std::span<const Reservation> batch) {
    for (const auto& r : batch) HM_CHECK(reserve(r.entry, r.signing));
    return {};
  }
  virtual base::Status complete_all(std::span<const Completion> batch) {
    for (const auto& c : batch) HM_CHECK(complete(c.serial, c.der, c.signed_event));
    return {};
  }
  virtual base::Result<std::optional<LedgerEntry>> find(const std::string& serial) const = 0;
  // Entries with the given status ("" for all), oldest first, at most `limit`.
  virtual base::Result<std::vector<LedgerEntry>> list(std::string_view status, std::size_t limit) const = 0;
  // The entries for a device, oldest first.
  virtual base::Result<std::vector<LedgerEntry>> by_device(const std::string& device_serial) const = 0;
};

struct IssuerRecord {
  std::string name;    // "root", "factory", "runtime", later site CAs
  std::string role;    // "root" | "factory" | "runtime" | "site"
  std::string parent;  // empty for the root
  base::Bytes cert_der;
  std::string key_ref;  // key file path or pkcs11: URI
  std::string status = "active";
};

class IssuerRegistry {
 public:
  virtual ~IssuerRegistry() = default;
  virtual base::Status add_issuer(const IssuerRecord& issuer) = 0;
  virtual base::Result<std::optional<IssuerRecord>> find_issuer(const std::string& name) const = 0;
  virtual base::Result<std::vector<IssuerRecord>> issuers() const = 0;
};

}  // namespace hallmark::ca
