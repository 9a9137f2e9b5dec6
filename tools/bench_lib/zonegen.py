"""Zone files for the runs. Every server loads the same file."""

import ipaddress
import os

HEADER = """$ORIGIN {zone}.
$TTL 300
@ IN SOA ns1 hostmaster 2024010101 3600 600 86400 300
@ IN NS ns1
@ IN NS ns2
ns1 IN A 192.0.2.53
ns2 IN A 192.0.2.54
"""
HEADER_RECORDS = 5  # SOA, 2 NS, 2 A

STATIC_NAME = "www"
STATIC_ADDRESS = "192.0.2.1"


def write_static(path, zone):
    """A small zone with one static A name (www)."""
    with open(path, "w") as f:
        f.write(HEADER.format(zone=zone))
        f.write(f"{STATIC_NAME} IN A {STATIC_ADDRESS}\n")
        f.write("mail IN A 192.0.2.25\n@ IN MX 10 mail\n")
    return f"{STATIC_NAME}.{zone}", STATIC_ADDRESS


def write_static_names(path, zone, count):
    """The static zone plus `count` more A names, h0 .. h<count-1>; returns
    the probe and the names (fully qualified), for a query file that spreads
    the load over many names (tools/bench static --rrl)."""
    probe = write_static(path, zone)
    names = [f"h{i}.{zone}" for i in range(count)]
    with open(path, "a") as f:
        for i in range(count):
            f.write(f"h{i} IN A {host_address(i)}\n")
    return probe, names


# Addresses come from 198.18.0.0/15 (RFC 2544, benchmarking): 131072 of them,
# reused round-robin; the data only has to be distinct enough to be realistic.
_BASE = int(ipaddress.IPv4Address("198.18.0.0"))


def host_address(i):
    return str(ipaddress.IPv4Address(_BASE + i % 131072))


def write_big(path, zone, records):
    """A zone of exactly `records` records, one per name, mostly A.

    Per 10 names: 7 A, 1 AAAA, 1 TXT, 1 MX, so the file looks like a real
    hosting zone rather than one RRset type. Returns (probe name, address):
    the last A name, whose answer proves the whole zone has been loaded
    (NSD and Knot load a zone all or nothing; Meridian serves only complete
    snapshots).
    """
    if records < HEADER_RECORDS + 1:
        raise ValueError(f"--records must be at least {HEADER_RECORDS + 1}")
    count = records - HEADER_RECORDS
    last_a = max(i for i in range(max(0, count - 10), count) if i % 10 < 7)
    with open(path, "w") as f:
        f.write(HEADER.format(zone=zone))
        chunk = []
        for i in range(count):
            kind = i % 10
            if kind < 7:
                chunk.append(f"h{i} IN A {host_address(i)}\n")
            elif kind == 7:
                chunk.append(f"h{i} IN AAAA 2001:db8::{i >> 16:x}:{i & 0xFFFF:x}\n")
            elif kind == 8:
                chunk.append(f'h{i} IN TXT "v=spf1 ip4:{host_address(i)} -all"\n')
            else:
                chunk.append(f"h{i} IN MX 10 h{i - 9}\n")
            if len(chunk) >= 10000:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))
    return f"h{last_a}.{zone}", host_address(last_a)


def file_mb(path):
    return os.path.getsize(path) / 1e6
