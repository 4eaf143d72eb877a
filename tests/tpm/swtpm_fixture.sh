#!/usr/bin/env bash
# CTest fixture for the `tpm` tier: a fresh swtpm with an EK certificate from
# swtpm_localca, and real TCG DevID evidence made with tpm2-tools.
#   swtpm_fixture.sh start <dir> <tpm_certify>   sets up the TPM, starts swtpm, writes <dir>/port
#   swtpm_fixture.sh stop <dir>     stops swtpm (pid in <dir>/swtpm.pid)
# Everything (swtpm_setup and swtpm_localca configuration, the local CA's state
# and key) lives in <dir>: Debian's defaults point at system folders.
#
# Made in <dir> (all from the real TPM):
#   tpm_root.der    the "TPM manufacturer root" (swtpm_localca's root CA), DER
#   ek_issuer.der   the intermediate CA that signed the EK certificate, DER
#   ek.der          the RSA EK certificate read from NV 0x01c00002
#   ek.pub          EK public (TPM2B_PUBLIC), persistent at 0x81010001 (made by swtpm_setup)
#   ek_ecc.pub      the ECC P-384 EK public (TPM2B_PUBLIC), persistent at 0x81010016
#   iak.pub         IAK public (TPM2B_PUBLIC, restricted ECDSA P-256 signing, endorsement hierarchy), persistent at 0x81010002
#   decrypt/movable persistent at 0x81000004/5
#   idevid.pub      IDevID public (TPM2B_PUBLIC, unrestricted ECDSA P-256 signing), persistent at 0x81000003
#   <key>.attest / <key>.sig   TPM2_Certify(<key> by IAK, qualifyingData = nonce.bin), TPMS_ATTEST + TPMT_SIGNATURE
#   nonce.bin       the 32-octet qualifyingData used
# <key> is idevid, and for refusal tests: decrypt (sign|decrypt key), movable (no fixedTPM/fixedParent).
set -euo pipefail
cmd="$1"
dir="$2"
certify="${3:-}"

stop() {
  if [ -f "$dir/swtpm.pid" ]; then
    pid="$(cat "$dir/swtpm.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$dir/swtpm.pid"
  fi
}

free_port() {
  python3 - <<'PY'
import socket
for _ in range(100):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p + 1)); t.close(); print(p); break
    except OSError:
        t.close()
PY
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi

stop
rm -rf "$dir"
mkdir -p "$dir/state" "$dir/ca"
cat > "$dir/swtpm-localca.conf" <<CONF
statedir = $dir/ca
signingkey = $dir/ca/signkey.pem
issuercert = $dir/ca/issuercert.pem
certserial = $dir/ca/certserial
CONF
cat > "$dir/swtpm-localca.options" <<CONF
--platform-manufacturer Hallmark-Test
--platform-version 2.1
--platform-model swtpm
CONF
cat > "$dir/swtpm_setup.conf" <<CONF
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $dir/swtpm-localca.conf
create_certs_tool_options = $dir/swtpm-localca.options
active_pcr_banks = sha256
CONF
swtpm_setup --tpm2 --tpmstate "$dir/state" --config "$dir/swtpm_setup.conf" \
  --create-ek-cert --create-platform-cert --overwrite > "$dir/setup.log" 2>&1 || { cat "$dir/setup.log"; exit 1; }

port="$(free_port)"
swtpm socket --tpm2 --tpmstate dir="$dir/state" --server type=tcp,port="$port" \
  --ctrl type=tcp,port=$((port + 1)) --flags startup-clear --pid file="$dir/swtpm.pid" \
  --log file="$dir/swtpm.log" --daemon
echo "$port" > "$dir/port"
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
for _ in $(seq 50); do tpm2_getcap properties-fixed > /dev/null 2>&1 && break; sleep 0.1; done

cd "$dir"
flush() { tpm2_flushcontext -t > /dev/null; tpm2_flushcontext -s > /dev/null; }
tpm2_nvread 0x01c00002 -o ek.der
# swtpm_setup made the standard RSA EK persistent at 0x81010001.
tpm2_readpublic -c 0x81010001 -o ek.pub > /dev/null
# ... and an ECC NIST P-384 EK (nameAlg SHA-384) at 0x81010016.
tpm2_readpublic -c 0x81010016 -o ek_ecc.pub > /dev/null
# IAK: restricted signing key in the endorsement hierarchy.
tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -g sha256 -c iak.ctx \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign' > /dev/null
tpm2_readpublic -c iak.ctx -o iak.pub > /dev/null
tpm2_evictcontrol -C o -c iak.ctx 0x81010002 > /dev/null
flush
# IDevID: unrestricted signing key (owner hierarchy primary).
tpm2_createprimary -C o -G ecc256:ecdsa-sha256:null -g sha256 -c idevid.ctx \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' > /dev/null
tpm2_readpublic -c idevid.ctx -o idevid.pub > /dev/null
tpm2_evictcontrol -C o -c idevid.ctx 0x81000003 > /dev/null
flush
head -c 32 /dev/urandom > nonce.bin
nonce="$(od -An -tx1 -v nonce.bin | tr -d ' \n')"
"$certify" "$TPM2TOOLS_TCTI" 0x81000003 0x81010002 "$nonce" idevid.attest idevid.sig
# Refusal material: a key that can also decrypt, and a key that can be duplicated.
tpm2_createprimary -C o -G rsa -c srk.ctx > /dev/null
tpm2_evictcontrol -C o -c srk.ctx 0x81000001 > /dev/null
flush
tpm2_create -C 0x81000001 -G ecc256 -u decrypt.pub -r decrypt.priv \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|decrypt' > /dev/null
flush
tpm2_create -C 0x81000001 -G ecc256:ecdsa-sha256 -u movable.pub -r movable.priv \
  -a 'sensitivedataorigin|userwithauth|sign' > /dev/null
flush
handle=4
for k in decrypt movable; do
  tpm2_load -C 0x81000001 -u $k.pub -r $k.priv -c $k.ctx > /dev/null
  tpm2_evictcontrol -C o -c $k.ctx 0x8100000$handle > /dev/null
  flush
  "$certify" "$TPM2TOOLS_TCTI" 0x8100000$handle 0x81010002 "$nonce" $k.attest $k.sig
  handle=$((handle + 1))
done
# Independent views of the keys (tpm2-tools and openssl, not our decoder).
tpm2_readpublic -c 0x81000003 -f pem -o idevid.pem > /dev/null
tpm2_readpublic -c 0x81000004 -f pem -o decrypt.pem > /dev/null
tpm2_readpublic -c 0x81010002 -n iak.name > /dev/null
openssl pkey -pubin -in idevid.pem -outform der -out idevid_spki.der
openssl pkey -pubin -in decrypt.pem -outform der -out decrypt_spki.der
# A CA that is not the TPM manufacturer.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key -subj /CN=rogue-tpm-ca \
  -days 30 -outform der -out rogue_root.der > /dev/null 2>&1
rm -f ./*.ctx
openssl x509 -in ca/issuercert.pem -outform der -out ek_issuer.der
openssl x509 -in ca/swtpm-localca-rootca-cert.pem -outform der -out tpm_root.der
echo "swtpm on port $port"
