"""`tools/bench geo`: a steered name answered by continent, with a different
ECS subnet per query (binary dnsperf file, -B), all servers in one run on
the same country database (--mmdb):

  meridiand          regions eu/na/as, one endpoint each, policy `geo` with
                     the continent map of geo.CONTINENT_MAP (full ordered
                     lists, as gdnsd gets them), set up through meridianctl
                     and the API, started with --geodb
  meridiand-nearest  the same with policy `nearest` (informational: no peer
                     does the same thing)
  meridiand-prefix10k  policy `geo` as meridiand, plus a 10,000-entry
                     prefix_map (/12 to /24 networks drawn from the same
                     allocated space, nested ones included), set with
                     `--prefix-map @FILE`
  meridiand-p2c      policy `p2c` over four endpoints per region, each with a
                     pushed load (`meridianctl endpoint load --set`); the
                     issue 11 goal for both: CPU per query within 10% of
                     meridiand's geo and of gdnsd's geoip
  gdnsd              geoip plugin, the same continent `map`, DYNA record
  pdns               LUA record calling continent() (needs pdns-backend-geoip),
                     enable-lua-records=yes: a fresh Lua state per query
  pdns-shared        the same with enable-lua-records=shared: one Lua state
                     per thread

Correctness: before the load, every server answers --check-samples of the
query file's subnets, compared with the map applied to mmdblookup's
continent (nearest: the region closest to the database's point;
prefix10k: the longest prefix_map entry's first region, else the continent
map; p2c: one of the first listed region's endpoints).
"""

import functools
import ipaddress
import json
import os
import random

from . import common, dnsperf, geo, loadtest, report, servers, zonegen

ZONE = "geo.example"
STEERED = "www"
TEST_MMDB = "/work/shared/testdata/geoip/GeoIP2-Country-Test.mmdb"
PDNS_GEOIP = "/usr/lib/x86_64-linux-gnu/pdns/libgeoipbackend.so"


def default_mmdb(build_dir):
    """Meridian's own default country DB when built (tor-geoipdb ranges, so
    every random subnet is found), else MaxMind's test DB (few networks, so
    most subnets fall to the map's default)."""
    own = os.path.join(build_dir, "geo", "meridian-default.mmdb")
    return own if os.path.exists(own) else TEST_MMDB


def _zone_with(path, extra):
    with open(path, "w") as f:
        f.write(zonegen.HEADER.format(zone=ZONE))
        f.write(extra)
    return servers.Zone(ZONE, path)


def geo_map_json():
    """The continent map as a steered name's geo_map: the same ordered
    region lists gdnsd's `map` gets, and DEFAULT for everything else."""
    return json.dumps({**geo.CONTINENT_MAP, "default": geo.DEFAULT}, separators=(",", ":"))


PREFIX_MAP_ENTRIES = 10_000
P2C_ENDPOINTS = 4  # per region, addresses region address + 0..3
P2C_LOADS = [40, 10, 30, 20]  # pushed for endpoints 1..4 of every region


def write_prefix_map(path, seed, ranges=None):
    """PREFIX_MAP_ENTRIES networks of /12 to /24 around addresses drawn as the
    queries are (so many queries fall in one), each to a shuffled region
    list. Returns {prefix length: {network address: first region}} for the
    expectation."""
    rng = random.Random(seed)
    ranges = ranges or geo.Ranges()
    entries, by_length = {}, {}
    while len(entries) < PREFIX_MAP_ENTRIES:
        length = rng.choice([12, 14, 16, 16, 18, 20, 20, 22, 24, 24, 24])
        network = ipaddress.IPv4Network(f"{ranges.random_address(rng)}/{length}", strict=False)
        regions = list(geo.REGIONS)
        rng.shuffle(regions)
        entries[str(network)] = regions
        by_length.setdefault(length, {})[str(network.network_address)] = regions[0]
    with open(path, "w") as f:
        json.dump(entries, f)
    return by_length


def expect_with_prefix_map(by_length, fallback):
    """expected(address): the longest entry's first region, else fallback."""
    def expected(address):
        for length in sorted(by_length, reverse=True):
            region = by_length[length].get(geo.network_of(address, length))
            if region:
                return geo.REGIONS[region][0]
        return fallback(address)
    return expected


def p2c_addresses(region):
    first = ipaddress.IPv4Address(geo.REGIONS[region][0])
    return [str(first + i) for i in range(P2C_ENDPOINTS)]


