#!/usr/bin/env bash
# Installs the Debian packages Hallmark needs to build, test and run its demo.
# Idempotent: when every package is present it does nothing; otherwise it runs
# `apt-get update` once and installs the missing ones non-interactively.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config make clang-format
  # libraries (DESIGN.md "Chosen dependencies")
  libssl-dev libboost1.81-dev nlohmann-json3-dev libsqlite3-dev libcli11-dev
  libspdlog-dev libtomlplusplus-dev libgtest-dev libgmock-dev libbenchmark-dev libpq-dev
  # the PostgreSQL server the `postgres` test tier starts (initdb/pg_ctl in a temp folder)
  postgresql-15 postgresql-client-15
  # tools the tests and the demo call
  openssl curl sqlite3 python3 procps
  # peers the benchmarks compare with (bench/factory_batch, bench/ocsp)
  golang-cfssl wrk
  # PKCS#11: headers only (p11-kit/pkcs11.h), the SoftHSM2 token and pkcs11-tool for the pkcs11 tier
  libp11-kit-dev softhsm2 opensc
  # TPM 2.0: tpm2-tss (marshalling in attest, ESAPI/TCTI in `hallmark device tpm`); for the `tpm` test tier
  # swtpm, its setup tools (swtpm_setup, swtpm_localca) and tpm2-tools
  libtss2-dev swtpm swtpm-tools tpm2-tools
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
