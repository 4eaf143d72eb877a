#include "factory/provisioning.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "factory/evidence.h"
#include "factory/json_line.h"
#include "factory/line_reader.h"
#include "pkix/csr.h"
#include "pkix/tbs_certificate.h"

namespace hallmark::factory {

using base::ErrorCode;
using nlohmann::json;

// --- a small fixed thread pool: parallel_for with the caller participating ------

class ProvisioningEngine::Pool {
 public:
  explicit Pool(unsigned workers) {
    for (unsigned i = 1; i < workers; ++i) m_threads.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_wake.notify_all();
    for (auto& t : m_threads) t.join();
  }

  void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) {
    if (m_threads.empty() || n <= 1) {
      for (std::size_t i = 0; i < n; ++i) fn(i);
      return;
    }
    {
      std::lock_guard lock(m_mutex);
      m_fn = &fn;
      m_n = n;
      m_done = 0;
      m_next = 0;
      ++m_generation;
    }
    m_wake.notify_all();
    work();
    std::unique_lock lock(m_mutex);
    // Wait for every index and for every helper to leave work(), so that no
    // helper touches this job's state once the next job starts.
    m_finished.wait(lock, [&] { return m_done == m_n && m_active == 0; });
    m_fn = nullptr;
  }

 private:
  void work() {
    for (;;) {
      const auto i = m_next.fetch_add(1);
      if (i >= m_n) break;
      (*m_fn)(i);
      std::lock_guard lock(m_mutex);
      if (++m_done == m_n) m_finished.notify_all();
    }
  }
  void loop() {
    std::uint64_t seen = 0;
    for (;;) {
      std::unique_lock lock(m_mutex);
      m_wake.wait(lock, [&] { return m_stop || (m_generation != seen && m_fn != nullptr); });
      if (m_stop) return;
      seen = m_generation;
      ++m_active;
      lock.unlock();
      work();
      lock.lock();
      --m_active;
      m_finished.notify_all();
    }
  }

  std::vector<std::thread> m_threads;
  std::mutex m_mutex;
  std::condition_variable m_wake, m_finished;
  const std::function<void(std::size_t)>* m_fn = nullptr;
  std::size_t m_n = 0, m_done = 0;
  std::atomic<std::size_t> m_next{0};
  std::uint64_t m_generation = 0;
  unsigned m_active = 0;
  bool m_stop = false;
};

// --- per-line state --------------------------------------------------------

struct ProvisioningEngine::Parsed {
  std::uint64_t line = 0;
  std::string text;
  bool too_long = false;
  std::size_t length = 0;
  bool parsed = false;  // parse_line ran (a line carried over to the next chunk is not parsed twice)
  // filled by parse_line
  std::string serial, product, fingerprint, evidence_digest = "none";
  std::vector<std::string> profiles;
  base::Bytes spki;
  bool attested = false;  // SE/TPM evidence verified (chain, key, signature); the nonce is still to be used
  std::string nonce_hex;
  std::optional<EvidenceRecord> evidence;  // attested lines: what is stored (verified_at set when the nonce is used)
  std::string activation;                  // TPM: the pending activation's nonce-store key, still to be used
  std::optional<pkix::HardwareModuleName> hardware_module;  // TPM: tcg-sv-tpm20 + hwSerialNum from the EK
  std::string reason_code, reason;
};

namespace {

struct Step {
  std::string profile;
  std::optional<ca::LedgerEntry> pending;  // complete this reservation instead of a new one
};

bool printable_string(const std::string& s) {
  // X.520 PrintableString (serialNumber is one): letters, digits, space and '()+,-./:=?
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || std::strchr(" '()+,-./:=?", c) != nullptr) || c == 0) return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

struct ProvisioningEngine::Plan {
  enum class Kind { Done, Issue, SameAs } kind = Kind::Done;
  std::vector<Step> steps;
  std::size_t same_as = 0;
  bool fatal = false;
  base::Error fatal_error;
  ProvisionResult result;
};

