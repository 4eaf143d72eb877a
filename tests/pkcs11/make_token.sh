#!/bin/sh
# CTest fixture: a fresh SoftHSM2 token in <dir> for the pkcs11 tier.
#   <dir>/softhsm2.conf   SOFTHSM2_CONF for the tests (the token lives in <dir>/tokens)
#   <dir>/pin             the user PIN (pin-source=file:<dir>/pin)
# Token label "hallmark-test"; a second token "hallmark-site" stands for a site's own HSM.
set -eu
dir="$1"
rm -rf "$dir"
mkdir -p "$dir/tokens"
cat > "$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF="$dir/softhsm2.conf"
printf '%s\n' 246810 > "$dir/pin"
chmod 600 "$dir/pin"
for label in hallmark-test hallmark-site; do
  softhsm2-util --init-token --free --label "$label" --so-pin 13579111 --pin 246810 > /dev/null
done
softhsm2-util --show-slots | grep -q hallmark-site
