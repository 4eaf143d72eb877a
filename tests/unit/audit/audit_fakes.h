// Test doubles for the audit module: an in-memory AuditStore whose rows tests may
// tamper with directly, and a CheckpointSigner over a P-256 key made in the test.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "audit/audit_log.h"
#include "base/crypto.h"

namespace hallmark::audit::testing {

class MemoryStore : public AuditStore {
 public:
  base::Result<Record> append(const Event& event, base::TimePoint time) override {
    std::optional<Record> head;
    if (!records_.empty()) head = records_.back();
    records_.push_back(seal(head, time, event));
    return records_.back();
  }
  base::Result<std::vector<Record>> records(std::uint64_t from, std::size_t limit) const override {
    std::vector<Record> out;
    for (const auto& r : records_) {
      if (r.sequence >= from && out.size() < limit) out.push_back(r);
    }
    return out;
  }
  base::Result<std::optional<Record>> head() const override {
    if (records_.empty()) return std::optional<Record>{};
    return std::optional<Record>{records_.back()};
  }
  base::Status add_checkpoint(const Checkpoint& checkpoint) override {
    checkpoints_.push_back(checkpoint);
    return {};
  }
  base::Result<std::vector<Checkpoint>> checkpoints() const override { return checkpoints_; }

  // Public so that tests can tamper with the "database".
  std::vector<Record> records_;
  std::vector<Checkpoint> checkpoints_;
};

class P256Signer : public CheckpointSigner {
 public:
  P256Signer() : m_key(EVP_EC_gen("P-256")) {
    if (!m_key) throw std::runtime_error("cannot generate a P-256 key");
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(m_key.get(), &der);
    if (len <= 0) throw std::runtime_error("cannot encode the public key");
    m_public.assign(der, der + len);
    OPENSSL_free(der);
  }
  base::SignatureAlgorithm algorithm() const override { return base::SignatureAlgorithm::EcdsaSha256; }
  const base::Bytes& public_key_der() const override { return m_public; }
  base::Result<base::Bytes> sign(base::ByteView message) const override {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, m_key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1) {
      return base::make_error(base::ErrorCode::Internal, "sign failed");
    }
    base::Bytes der(len);
    if (EVP_DigestSign(ctx.get(), der.data(), &len, message.data(), message.size()) != 1) {
      return base::make_error(base::ErrorCode::Internal, "sign failed");
    }
    der.resize(len);
    return base::ecdsa_der_to_raw(der, 32);
  }

 private:
  struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  };
  std::unique_ptr<EVP_PKEY, PkeyFree> m_key;
  base::Bytes m_public;
};

}  // namespace hallmark::audit::testing