ProvisioningEngine::ProvisioningEngine(const Authorization& authorization, ca::Issuer& issuer,
                                       ca::SigningAuthority authority, ca::Ledger& ledger,
                                       const StationRecords& records, const base::Clock& clock, EngineOptions options)
    : m_auth(authorization),
      m_issuer(issuer),
      m_authority(std::move(authority)),
      m_ledger(ledger),
      m_records(records),
      m_clock(clock),
      m_options(std::move(options)) {
  if (m_options.workers < 1) m_options.workers = 1;
  if (m_options.chunk_per_worker < 1) m_options.chunk_per_worker = 1;
  m_pool = std::make_unique<Pool>(m_options.workers);
  std::vector<attest::TrustAnchor> roots;
  for (const auto& der : m_auth.se_roots) {
    if (auto c = pkix::Certificate::parse(der); c.ok()) {
      roots.push_back({"se-vendor:" + c->subject().to_string(), std::move(c).value()});
    }
  }
  m_se = std::make_unique<attest::SeAttestationVerifier>(std::move(roots), m_clock);
  m_tpm = std::make_unique<attest::TpmAttestationVerifier>(tpm_anchors(m_auth), m_clock);
}

ProvisioningEngine::~ProvisioningEngine() = default;

void ProvisioningEngine::parse_line(Parsed& p) const {
  p.parsed = true;
  auto refuse = [&](const char* code, std::string why) {
    p.reason_code = code;
    p.reason = std::move(why);
  };
  if (p.too_long) {
    return refuse(reason::kLineTooLong, "the line is " + std::to_string(p.length) +
                                            " bytes; a manifest line may hold at most " +
                                            std::to_string(m_options.max_line) + " bytes");
  }
  std::string repeated;
  const auto doc = parse_json_line(p.text, repeated);
  p.text.clear();
  p.text.shrink_to_fit();
  if (doc.is_discarded()) return refuse(reason::kInvalidJson, "the line is not valid JSON");
  if (!repeated.empty()) {
    return refuse(reason::kInvalidJson,
                  "the line holds the key \"" + repeated.substr(0, 64) + "\" twice in one object; give each key once");
  }
  if (!doc.is_object()) return refuse(reason::kInvalidJson, "the line is JSON but not an object {...}");
  // A TCG-CSR-IDEVID is the request itself: the key is its signingPub (no
  // PKCS#10 CSR) and the serial may come from its prodSerial.
  const bool tcg =
      m_auth.attestation == Attestation::Required && doc.contains("evidence") && is_tcg_csr_evidence(doc["evidence"]);
  for (const char* field : {"serial", "product", "csr"}) {
    if (!doc.contains(field)) {
      if (tcg && std::strcmp(field, "product") != 0) continue;
      return refuse(reason::kMissingField, std::string("the line has no \"") + field + "\"");
    }
    if (!doc[field].is_string())
      return refuse(reason::kInvalidField, std::string("\"") + field + "\" must be a string");
  }
  if (tcg && doc.contains("csr")) {
    return refuse(reason::kInvalidField,
                  "a line with \"tcg_csr_idevid\" evidence carries no \"csr\": the TCG-CSR-IDEVID is the request "
                  "(the key certified is its signingPub)");
  }
  p.serial = doc.contains("serial") ? doc["serial"].get<std::string>() : "";
  p.product = doc["product"].get<std::string>();
  auto bad_serial = [&]() -> bool {
    if (!p.serial.empty() && p.serial.size() <= 64 && printable_string(p.serial)) return false;
    std::string shown = p.serial.substr(0, 64);
    p.serial.clear();
    refuse(reason::kInvalidField,
           "\"serial\" must be 1 to 64 characters of A-Z a-z 0-9 space '()+,-./:=? (got '" + shown + "')");
    return true;
  };
  if ((!tcg || doc.contains("serial")) && bad_serial()) return;
  if (doc.contains("profiles")) {
    const auto& pr = doc["profiles"];
    if (!pr.is_array()) return refuse(reason::kInvalidField, "\"profiles\" must be an array of profile names");
    for (const auto& x : pr) {
      if (!x.is_string()) return refuse(reason::kInvalidField, "\"profiles\" must be an array of profile names");
      p.profiles.push_back(x.get<std::string>());
    }
  }
  if (!tcg) {
    const auto csr_text = doc["csr"].get<std::string>();
    const auto csr_der = csr_field_der(csr_text);
    if (!csr_der) return refuse(reason::kBadCsr, "\"csr\" is neither a PEM string nor base64 of DER");
    auto csr = pkix::Csr::parse(*csr_der);
    if (!csr.ok()) {
      const auto& e = csr.error();
      const char* code = e.code == ErrorCode::BadSignature  ? reason::kCsrSignature
                         : e.code == ErrorCode::Unsupported ? reason::kUnsupportedCsr
                                                            : reason::kBadCsr;
      return refuse(code, "CSR refused: " + e.detail);
    }
    p.spki = csr->public_key().spki_der();
    p.fingerprint = base::hex_encode(csr->public_key().fingerprint());
  }
  if (m_auth.attestation == Attestation::Required && doc.contains("evidence")) {
    // Pure checks here (worker threads); the nonce's single use is decided in input order.
    EvidenceRefusal why;
    auto type = evidence_type(doc["evidence"], why);
    if (!type.ok()) return refuse(why.code.c_str(), why.reason);
    if (type.value() == "tpm") {
      auto tpm = parse_tpm_evidence(doc["evidence"], why);
      if (!tpm.ok()) return refuse(why.code.c_str(), why.reason);
      if (tpm->tcg_csr) {
        // prodSerial is ASCII without terminator; a C string's NUL written with it is tolerated.
        std::string prod_serial(tpm->tcg_csr->prod_serial.begin(), tpm->tcg_csr->prod_serial.end());
        while (!prod_serial.empty() && prod_serial.back() == '\0') prod_serial.pop_back();
        if (p.serial.empty() && prod_serial.empty()) {
          return refuse(reason::kMissingField, "the line has no \"serial\" and the TCG-CSR-IDEVID no prodSerial");
        }
        if (!p.serial.empty() && !prod_serial.empty() && p.serial != prod_serial) {
          const auto line_serial = p.serial;
          return refuse(reason::kTcgCsrSerialMismatch, "the TCG-CSR-IDEVID's prodSerial '" + prod_serial.substr(0, 64) +
                                                           "' is not the line's serial '" + line_serial + "'");
        }
        if (p.serial.empty()) {
          p.serial = prod_serial;
          if (bad_serial()) return;
        }
      }
      const auto verdict = verify_tpm_line(tpm.value(), p.spki, *m_tpm);
      if (!verdict.ok()) return refuse(reason_for(verdict.check), "TPM attestation refused: " + verdict.detail);
      if (tpm->tcg_csr) {
        // The certified key is the TPM's IDevID key, proven by TPM2_Certify and the request's signature.
        auto key = pkix::PublicKey::from_spki_der(verdict.idevid_spki);
        if (!key.ok()) return refuse(reason::kUnsupportedCsr, "signingPub: " + key.error().detail);
        p.spki = key->spki_der();
        p.fingerprint = base::hex_encode(key->fingerprint());
      }
      if (tpm->activated_secret.empty()) {
        return refuse(reason::kTpmActivationRequired,
                      "TPM evidence must carry \"activated_secret\": what TPM2_ActivateCredential returned for the "
                      "credential this station made (POST /factory/v1/tpm/activate or `station tpm-activate`)");
      }
      p.attested = true;
      p.nonce_hex = base::hex_encode(tpm->evidence.nonce);
      p.activation = activation_key(tpm->evidence, tpm->activated_secret);
      p.hardware_module = tpm_hardware_module(verdict);
      // Stored and digested like SE evidence, without the activation secret
      // (spent once used; the station keeps only its hash). The hardware
      // identity is the EK: two devices with one EK is a cloned TPM.
      auto stored = doc["evidence"];
      stored.erase("activated_secret");
      p.evidence = make_evidence_record("tpm", canonical_evidence(stored),
                                        "tpm-ek:" + base::hex_encode(base::sha256(verdict.ek_spki)), {});
      p.evidence_digest = p.evidence->digest;
      return;
    }
    auto ev = parse_se_evidence(doc["evidence"], why);
    if (!ev.ok()) return refuse(why.code.c_str(), why.reason);
    const auto verdict = m_se->verify(ev.value(), p.spki);
    if (!verdict.ok()) return refuse(reason_for(verdict.check), "SE attestation refused: " + verdict.detail);
    auto hardware_id = se_hardware_id(ev.value());
    if (!hardware_id.ok()) return refuse(reason::kEvidenceMalformed, "SE attestation certificate does not decode");
    // The digest the ledger and audit record carry is computed from the very
    // octets the station stores (make_evidence_record).
    p.evidence = make_evidence_record("se", canonical_evidence(doc["evidence"]), std::move(hardware_id).value(), {});
    p.evidence_digest = p.evidence->digest;
    p.attested = true;
    p.nonce_hex = base::hex_encode(ev->nonce);
  }
}

