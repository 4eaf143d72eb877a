// `hallmark device se vendor-init|make`: a software secure element and its vendor (src/device/secure_element.h).
#include <iostream>

#include "app/cli.h"
#include "base/files.h"
#include "device/secure_element.h"
#include "keys/software_key_store.h"

namespace hallmark::app {

namespace {

struct SeOptions {
  std::string dir, name = "Hallmark Software", vendor, serial, product, nonce, key_out, profiles;
};

int run_vendor_init(const SeOptions& o) {
  base::SystemRng rng;
  base::SystemClock clock;
  if (auto s = device::se_vendor_init(o.dir, o.name, rng, clock); !s.ok()) return report(s.error());
  std::cerr << "SE vendor root CA in " << o.dir << "/" << device::kSeVendorRoot
            << " (give it to `hallmark site create --se-roots`)\n";
  return kExitOk;
}

int run_make(const SeOptions& o) {
  auto nonce = base::hex_decode(o.nonce);
  if (!nonce.ok() || nonce->size() != 32) {
    return report(
        base::make_error(base::ErrorCode::InvalidArgument,
                         "--nonce must be the station's nonce: 64 hex digits (`hallmark station challenge`)"));
  }
  base::SystemRng rng;
  base::SystemClock clock;
  auto dev = device::se_make_device(o.vendor, o.serial, nonce.value(), rng, clock);
  if (!dev.ok()) return report(dev.error());
  if (!o.key_out.empty()) {
    // Emulation only: a real SE never exports the key; tests keep it to use the IDevID later.
    auto pem = keys::export_unencrypted_pem(*dev->key);
    if (!pem.ok()) return report(pem.error());
    if (auto w = base::write_file(o.key_out, pem.value(), 0600); !w.ok()) return report(w.error());
  }
  nlohmann::json chain = nlohmann::json::array();
  for (const auto& der : dev->chain) chain.push_back(base::base64_encode(der));
  nlohmann::json line = {{"serial", o.serial},
                         {"product", o.product},
                         {"csr", base::base64_encode(dev->csr_der)},
                         {"evidence",
                          {{"type", "se"},
                           {"nonce", base::hex_encode(nonce.value())},
                           {"signature", base::base64_encode(dev->signature)},
                           {"chain", chain}}}};
  if (!o.profiles.empty()) {
    nlohmann::json list = nlohmann::json::array();
    std::string item;
    for (char c : o.profiles + ",") {
      if (c == ',') {
        if (!item.empty()) list.push_back(item);
        item.clear();
      } else {
        item.push_back(c);
      }
    }
    line["profiles"] = list;
  }
  std::cout << line.dump() << "\n";
  return kExitOk;
}

}  // namespace

void add_device_se_commands(CLI::App& device, int& exit_code) {
  auto* se = device.add_subcommand("se", "Software secure element (SE attestation for the factory station)");
  se->require_subcommand(1);
  auto o = std::make_shared<SeOptions>();
  auto* init = se->add_subcommand("vendor-init", "Create an SE vendor: its root CA and key (root.pem, root.key)");
  init->add_option("--dir", o->dir, "Vendor folder to create")->required();
  init->add_option("--name", o->name, "Vendor name (O= and CN prefix)");
  init->callback([o, &exit_code] { exit_code = run_vendor_init(*o); });

  auto* make = se->add_subcommand(
      "make",
      "Make one device: SE key, the vendor's attestation certificate, the CSR, the nonce signature; prints "
      "one manifest line");
  make->add_option("--vendor", o->vendor, "Vendor folder (`device se vendor-init`)")->required();
  make->add_option("--serial", o->serial, "Device serial number")->required();
  make->add_option("--product", o->product, "Product name")->required();
  make->add_option("--nonce", o->nonce, "The station's nonce (hex, `hallmark station challenge`)")->required();
  make->add_option("--profiles", o->profiles, "Further profiles for the line, comma-separated (e.g. ldevid)");
  make->add_option("--key-out", o->key_out, "Also write the device key (unencrypted PEM; emulation only)");
  make->callback([o, &exit_code] { exit_code = run_make(*o); });
}

}  // namespace hallmark::app
