"""The geo run, and hooks for runs the lead will ask for later.

geo: a steered name (www.geo.example A, TTL 30) answered by continent, with a
different ECS subnet per query (binary dnsperf file, -B), against
  - meridiand: regions eu/na/as, one endpoint each, `geo` policy with the
    same continent map, set up through meridianctl once the API and --geodb
    exist in meridiand (setup_meridian_geo; skipped with the reason until then)
  - gdnsd: geoip plugin, continent `map`, DYNA record
  - pdns: LUA record calling continent() (needs pdns-backend-geoip)
all on the same country database (--mmdb).
"""

import os
import subprocess

from . import common, dnsperf, geo, loadtest, servers, zonegen

ZONE = "geo.example"
STEERED = "www"
TEST_MMDB = "/work/shared/testdata/geoip/GeoIP2-Country-Test.mmdb"


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


def setup_meridian_geo(server, mmdb):
    """Creates the regions, endpoints and the steered name in a running
    meridiand through meridianctl (API). Hook: untested until meridiand has
    --api-listen; needs the server started with --geodb mmdb and the API."""
    ctl = [server.meridianctl, "--api", server.api_url, "--token-file", server.db + ".token"]
    for name, (address, lat, lon) in geo.REGIONS.items():
        subprocess.run(ctl + ["region", "add", name, "--lat", str(lat), "--lon", str(lon)],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(ctl + ["endpoint", "add", f"{name}-1", "--region", name,
                              "--address", address], check=True, stdout=subprocess.DEVNULL)
    geo_map = ";".join(f"{c}={r[0]}" for c, r in geo.CONTINENT_MAP.items())
    subprocess.run(ctl + ["steering", "set", ZONE + ".", STEERED, "--type", "A",
                          "--policy", "geo", "--regions", ",".join(geo.DEFAULT),
                          "--geo-map", f"{geo_map};default={geo.DEFAULT[0]}", "--ttl", "30"],
                   check=True, stdout=subprocess.DEVNULL)


def _meridian_geo_missing(binaries):
    text = subprocess.run([binaries.meridiand, "--help"], capture_output=True, text=True).stdout
    missing = [flag for flag in ("--geodb", "--api-listen") if flag not in text]
    return f"meridiand has no {' or '.join(missing)} yet" if missing else None


def geo_measure(args, binaries, workdir):
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
              "skipped": {}}
    contenders = []
    for server_name in args.servers:
        if server_name == "meridiand":
            why = _meridian_geo_missing(binaries)
            if why:
                result["skipped"]["meridiand"] = why
                common.say(f"skipping meridiand: {why}")
                continue

            def make_meridian():
                s = servers.Meridian(workdir, args.threads, binaries.meridiand,
                                     binaries.meridianctl)
                s.api_url = f"http://127.0.0.1:{servers.free_port()}"
                s.extra_args = ["--geodb", mmdb, "--api-listen", s.api_url[len("http://"):]]
                s.configure([_zone_with(os.path.join(workdir, "geo-meridian.zone"), "")])
                return s
            contenders.append(loadtest.Contender(
                "meridiand", make_meridian, lambda s: _setup_and_wait(s, mmdb, name)))
        elif server_name == "gdnsd":
            def make_gdnsd():
                s = servers.Gdnsd(workdir, args.threads, plugins=geo.gdnsd_plugins(mmdb))
                s.configure([_zone_with(os.path.join(workdir, "geo-gdnsd.zone"),
                                        geo.gdnsd_record(STEERED))])
                return s
            contenders.append(loadtest.Contender("gdnsd", make_gdnsd))
        elif server_name == "pdns":
            if not os.path.exists("/usr/lib/x86_64-linux-gnu/pdns/libgeoipbackend.so"):
                result["skipped"]["pdns"] = "pdns-backend-geoip not installed (LUA geo functions)"
                continue

            def make_pdns():
                zones_yaml = os.path.join(workdir, "pdns-geoip-zones.yaml")
                with open(zones_yaml, "w") as f:
                    f.write("domains: []\n")
                s = servers.Pdns(workdir, args.threads, launch="bind,geoip",
                                 extra_config=geo.pdns_config(mmdb, zones_yaml,
                                                              args.pdns_lua_shared))
                s.configure([_zone_with(os.path.join(workdir, "geo-pdns.zone"),
                                        geo.pdns_lua_record(STEERED))])
                return s
            contenders.append(loadtest.Contender("pdns", make_pdns))
        else:
            result["skipped"][server_name] = "no geo configuration for it"

    def check(server):
        agree, asked = geo.check_answers(server.host, server.port, name, subnets, mmdb,
                                         args.prefix)
        return {"agree": agree, "asked": asked}

    return loadtest.compare(contenders, probe, query_file, settings, args.rounds, result,
                            binary=True, check=check,
                            perf=args.syscalls)


def _setup_and_wait(server, mmdb, name):
    setup_meridian_geo(server, mmdb)
    address = geo.REGIONS[geo.DEFAULT[0]][0]  # no ECS: the source 127.0.0.1 -> default
    server.wait_serving(name, address, timeout=10)


def geo_render(result):
    out = loadtest.render(result, f"geo: {result['query']} ({os.path.basename(result['mmdb'])})")
    t = loadtest.target(result, ["gdnsd"])
    if t:
        out.append(f"  issue 4 target (CPU/q <= and qps >= gdnsd): {'met' if t[1] else 'NOT met'}")
    t = loadtest.target(result, ["pdns"], factor=50)
    if t:
        out.append(f"  issue 4 target (50x ahead of PowerDNS LUA): {'met' if t[1] else 'NOT met'}")
    return "\n".join(out)


def api_measure(args, binaries, workdir):
    """Hook: API write throughput while dnsperf keeps DNS load running.

    Plan: start meridiand with the API; run dnsperf (static name) in the
    background for the whole run; create endpoints through the API
    (tools/meridianctl's meridian-api-bench, or meridianctl in a loop) and
    report endpoints created per second; for a sample of writes, time from the
    API's 2xx to the first DNS answer that reflects it (poll with
    dnsmsg.query_once every 1 ms) and report the median and p99 of that
    write->DNS delay; report DNS qps and lost queries during the writes next
    to the same run without writes.
    """
    raise SystemExit("bench: the api run is not implemented yet (see run_later.api_measure)")


def healthd_measure(args, binaries, workdir):
    """Hook: healthd. CPU per probe and peak memory are measured by
    tools/bench-healthd (another helper's script), which this delegates to.
    Still to add here: the time from an endpoint's listener going down to the
    steered answer changing (median/p99), with dnsperf load running, against
    meridiand + meridian-healthd."""
    script = os.path.join(common.REPO, "tools", "bench-healthd")
    if not os.access(script, os.X_OK):
        raise SystemExit("bench: the healthd run is not implemented yet (no tools/bench-healthd)")
    cmd = [script, "--build-dir", args.build_dir]
    if args.no_build:
        cmd.append("--no-build")
    if args.json:
        cmd += ["--json", args.json]
    if args.keep:
        cmd.append("--keep")
    subprocess.run(cmd, check=True)
    return None  # bench-healthd printed (and saved) its own results