def setup_meridian(server, policy, prefix_map_file=None):
    """Regions, endpoints and the steered name, through meridianctl and the
    running meridiand's API."""
    server.wait_api()
    per_region = P2C_ENDPOINTS if policy == "p2c" else 1
    for name, (address, lat, lon) in geo.REGIONS.items():
        server.ctl("region", "add", name, "--lat", lat, "--lon", lon)
        for i, endpoint_address in enumerate(p2c_addresses(name)[:per_region]):
            server.ctl("endpoint", "add", f"{name}-{i + 1}", "--region", name,
                       "--address", endpoint_address, "--capacity", 100)
            if policy == "p2c":
                server.ctl("endpoint", "load", f"{name}-{i + 1}", "--set", P2C_LOADS[i])
    args = ["steering", "set", ZONE + ".", STEERED, "--type", "A", "--policy", policy,
            "--regions", ",".join(geo.DEFAULT), "--ttl", "30"]
    if policy == "geo":
        args += ["--geo-map", geo_map_json()]
    if prefix_map_file:
        args += ["--prefix-map", "@" + prefix_map_file]
    server.ctl(*args)
    # No ECS: the client is 127.0.0.1, found nowhere: `default` (geo), or
    # the first listed region (nearest has no point to measure from).
    # p2c: the less loaded of two draws, here always among the first region's
    # endpoints; the one with the lowest load is a possible answer.
    first = (p2c_addresses(geo.DEFAULT[0])[P2C_LOADS.index(min(P2C_LOADS))] if policy == "p2c"
             else geo.REGIONS[geo.DEFAULT[0]][0])
    server.wait_serving(f"{STEERED}.{ZONE}", first, timeout=10)


