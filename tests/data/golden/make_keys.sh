#!/bin/sh
# Makes the fixed keys of the CA golden tests (tests/unit/ca/golden_test.cpp).
# Run once; the keys are committed so that the golden TBSCertificates stay
# byte-identical. Re-running replaces the keys: then regenerate the goldens with
#   HALLMARK_UPDATE_GOLDEN=1 ./build/tests/unit/ca/unit_ca --gtest_filter='Golden*'
# Test keys only: never use them for anything else.
set -eu
cd "$(dirname "$0")"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve -out root-p384.key
for name in ca-p256 device-p256 server-p256; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$name.key"
done
