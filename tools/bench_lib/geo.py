"""Pieces of the geo run that do not depend on Meridian's steering code:
the random-ECS query file, the continent map, and the peers' configs.

Every server gets the same policy: three regions and a continent map.
"""

import bisect
import ipaddress
import math
import random
import shutil
import socket
import struct
import subprocess

from . import dnsmsg

TOR_GEOIP = "/usr/share/tor/geoip"

REGIONS = {  # name: (address, latitude, longitude)
    "eu": ("192.0.2.10", 50.1, 8.7),
    "na": ("192.0.2.20", 38.9, -77.0),
    "as": ("192.0.2.30", 1.3, 103.8),
}
# Continent -> ordered regions; anything else (AN, unknown) -> DEFAULT.
CONTINENT_MAP = {
    "EU": ["eu", "na", "as"],
    "AF": ["eu", "na", "as"],
    "NA": ["na", "eu", "as"],
    "SA": ["na", "eu", "as"],
    "AS": ["as", "eu", "na"],
    "OC": ["as", "na", "eu"],
}
DEFAULT = ["na", "eu", "as"]


def expected_address(continent):
    return REGIONS[CONTINENT_MAP.get(continent, DEFAULT)[0]][0]


class Ranges:
    """Allocated IPv4 space from tor-geoipdb ("FROM,TO,CC" lines, integers),
    without the '??' (unassigned) ranges."""

    def __init__(self, path=TOR_GEOIP):
        self.starts, self.ends, self.cumulative = [], [], []
        total = 0
        with open(path) as f:
            for line in f:
                if line.startswith("#"):
                    continue
                first, last, cc = line.strip().split(",")
                if cc == "??":
                    continue
                self.starts.append(int(first))
                self.ends.append(int(last))
                total += int(last) - int(first) + 1
                self.cumulative.append(total)
        self.total = total

    def random_address(self, rng):
        """Uniform over allocated addresses, so big allocations (and so the
        countries that hold most of the space) get most queries, as in real
        resolver traffic more than a per-range draw would."""
        k = rng.randrange(self.total)
        i = bisect.bisect_right(self.cumulative, k)
        before = self.cumulative[i - 1] if i else 0
        return str(ipaddress.IPv4Address(self.starts[i] + (k - before)))


def write_query_file(path, name, count, prefix=24, seed=1, ranges=None):
    """dnsperf -B file: per query, a 2-byte big-endian length then the message
    (A query for `name`, EDNS with an ECS option for a random subnet).
    dnsperf overwrites the first two bytes (the ID). Returns the subnets."""
    ranges = ranges or Ranges()
    rng = random.Random(seed)
    subnets = []
    with open(path, "wb") as f:
        for _ in range(count):
            address = ranges.random_address(rng)
            msg = dnsmsg.build_query(name, msg_id=0, ecs=(address, prefix))
            f.write(struct.pack("!H", len(msg)) + msg)
            subnets.append(address)
    return subnets