def measure(args, binaries, workdir):
    # Absolute: gdnsd reads relative names from its config dir, pdns from its cwd.
    mmdb = os.path.abspath(args.mmdb or default_mmdb(args.build_dir))
    name = f"{STEERED}.{ZONE}"
    query_file = os.path.join(workdir, "geo-queries.bin")
    subnets = geo.write_query_file(query_file, name, args.queries, args.prefix, args.seed)
    common.say(f"geo: {args.queries:,} queries for {name} A with random /{args.prefix} ECS "
               f"subnets from {geo.TOR_GEOIP}; database {mmdb}")
    settings = dnsperf.ClientSettings(args.clients, args.outstanding, args.dnsperf_threads,
                                      args.seconds)
    probe = ("ns1." + ZONE, "192.0.2.53")
    result = {"run": "geo", "query": f"{name} A, random ECS /{args.prefix}", "mmdb": mmdb,
              "threads": args.threads, "rounds": args.rounds, "dnsperf": settings.as_dict(),
              "geo_map": json.loads(geo_map_json()), "skipped": {}}
    contenders = []
    prefix_map_file = os.path.join(workdir, "prefix-map.json")
    prefix_by_length = None
    meridian_variants = ("meridiand", "meridiand-nearest", "meridiand-baseline",
                         "meridiand-prefix10k", "meridiand-p2c")
    for server_name in args.servers + (["meridiand-baseline"] if args.baseline else []):
        if server_name in meridian_variants:
            policy = {"meridiand-nearest": "nearest", "meridiand-p2c": "p2c"}.get(server_name,
                                                                                 "geo")
            build = args.baseline if server_name == "meridiand-baseline" else binaries
            map_file = None
            if server_name == "meridiand-prefix10k":
                prefix_by_length = write_prefix_map(prefix_map_file, args.seed)
                map_file = prefix_map_file

            def make_meridian(label=server_name, build=build):
                s = servers.Meridian(workdir, args.threads, build.meridiand,
                                     build.meridianctl, label=label)
                s.knows_defences = build is binaries
                s.extra_args = ["--geodb", mmdb]
                if label == "meridiand-p2c":
                    s.extra_args += ["--load-max-age", "86400"]  # pushed once, for every round
                s.enable_api()
                s.configure([_zone_with(os.path.join(workdir, f"geo-{label}.zone"), "")])
                return s
            contenders.append(loadtest.Contender(
                server_name, make_meridian,
                functools.partial(setup_meridian, policy=policy, prefix_map_file=map_file),
                peer="meridiand"))
        elif server_name == "gdnsd":
            def make_gdnsd():
                s = servers.Gdnsd(workdir, args.threads, plugins=geo.gdnsd_plugins(mmdb))
                s.configure([_zone_with(os.path.join(workdir, "geo-gdnsd.zone"),
                                        geo.gdnsd_record(STEERED))])
                return s
            contenders.append(loadtest.Contender("gdnsd", make_gdnsd))
        elif server_name in ("pdns", "pdns-shared"):
            if not os.path.exists(PDNS_GEOIP):
                result["skipped"][server_name] = ("pdns-backend-geoip not installed "
                                                  "(LUA geo functions)")
                continue

            def make_pdns(label=server_name):
                zones_yaml = os.path.join(workdir, f"{label}-geoip-zones.yaml")
                with open(zones_yaml, "w") as f:
                    f.write("domains: []\n")
                s = servers.Pdns(workdir, args.threads, launch="bind,geoip", label=label,
                                 extra_config=geo.pdns_config(mmdb, zones_yaml,
                                                              label == "pdns-shared"))
                s.configure([_zone_with(os.path.join(workdir, f"geo-{label}.zone"),
                                        geo.pdns_lua_record(STEERED))])
                return s
            contenders.append(loadtest.Contender(server_name, make_pdns, peer="pdns"))
        else:
            result["skipped"][server_name] = "no geo configuration for it"

    # Spread over the file; the expectations are looked up once for all servers.
    step = max(1, len(subnets) // max(1, args.check_samples))
    sample = subnets[::step][:args.check_samples]
    by_map = functools.lru_cache(maxsize=None)(geo.expect_by_map(mmdb))
    nearest = functools.lru_cache(maxsize=None)(geo.expect_nearest(mmdb))

    p2c_choices = frozenset(p2c_addresses(geo.DEFAULT[0]))
    expectations = {
        "meridiand-nearest": (nearest, "the nearest region"),
        "meridiand-p2c": (lambda address: p2c_choices,
                          f"one of {geo.DEFAULT[0]}'s endpoints"),
    }
    if prefix_by_length is not None:
        expectations["meridiand-prefix10k"] = (
            expect_with_prefix_map(prefix_by_length, by_map),
            "the prefix_map's region, else the continent map's")

    def check(server):
        expected, what = expectations.get(server.name, (by_map, "the region the map gives"))
        agree, asked, wrong = geo.check_answers(server.host, server.port, name, sample,
                                                expected, args.prefix)
        for line in wrong:
            common.warn(f"{server.name}: {line}")
        return {"agree": agree, "asked": asked, "wrong": wrong, "what": what}

    return loadtest.compare(contenders, probe, query_file, settings, args.rounds, result,
                            binary=True, check=check, perf=args.syscalls)


def render(result):
    out = loadtest.render(result, f"geo: {result['query']} ({os.path.basename(result['mmdb'])})")
    if "meridiand-nearest" in result["ratios"]:
        out.append("  (meridiand-nearest: the same meridiand setup with policy nearest; "
                   "informational, no peer)")
    t = loadtest.target(result, ["gdnsd"])
    if t:
        out.append(f"  issue 4 target (CPU/q <= and qps >= gdnsd): {'met' if t[1] else 'NOT met'}")
    out += _variant_lines(result)
    for peer in ("pdns", "pdns-shared"):
        t = loadtest.target(result, [peer], factor=50)
        if t:
            out.append(f"  issue 4 target (50x ahead of PowerDNS LUA, {peer}): "
                       f"{'met' if t[1] else 'NOT met'}")
    return "\n".join(out)


def _variant_lines(result):
    """Issue 11: the prefix_map and p2c variants' CPU per query against
    meridiand's geo and against gdnsd, per round (the rounds interleave, so
    each ratio compares runs minutes apart at most), median over rounds."""
    servers_run = result["servers"]
    out = []

    def per_round(name):
        return {r["round"]: r["server_cpu_us_per_q"] for r in servers_run[name]["rounds"]}

    for variant in ("meridiand-prefix10k", "meridiand-p2c"):
        if variant not in servers_run or "meridiand" not in servers_run:
            continue
        mine = per_round(variant)
        lines = []
        for other in ("meridiand", "gdnsd"):
            if other not in servers_run:
                continue
            theirs = per_round(other)
            ratios = [report.ratio(mine[k], theirs[k]) for k in mine if k in theirs]
            ratios = [x for x in ratios if x]
            if ratios:
                lines.append((other, report.median(ratios)))
        for other, ratio in lines:
            out.append(f"  {variant}/{other} CPU per query (< 1.10 is within 10%) = {ratio:.2f}")
        if lines:
            met = all(ratio <= 1.10 for _, ratio in lines)
            out.append(f"  issue 11 target ({variant} CPU/q within 10% of "
                       f"{' and '.join(o for o, _ in lines)}): {'met' if met else 'NOT met'}")
    return out
