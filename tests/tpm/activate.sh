#!/usr/bin/env bash
# TPM2_ActivateCredential on the fixture's swtpm with its EK (0x81010001) and
# IAK (0x81010002): activate.sh <fixture dir> <tpm2-tools credential file> <out> [rsa|ecc]
# The RSA EK (0x81010001) is used through its authPolicy PolicySecret(endorsement);
# the ECC P-384 EK (0x81010016) has userWithAuth and an empty password.
set -euo pipefail
dir="$1"
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$(cat "$dir/port")"
if [ "${4:-rsa}" = ecc ]; then
  tpm2_activatecredential -c 0x81010002 -C 0x81010016 -i "$2" -o "$3" > /dev/null
  exit 0
fi
session="$(mktemp)"
trap 'tpm2_flushcontext "$session" > /dev/null 2>&1 || true; rm -f "$session"' EXIT
tpm2_startauthsession --policy-session -S "$session" > /dev/null
tpm2_policysecret -S "$session" -c e > /dev/null
tpm2_activatecredential -c 0x81010002 -C 0x81010001 -i "$2" -o "$3" -P"session:$session" > /dev/null