base::Status ProvisioningEngine::flush(std::vector<Parsed>& chunk, ResultSink& sink, BatchCounts& counts) {
  while (!chunk.empty()) {
    HM_TRY(const std::size_t done, process_chunk(chunk, sink, counts));
    chunk.erase(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(done));
  }
  return {};
}

base::Result<BatchCounts> ProvisioningEngine::run(std::istream& manifest, ResultSink& sink) {
  BatchCounts counts;
  LineReader reader(manifest, m_options.max_line);
  const auto chunk_size = m_options.chunk_per_worker * m_options.workers;
  std::vector<Parsed> chunk;
  chunk.reserve(chunk_size);
  LineReader::Line line;
  std::uint64_t n = 0;
  while (reader.next(line)) {
    Parsed p;
    p.line = ++n;
    p.text = std::move(line.text);
    p.too_long = line.too_long;
    p.length = line.length;
    chunk.push_back(std::move(p));
    if (chunk.size() == chunk_size) HM_CHECK(flush(chunk, sink, counts));
  }
  HM_CHECK(flush(chunk, sink, counts));
  if (manifest.bad()) return base::make_error(ErrorCode::Io, "reading the manifest failed");
  return counts;
}

namespace {
class CollectSink final : public ResultSink {
 public:
  base::Status accept(const ProvisionResult& r) override {
    result = r;
    return {};
  }
  ProvisionResult result;
};
}  // namespace

