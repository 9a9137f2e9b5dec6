"""`tools/bench api`: API writes against a real meridiand under DNS load.

One meridiand (--threads N, the API on its own threads) serves api.example:
a static name, an RRset `www` that the run rewrites, and a steered name `lb`
(policy failover over regions r1, r2 with one endpoint each). dnsperf asks
for all three names for the whole run (rate-limited with --qps, so the
load is steady and the same with and without writes). Meanwhile:

  1. throughput: --endpoints endpoints created (POST /api/v1/endpoints) by
     one client over one keep-alive connection, then as many again by
     --api-clients concurrent clients (separate processes, one connection
     each), in a region no steered name uses;
  2. write -> DNS delay, --changes times each:
       drain  PATCH r1-1 {"state":"drain"} / {"state":"up"} alternately; the
              answer for lb flips between r2-1 and r1-1
       rrset  PUT www/A with a new address each time
     timed from the API's 2xx (response read) to the first UDP answer that
     shows the change, polling in a tight loop (dnsmsg.Poller).

Before the writes, dnsperf runs --seconds alone for a baseline. At the end
dnsperf is interrupted and its lost queries (must be 0) and qps reported.
"""

import multiprocessing
import os
import time

from . import api, common, dnsmsg, dnsperf, report, servers
from .write_zone import REGIONS, WriteZone

ZONE = WriteZone("api.example")
BULK_REGION = "bulk"


def _setup(server):
    server.wait_api()
    ZONE.add_steering(server.ctl)
    server.ctl("region", "add", BULK_REGION, "--lat", 50, "--lon", 8)
    server.wait_serving(ZONE.steered, REGIONS["r1"][1], timeout=10)


def _create_worker(url, token_file, names, start, out):
    """One API client (its own process and connection): waits for the
    others, then POSTs an endpoint per name; sends back (t0, t1, latencies)."""
    client = api.Client(url, token_file)
    client.call("GET", f"/api/v1/regions/{BULK_REGION}")  # connect before the clock starts
    start.wait()
    latencies = []
    t0 = time.monotonic()
    for name, address in names:
        a = time.monotonic()
        client.call("POST", "/api/v1/endpoints",
                    {"name": name, "region": BULK_REGION, "address": address, "weight": 100})
        latencies.append(time.monotonic() - a)
    out.put((t0, time.monotonic(), latencies))
    client.close()


