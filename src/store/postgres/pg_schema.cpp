#include "store/postgres/pg_schema.h"

namespace hallmark::store {

const std::vector<std::string>& pg_migrations() {
  // `ord` (identity) replaces SQLite's rowid where the SQLite store orders by
  // insertion.
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE issuers (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  parent TEXT NOT NULL,
  cert_der BYTEA NOT NULL,
  key_ref TEXT NOT NULL,
  status TEXT NOT NULL,
  ord BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  issuer TEXT NOT NULL,
  profile TEXT NOT NULL,
  device_serial TEXT NOT NULL,
  product TEXT NOT NULL,
  channel TEXT NOT NULL,
  origin TEXT NOT NULL,
  evidence_digest TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  subject TEXT NOT NULL,
  tbs BYTEA NOT NULL,
  der BYTEA,
  status TEXT NOT NULL,
  created BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  ord BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX certificates_device ON certificates (device_serial);
CREATE INDEX certificates_key ON certificates (key_fingerprint);
CREATE INDEX certificates_order ON certificates (created, ord);
CREATE TABLE devices (
  serial TEXT PRIMARY KEY,
  product TEXT NOT NULL,
  idevid_serial TEXT NOT NULL,
  created BIGINT NOT NULL
);
CREATE TABLE audit_records (
  sequence BIGINT PRIMARY KEY,
  time BIGINT NOT NULL,
  actor TEXT NOT NULL,
  channel TEXT NOT NULL,
  action TEXT NOT NULL,
  cert_serial TEXT NOT NULL,
  profile TEXT NOT NULL,
  evidence_digest TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash BYTEA NOT NULL,
  hash BYTEA NOT NULL
);
CREATE TABLE audit_checkpoints (
  sequence BIGINT NOT NULL,
  head_hash BYTEA NOT NULL,
  time BIGINT NOT NULL,
  signature_algorithm TEXT NOT NULL,
  signature BYTEA NOT NULL
);
)sql",
      // 2: the factory channel (sites, stations, imported station chains, station state).
      R"sql(
CREATE TABLE factory_sites (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  scope TEXT NOT NULL,
  created BIGINT NOT NULL,
  retired BIGINT
);
CREATE TABLE factory_stations (
  site TEXT NOT NULL,
  station INTEGER NOT NULL,
  statement TEXT NOT NULL,
  signature BYTEA NOT NULL,
  last_sequence BIGINT NOT NULL,
  last_hash BYTEA NOT NULL,
  PRIMARY KEY (site, station)
);
CREATE TABLE factory_station_records (
  site TEXT NOT NULL,
  station INTEGER NOT NULL,
  sequence BIGINT NOT NULL,
  hash BYTEA NOT NULL,
  PRIMARY KEY (site, station, sequence)
);
CREATE TABLE factory_station_state (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
)sql",
      // 3: single-use EST HTTP Basic credentials (issue 4).
      R"sql(
CREATE TABLE est_credentials (
  device_serial TEXT PRIMARY KEY,
  secret_sha256 TEXT NOT NULL,
  created BIGINT NOT NULL,
  expires BIGINT NOT NULL,
  used BIGINT
);
)sql",
      // 4: revocation (revoked certificates, CRLs, the revocation generation counter).
      R"sql(
CREATE TABLE revocations (
  serial TEXT PRIMARY KEY,
  issuer TEXT NOT NULL,
  reason INTEGER NOT NULL,
  revoked_at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  comment TEXT NOT NULL
);
CREATE INDEX revocations_issuer ON revocations (issuer);
CREATE TABLE revocation_counters (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO revocation_counters (name, value) VALUES ('generation', 0);
CREATE TABLE crls (
  issuer TEXT NOT NULL,
  number BIGINT NOT NULL,
  generation BIGINT NOT NULL,
  this_update BIGINT NOT NULL,
  next_update BIGINT NOT NULL,
  der BYTEA NOT NULL,
  PRIMARY KEY (issuer, number)
);
)sql",
      // 5: the station's secure-element challenge nonces (stations use SQLite;
      // the table keeps the two schemas numbered alike).
      R"sql(
CREATE TABLE factory_nonces (
  nonce TEXT PRIMARY KEY,
  created BIGINT NOT NULL,
  expires BIGINT NOT NULL,
  used BIGINT,
  used_by TEXT
);
)sql",
      // 6: hardware evidence (issue 8), filed under its SHA-256 (the certificates'
      // evidence_digest); hardware_id is the generic hardware identity fingerprint
      // ('se:...', later 'tpm-ek:...'; '' when none) duplicates are found by.
      R"sql(
CREATE TABLE evidence (
  digest TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  content BYTEA NOT NULL,
  hardware_id TEXT NOT NULL,
  verified_at BIGINT NOT NULL
);
CREATE INDEX evidence_hardware ON evidence (hardware_id);
CREATE INDEX certificates_evidence ON certificates (evidence_digest);
)sql",
  };
  return kMigrations;
}

}  // namespace hallmark::store