ProvisionResult ProvisioningEngine::provision_one(const std::string& json_line) {
  std::vector<Parsed> chunk(1);
  chunk[0].line = 1;
  chunk[0].length = json_line.size();
  chunk[0].too_long = json_line.size() > m_options.max_line;
  if (!chunk[0].too_long) chunk[0].text = json_line;
  CollectSink sink;
  BatchCounts counts;
  auto s = process_chunk(chunk, sink, counts);
  if (!s.ok()) {
    sink.result.line = 1;
    sink.result.status = "refused";
    sink.result.reason_code = reason::kIssuanceFailed;
    sink.result.reason = "the station could not record the device: " + s.error().detail;
  }
  return sink.result;
}

base::Result<std::size_t> ProvisioningEngine::process_chunk(std::vector<Parsed>& chunk, ResultSink& sink,
                                                            BatchCounts& counts) {
  // 1. Parse and verify CSRs in parallel (pure: no shared state).
  m_pool->parallel_for(chunk.size(), [&](std::size_t i) {
    if (!chunk[i].parsed) parse_line(chunk[i]);
  });

  // 2. Decide in input order against the ledger and this chunk's earlier lines.
  std::vector<Plan> plans(chunk.size());
  std::size_t cut = chunk.size();  // the lines decided (and processed) in this call
  std::map<std::string, std::pair<std::string, std::size_t>> chunk_serials;  // serial -> (key, index)
  std::map<std::string, std::pair<std::string, std::uint64_t>> chunk_keys;   // key -> (serial, line)
  HM_TRY(const std::uint64_t used, m_records.devices_issued());
  std::uint64_t new_devices = 0;
  std::vector<EvidenceRecord> evidence;  // of the lines whose nonce was used: stored before any signature
  const auto now = m_clock.now();
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    const auto& p = chunk[i];
    auto& plan = plans[i];
    auto& r = plan.result;
    r.line = p.line;
    r.serial = p.serial;
    auto refuse = [&](const char* code, std::string why) {
      plan.kind = Plan::Kind::Done;
      r.status = "refused";
      r.reason_code = code;
      r.reason = std::move(why);
    };
    if (!p.reason_code.empty()) {
      refuse(p.reason_code.c_str(), p.reason);
      continue;
    }
    if (m_auth.attestation == Attestation::Required && !p.attested) {
      refuse(reason::kAttestationRequired,
             "this station's authorization requires hardware attestation: the line must carry \"evidence\" "
             "({\"type\":\"se\",...} or {\"type\":\"tpm\",...}, docs/factory.md)");
      continue;
    }
    // Uses the line's nonce (last check before issuing, so a line refused for
    // another reason leaves its nonce usable). True when refused.
    auto nonce_refused = [&]() -> base::Result<bool> {
      if (m_auth.attestation != Attestation::Required) return false;
      if (m_options.nonces == nullptr) {
        const auto why = refusal_for(NonceUse::Unknown);
        refuse(why.code.c_str(), why.reason);
        return true;
      }
      if (!p.activation.empty()) {
        // The activation first: a wrong secret (Unknown) marks nothing, so the nonce stays usable.
        HM_TRY(auto act, m_options.nonces->use_nonce(p.activation, now, p.fingerprint));
        if (act != NonceUse::Accepted) {
          const auto why = activation_refusal_for(act);
          refuse(why.code.c_str(), why.reason);
          return true;
        }
      }
      HM_TRY(auto use, m_options.nonces->use_nonce(p.nonce_hex, now, p.fingerprint));
      if (use == NonceUse::Accepted) {
        if (p.evidence) {
          evidence.push_back(*p.evidence);
          evidence.back().verified_at = now;
        }
        return false;
      }
      const auto why = refusal_for(use);
      refuse(why.code.c_str(), why.reason);
      return true;
    };
    if (m_auth.revoked) {
      refuse(reason::kSiteRevoked, *m_auth.revoked);
      continue;
    }
    if (!m_auth.in_window(now)) {
      refuse(reason::kOutsideWindow, "the site authorization is valid from " + base::format_rfc3339(m_auth.not_before) +
                                         " to " + base::format_rfc3339(m_auth.not_after) + "; the station clock says " +
                                         base::format_rfc3339(now));
      continue;
    }
    if (!m_auth.products.contains(p.product)) {
      std::vector<std::string> names;
      for (const auto& [name, _] : m_auth.products) names.push_back(name);
      refuse(reason::kProductNotAllowed,
             "product '" + p.product + "' is not authorized at this site (authorized: " + join(names) + ")");
      continue;
    }
    if (!in_ranges(m_auth.serial_ranges, p.serial)) {
      std::vector<std::string> ranges;
      for (const auto& x : m_auth.serial_ranges) ranges.push_back(x.to_string());
      refuse(reason::kSerialOutOfRange,
             "serial " + p.serial + " is outside this station's serial ranges (" + join(ranges) + ")");
      continue;
    }
    std::vector<std::string> profiles{"idevid"};
    bool bad_profile = false;
    for (const auto& name : p.profiles) {
      if (!m_auth.allows_profile(name)) {
        refuse(reason::kProfileNotAllowed,
               "profile '" + name + "' is not authorized for this station (authorized: " + join(m_auth.profiles) + ")");
        bad_profile = true;
        break;
      }
      if (std::find(profiles.begin(), profiles.end(), name) == profiles.end()) profiles.push_back(name);
    }
    if (bad_profile) continue;

    if (auto it = chunk_serials.find(p.serial); it != chunk_serials.end()) {
      if (it->second.first == p.fingerprint) {
        const auto& first = chunk[it->second.second];
        const bool more = std::any_of(p.profiles.begin(), p.profiles.end(), [&](const std::string& name) {
          return name != "idevid" &&
                 std::find(first.profiles.begin(), first.profiles.end(), name) == first.profiles.end();
        });
        if (more && plans[it->second.second].result.status != "refused") {
          // The same device again, asking for a profile the earlier line did not:
          // as in a sequential run it must find that line's certificates in the
          // ledger, so the chunk ends here and this line starts the next one.
          cut = i;
          break;
        }
        plan.kind = Plan::Kind::SameAs;
        plan.same_as = it->second.second;
      } else {
        refuse(reason::kSerialAlreadyIssued, "serial " + p.serial + " was already given to another key on line " +
                                                 std::to_string(chunk[it->second.second].line));
      }
      continue;
    }
    HM_TRY(auto entries, m_ledger.by_device(p.serial));
    const ca::LedgerEntry* idevid = nullptr;
    for (const auto& e : entries) {
      if (e.profile == "idevid" && e.status != ca::CertificateStatus::Pending && e.issuer == m_authority.name) {
        idevid = &e;
        break;
      }
    }
    auto plan_steps = [&] {
      for (const auto& profile : profiles) {
        const ca::LedgerEntry* have = nullptr;
        const ca::LedgerEntry* pending = nullptr;
        for (const auto& e : entries) {
          if (e.profile != profile || e.key_fingerprint != p.fingerprint) continue;
          if (e.status == ca::CertificateStatus::Pending) {
            if (!pending) pending = &e;
          } else if (!have) {
            have = &e;
          }
        }
        if (have) {
          r.certificates.push_back({have->profile, have->serial, have->der});
        } else {
          plan.steps.push_back({profile, pending ? std::optional<ca::LedgerEntry>(*pending) : std::nullopt});
        }
      }
    };
    if (idevid != nullptr) {
      if (idevid->key_fingerprint != p.fingerprint) {
        refuse(reason::kSerialAlreadyIssued, "serial " + p.serial + " already has an IDevID (certificate " +
                                                 idevid->serial + ") for a different key");
        continue;
      }
      plan_steps();
      if (!plan.steps.empty()) {
        HM_TRY(const bool no, nonce_refused());
        if (no) {
          r.certificates.clear();
          plan.steps.clear();
          continue;
        }
      }
      r.status = "existing";
      plan.kind = plan.steps.empty() ? Plan::Kind::Done : Plan::Kind::Issue;
    } else {
      if (auto it = chunk_keys.find(p.fingerprint); it != chunk_keys.end()) {
        refuse(reason::kDuplicateKey, "this public key was already used for serial " + it->second.first + " on line " +
                                          std::to_string(it->second.second));
        continue;
      }
      HM_TRY(auto owner, m_records.key_owner(p.fingerprint));
      if (owner && *owner != p.serial) {
        refuse(reason::kDuplicateKey, "this public key is already certified for device " + *owner);
        continue;
      }
      if (used + new_devices >= m_auth.quota) {
        refuse(reason::kQuotaExhausted,
               "this station's quota of " + std::to_string(m_auth.quota) + " devices is used up");
        continue;
      }
      HM_TRY(const bool no, nonce_refused());
      if (no) continue;
      plan_steps();
      ++new_devices;
      r.status = "issued";
      plan.kind = Plan::Kind::Issue;
    }
    chunk_serials[p.serial] = {p.fingerprint, i};
    chunk_keys[p.fingerprint] = {p.serial, p.line};
  }

  plans.resize(cut);

  // The evidence is stored before the certificates that name its digest are
  // recorded (like the ledger before the signature): a crash leaves at worst
  // evidence no certificate refers to, never a certificate without its evidence.
  if (m_options.evidence != nullptr) HM_CHECK(m_options.evidence->add_evidence(evidence));

  // 3. Issue the accepted lines. Reservations a crash left pending (their TBS
  // was linted and recorded) are signed and completed first, without a new
  // serial; the rest go through the CA as one batch with group commit (prepare
  // and sign in parallel, the ledger in one transaction each way per chunk).
  const std::string origin = m_auth.station_id() + "/batch:" + m_options.batch_id;
  auto fail = [&](Plan& plan, const std::string& profile, const base::Error& error) {
    if (plan.result.status == "refused") return;  // the line's first failure is its reason
    if (error.code == ErrorCode::Io || error.code == ErrorCode::Unavailable) {
      plan.fatal = true;
      plan.fatal_error = error;
    }
    plan.result.status = "refused";
    plan.result.reason_code = reason::kIssuanceFailed;
    plan.result.reason = "the station could not issue the " + profile + " certificate: " + error.detail;
  };
  m_pool->parallel_for(plans.size(), [&](std::size_t i) {
    auto& plan = plans[i];
    if (plan.kind != Plan::Kind::Issue) return;
    for (const auto& step : plan.steps) {
      if (!step.pending) continue;
      const auto& e = *step.pending;
      auto sig = m_authority.signer->sign(e.tbs);
      auto cert = sig.ok() ? pkix::assemble_certificate(e.tbs, m_authority.signer->signature_algorithm(), sig.value())
                           : base::Result<pkix::Certificate>(sig.error());
      if (!cert.ok()) {
        fail(plan, step.profile, cert.error());
        return;
      }
      audit::Event ev;
      ev.actor = m_auth.station_id();
      ev.channel = audit::Channel::Factory;
      ev.action = "signed";
      ev.cert_serial = e.serial;
      ev.profile = e.profile;
      ev.evidence_digest = e.evidence_digest;
      ev.detail = "device " + e.device_serial + " (reservation completed after a restart)";
      auto done = m_ledger.complete(e.serial, cert->der(), ev);
      if (!done.ok()) {
        fail(plan, step.profile, done.error());
        return;
      }
      plan.result.certificates.push_back({e.profile, e.serial, cert->der()});
    }
  });
  std::vector<ca::IssuanceRequest> requests;
  std::vector<std::size_t> request_plan;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const auto& plan = plans[i];
    if (plan.kind != Plan::Kind::Issue || plan.result.status == "refused") continue;
    const auto& p = chunk[i];
    for (const auto& step : plan.steps) {
      if (step.pending) continue;
      ca::IssuanceRequest req;
      req.profile = step.profile;
      req.public_key_der = p.spki;
      req.device_serial = p.serial;
      req.product = p.product;
      req.channel = audit::Channel::Factory;
      req.actor = m_auth.station_id();
      req.origin = origin;
      req.evidence_digest = p.evidence_digest;
      if (step.profile == "idevid") req.hardware_module = p.hardware_module;
      requests.push_back(std::move(req));
      request_plan.push_back(i);
    }
  }
  auto issued = m_issuer.issue_all(
      m_authority, requests,
      [&](std::size_t n, const std::function<void(std::size_t)>& body) { m_pool->parallel_for(n, body); });
  for (std::size_t k = 0; k < issued.size(); ++k) {
    auto& plan = plans[request_plan[k]];
    if (!issued[k].ok()) {
      fail(plan, requests[k].profile, issued[k].error());
      continue;
    }
    auto& result = issued[k].value();
    plan.result.certificates.push_back(
        {requests[k].profile, result.certificate.serial_hex(), result.certificate.der()});
    for (auto& w : result.warnings) plan.result.warnings.push_back(std::move(w));
  }
  for (auto& plan : plans) {
    if (plan.fatal) return plan.fatal_error;
  }

  // 4. Emit in input order.
  for (std::size_t i = 0; i < plans.size(); ++i) {
    auto& plan = plans[i];
    auto& r = plan.result;
    if (plan.kind == Plan::Kind::SameAs) {
      const auto& first = plans[plan.same_as].result;
      if (first.status == "refused") {
        r.status = "refused";
        r.reason_code = first.reason_code;
        r.reason = first.reason;
      } else {
        r.status = "existing";
        r.certificates = first.certificates;
      }
    }
    ++counts.lines;
    if (r.status == "issued")
      ++counts.issued;
    else if (r.status == "existing")
      ++counts.existing;
    else {
      ++counts.refused;
      ++counts.by_reason[r.reason_code];
    }
    HM_CHECK(sink.accept(r));
  }
  if (m_options.after_chunk) m_options.after_chunk();
  if (m_options.on_chunk) m_options.on_chunk(counts);
  return cut;
}

}  // namespace hallmark::factory