def _mmdb_values(mmdb, address, *path):
    """Values at `path` for an address via mmdblookup (mmdb-bin); [] when
    the address is not in the database or mmdblookup is missing."""
    if shutil.which("mmdblookup") is None:
        return []
    out = subprocess.run(["mmdblookup", "--file", mmdb, "--ip", address, *path],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return []
    return out.stdout.split()


def continent_of(mmdb, address):
    """Continent code for an address, or None."""
    values = _mmdb_values(mmdb, address, "continent", "code")
    return values[0].strip('"') if values else None


def location_of(mmdb, address):
    """(latitude, longitude) for an address, or None."""
    lat = _mmdb_values(mmdb, address, "location", "latitude")
    lon = _mmdb_values(mmdb, address, "location", "longitude")
    if not lat or not lon:
        return None
    return float(lat[0]), float(lon[0])


def great_circle_km(a, b):
    """Haversine distance on a 6371 km sphere. Worked example: Frankfurt
    (50.1, 8.7) to Washington (38.9, -77.0) is about 6,530 km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2 +
         math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def network_of(address, prefix):
    """The ECS subnet's address as the server sees it: host bits cleared."""
    return str(ipaddress.IPv4Network(f"{address}/{prefix}", strict=False).network_address)


def expect_by_map(mmdb):
    """expected(address) for the continent map (unknown continent: DEFAULT)."""
    return lambda address: expected_address(continent_of(mmdb, address))


def expect_nearest(mmdb):
    """expected(address) for policy nearest: the region closest to the
    database's point for the address; None (not checked) without a point, or
    when two regions are within 1 km of a tie."""
    def expected(address):
        point = location_of(mmdb, address)
        if point is None:
            return None
        ranked = sorted((great_circle_km(point, (lat, lon)), a)
                        for a, lat, lon in REGIONS.values())
        return ranked[0][1] if ranked[1][0] - ranked[0][0] > 1.0 else None
    return expected


def gdnsd_plugins(mmdb):
    """gdnsd geoip plugin: one map by continent, one resource `gslb`."""
    dcs = ", ".join(REGIONS)
    rows = "\n".join(f"          {c} => [ {', '.join(r)} ]" for c, r in CONTINENT_MAP.items())
    dcmap = "\n".join(f"          {n} => {a[0]}" for n, a in REGIONS.items())
    return f"""plugins => {{
  geoip => {{
    maps => {{
      bench => {{
        geoip2_db => {mmdb}
        datacenters => [ {dcs} ]
        map => {{
          default => [ {', '.join(DEFAULT)} ]
{rows}
        }}
      }}
    }}
    resources => {{
      gslb => {{
        map => bench
        dcmap => {{
{dcmap}
        }}
      }}
    }}
  }}
}}
"""


def gdnsd_record(owner, ttl=30):
    return f"{owner} {ttl} DYNA geoip!gslb\n"


def pdns_lua_record(owner, ttl=30):
    """A LUA record doing what the continent map does (first region only)."""
    branches = []
    by_region = {}
    for continent, regions in CONTINENT_MAP.items():
        by_region.setdefault(regions[0], []).append(continent)
    for region, continents in by_region.items():
        listed = ",".join(f"'{c}'" for c in continents)
        branches.append(f"continent({{{listed}}}) then return '{REGIONS[region][0]}'")
    script = ";if " + " elseif ".join(branches) + \
        f" else return '{REGIONS[DEFAULT[0]][0]}' end"
    return f'{owner} {ttl} IN LUA A "{script}"\n'


def pdns_config(mmdb, geoip_zones_file, shared=False):
    """Settings for LUA records with geo functions (needs pdns-backend-geoip).
    shared: one Lua state per thread (enable-lua-records=shared) instead of
    the default fresh state per query."""
    return [
        "enable-lua-records=" + ("shared" if shared else "yes"),
        "edns-subnet-processing=yes",
        f"geoip-database-files=mmdb:{mmdb}",
        f"geoip-zones-file={geoip_zones_file}",
    ]


def check_answers(host, port, name, subnets, expected, prefix=24):
    """Asks the server for each subnet and compares the answer with
    expected(network address): an address, a frozenset of acceptable ones,
    or None (not checked). Returns (agree, asked,
    first few disagreements as "subnet: got X, expected Y")."""
    agree = asked = 0
    wrong = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        for address in subnets:
            network = network_of(address, prefix)
            want = expected(network)
            if want is None:
                continue
            msg_id = random.randrange(65536)
            query = dnsmsg.build_query(name, msg_id=msg_id, ecs=(address, prefix))
            got = None
            try:
                sock.sendto(query, (host, port))
                while got is None:  # skip a late answer to an earlier query
                    got = dnsmsg.answer_addresses(sock.recv(4096), msg_id)
            except OSError:
                got = None
            asked += 1
            # A set: any one of them is right (a policy that picks by chance).
            acceptable = want if isinstance(want, frozenset) else {want}
            if got and got[0] == 0 and len(got[1]) == 1 and got[1][0] in acceptable:
                agree += 1
            elif len(wrong) < 5:
                wrong.append(f"{network}/{prefix}: got {got}, expected {want}")
    return agree, asked, wrong
