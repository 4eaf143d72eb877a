// `hallmark station challenge`: fresh single-use nonces for secure-element evidence (factory/evidence.h).
#include <iostream>

#include "app/cli.h"
#include "app/station.h"
#include "base/rng.h"
#include "factory/evidence.h"

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

}  // namespace

void add_station_challenge_command(CLI::App& station, int& exit_code) {
  auto o = std::make_shared<ChallengeOptions>();
  auto* cmd = station.add_subcommand("challenge", "Issue fresh single-use nonces for secure-element attestation");
  cmd->add_option("--dir", o->dir, "Station folder")->required();
  cmd->add_option("--count", o->count, "How many nonces (default 1, at most 10000)");
  cmd->add_option("--ttl", o->ttl, "Seconds each nonce stays valid (default 3600, at most 86400)");
  cmd->add_flag("--json", o->json, "Print one JSON document {station, nonces:[{nonce, expires}]}");
  cmd->footer(
      "Each nonce (32 random octets, hex) is valid for --ttl seconds (one hour by default) and attests one key once: "
      "the device's secure "
      "element signs \"hallmark-se-attestation-v1\" || nonce and the manifest line carries it as \"evidence\".");
  cmd->callback([o, &exit_code] { exit_code = run_challenge(*o); });
}

}  // namespace hallmark::app
