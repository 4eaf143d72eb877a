#!/usr/bin/env bash
# A TPM-backed device on the fixture's swtpm, answering a station nonce with tpm2-tools
# and tpm_certify:
#   tpm_device.sh <fixture dir> <tpm_certify> <nonce hex> <out dir> [key handle (default 0x81000003 = IDevID)]
# Writes <out dir>/evidence.json (the {"type":"tpm",...} evidence, without "activated_secret")
# and <out dir>/key.der (the key's SubjectPublicKeyInfo, from tpm2_readpublic), for the CSR
# the test signs in the TPM with tpm2_sign. (The tpm2-openssl provider's CSRs write NULL
# parameters in ecdsa-with-SHA256, which RFC 5758 §3.2 forbids and the station refuses.)
set -euo pipefail
dir="$1"; certify="$2"; nonce="$3"; out="$4"; key="${5:-0x81000003}"
tcti="swtpm:host=127.0.0.1,port=$(cat "$dir/port")"
export TPM2TOOLS_TCTI="$tcti"
mkdir -p "$out"
"$certify" "$tcti" "$key" 0x81010002 "$nonce" "$out/attest.bin" "$out/sig.bin"
tpm2_readpublic -c "$key" -o "$out/key.pub" > /dev/null
tpm2_readpublic -c "$key" -f pem -o "$out/key.pem" > /dev/null
openssl pkey -pubin -in "$out/key.pem" -outform der -out "$out/key.der"
b64() { base64 -w0 "$1"; }
cat > "$out/evidence.json" <<JSON
{"type":"tpm","nonce":"$nonce","ek_certificate":"$(b64 "$dir/ek.der")","ek_chain":["$(b64 "$dir/ek_issuer.der")"],
 "ek_public":"$(b64 "$dir/ek.pub")","iak_public":"$(b64 "$dir/iak.pub")","idevid_public":"$(b64 "$out/key.pub")",
 "certify_info":"$(b64 "$out/attest.bin")","certify_signature":"$(b64 "$out/sig.bin")"}
JSON
