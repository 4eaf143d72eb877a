// `hallmark station challenge`: fresh single-use nonces for SE and TPM evidence (factory/evidence.h).
// `hallmark station tpm-activate`: the station's half of the TPM credential activation, offline.
#include <fstream>
#include <iostream>

#include "app/cli.h"
#include "app/station.h"
#include "base/bytes.h"
#include "base/rng.h"
#include "factory/evidence.h"
#include "factory/line_reader.h"
#include "factory/provisioning.h"
#include "pkix/csr.h"

namespace hallmark::app {

namespace {

struct ChallengeOptions {
  std::string dir;
  std::size_t count = 1;
  std::int64_t ttl = factory::kNonceLifetime.count();
  bool json = false;
};

int run_challenge(const ChallengeOptions& o) {
  auto st = Station::open(o.dir, false);
  if (!st.ok()) return report(st.error());
  auto& station = *st.value();
  base::SystemRng rng;
  base::SystemClock clock;
  if (o.ttl < 1 || o.ttl > 86400) {
    return report(base::make_error(base::ErrorCode::InvalidArgument, "--ttl must be 1..86400 seconds"));
  }
  auto issued = factory::issue_challenges(station.records(), rng, clock, o.count, std::chrono::seconds(o.ttl));
  if (!issued.ok()) return report(issued.error());
  if (o.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : issued.value()) {
      list.push_back({{"nonce", c.nonce_hex}, {"expires", base::format_rfc3339(c.expires)}});
    }
    print_json({{"station", station.scope().station_id()}, {"nonces", list}});
  } else {
    for (const auto& c : issued.value()) std::cout << c.nonce_hex << "\n";
  }
  return kExitOk;
}

struct ActivateOptions {
  std::string dir, input;
};

// One activation request ({"evidence": ..., "csr"?}, like POST /factory/v1/tpm/activate).
nlohmann::json activate_one(const std::string& text, Station& station, const attest::TpmAttestationVerifier& verifier,
                            base::Rng& rng, const base::Clock& clock, base::Status& failure) {
  namespace r = factory::reason;
  auto refused = [](const std::string& code, const std::string& why) {
    return nlohmann::json{{"status", "refused"}, {"reason_code", code}, {"reason", why}};
  };
  factory::EvidenceRefusal bad;
  auto req = factory::parse_activation_request(text, bad);
  if (!req.ok()) return refused(bad.code, bad.reason);
  factory::EvidenceRefusal why;
  auto made = factory::start_tpm_activation(req->evidence, req->csr_spki, verifier, station.records(), rng, clock, why);
  if (!made.ok()) {
    if (why.code.empty()) failure = made.error();
    return refused(why.code, why.reason);
  }
  return {{"status", "ready"},
          {"credential_blob", base::base64_encode(made->credential_blob)},
          {"encrypted_secret", base::base64_encode(made->encrypted_secret)},
          {"expires", base::format_rfc3339(made->expires)}};
}

int run_tpm_activate(const ActivateOptions& o) {
  auto st = Station::open(o.dir, false);
  if (!st.ok()) return report(st.error());
  auto& station = *st.value();
  base::SystemRng rng;
  base::SystemClock clock;
  attest::TpmAttestationVerifier verifier(factory::tpm_anchors(station.scope()), clock);
  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.input != "-") {
    file.open(o.input);
    if (!file) return report(base::make_error(base::ErrorCode::NotFound, "cannot read " + o.input));
    in = &file;
  }
  // One JSON line out per line in, blank and over-long lines included (as `station provision`).
  factory::LineReader reader(*in, factory::kMaxManifestLine);
  factory::LineReader::Line line;
  std::uint64_t n = 0, refused = 0;
  while (reader.next(line)) {
    ++n;
    nlohmann::json out;
    if (line.too_long) {
      out = {{"status", "refused"},
             {"reason_code", factory::reason::kLineTooLong},
             {"reason", "the line is " + std::to_string(line.length) + " bytes; a line may hold at most " +
                            std::to_string(factory::kMaxManifestLine) + " bytes"}};
    } else {
      base::Status failure;
      out = activate_one(line.text, station, verifier, rng, clock, failure);
      if (!failure.ok()) return report(failure.error());
    }
    if (out["status"] == "refused") ++refused;
    out["line"] = n;
    std::cout << out.dump() << "\n";
  }
  std::cerr << n << (n == 1 ? " line: " : " lines: ") << (n - refused) << " ready, " << refused << " refused\n";
  return refused == 0 ? kExitOk : kExitRefused;
}

}  // namespace

void add_station_tpm_activate_command(CLI::App& station, int& exit_code) {
  auto o = std::make_shared<ActivateOptions>();
  auto* cmd = station.add_subcommand(
      "tpm-activate", "Verify TPM evidence and make the credentials its TPMs must activate (offline batch mode)");
  cmd->add_option("--dir", o->dir, "Station folder")->required();
  cmd->add_option("--input", o->input, "JSON lines {\"evidence\": {\"type\":\"tpm\",...}, \"csr\"?} ('-' = stdin)")
      ->required();
  cmd->footer(
      "For each line: the TPM evidence is verified (EK chain, IAK/IDevID attributes, TPM2_Certify; the key against "
      "the CSR when given) and the station makes a TPM2_MakeCredential for the EK and the IAK's Name with a fresh "
      "secret, recorded as a single-use pending activation valid for one hour. Prints one JSON line per input line: "
      "{line, status: ready, credential_blob, encrypted_secret, expires} (base64 TPM2B_ID_OBJECT and "
      "TPM2B_ENCRYPTED_SECRET) or {line, status: refused, reason_code, reason}. The device's "
      "TPM2_ActivateCredential returns the secret, which the manifest line carries as the evidence's "
      "\"activated_secret\" for `station provision`. The evidence may instead be the TCG-CSR-IDEVID of the "
      "single-pass flow, {\"type\":\"tpm\",\"tcg_csr_idevid\":\"<base64>\",\"ek_chain\"?}, without \"csr\" "
      "(docs/factory.md).");
  cmd->callback([o, &exit_code] { exit_code = run_tpm_activate(*o); });
}

void add_station_challenge_command(CLI::App& station, int& exit_code) {
  auto o = std::make_shared<ChallengeOptions>();
  auto* cmd = station.add_subcommand("challenge", "Issue fresh single-use nonces for SE or TPM attestation");
  cmd->add_option("--dir", o->dir, "Station folder")->required();
  cmd->add_option("--count", o->count, "How many nonces (default 1, at most 10000)");
  cmd->add_option("--ttl", o->ttl, "Seconds each nonce stays valid (default 3600, at most 86400)");
  cmd->add_flag("--json", o->json, "Print one JSON document {station, nonces:[{nonce, expires}]}");
  cmd->footer(
      "Each nonce (32 random octets, hex) is valid for --ttl seconds (one hour by default) and attests one key once: "
      "the device's secure "
      "element signs \"hallmark-se-attestation-v1\" || nonce and the manifest line carries it as \"evidence\"; a TPM "
      "passes it as TPM2_Certify's qualifyingData.");
  cmd->callback([o, &exit_code] { exit_code = run_challenge(*o); });
}

}  // namespace hallmark::app
