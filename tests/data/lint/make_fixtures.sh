#!/usr/bin/env bash
# Makes the linter fixtures in this folder with third-party tools only: the `openssl` CLI
# (OpenSSL 3.0) and, where OpenSSL refuses to produce a broken encoding, der_edit.py
# (python3, standard library) which hand-edits the DER of an OpenSSL-made certificate.
#
#   tests/data/lint/make_fixtures.sh
#
# Writes ca.pem (a P-256 test CA valid 2026-01-01..2036-01-01), clean-*.pem (lint clean) and,
# for every linter rule, <rule-id-lowercase>.pem that breaks that rule and only that rule
# (variants: <rule-id-lowercase>--<what>.pem). README.md says how to lint each one.
# Idempotent: it deletes and rewrites every *.pem here. Keys are fresh on each run and are
# not kept (nothing else changes between runs except hm-serial-positive*, whose validity
# starts "now" because `openssl x509 -req` in OpenSSL 3.0 cannot set notBefore).
# Hand-edited certificates keep their old signature, which no longer verifies: the linter
# does not verify signatures, so this does not matter.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

mkdir db
: > db/index.txt
echo "unique_subject = no" > db/index.txt.attr
echo 1000 > db/serial

cat > ca.cnf <<'EOF'
[ca]
default_ca = lint_ca

[lint_ca]
dir = .
database = db/index.txt
serial = db/serial
new_certs_dir = db
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
# The extensions come from the sections below, never from the CSR.
copy_extensions = none

[policy_any]
commonName = optional

# --- clean profiles (what Hallmark's own profiles look like) ---------------------------
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = none

[intermediate]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ldevid]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

# IEEE 802.1AR IDevID: HardwareModuleName (RFC 4108 §5) as a subjectAltName otherName.
# OpenSSL wraps the SEQUENCE in the [0] EXPLICIT of otherName itself.
[idevid]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hmn

[hmn]
hwType = OID:1.3.6.1.4.1.65535.1.2
hwSerialNum = OCTETSTRING:SN-1

# --- one defect each ---------------------------------------------------------------------
[ldevid_no_aki]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = none

[intermediate_no_ski]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = none
authorityKeyIdentifier = keyid:always

[ldevid_keycertsign]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyCertSign
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[intermediate_no_keycertsign]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,digitalSignature,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[intermediate_bc_not_critical]
basicConstraints = CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ldevid_pathlen]
basicConstraints = critical,CA:FALSE,pathlen:0
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

# A CA's key-rollover certificate: self-issued (issuer name == subject name) but not
# self-signed (new key), so RFC 5280 §4.2.1.1 still requires the AKI.
[rollover_no_aki]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = none

[tls_san_not_critical]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:device.example

[idevid_hmn_utf8]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hmn_utf8

[hmn_utf8]
hwType = OID:1.3.6.1.4.1.65535.1.2
hwSerialNum = UTF8:SN-1

[idevid_hmn_empty]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hmn_empty

[hmn_empty]
hwType = OID:1.3.6.1.4.1.65535.1.2
hwSerialNum = OCTETSTRING:

[idevid_no_san]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

# `openssl ca` writes a v1 certificate when it is given no extensions at all.
[none]
EOF

ca_subject="/O=Hallmark Lint Test/CN=Hallmark Lint Test CA"
leaf_start=20260601000000Z
leaf_end=20310601000000Z

# key NAME [p256|rsa1024|secp256k1|p256-explicit]
key() {
  case "${2:-p256}" in
    p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" ;;
    rsa1024) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$1.key" ;;
    secp256k1) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$1.key" ;;
    p256-explicit)
      openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -pkeyopt ec_param_enc:explicit -out "$1.key" ;;
  esac 2>/dev/null
}

# csr NAME SUBJECT: a CSR for NAME.key
csr() {
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
}

# issue NAME SECTION START END [openssl ca options...]: NAME.pem signed by the test CA
issue() {
  local name=$1 section=$2 start=$3 end=$4
  shift 4
  openssl ca -config ca.cnf -batch -notext -preserveDN -cert ca.pem -keyfile ca.key \
    -in "$name.csr" -out "$name.pem" -extensions "$section" \
    -startdate "$start" -enddate "$end" "$@" 2>ca.log >/dev/null || { cat ca.log >&2; exit 1; }
}

