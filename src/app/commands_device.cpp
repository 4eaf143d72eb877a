// `hallmark device est …`: a device emulator speaking EST over the wire (src/device).
#include <iostream>
#include <memory>
#include <optional>
#include <string_view>

#include "app/cli.h"
#include "base/files.h"
#include "device/est_client.h"
#include "device/tpm_device.h"
#include "device/tpm_key.h"
#include "keys/software_key_store.h"
#include "pkix/certificate.h"
#include "pkix/oid.h"
#include "pkix/pem.h"

namespace hallmark::app {

namespace {

struct DeviceOptions {
  std::string server, cert, key, cacert, csr_key, new_key_out, out, label, tls;
  std::string decrypt_key_id, recipient_key_id;  // serverkeygen: hex key identifiers
  bool insecure = false, rekey = false, pop = false;
};

base::Result<std::string> read_text_file(const std::string& path) {
  HM_TRY(auto data, base::read_file(path, 1 << 20));
  return base::to_string(data);
}

// --key tpm:<tcti>: the client key is in the device's TPM (src/device/tpm_key.h).
constexpr std::string_view kTpmKeyPrefix = "tpm:";

bool is_tpm_key(const std::string& key) {
  return key.rfind(kTpmKeyPrefix, 0) == 0;
}

// The TPM key that `leaf` certifies: the IDevID key `device tpm make` created,
// or the LDevID key a TPM-backed enrollment certified.
struct TpmIdentity {
  std::shared_ptr<device::TpmDevice> tpm;
  device::TpmKey key = device::TpmKey::Idevid;
};

base::Result<TpmIdentity> open_tpm_identity(const std::string& key_option, const pkix::Certificate& leaf) {
  const auto tcti = key_option.substr(kTpmKeyPrefix.size());
  if (tcti.empty()) {
    return base::make_error(base::ErrorCode::InvalidArgument,
                            "--key tpm:<tcti> needs a TCTI, e.g. tpm:swtpm:host=127.0.0.1,port=2321 or "
                            "tpm:device:/dev/tpmrm0");
  }
  HM_TRY(auto opened, device::TpmDevice::open(tcti));
  std::shared_ptr<device::TpmDevice> tpm(std::move(opened));
  HM_TRY(auto key, device::tpm_key_for(*tpm, leaf.subject_public_key_info()));
  return TpmIdentity{std::move(tpm), key};
}

base::Result<std::unique_ptr<device::EstClient>> connect(const DeviceOptions& o, bool need_cert,
                                                         const TpmIdentity* tpm = nullptr) {
  device::EstClientConfig c;
  c.server_url = o.server;
  c.label = o.label;
  c.tls_version = o.tls;
  if (!o.cacert.empty()) {
    HM_TRY(c.trust_anchors_pem, read_text_file(o.cacert));
  } else if (o.insecure) {
    c.verify_server = false;
  } else {
    return base::make_error(base::ErrorCode::InvalidArgument,
                            "give --cacert (e.g. `hallmark ca export --dir D`), or --insecure for diagnostics");
  }
  if (need_cert && (o.cert.empty() || o.key.empty())) {
    return base::make_error(base::ErrorCode::InvalidArgument, "give --cert and --key (the IDevID or current LDevID)");
  }
  if (!o.cert.empty()) {
    HM_TRY(c.cert_chain_pem, read_text_file(o.cert));
    if (tpm != nullptr) {
      HM_TRY(c.key, device::tpm_evp_pkey(tpm->tpm, tpm->key));
      c.client_sigalgs = device::kTpmTlsSigalgs;
    } else {
      HM_TRY(c.key_pem, read_text_file(o.key));
    }
  }
  return device::EstClient::connect(std::move(c));
}

// The device's certificate file may hold its chain (leaf first, as `station bundle get`
// writes it); the leaf names the device, the whole file goes to the TLS handshake.
base::Result<pkix::Certificate> read_leaf(const std::string& path) {
  HM_TRY(auto text, read_text_file(path));
  HM_TRY(auto certs, pkix::Certificate::parse_all(base::to_bytes(text)));
  if (certs.empty()) {
    return base::make_error(base::ErrorCode::InvalidArgument, path + " holds no certificate");
  }
  return std::move(certs.front());
}

base::Status write_or_print(const std::string& out, const std::string& text) {
  if (out.empty()) {
    std::cout << text;
    return {};
  }
  return base::write_file(out, text, 0644);
}

int run_cacerts(const DeviceOptions& o) {
  auto client = connect(o, false);
  if (!client.ok()) return report(client.error());
  auto certs = client.value()->cacerts();
  if (!certs.ok()) return report(certs.error());
  std::string pem;
  for (const auto& c : certs.value()) pem += c.pem();
  if (auto w = write_or_print(o.out, pem); !w.ok()) return report(w.error());
  return kExitOk;
}

int run_enroll(const DeviceOptions& o, bool renewal) {
  auto cert = read_leaf(o.cert);
  if (!cert.ok()) return report(cert.error());
  const auto serial = cert->subject().get(pkix::oid::kSerialNumber).value_or("");

  // With the client key in the TPM, the key to certify is the TPM's LDevID key
  // (on renewal too: it is the current key) unless --csr-key names a file.
  std::optional<TpmIdentity> tpm;
  if (is_tpm_key(o.key)) {
    if (renewal && o.rekey && o.csr_key.empty()) {
      std::cerr << "error: the TPM's LDevID key is derived from a fixed template and cannot be replaced: "
                   "drop --rekey, or give --csr-key\n";
      return kExitUsage;
    }
    auto opened = open_tpm_identity(o.key, cert.value());
    if (!opened.ok()) return report(opened.error());
    tpm = std::move(opened).value();
  }

  // The key to certify: --csr-key; with a TPM client key the TPM's LDevID key;
  // on renewal the current key unless --rekey; else a new P-256 key written to --new-key-out.
  std::unique_ptr<keys::Signer> key;
  std::string key_note;  // where the certified key is, for the closing line
  std::string key_file = o.csr_key;
  if (key_file.empty() && renewal && !o.rekey && !tpm) key_file = o.key;
  if (key_file.empty() && tpm) {
    auto k = device::tpm_signer(tpm->tpm, device::TpmKey::Ldevid);
    if (!k.ok()) return report(k.error());
    key = std::move(k.value());
    key_note = "key: the TPM's LDevID key";
  } else if (!key_file.empty()) {
    key_note = "key: " + key_file;
    auto pem = base::read_file(key_file, 1 << 20);
    if (!pem.ok()) return report(pem.error());
    auto k = keys::load_unencrypted_key(pem.value(), key_file);
    if (!k.ok()) return report(k.error());
    key = std::move(k.value());
  } else {
    auto k = keys::generate_ephemeral(base::KeyAlgorithm::EcP256);
    if (!k.ok()) return report(k.error());
    key = std::move(k.value());
    const auto dest = !o.new_key_out.empty() ? o.new_key_out : (o.out.empty() ? std::string() : o.out + ".key");
    if (dest.empty()) {
      std::cerr << "error: a new key is generated: give --new-key-out (or --out, which writes "
                   "<out>.key), or --csr-key\n";
      return kExitUsage;
    }
    auto pem = keys::export_unencrypted_pem(*key);
    if (!pem.ok()) return report(pem.error());
    if (auto w = base::write_file(dest, pem.value(), 0600); !w.ok()) return report(w.error());
    key_note = "new key -> " + dest;
  }
  auto client = connect(o, true, tpm ? &*tpm : nullptr);
  if (!client.ok()) return report(client.error());
  std::optional<std::string> challenge;
  if (o.pop) challenge = base::base64_encode(client.value()->channel_binding());
  auto csr = device::make_csr(*key, serial, challenge);
  if (!csr.ok()) return report(csr.error());
  auto issued = renewal ? client.value()->simple_reenroll(csr.value()) : client.value()->simple_enroll(csr.value());
  if (!issued.ok()) return report(issued.error());
  if (auto w = write_or_print(o.out, issued->pem()); !w.ok()) return report(w.error());
  if (!o.out.empty()) {
    std::cerr << (renewal ? "renewed: " : "enrolled: ") << issued->subject().to_string() << " serial "
              << issued->serial_hex() << " -> " << o.out << " (" << key_note << ")\n";
  }
  return kExitOk;
}

// /serverkeygen: the server makes the key. The CSR (signed by a throwaway key
// of the wanted type) names the device and, optionally, how the key is to be
// encrypted; the key goes to --new-key-out: PEM when plain, the DER CMS
// EnvelopedData when encrypted (decrypt it with `openssl cms -decrypt`).
int run_server_keygen(const DeviceOptions& o) {
  auto cert = read_leaf(o.cert);
  if (!cert.ok()) return report(cert.error());
  if (!o.decrypt_key_id.empty() && !o.recipient_key_id.empty()) {
    std::cerr << "error: give --decrypt-key-id or --recipient-key-id, not both\n";
    return kExitUsage;
  }
  std::optional<pkix::KeyEncryptionRequest> encryption;
  if (!o.decrypt_key_id.empty() || !o.recipient_key_id.empty()) {
    const bool symmetric = !o.decrypt_key_id.empty();
    auto id = base::hex_decode(symmetric ? o.decrypt_key_id : o.recipient_key_id);
    if (!id.ok()) return report(id.error());
    encryption = pkix::KeyEncryptionRequest{
        symmetric ? pkix::KeyEncryptionRequest::Kind::Symmetric : pkix::KeyEncryptionRequest::Kind::Asymmetric,
        std::move(id).value()};
  }
  const auto key_out = !o.new_key_out.empty() ? o.new_key_out : (o.out.empty() ? std::string() : o.out + ".key");
  if (key_out.empty()) {
    std::cerr << "error: give --new-key-out (or --out, which writes <out>.key) for the "
                 "server-generated key\n";
    return kExitUsage;
  }
  auto throwaway = keys::generate_ephemeral(base::KeyAlgorithm::EcP256);
  if (!throwaway.ok()) return report(throwaway.error());
  const auto serial = cert->subject().get(pkix::oid::kSerialNumber).value_or("");
  auto csr = device::make_csr(*throwaway.value(), serial, std::nullopt, encryption);
  if (!csr.ok()) return report(csr.error());
  std::optional<TpmIdentity> tpm;
  if (is_tpm_key(o.key)) {
    auto opened = open_tpm_identity(o.key, cert.value());
    if (!opened.ok()) return report(opened.error());
    tpm = std::move(opened).value();
  }
  auto client = connect(o, true, tpm ? &*tpm : nullptr);
  if (!client.ok()) return report(client.error());
  auto generated = client.value()->server_keygen(csr.value());
  if (!generated.ok()) return report(generated.error());
  auto key_file = generated->encrypted
                      ? base::write_file(key_out, base::to_string(generated->key_der), 0600)
                      : base::write_file(key_out, pkix::pem_encode(generated->key_der, "PRIVATE KEY"), 0600);
  if (!key_file.ok()) return report(key_file.error());
  if (auto w = write_or_print(o.out, generated->certificate.pem()); !w.ok()) return report(w.error());
  std::cerr << "server-generated key (" << (generated->encrypted ? "CMS EnvelopedData, DER" : "PKCS#8 PEM") << ") -> "
            << key_out << (o.out.empty() ? std::string() : ", certificate -> " + o.out) << "\n";
  return kExitOk;
}

void common_options(CLI::App* cmd, DeviceOptions& o) {
  cmd->add_option("--server", o.server, "EST server, e.g. https://127.0.0.1:8443")->required();
  cmd->add_option("--cacert", o.cacert, "PEM trust anchors for the server (hallmark ca export)");
  cmd->add_flag("--insecure", o.insecure, "Do not verify the server (diagnostics only)");
  cmd->add_option("--label", o.label, "EST label (/.well-known/est/<label>/)");
  cmd->add_option("--tls", o.tls, "TLS version: 1.2 or 1.3 (default: best)");
  cmd->add_option("--out", o.out, "Write the result (PEM) here instead of stdout");
}

}  // namespace

void add_device_commands(CommandRegistry reg) {
  auto* device = reg.app.add_subcommand("device", "Device emulation over the wire (runtime protocols)");
  device->require_subcommand(1);
  auto* est = device->add_subcommand("est", "EST client (RFC 7030): cacerts, enroll, reenroll, serverkeygen");
  est->require_subcommand(1);

  auto oc = std::make_shared<DeviceOptions>();
  auto* cacerts = est->add_subcommand("cacerts", "Fetch the CA certificates (/cacerts) as PEM");
  common_options(cacerts, *oc);
  cacerts->callback([oc, &exit_code = reg.exit_code] { exit_code = run_cacerts(*oc); });

  for (bool renewal : {false, true}) {
    auto o = std::make_shared<DeviceOptions>();
    auto* cmd = est->add_subcommand(renewal ? "reenroll" : "enroll",
                                    renewal ? "Renew the LDevID (/simplereenroll), authenticated by the current one"
                                            : "Enroll an LDevID (/simpleenroll), authenticated by the IDevID");
    common_options(cmd, *o);
    cmd->add_option("--cert", o->cert, renewal ? "Current LDevID (PEM)" : "IDevID certificate (PEM, chain allowed)")
        ->required();
    cmd->add_option("--key", o->key,
                    "Its unencrypted private key (PEM), or tpm:<tcti> for the TPM key the certificate certifies")
        ->required();
    cmd->add_option("--csr-key", o->csr_key,
                    "Key to certify (PEM); default: the TPM's LDevID key with --key tpm:<tcti>, else a new P-256 "
                    "key (enroll) or the current key (reenroll)");
    cmd->add_option("--new-key-out", o->new_key_out, "Where to write a generated key (default <out>.key)");
    if (renewal) cmd->add_flag("--rekey", o->rekey, "Generate a new key instead of renewing the current one");
    cmd->add_flag("--pop", o->pop, "Put the TLS channel binding in challengePassword (PoP linking)");
    cmd->footer(
        "--key tpm:<tcti> (e.g. tpm:swtpm:host=127.0.0.1,port=2321): the TLS client key is the TPM key that --cert "
        "certifies (the IDevID key of `hallmark device tpm make`, or the TPM's LDevID key), signing by TPM2_Sign; "
        "the certified key is then the TPM's LDevID key (same template as the IDevID key, another unique field) "
        "and only the certificate is written.");
    cmd->callback([o, renewal, &exit_code = reg.exit_code] { exit_code = run_enroll(*o, renewal); });
  }

  auto ok = std::make_shared<DeviceOptions>();
  auto* keygen = est->add_subcommand("serverkeygen",
                                     "Have the server generate the key (/serverkeygen), "
                                     "authenticated by the IDevID");
  common_options(keygen, *ok);
  keygen->add_option("--cert", ok->cert, "IDevID certificate (PEM, chain allowed)")->required();
  keygen->add_option("--key", ok->key, "Its unencrypted private key (PEM), or tpm:<tcti> (the TPM's IDevID key)")
      ->required();
  keygen->add_option("--new-key-out", ok->new_key_out, "Where to write the generated key (default <out>.key)");
  keygen->add_option("--decrypt-key-id", ok->decrypt_key_id,
                     "Ask for the key encrypted to this pre-provisioned symmetric key (hex identifier)");
  keygen->add_option("--recipient-key-id", ok->recipient_key_id,
                     "Ask for the key encrypted to this registered encryption certificate (hex SKI)");
  keygen->callback([ok, &exit_code = reg.exit_code] { exit_code = run_server_keygen(*ok); });

  add_device_se_commands(*device, reg.exit_code);
  add_device_tpm_commands(*device, reg.exit_code);
}

}  // namespace hallmark::app
