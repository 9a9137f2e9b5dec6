"""`tools/bench geo`: a steered name answered by continent, with a different
ECS subnet per query (binary dnsperf file, -B), all servers in one run on
the same country database (--mmdb):

  meridiand          regions eu/na/as, one endpoint each, policy `geo` with
                     the continent map of geo.CONTINENT_MAP (full ordered
                     lists, as gdnsd gets them), set up through meridianctl
                     and the API, started with --geodb
  meridiand-nearest  the same with policy `nearest` (informational: no peer
                     does the same thing)
  gdnsd              geoip plugin, the same continent `map`, DYNA record
  pdns               LUA record calling continent() (needs pdns-backend-geoip),
                     enable-lua-records=yes: a fresh Lua state per query
  pdns-shared        the same with enable-lua-records=shared: one Lua state
                     per thread

Correctness: before the load, every server answers --check-samples of the
query file's subnets, compared with the map applied to mmdblookup's
continent (nearest: the region closest to the database's point).
"""

import functools
import json
import os

from . import common, dnsperf, geo, loadtest, servers, zonegen

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


def setup_meridian(server, policy):
    """Regions, endpoints and the steered name, through meridianctl and the
    running meridiand's API."""
    server.wait_api()
    for name, (address, lat, lon) in geo.REGIONS.items():
        server.ctl("region", "add", name, "--lat", lat, "--lon", lon)
        server.ctl("endpoint", "add", f"{name}-1", "--region", name, "--address", address)
    args = ["steering", "set", ZONE + ".", STEERED, "--type", "A", "--policy", policy,
            "--regions", ",".join(geo.DEFAULT), "--ttl", "30"]
    if policy == "geo":
        args += ["--geo-map", geo_map_json()]
    server.ctl(*args)
    # No ECS: the client is 127.0.0.1, found nowhere: `default` (geo), or
    # the first listed region (nearest has no point to measure from).
    server.wait_serving(f"{STEERED}.{ZONE}", geo.REGIONS[geo.DEFAULT[0]][0], timeout=10)


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
    for server_name in args.servers + (["meridiand-baseline"] if args.baseline else []):
        if server_name in ("meridiand", "meridiand-nearest", "meridiand-baseline"):
            policy = "nearest" if server_name.endswith("nearest") else "geo"
            build = args.baseline if server_name == "meridiand-baseline" else binaries

            def make_meridian(label=server_name, build=build):
                s = servers.Meridian(workdir, args.threads, build.meridiand,
                                     build.meridianctl, label=label)
                s.knows_defences = build is binaries
                s.extra_args = ["--geodb", mmdb]
                s.enable_api()
                s.configure([_zone_with(os.path.join(workdir, f"geo-{label}.zone"), "")])
                return s
            contenders.append(loadtest.Contender(
                server_name, make_meridian, functools.partial(setup_meridian, policy=policy),
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

    def check(server):
        nearest_policy = server.name == "meridiand-nearest"
        agree, asked, wrong = geo.check_answers(server.host, server.port, name, sample,
                                                nearest if nearest_policy else by_map,
                                                args.prefix)
        for line in wrong:
            common.warn(f"{server.name}: {line}")
        return {"agree": agree, "asked": asked, "wrong": wrong,
                "what": "the nearest region" if nearest_policy else "the region the map gives"}

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
    for peer in ("pdns", "pdns-shared"):
        t = loadtest.target(result, [peer], factor=50)
        if t:
            out.append(f"  issue 4 target (50x ahead of PowerDNS LUA, {peer}): "
                       f"{'met' if t[1] else 'NOT met'}")
    return "\n".join(out)
