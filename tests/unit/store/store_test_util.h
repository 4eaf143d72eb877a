// Helpers for the SQLite store tests: a database file in a fresh folder, ledger
// entries and audit events with every field set.
#pragma once

#include <memory>
#include <string>

#include "audit/record.h"
#include "base/clock.h"
#include "ca/ledger.h"
#include "store/sqlite/sqlite_database.h"
#include "store/sqlite/sqlite_store.h"
#include "support/test_support.h"

namespace hallmark::store::testing {

inline const base::TimePoint kT0 = base::TimePoint{std::chrono::seconds{1'790'000'000}};

inline std::unique_ptr<SqliteDatabase> open_db(const std::filesystem::path& path) {
  auto db = SqliteDatabase::open(path);
  if (!db.ok()) throw std::runtime_error(db.error().describe());
  return std::move(db).value();
}

inline ca::LedgerEntry pending_entry(const std::string& serial, const std::string& device = "SN-1",
                                     base::TimePoint created = kT0) {
  ca::LedgerEntry e;
  e.serial = serial;
  e.issuer = "runtime";
  e.profile = "ldevid";
  e.device_serial = device;
  e.product = "widget";
  e.channel = audit::Channel::Runtime;
  e.origin = "est:abcd";
  e.evidence_digest = "ee";
  e.key_fingerprint = "ff00";
  e.subject = "O=Acme, serialNumber=" + device;
  e.tbs = {0x30, 0x03, 0x02, 0x01, 0x01};
  e.status = ca::CertificateStatus::Pending;
  e.created = created;
  e.not_after = created + std::chrono::hours(24 * 90);
  return e;
}

inline audit::Event event(const std::string& action, const std::string& serial = {}) {
  audit::Event e;
  e.actor = "test";
  e.channel = audit::Channel::Runtime;
  e.action = action;
  e.cert_serial = serial;
  e.profile = "ldevid";
  e.detail = "device SN-1";
  return e;
}

}  // namespace hallmark::store::testing
