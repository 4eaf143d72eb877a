#!/usr/bin/env python3
"""Hand-edits a DER certificate to make a lint fixture that OpenSSL refuses to produce.

Usage: der_edit.py EDIT IN.pem OUT.pem [ARGUMENT]

Edits (each changes one thing; lengths are re-encoded, nothing else moves):
  notafter-generalized   notAfter UTCTime YYMMDDHHMMSSZ -> GeneralizedTime 20YYMMDDHHMMSSZ
                         (same instant, wrong type: RFC 5280 4.1.2.5 wants UTCTime before 2050)
  duplicate-extension O  repeat the extension with OID O right after itself
  hmn-unwrap             HardwareModuleName otherName value: drop the [0] EXPLICIT wrapper so the
                         SEQUENCE sits directly in the otherName (RFC 5280 4.2.1.6 / RFC 4108 5)
  outer-sigalg O         replace the outer signatureAlgorithm OID with O (TBS keeps its own)
  drop-version           remove the version field (v1) and keep the extensions

The signature is left as it was, so it no longer verifies: the linter does not verify signatures.
Only the Python standard library is used.
"""
import base64
import re
import sys


class Node:
    def __init__(self, tag, content=None, children=None):
        self.tag = tag
        self.content = content      # bytes for primitive nodes
        self.children = children    # list of Node for constructed nodes

    def encode(self):
        body = b"".join(c.encode() for c in self.children) if self.children is not None else self.content
        return bytes([self.tag]) + encode_length(len(body)) + body


def encode_length(n):
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def parse_one(data, pos):
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not used in certificates")
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        count = n & 0x7F
        n = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    body = data[pos:pos + n]
    if len(body) != n:
        raise ValueError("truncated DER")
    if tag & 0x20:
        return Node(tag, children=parse_all(body)), pos + n
    return Node(tag, content=body), pos + n


def parse_all(data):
    out, pos = [], 0
    while pos < len(data):
        node, pos = parse_one(data, pos)
        out.append(node)
    return out


def parse(data):
    node, end = parse_one(data, 0)
    if end != len(data):
        raise ValueError("trailing data after DER")
    return node


def oid_encode(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([arcs[0] * 40 + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def read_pem(path):
    text = open(path, encoding="ascii").read()
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    if not m:
        raise ValueError(path + ": no CERTIFICATE block")
    return base64.b64decode("".join(m.group(1).split()))


def write_pem(path, der):
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    with open(path, "w", encoding="ascii") as f:
        f.write("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n")


def tbs_fields(cert):
    """Returns the TBSCertificate children and the index of the serial number."""
    tbs = cert.children[0].children
    return tbs, (1 if tbs[0].tag == 0xA0 else 0)


def extensions(cert):
    tbs, _ = tbs_fields(cert)
    for node in tbs:
        if node.tag == 0xA3:
            return node.children[0].children
    raise ValueError("certificate has no extensions")


def find_extension(cert, dotted):
    exts = extensions(cert)
    for i, ext in enumerate(exts):
        if ext.children[0].content == oid_encode(dotted):
            return exts, i
    raise ValueError("extension " + dotted + " not found")


def notafter_generalized(cert, _):
    tbs, s = tbs_fields(cert)
    not_after = tbs[s + 3].children[1]
    if not_after.tag != 0x17:
        raise ValueError("notAfter is not a UTCTime")
    not_after.tag = 0x18
    not_after.content = b"20" + not_after.content  # UTCTime years this side of 2050 are 20YY


def duplicate_extension(cert, dotted):
    exts, i = find_extension(cert, dotted)
    exts.insert(i + 1, parse(exts[i].encode()))


def hmn_unwrap(cert, _):
    exts, i = find_extension(cert, "2.5.29.17")
    value = exts[i].children[-1]
    names = parse(value.content)
    done = False
    for name in names.children:
        if name.tag == 0xA0 and name.children[0].content == oid_encode("1.3.6.1.5.5.7.8.4"):
            wrapper = name.children[1]
            if wrapper.tag != 0xA0:
                raise ValueError("HardwareModuleName is already unwrapped")
            name.children[1] = wrapper.children[0]
            done = True
    if not done:
        raise ValueError("no HardwareModuleName otherName in subjectAltName")
    value.content = names.encode()


def outer_sigalg(cert, dotted):
    cert.children[1].children[0].content = oid_encode(dotted)


def drop_version(cert, _):
    tbs, s = tbs_fields(cert)
    if s != 1:
        raise ValueError("certificate is already v1")
    del tbs[0]


EDITS = {
    "notafter-generalized": notafter_generalized,
    "duplicate-extension": duplicate_extension,
    "hmn-unwrap": hmn_unwrap,
    "outer-sigalg": outer_sigalg,
    "drop-version": drop_version,
}


def main(argv):
    if len(argv) not in (4, 5) or argv[1] not in EDITS:
        sys.exit(__doc__)
    cert = parse(read_pem(argv[2]))
    EDITS[argv[1]](cert, argv[4] if len(argv) == 5 else None)
    write_pem(argv[3], cert.encode())


if __name__ == "__main__":
    main(sys.argv)
