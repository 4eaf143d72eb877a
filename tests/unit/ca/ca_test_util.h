// Test doubles and fixtures for the CA tests: an in-memory Ledger that records
// every call in order, a counter-based Rng, a Signer wrapper that counts and
// logs its calls, the fixed golden keys and CA certificates built directly with
// the pkix TBS encoder (so that the Issuer under test is not also the fixture).
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/rng.h"
#include "ca/issuer.h"
#include "ca/ledger.h"
#include "ca/profile.h"
#include "ca/settings.h"
#include "keys/signer.h"
#include "keys/software_key_store.h"
#include "pkix/certificate.h"
#include "pkix/der.h"
#include "pkix/extensions.h"
#include "pkix/oid.h"
#include "pkix/tbs_certificate.h"
#include "support/test_support.h"

namespace hallmark::ca::testing {

using namespace std::chrono_literals;

// 2026-06-01T00:00:00Z: the "now" of every CA test.
inline const base::TimePoint kNow{std::chrono::sys_days{std::chrono::year{2026} / 6 / 1}};

// Deterministic: byte i of the whole stream is (i mod 256), so successive
// serials differ and a run is reproducible.
class CounterRng final : public base::Rng {
 public:
  base::Bytes bytes(std::size_t n) override {
    ++calls;
    base::Bytes out(n);
    for (auto& b : out) b = static_cast<std::uint8_t>(m_next++);
    return out;
  }
  int calls = 0;

 private:
  std::uint64_t m_next = 0;
};

// A shared, ordered log of what the fakes saw ("reserve", "sign", "complete").
using Timeline = std::vector<std::string>;

// An in-memory ca::Ledger. reserve/complete results can be scripted; every call
// is recorded with its arguments.
class FakeLedger final : public Ledger {
 public:
  explicit FakeLedger(Timeline& timeline) : m_timeline(timeline) {}

  struct ReserveCall {
    LedgerEntry entry;
    audit::Event event;
  };
  struct CompleteCall {
    std::string serial;
    base::Bytes der;
    audit::Event event;
  };

  base::Status reserve(const LedgerEntry& pending, const audit::Event& signing) override {
    m_timeline.push_back("reserve");
    reserves.push_back({pending, signing});
    if (!reserve_results.empty()) {
      auto scripted = reserve_results.front();
      reserve_results.pop_front();
      if (!scripted.ok()) return scripted;
    }
    for (const auto& e : entries) {
      if (e.serial == pending.serial) {
        return base::make_error(base::ErrorCode::AlreadyExists, "serial " + pending.serial + " is taken");
      }
    }
    entries.push_back(pending);
    return {};
  }

  // The batches the issuer handed over (sizes); the entries go through reserve/complete above.
  base::Status reserve_all(std::span<const Reservation> batch) override {
    reserve_batches.push_back(batch.size());
    return Ledger::reserve_all(batch);
  }
  base::Status complete_all(std::span<const Completion> batch) override {
    complete_batches.push_back(batch.size());
    return Ledger::complete_all(batch);
  }

  base::Status complete(const std::string& serial, base::ByteView der, const audit::Event& signed_event) override {
    m_timeline.push_back("complete");
    completes.push_back({serial, base::Bytes(der.begin(), der.end()), signed_event});
    for (auto& e : entries) {
      if (e.serial == serial && e.status == CertificateStatus::Pending) {
        e.der.assign(der.begin(), der.end());
        e.status = CertificateStatus::Issued;
        return {};
      }
    }
    return base::make_error(base::ErrorCode::Internal, "ledger entry " + serial + " is not pending");
  }

  base::Result<std::optional<LedgerEntry>> find(const std::string& serial) const override {
    for (const auto& e : entries) {
      if (e.serial == serial) return std::optional<LedgerEntry>(e);
    }
    return std::optional<LedgerEntry>{};
  }
  base::Result<std::vector<LedgerEntry>> list(std::string_view status, std::size_t limit) const override {
    std::vector<LedgerEntry> out;
    for (const auto& e : entries) {
      if ((status.empty() || to_string(e.status) == status) && out.size() < limit) out.push_back(e);
    }
    return out;
  }
  base::Result<std::vector<LedgerEntry>> by_device(const std::string& device_serial) const override {
    std::vector<LedgerEntry> out;
    for (const auto& e : entries) {
      if (e.device_serial == device_serial) out.push_back(e);
    }
    return out;
  }

  std::vector<LedgerEntry> entries;
  std::vector<ReserveCall> reserves;
  std::vector<CompleteCall> completes;
  std::vector<std::size_t> reserve_batches, complete_batches;
  std::deque<base::Status> reserve_results;  // consumed in order; ok() = behave normally

 private:
  Timeline& m_timeline;
};

// Wraps a Signer: counts calls, logs them on the timeline and remembers what
// the ledger held at the moment of each signature.
class RecordingSigner final : public keys::Signer {
 public:
  RecordingSigner(const keys::Signer& inner, Timeline& timeline, const FakeLedger* ledger = nullptr)
      : m_inner(inner), m_timeline(timeline), m_ledger(ledger) {}

  base::KeyAlgorithm key_algorithm() const override { return m_inner.key_algorithm(); }
  base::SignatureAlgorithm signature_algorithm() const override { return m_inner.signature_algorithm(); }
  const base::Bytes& public_key_der() const override { return m_inner.public_key_der(); }
  std::string reference() const override { return m_inner.reference(); }

