"""`tools/bench static`: A queries for one static name, every server in one run."""

import os

from . import common, dnsperf, loadtest, servers, zonegen

ZONE = "bench.example"


def measure(args, binaries, workdir):
    zone_path = os.path.join(workdir, ZONE + ".zone")
    probe = zonegen.write_static(zone_path, ZONE)
    query_file = os.path.join(workdir, "queries.txt")
    with open(query_file, "w") as f:
        f.write(f"{probe[0]} A\n")
    settings = dnsperf.ClientSettings(args.clients, args.outstanding, args.dnsperf_threads,
                                      args.seconds)
    zones = [servers.Zone(ZONE, zone_path)]

    def maker(name):
        def make():
            server = common.make_server(name, workdir, args.threads, binaries)
            server.configure(zones)
            return server
        return make

    result = {"run": "static", "query": f"{probe[0]} A" + (" +EDNS" if args.edns else ""),
              "threads": args.threads, "rounds": args.rounds, "dnsperf": settings.as_dict()}
    contenders = [loadtest.Contender(n, maker(n)) for n in args.servers]
    return loadtest.compare(contenders, probe, query_file, settings, args.rounds, result,
                            extra=["-e"] if args.edns else [],
                            perf=args.syscalls)


def render(result):
    out = loadtest.render(result, f"static: {result['query']}")
    t = loadtest.target(result, ["gdnsd", "nsd"])
    if t:
        out.append(f"  issue 2 target (CPU/q <= and qps >= {' and '.join(t[0])}): "
                   f"{'met' if t[1] else 'NOT met'}")
    return "\n".join(out)
