// The demo's software TPMs: swtpm instances that `hallmark demo` manufactures
// and runs itself for the TPM-backed part of its fleet.
//
// A "TPM manufacturer" is one swtpm_localca CA (root + EK-issuing CA) under the
// folder given; each TPM gets its state from swtpm_setup (RSA-2048 EK at
// 0x81010001, its certificate at NV 0x01c00002) and runs as `swtpm socket` on
// two free localhost ports. Every configuration file swtpm_setup and
// swtpm_localca read is written into that folder (Debian's defaults name system
// folders). The swtpm processes die with the demo whatever way it ends: the
// destructor stops them, and each one is asked by the kernel to terminate when
// the thread that started it exits (Ctrl-C, a crash).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace hallmark::app::demo {

// The first of swtpm, swtpm_setup, swtpm_localca that is not on PATH ("" when all are).
std::string missing_swtpm_program();

// Manufactured TPMs (state folders and the manufacturer CA), not running yet.
struct SwtpmManufacture {
  std::filesystem::path dir;
  std::vector<std::filesystem::path> states;  // one swtpm state folder per TPM
  std::filesystem::path root_pem;             // the manufacturer root (for `site create --tpm-roots`)
  std::filesystem::path ek_ca_pem;            // the CA that signed the EK certificates (for `--ek-chain`)
};

// Where manufacture_swtpms() puts everything (nothing is made).
SwtpmManufacture swtpm_layout(const std::filesystem::path& dir, int count);

// swtpm_setup of `count` TPMs under `dir` (created; the first TPM also creates
// the manufacturer CA, the others are made together once it exists).
// `ca_ready` is called (from this thread) as soon as root_pem and ek_ca_pem are
// complete, before the other TPMs are made; not at all when that fails.
base::Result<SwtpmManufacture> manufacture_swtpms(const std::filesystem::path& dir, int count,
                                                  const std::function<void()>& ca_ready = {});

// The running swtpm processes; stopped (SIGTERM, then SIGKILL after 2 s) on destruction.
class SwtpmFleet {
 public:
  // Starts one `swtpm socket` per state folder; returns once each accepts connections.
  // Call from the thread that lives as long as the demo (the kernel ties each child to it).
  static base::Result<std::unique_ptr<SwtpmFleet>> start(const SwtpmManufacture& made);
  ~SwtpmFleet();
  SwtpmFleet(const SwtpmFleet&) = delete;
  SwtpmFleet& operator=(const SwtpmFleet&) = delete;

  // TCTI of each TPM ("swtpm:host=127.0.0.1,port=N"), in manufacture order.
  const std::vector<std::string>& tctis() const { return m_tctis; }
  void stop();

 private:
  SwtpmFleet() = default;
  std::vector<pid_t> m_pids;
  std::vector<std::string> m_tctis;
};

// manufacture_swtpms() on a thread of its own, so the demo goes on meanwhile.
class SwtpmFactory {
 public:
  SwtpmFactory(const std::filesystem::path& dir, int count);
  ~SwtpmFactory();  // waits for the manufacturing to end
  SwtpmFactory(const SwtpmFactory&) = delete;
  SwtpmFactory& operator=(const SwtpmFactory&) = delete;

  const SwtpmManufacture& layout() const { return m_layout; }
  // Waits until the manufacturer CA exists; the manufacturing error when it does not.
  base::Status wait_for_ca();
  // Waits for every TPM, then starts them (SwtpmFleet::start on the calling thread).
  base::Result<std::unique_ptr<SwtpmFleet>> start();

 private:
  SwtpmManufacture m_layout;
  std::promise<void> m_ca_made;  // before the futures: the task that sets it ends before it goes
  std::future<void> m_ca;
  std::shared_future<base::Result<SwtpmManufacture>> m_done;
};

}  // namespace hallmark::app::demo