  base::Result<base::Bytes> sign(base::ByteView message) const override {
    ++calls;
    m_timeline.push_back("sign");
    messages.emplace_back(message.begin(), message.end());
    if (m_ledger != nullptr) {
      bool pending = false;
      for (const auto& e : m_ledger->entries) {
        if (e.status == CertificateStatus::Pending && e.tbs == messages.back()) pending = true;
      }
      signed_a_pending_tbs.push_back(pending);
    }
    return m_inner.sign(message);
  }

  mutable int calls = 0;
  mutable std::vector<base::Bytes> messages;
  mutable std::vector<bool> signed_a_pending_tbs;

 private:
  const keys::Signer& m_inner;
  Timeline& m_timeline;
  const FakeLedger* m_ledger;
};

inline std::unique_ptr<keys::Signer> golden_key(const std::string& name) {
  const auto path = hallmark::testing::test_data("golden/" + name + ".key");
  const auto pem = hallmark::testing::read_text(path);
  auto signer = keys::load_unencrypted_key(base::view(pem), path.string());
  if (!signer.ok()) throw std::runtime_error(signer.error().describe());
  return std::move(signer).value();
}

inline std::unique_ptr<keys::Signer> ephemeral(base::KeyAlgorithm alg = base::KeyAlgorithm::EcP256) {
  auto signer = keys::generate_ephemeral(alg);
  if (!signer.ok()) throw std::runtime_error(signer.error().describe());
  return std::move(signer).value();
}

inline base::Bytes key_id(const keys::Signer& key) {
  return pkix::PublicKey::from_spki_der(key.public_key_der()).value().key_identifier();
}

struct CaCertSpec {
  std::string common_name;
  base::TimePoint not_before;
  base::TimePoint not_after;
  std::optional<int> path_len;
  bool is_ca = true;
  base::Bytes serial = {0x01};
};

// A CA certificate made with the pkix encoder and signed by `issuer_key`
// (self-signed when `issuer` is null). Deterministic TBS for fixed inputs.
inline pkix::Certificate make_ca_cert(const keys::Signer& subject_key, const keys::Signer& issuer_key,
                                      const pkix::Certificate* issuer, const CaCertSpec& c) {
  pkix::TbsCertificateSpec spec;
  spec.serial = c.serial;
  spec.signature_algorithm = issuer_key.signature_algorithm();
  if (!spec.subject.add(pkix::oid::kCountry, "US").ok() ||
      !spec.subject.add(pkix::oid::kOrganization, "Hallmark Test").ok() ||
      !spec.subject.add(pkix::oid::kCommonName, c.common_name).ok()) {
    throw std::runtime_error("cannot build the subject");
  }
  spec.issuer = issuer ? issuer->subject() : spec.subject;
  spec.not_before = c.not_before;
  spec.not_after = c.not_after;
  spec.subject_public_key_info = subject_key.public_key_der();
  if (c.is_ca) spec.extensions.push_back(pkix::ext::basic_constraints(true, c.path_len));
  spec.extensions.push_back(
      pkix::ext::key_usage(c.is_ca ? (pkix::kKeyCertSign | pkix::kCrlSign) : pkix::kDigitalSignature, true));
  spec.extensions.push_back(pkix::ext::subject_key_identifier(key_id(subject_key)));
  spec.extensions.push_back(pkix::ext::authority_key_identifier(key_id(issuer_key)));
  auto tbs = pkix::encode_tbs_certificate(spec);
  if (!tbs.ok()) throw std::runtime_error(tbs.error().describe());
  auto sig = issuer_key.sign(*tbs);
  if (!sig.ok()) throw std::runtime_error(sig.error().describe());
  auto cert = pkix::assemble_certificate(*tbs, issuer_key.signature_algorithm(), *sig);
  if (!cert.ok()) throw std::runtime_error(cert.error().describe());
  return std::move(cert).value();
}

// The settings every CA test uses: one known product.
inline Settings test_settings() {
  Settings s;
  s.organization = "Acme Devices Inc";
  s.country = "US";
  s.products["widget-1"] = Product{"Acme Widgets", "1.3.6.1.4.1.55555.1.2"};
  return s;
}

inline ProfileRegistry test_profiles(const ProfileSettings& settings = {}) {
  auto r = ProfileRegistry::build(settings);
  if (!r.ok()) throw std::runtime_error(r.error().describe());
  return std::move(r).value();
}

inline IssuanceRequest device_request(const std::string& profile, const keys::Signer& key,
                                      const std::string& device_serial, audit::Channel channel) {
  IssuanceRequest r;
  r.profile = profile;
  r.public_key_der = key.public_key_der();
  r.device_serial = device_serial;
  r.product = "widget-1";
  r.channel = channel;
  return r;
}

// The TBSCertificate inside a DER Certificate (its first element, as encoded).
inline base::Bytes tbs_of(base::ByteView certificate_der) {
  auto outer = pkix::der::parse_single(certificate_der, pkix::der::kSequence, "Certificate");
  if (!outer.ok()) throw std::runtime_error(outer.error().describe());
  pkix::der::Reader r(outer->content, "Certificate");
  auto tbs = r.read(pkix::der::kSequence, "tbsCertificate");
  if (!tbs.ok()) throw std::runtime_error(tbs.error().describe());
  return base::Bytes(tbs->encoded.begin(), tbs->encoded.end());
}

}  // namespace hallmark::ca::testing
