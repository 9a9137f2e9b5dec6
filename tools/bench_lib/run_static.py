"""`tools/bench static`: A queries for one static name, every server in one run.

With --rrl, the cost of meridiand's abuse defences at their default settings
(response rate limiting at 200 per second per client /24 and answer, slip 2,
DNS cookies on) next to meridiand with both off:

  meridiand         --rrl-rate 0 --no-cookies (the baseline)
  meridiand-rrl     the defaults; plain queries, so every answer is charged
                    to a rate-limit bucket (hash, table probe, compare-and-swap)
  meridiand-cookie  the defaults; every query carries a valid server cookie
                    (dnsperf -E), so each is verified and a fresh one minted
                    (two SipHash-2-4 runs), and none is charged

dnsperf sends from one address, one /24, so one name would be rate limited:
the query file instead spreads the load over --names names (1,000 by
default: 100 per second per name at 100,000 qps, half the rate), like a
resolver asking for many names. meridiand-rrl's /metrics is read after the
run, so the report says whether anything was limited after all.

On a busy machine the end-to-end CPU per query (mostly the kernel's) varies
by more than 5% from round to round, so --rrl also runs query_path_bench
(tests/server/query_path_bench.cc): the thread CPU of handleQuery alone,
minimum over 40 short runs, off and with RRL or a cookie, which is stable to
a nanosecond or two; the report sets the difference against the end-to-end
CPU per query.
"""

import json
import os
import subprocess

from . import common, dnsmsg, dnsperf, loadtest, servers, zonegen

ZONE = "bench.example"
RRL_RATE = 200  # meridiand's default --rrl-rate


def measure(args, binaries, workdir):
    zone_path = os.path.join(workdir, ZONE + ".zone")
    rrl = getattr(args, "rrl", False)
    query_file = os.path.join(workdir, "queries.txt")
    if rrl:
        probe, names = zonegen.write_static_names(zone_path, ZONE, args.names)
        with open(query_file, "w") as f:
            f.writelines(f"{name} A\n" for name in names)
        query = f"{args.names} names, A"
    else:
        probe = zonegen.write_static(zone_path, ZONE)
        with open(query_file, "w") as f:
            f.write(f"{probe[0]} A\n")
        query = f"{probe[0]} A"
    settings = dnsperf.ClientSettings(args.clients, args.outstanding, args.dnsperf_threads,
                                      args.seconds)
    zones = [servers.Zone(ZONE, zone_path)]

    def maker(name):
        def make():
            if name == "meridiand-baseline":
                server = servers.Meridian(workdir, args.threads, args.baseline.meridiand,
                                          args.baseline.meridianctl, label=name)
                server.knows_defences = False
            elif name.startswith("meridiand"):
                server = servers.Meridian(workdir, args.threads, binaries.meridiand,
                                          binaries.meridianctl, label=name)
                server.defences = name != "meridiand"
                if server.defences:
                    server.enable_api()  # to read the RRL counters afterwards
            else:
                server = common.make_server(name, workdir, args.threads, binaries)
            server.configure(zones)
            return server
        return make

    contenders = []
    more = (["meridiand-rrl", "meridiand-cookie"] if rrl else []) + \
        (["meridiand-baseline"] if args.baseline else [])
    for name in args.servers + more:
        if name in [c.name for c in contenders]:
            continue
        contender = loadtest.Contender(name, maker(name),
                                       peer="meridiand" if name.startswith("meridiand") else None)
        if name == "meridiand-cookie":
            def setup(server, contender=contender):
                # A cookie for 127.0.0.1 (dnsperf's address), valid for an hour.
                cookie = dnsmsg.fetch_cookie(server.host, server.port, probe[0])
                contender.extra = ["-e", "-E", f"10:{cookie.hex()}"]
            contender.setup = setup
        contenders.append(contender)

    def after(server, info):
        if getattr(server, "defences", False):  # meridiand-rrl and -cookie
            m = server.metrics()
            info["rrl_limited"] = sum(v for k, v in m.items()
                                      if k.startswith("meridian_rrl_limited_total"))
            info["cookies_valid"] = m.get('meridian_dns_cookies_total{state="valid"}', 0)

    result = {"run": "static", "query": query + (" +EDNS" if args.edns else ""),
              "threads": args.threads, "rounds": args.rounds, "dnsperf": settings.as_dict(),
              "rrl": rrl, "names": args.names if rrl else 1}
    loadtest.compare(contenders, probe, query_file, settings, args.rounds, result,
                     extra=["-e"] if args.edns else [], perf=args.syscalls, after=after)
    if rrl:
        tool = os.path.join(os.path.abspath(args.build_dir), "tests", "server", "query_path_bench")
        if os.access(tool, os.X_OK):
            run = subprocess.run([tool, "--rounds", "40"], capture_output=True, text=True)
            if run.returncode == 0:
                result["query_path"] = json.loads(run.stdout)
            else:
                common.warn(f"query_path_bench exited {run.returncode}: {run.stderr[-500:]}")
        else:
            common.warn(f"{tool} is missing (a build with tests): no query-path figures")
    return result


def render(result):
    out = loadtest.render(result, f"static: {result['query']}")
    t = loadtest.target(result, ["gdnsd", "nsd"])
    if t:
        out.append(f"  issue 2 target (CPU/q <= and qps >= {' and '.join(t[0])}): "
                   f"{'met' if t[1] else 'NOT met'}")
    if result.get("rrl"):
        out.append("\nabuse defences at their defaults, next to meridiand with both off "
                   "(issue 9 target: CPU per answered query within 5%)")
        for name, what in (("meridiand-rrl", "RRL on, plain queries"),
                           ("meridiand-cookie", "RRL on, every query with a valid cookie")):
            r = result["ratios"].get(name)
            data = result["servers"].get(name, {})
            if not r:
                continue
            cpu = r["cpu_per_q"]
            verdict = "-" if cpu is None else ("met" if cpu <= 1.05 else "NOT met")
            out.append(f"  {name} ({what}): CPU per query {cpu:.3f}x of off: {verdict}; "
                       f"limited {data.get('rrl_limited', 0):,.0f}, valid cookies "
                       f"{data.get('cookies_valid', 0):,.0f}")
            if data.get("rrl_limited"):
                out.append(f"  warning: {name} rate-limited answers: lower the load or raise "
                           f"--names (each name may get {RRL_RATE} per second)")
        qp = result.get("query_path")
        if qp:
            base = result["servers"].get("meridiand", {}).get("median", {})
            e2e = base.get("server_cpu_us_per_q")
            rrl_extra = qp["rrl_ns"] - qp["off_ns"]
            cookie_extra = qp["cookie_ns"] - qp["edns_ns"]
            share = (lambda ns: f" = {100 * ns / (e2e * 1000):.1f}% of the {e2e:.2f} us "
                     "end-to-end CPU per query" if e2e else "")
            out.append(f"  query path alone (handleQuery, thread CPU, min of {qp['rounds']} "
                       f"runs of {qp['queries']:,}): off {qp['off_ns']:.1f} ns, RRL on "
                       f"{qp['rrl_ns']:.1f} ns (+{rrl_extra:.1f}{share(rrl_extra)}); EDNS "
                       f"{qp['edns_ns']:.1f} ns, with a valid cookie {qp['cookie_ns']:.1f} ns "
                       f"(+{cookie_extra:.1f}{share(cookie_extra)})")
        if "meridiand-cookie" in result["ratios"] and "+EDNS" not in result["query"]:
            out.append("  (meridiand-cookie's queries carry EDNS, the baseline's do not: "
                       "add --edns for a like-for-like ratio)")
    return "\n".join(out)
