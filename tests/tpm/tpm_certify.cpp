// Test helper for the `tpm` tier (tpm2_certify of tpm2-tools 5.4 cannot pass
// qualifyingData): TPM2_Certify of a persistent key by a persistent signing
// key with the given qualifyingData, through ESAPI on a TCTI.
//   tpm_certify <tcti> <object handle hex> <sign handle hex> <nonce hex> <attest out> <signature out>
// Writes the TPMS_ATTEST octets (the contents of TPM2B_ATTEST) and the
// marshalled TPMT_SIGNATURE.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

namespace {

int die(const char* what, TSS2_RC rc) {
  std::fprintf(stderr, "tpm_certify: %s failed (0x%x)\n", what, static_cast<unsigned>(rc));
  return 1;
}

bool write_file(const char* path, const std::uint8_t* data, std::size_t size) {
  FILE* f = std::fopen(path, "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: tpm_certify <tcti> <object handle> <sign handle> <nonce hex> <attest> <sig>\n");
    return 2;
  }
  const std::string nonce_hex = argv[4];
  TPM2B_DATA qualifying{};
  if (nonce_hex.size() % 2 != 0 || nonce_hex.size() / 2 > sizeof(qualifying.buffer)) return 2;
  qualifying.size = static_cast<UINT16>(nonce_hex.size() / 2);
  for (std::size_t i = 0; i < qualifying.size; ++i) {
    qualifying.buffer[i] = static_cast<BYTE>(std::stoul(nonce_hex.substr(2 * i, 2), nullptr, 16));
  }
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  if (auto rc = Tss2_TctiLdr_Initialize(argv[1], &tcti); rc != TSS2_RC_SUCCESS) return die("TCTI", rc);
  ESYS_CONTEXT* ctx = nullptr;
  if (auto rc = Esys_Initialize(&ctx, tcti, nullptr); rc != TSS2_RC_SUCCESS) return die("Esys_Initialize", rc);
  ESYS_TR object = ESYS_TR_NONE, signer = ESYS_TR_NONE;
  const auto object_handle = static_cast<TPM2_HANDLE>(std::strtoul(argv[2], nullptr, 16));
  const auto sign_handle = static_cast<TPM2_HANDLE>(std::strtoul(argv[3], nullptr, 16));
  if (auto rc = Esys_TR_FromTPMPublic(ctx, object_handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &object);
      rc != TSS2_RC_SUCCESS)
    return die("object handle", rc);
  if (auto rc = Esys_TR_FromTPMPublic(ctx, sign_handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &signer);
      rc != TSS2_RC_SUCCESS)
    return die("signing handle", rc);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;
  TPM2B_ATTEST* attest = nullptr;
  TPMT_SIGNATURE* signature = nullptr;
  if (auto rc = Esys_Certify(ctx, object, signer, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &qualifying,
                             &scheme, &attest, &signature);
      rc != TSS2_RC_SUCCESS)
    return die("Esys_Certify", rc);
  std::uint8_t sig[sizeof(TPMT_SIGNATURE)];
  std::size_t sig_size = 0;
  if (auto rc = Tss2_MU_TPMT_SIGNATURE_Marshal(signature, sig, sizeof(sig), &sig_size); rc != TSS2_RC_SUCCESS)
    return die("marshal signature", rc);
  const bool ok = write_file(argv[5], attest->attestationData, attest->size) && write_file(argv[6], sig, sig_size);
  Esys_Free(attest);
  Esys_Free(signature);
  Esys_Finalize(&ctx);
  Tss2_TctiLdr_Finalize(&tcti);
  return ok ? 0 : 1;
}