# leaf NAME SECTION [START END [openssl ca options...]]: fresh P-256 key, device subject, issue
leaf() {
  local name=$1 section=$2 start=${3:-$leaf_start} end=${4:-$leaf_end}
  shift $(( $# < 4 ? $# : 4 ))
  key "$name"
  csr "$name" "/O=Hallmark Lint Test/serialNumber=SN-1/CN=$name"
  issue "$name" "$section" "$start" "$end" "$@"
}

edit() {  # edit EDIT IN OUT [ARG]
  python3 "$here/der_edit.py" "$@"
}

publish() {  # publish NAME...: copy NAME.pem here
  for n in "$@"; do cp "$n.pem" "$here/$n.pem"; done
}

rm -f "$here"/*.pem

# The test CA: self-signed root, P-256, SKI, valid 2026..2036 (so a leaf can outlive it).
key ca
csr ca "$ca_subject"
openssl ca -config ca.cnf -batch -notext -preserveDN -selfsign -keyfile ca.key -in ca.csr -out ca.pem \
  -extensions root -startdate 20260101000000Z -enddate 20360101000000Z 2>ca.log >/dev/null \
  || { cat ca.log >&2; exit 1; }
publish ca

# Clean certificates: each defect below is one change away from one of these.
leaf clean-ldevid ldevid
key clean-idevid
csr clean-idevid "/O=Hallmark Lint Test/serialNumber=SN-1/CN=clean-idevid"
issue clean-idevid idevid $leaf_start 99991231235959Z
key clean-intermediate
csr clean-intermediate "/O=Hallmark Lint Test/CN=Hallmark Lint Test Issuing CA"
issue clean-intermediate intermediate $leaf_start $leaf_end
publish clean-ldevid clean-idevid clean-intermediate

# HM-TIME-ENCODING: OpenSSL always picks the right type, so notAfter 2031 is re-typed as
# GeneralizedTime by hand (a UTCTime "after 2050" cannot exist: YY >= 50 means 19YY).
edit notafter-generalized clean-ldevid.pem hm-time-encoding.pem
publish hm-time-encoding

# HM-VALIDITY-ORDER: `openssl ca` accepts a start date after the end date.
leaf hm-validity-order ldevid 20310601000000Z 20270601000000Z
publish hm-validity-order

# HM-VALIDITY-ISSUER: outlives the CA (2036), starts before the CA (2026), and an IDevID
# with the 802.1AR no-expiry notAfter that starts before the CA (only notAfter is exempt).
leaf hm-validity-issuer ldevid $leaf_start 20400101000000Z
leaf hm-validity-issuer--starts-before-issuer ldevid 20250101000000Z $leaf_end
key hm-validity-issuer--no-expiry-starts-before-issuer
csr hm-validity-issuer--no-expiry-starts-before-issuer \
  "/O=Hallmark Lint Test/serialNumber=SN-1/CN=hm-validity-issuer--no-expiry-starts-before-issuer"
issue hm-validity-issuer--no-expiry-starts-before-issuer idevid 20250101000000Z 99991231235959Z
publish hm-validity-issuer hm-validity-issuer--starts-before-issuer \
  hm-validity-issuer--no-expiry-starts-before-issuer

# HM-SERIAL-POSITIVE: `openssl x509 -req -set_serial` takes negative numbers and zero.
for v in "hm-serial-positive:-5" "hm-serial-positive--zero:0"; do
  name=${v%%:*}
  key "$name"
  csr "$name" "/O=Hallmark Lint Test/serialNumber=SN-1/CN=$name"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -set_serial "${v#*:}" -days 365 \
    -sha256 -extfile ca.cnf -extensions ldevid -out "$name.pem" 2>/dev/null
  publish "$name"
done

# HM-SERIAL-LENGTH: 21 content octets (01 followed by 20 octets), via the serial file.
echo "01$(printf 'AB%.0s' {1..20})" > db/serial
leaf hm-serial-length ldevid
echo 2000 > db/serial
publish hm-serial-length

# HM-VERSION: `openssl ca` without extensions writes v1; self-signed so that no AKI is due.
key hm-version
csr hm-version "/O=Hallmark Lint Test/serialNumber=SN-1/CN=hm-version"
openssl ca -config ca.cnf -batch -notext -preserveDN -selfsign -keyfile hm-version.key \
  -in hm-version.csr -out hm-version.pem -extensions none \
  -startdate $leaf_start -enddate $leaf_end 2>ca.log >/dev/null || { cat ca.log >&2; exit 1; }
# ... and a v1 certificate that carries extensions (version field removed by hand).
edit drop-version clean-ldevid.pem hm-version--v1-with-extensions.pem
publish hm-version hm-version--v1-with-extensions

# HM-AKI-PRESENT: `authorityKeyIdentifier = none` (OpenSSL 3.0 adds one by default).
leaf hm-aki-present ldevid_no_aki
# ... and a self-issued but not self-signed CA certificate (key rollover) without AKI.
key hm-aki-present--self-issued-rollover
csr hm-aki-present--self-issued-rollover "$ca_subject"
issue hm-aki-present--self-issued-rollover rollover_no_aki $leaf_start $leaf_end
publish hm-aki-present hm-aki-present--self-issued-rollover

# HM-SKI-PRESENT: an intermediate CA with `subjectKeyIdentifier = none`.
key hm-ski-present
csr hm-ski-present "/O=Hallmark Lint Test/CN=hm-ski-present"
issue hm-ski-present intermediate_no_ski $leaf_start $leaf_end
publish hm-ski-present

# HM-KU-CA: keyCertSign on a non-CA; a CA without keyCertSign.
leaf hm-ku-ca ldevid_keycertsign
key hm-ku-ca--ca-without-keycertsign
csr hm-ku-ca--ca-without-keycertsign "/O=Hallmark Lint Test/CN=hm-ku-ca--ca-without-keycertsign"
issue hm-ku-ca--ca-without-keycertsign intermediate_no_keycertsign $leaf_start $leaf_end
publish hm-ku-ca hm-ku-ca--ca-without-keycertsign

# HM-BC-CA: a CA whose basicConstraints is not critical; pathLenConstraint on a non-CA;
# a well-formed CA certificate linted against a leaf profile (ldevid).
key hm-bc-ca
csr hm-bc-ca "/O=Hallmark Lint Test/CN=hm-bc-ca"
issue hm-bc-ca intermediate_bc_not_critical $leaf_start $leaf_end
leaf hm-bc-ca--pathlen-on-leaf ldevid_pathlen
leaf hm-bc-ca--ca-under-leaf-profile intermediate
publish hm-bc-ca hm-bc-ca--pathlen-on-leaf hm-bc-ca--ca-under-leaf-profile

# HM-SUBJECT-FIELDS: an IDevID without serialNumber; an intermediate without CN; an empty
# subject whose subjectAltName is not critical (RFC 5280 §4.1.2.6), under tls-server.
key hm-subject-fields
csr hm-subject-fields "/O=Hallmark Lint Test/CN=hm-subject-fields"
issue hm-subject-fields idevid $leaf_start 99991231235959Z
key hm-subject-fields--intermediate-without-cn
csr hm-subject-fields--intermediate-without-cn "/O=Hallmark Lint Test/OU=hm-subject-fields--intermediate-without-cn"
issue hm-subject-fields--intermediate-without-cn intermediate $leaf_start $leaf_end
key hm-subject-fields--empty-subject
openssl req -new -key hm-subject-fields--empty-subject.key -subj / -out hm-subject-fields--empty-subject.csr
issue hm-subject-fields--empty-subject tls_san_not_critical $leaf_start 20270601000000Z
publish hm-subject-fields hm-subject-fields--intermediate-without-cn hm-subject-fields--empty-subject

# HM-HWMODULE-ENCODING: hwSerialNum as UTF8String (openssl config `UTF8:`); the [0]
# EXPLICIT wrapper removed by hand; an empty hwSerialNum; an IDevID with no
# HardwareModuleName at all.
for v in "hm-hwmodule-encoding:idevid_hmn_utf8" "hm-hwmodule-encoding--empty-serial:idevid_hmn_empty" \
         "hm-hwmodule-encoding--missing:idevid_no_san"; do
  name=${v%%:*}
  key "$name"
  csr "$name" "/O=Hallmark Lint Test/serialNumber=SN-1/CN=$name"
  issue "$name" "${v#*:}" $leaf_start 99991231235959Z
  publish "$name"
done
edit hmn-unwrap clean-idevid.pem hm-hwmodule-encoding--no-explicit-wrapper.pem
publish hm-hwmodule-encoding--no-explicit-wrapper

# HM-KEY-ALLOWED: RSA-1024; secp256k1; P-256 with explicit curve parameters.
for v in "hm-key-allowed:rsa1024" "hm-key-allowed--secp256k1:secp256k1" \
         "hm-key-allowed--explicit-ec-params:p256-explicit"; do
  name=${v%%:*}
  key "$name" "${v#*:}"
  csr "$name" "/O=Hallmark Lint Test/serialNumber=SN-1/CN=$name"
  issue "$name" ldevid $leaf_start $leaf_end
  publish "$name"
done

# HM-SIG-ALG: ecdsa-with-SHA1 (`-md sha1`); outer signatureAlgorithm changed by hand to
# ecdsa-with-SHA384 while TBSCertificate.signature stays ecdsa-with-SHA256.
leaf hm-sig-alg ldevid $leaf_start $leaf_end -md sha1
edit outer-sigalg clean-ldevid.pem hm-sig-alg--outer-differs.pem 1.2.840.10045.4.3.3
publish hm-sig-alg hm-sig-alg--outer-differs

# HM-IDEVID-NOT-AFTER: an otherwise clean IDevID with a finite notAfter (inside the CA's).
key hm-idevid-not-after
csr hm-idevid-not-after "/O=Hallmark Lint Test/serialNumber=SN-1/CN=hm-idevid-not-after"
issue hm-idevid-not-after idevid $leaf_start 20351231000000Z
publish hm-idevid-not-after

# HM-EXT-DUPLICATE: the subjectKeyIdentifier repeated by hand.
edit duplicate-extension clean-ldevid.pem hm-ext-duplicate.pem 2.5.29.14
publish hm-ext-duplicate

# HM-PROFILE-VALIDITY: an LDevID that never expires (the IDevID's notAfter on another profile).
leaf hm-profile-validity ldevid $leaf_start 99991231235959Z
publish hm-profile-validity

# HM-PROFILE-EKU: an LDevID without extendedKeyUsage clientAuth (the [ldevid] section minus it).
leaf hm-profile-eku idevid_no_san
publish hm-profile-eku

echo "wrote $(ls "$here"/*.pem | wc -l) certificates to $here"