def throughput(server, first, count, clients):
    """Creates `count` endpoints split over `clients` processes; returns
    endpoints per second over the whole span (first start to last end) and
    the per-request latency percentiles. CLOCK_MONOTONIC is system-wide, so
    the processes' times compare."""
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Barrier(clients), ctx.Queue()
    workers = []
    for c in range(clients):
        names = []
        for i in range(first + c, first + count, clients):
            # 198.18.0.0/15 (RFC 2544): stored, never contacted.
            names.append((f"bulk-{i}", f"198.18.{(i >> 8) & 255}.{i & 255}"))
        workers.append(ctx.Process(target=_create_worker,
                                   args=(server.api_url, server.token_file, names, start, out)))
    for w in workers:
        w.start()
    results = [out.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
        if w.exitcode != 0:
            raise RuntimeError(f"an API client process exited {w.exitcode}")
    span = max(r[1] for r in results) - min(r[0] for r in results)
    latencies = [x for r in results for x in r[2]]
    return {"clients": clients, "endpoints": len(latencies), "seconds": span,
            "per_second": len(latencies) / span,
            "latency_ms_p50": report.percentile(latencies, 50) * 1e3,
            "latency_ms_p99": report.percentile(latencies, 99) * 1e3,
            "latency_ms_max": max(latencies) * 1e3}


def delays(server, kind, changes, timeout=5.0):
    """`changes` writes of one kind; for each, seconds from the 2xx to the
    first answer showing it (and from sending the request)."""
    client = api.Client(server.api_url, server.token_file)
    poller = dnsmsg.Poller(server.host, server.port)
    after_ok, after_send, write_s, missed = [], [], [], 0
    for i in range(changes):
        name, method, path, body, want = ZONE.write(kind, i)
        sent = time.monotonic()
        client.call(method, path, body)
        ok = time.monotonic()
        seen = poller.wait_for(name, lambda got, want=want: got == [want], ok + timeout)
        write_s.append(ok - sent)
        if seen is None:
            missed += 1
            continue
        after_ok.append(seen - ok)
        after_send.append(seen - sent)
    queries = poller.queries
    poller.close()
    client.close()

    def ms(values, p):
        return None if not values else report.percentile(values, p) * 1e3
    return {"kind": kind, "changes": changes, "missed": missed, "timeout_s": timeout,
            "delay_ms_p50": ms(after_ok, 50), "delay_ms_p99": ms(after_ok, 99),
            "delay_ms_max": ms(after_ok, 100),
            "from_send_ms_p50": ms(after_send, 50), "from_send_ms_p99": ms(after_send, 99),
            "write_ms_p50": ms(write_s, 50), "write_ms_p99": ms(write_s, 99),
            "poll_queries": queries}


def measure(args, binaries, workdir):
    query_file = os.path.join(workdir, "api-queries.txt")
    with open(query_file, "w") as f:
        f.write(f"{ZONE.static[0]} A\n{ZONE.steered} A\n{ZONE.rrset} A\n")
    extra = ["-Q", str(args.qps)] if args.qps > 0 else []
    settings = dnsperf.ClientSettings(args.clients, args.outstanding, args.dnsperf_threads,
                                      args.seconds)
    result = {"run": "api", "threads": args.threads, "dnsperf": settings.as_dict(),
              "dnsperf_max_qps": args.qps or None, "machine_start": report.machine_state()}
    server = servers.Meridian(workdir, args.threads, binaries.meridiand, binaries.meridianctl)
    server.enable_api()
    zone_path = ZONE.write_file(os.path.join(workdir, ZONE.zone + ".zone"))
    server.configure([servers.Zone(ZONE.zone, zone_path)])
    with common.running([server]):
        server.start()
        server.wait_serving(*ZONE.static, timeout=60)
        _setup(server)
        common.say(f"meridiand@{server.port} api {server.api_url}, --threads {args.threads}; "
                   f"dnsperf -c {args.clients} -q {args.outstanding}"
                   + (f" -Q {args.qps}" if args.qps else " (no rate limit)"))
        result["baseline"] = dnsperf.run(server.host, server.port, query_file, settings,
                                         server.proc.pid, extra=extra)
        b = result["baseline"]
        common.say(f"  baseline (no writes) {args.seconds:g}s: {b['qps']:,.0f} qps, "
                   f"lost {b['lost']}, {b['server_cpu_us_per_q']:.2f} us/q")
        long_run = dnsperf.ClientSettings(args.clients, args.outstanding, args.dnsperf_threads,
                                          3600)
        load = dnsperf.start_background(server.host, server.port, query_file, long_run,
                                        server.proc.pid, extra=extra)
        try:
            time.sleep(1)  # the load is steady before the first write
            result["throughput"] = []
            first = 0
            for clients in sorted({1, args.api_clients}):
                t = throughput(server, first, args.endpoints, clients)
                first += args.endpoints
                result["throughput"].append(t)
                common.say(f"  {t['endpoints']} endpoints by {clients} client(s): "
                           f"{t['per_second']:,.0f}/s (request p50 {t['latency_ms_p50']:.2f} "
                           f"ms, p99 {t['latency_ms_p99']:.2f} ms)")
            result["delays"] = []
            for kind in ("drain", "rrset"):
                d = delays(server, kind, args.changes)
                result["delays"].append(d)
                p50, p99, top = (report.ms_text(d[k], 2)
                                 for k in ("delay_ms_p50", "delay_ms_p99", "delay_ms_max"))
                common.say(f"  {kind}: write->DNS p50 {p50} p99 {p99} max {top}; "
                           f"missed {d['missed']}")
        finally:
            result["load"] = load.interrupt()
        if not server.alive():
            raise SystemExit(f"bench: meridiand died:\n{server.log_tail()}")
    result["machine_end"] = report.machine_state()
    return result



def render(result):
    start, end = result["machine_start"], result["machine_end"]
    limit = result["dnsperf_max_qps"]
    out = [f"\napi: writes through meridiand's JSON API under DNS load, --threads "
           f"{result['threads']} ({report.load_span(start, end)})"]
    rows = [[f"{t['clients']} client(s)", t["endpoints"], t["seconds"], t["per_second"],
             t["latency_ms_p50"], t["latency_ms_p99"], t["latency_ms_max"]]
            for t in result["throughput"]]
    out.append(report.table(["endpoint creation", "created", "seconds", "per second",
                             "req p50 ms", "req p99 ms", "req max ms"], rows))
    rows = [[d["kind"], d["changes"], d["delay_ms_p50"], d["delay_ms_p99"], d["delay_ms_max"],
             d["from_send_ms_p50"], d["write_ms_p50"], d["missed"]] for d in result["delays"]]
    out.append("")
    out.append(report.table(["write -> DNS", "changes", "p50 ms", "p99 ms", "max ms",
                             "p50 from send", "write p50 ms", "missed"], rows))
    b, l = result["baseline"], result["load"]
    out.append("")
    out.append(report.table(
        ["dnsperf" + (f" -Q {limit}" if limit else ""), "seconds", "qps", "lost", "interrupted",
         "non-NOERROR", "srv cores", "cpu us/q"],
        [[name, s.get("run_time"), s["qps"], s["lost"], s.get("interrupted", 0),
          sum(v for k, v in s.get("rcodes", {}).items() if k != "NOERROR"),
          s["server_cores"], s["server_cpu_us_per_q"]]
         for name, s in (("baseline, no writes", b), ("during the writes", l))]))
    verdict = "0 lost: ok" if l["lost"] == 0 else f"{l['lost']} LOST (must be 0)"
    out.append(f"\nqueries lost during the writes: {verdict}; qps during / baseline = "
               f"{report.ratio(l['qps'], b['qps']):.2f}")
    if any(d["missed"] for d in result["delays"]):
        out.append("warning: some changes never showed in DNS within the timeout")
    return "\n".join(out)
