"""dnsperf against several servers in one run, interleaved, with medians.

All servers run at once (idle ones cost nothing measurable) so rounds can
be interleaved: round r measures the servers in an order rotated by r, which
spreads slow drifts in the machine's load across all of them. Each figure is
the median over rounds; ratios are medians of per-round ratios (each round
pairs measurements taken a few seconds apart).
"""

from . import common, dnsperf, procstat, report


class Contender:
    """A server to start: `make()` returns a configured, not started Server
    whose .name is `name`; `setup(server)` (optional) runs after it serves
    (e.g. API calls). `peer` is the server kind when `name` is a second
    instance with other settings ("pdns-shared" is a pdns). `extra` are
    dnsperf arguments for this server alone (setup may fill them in, e.g.
    a cookie the server handed out)."""

    def __init__(self, name, make, setup=None, peer=None, extra=None):
        self.name = name
        self.make = make
        self.setup = setup
        self.peer = peer or name
        self.extra = list(extra or [])


def compare(contenders, probe, query_file, settings, rounds, result, binary=False, extra=(),
            check=None, perf=False, after=None):
    """Fills result["servers"] / ["skipped"] / ["ratios"]. probe = (name,
    address) that answers once a server is serving. check(server) -> dict of
    correctness figures, stored with the server's results. after(server,
    info) runs once the rounds are done, while the servers still run (e.g.
    to read their counters)."""
    result.setdefault("servers", {})
    result.setdefault("skipped", {})
    result["machine_start"] = report.machine_state()
    own_extra = {}  # server name -> its contender's dnsperf arguments
    with common.running([]) as started:
        live = []
        for c in contenders:
            why = common.peer_missing(c.peer)
            if why:
                result["skipped"][c.name] = why
                common.say(f"skipping {c.name}: {why}")
                continue
            server = None
            try:
                server = c.make()
                server.start()
                started.append(server)
                server.wait_serving(*probe, timeout=60)
                if c.setup:
                    c.setup(server)
                info = {"version": server.version(), "port": server.port, "rounds": []}
                if check:
                    info["check"] = check(server)
            except Exception as e:
                result["skipped"][c.name] = f"did not start: {e}"
                common.warn(f"{c.name} did not start: {e}")
                if server:
                    server.stop()
                continue
            result["servers"][c.name] = info
            if c.extra:
                info["dnsperf_extra"] = c.extra
            own_extra[server.name] = list(extra) + c.extra
            live.append(server)
        if "meridiand" not in result["servers"]:
            common.warn("meridiand is not running: no ratios, absolute figures only")
        if not live:
            raise SystemExit("bench: no server started")
        common.say(f"servers: {', '.join(f'{s.name}@{s.port}' for s in live)}; "
                   f"{rounds} rounds of {settings.seconds:g}s, dnsperf -c {settings.clients} "
                   f"-q {settings.outstanding} -T {settings.threads}")
        warm = dnsperf.ClientSettings(settings.clients, settings.outstanding, settings.threads, 1)
        for server in live:
            dnsperf.run(server.host, server.port, query_file, warm, server.proc.pid,
                        binary=binary, extra=own_extra[server.name])
            result["servers"][server.name]["threads_total"] = procstat.thread_count(
                server.proc.pid)
        width = max(len(s.name) for s in live)
        for r in range(rounds):
            order = live[r % len(live):] + live[:r % len(live)]
            for server in order:
                stats = dnsperf.run(server.host, server.port, query_file, settings,
                                    server.proc.pid, binary=binary,
                                    extra=own_extra[server.name], perf=perf)
                stats["round"] = r
                result["servers"][server.name]["rounds"].append(stats)
                common.say(f"  round {r + 1}/{rounds} {server.name:{width}} "
                           f"{stats['qps']:>9,.0f} qps  {stats['server_cpu_us_per_q']:6.2f} us/q "
                           f"(user {stats['server_user_us_per_q']:.2f})  lost {stats['lost']}  "
                           f"load {stats['loadavg_1m']:.1f}")
                if not server.alive():
                    raise SystemExit(f"bench: {server.name} died:\n{server.log_tail()}")
        if after:
            for server in live:
                after(server, result["servers"][server.name])
    result["machine_end"] = report.machine_state()
    summarize(result)
    return result


_METRICS = ["qps", "lost", "server_cpu_us_per_q", "server_user_us_per_q", "server_cores",
            "dnsperf_cores", "response_bytes", "syscalls_per_q", "ctx_switches_per_q",
            "udp_rcvbuf_errors"]


def summarize(result):
    for data in result["servers"].values():
        rounds = data["rounds"]
        data["median"] = {m: report.median([r.get(m) for r in rounds]) for m in _METRICS}
        data["median"]["kernel_us_per_q"] = report.median(
            [r["server_cpu_us_per_q"] - r["server_user_us_per_q"] for r in rounds])
        data["non_noerror"] = sum(sum(v for k, v in r.get("rcodes", {}).items()
                                      if k != "NOERROR") for r in rounds)
    result["ratios"] = {}
    if "meridiand" not in result["servers"]:
        return
    base = result["servers"]["meridiand"]["rounds"]
    for name, data in result["servers"].items():
        if name == "meridiand":
            continue
        pairs = list(zip(data["rounds"], base))
        # Oriented so that > 1 means meridiand is ahead: a peer's CPU over
        # ours, our qps over the peer's.
        result["ratios"][name] = {
            "cpu_per_q": report.median([report.ratio(p["server_cpu_us_per_q"],
                                                     m["server_cpu_us_per_q"]) for p, m in pairs]),
            "user_cpu_per_q": report.median([report.ratio(p["server_user_us_per_q"],
                                                          m["server_user_us_per_q"])
                                             for p, m in pairs]),
            "qps": report.median([report.ratio(m["qps"], p["qps"]) for p, m in pairs]),
        }


def render(result, title):
    headers = ["server", "qps", "lost", "rcvbuf drops", "cpu us/q", "user us/q", "kernel us/q",
               "srv cores", "dnsperf cores", "resp B", "threads"]
    keys = ["qps", "lost", "udp_rcvbuf_errors", "server_cpu_us_per_q", "server_user_us_per_q",
            "kernel_us_per_q", "server_cores", "dnsperf_cores", "response_bytes"]
    if any(d["median"]["syscalls_per_q"] is not None for d in result["servers"].values()):
        headers += ["syscalls/q", "ctxsw/q"]
    rows = []
    for name, data in result["servers"].items():
        m = data["median"]
        row = [name] + [m[k] for k in keys] + [data.get("threads_total")]
        if len(headers) > len(row):
            row += [m["syscalls_per_q"], m["ctx_switches_per_q"]]
        rows.append(row)
    start, end = result["machine_start"], result["machine_end"]
    out = [f"\n{title}, --threads {result['threads']}, median of {result['rounds']} rounds "
           f"({report.load_span(start, end)})",
           report.table(headers, rows)]
    for name, data in result["servers"].items():
        if data["non_noerror"]:
            out.append(f"warning: {name} gave {data['non_noerror']} answers other than NOERROR")
        if "check" in data:
            c = data["check"]
            out.append(f"{name}: {c['agree']}/{c['asked']} sampled subnets got "
                       f"{c.get('what', 'the region the map gives')}")
    for name, why in result["skipped"].items():
        out.append(f"skipped {name}: {why}")
    out.append("\nsummary (each > 1 means meridiand is ahead; median of per-round ratios)")
    if not result["ratios"]:
        out.append("  no ratios: meridiand and at least one peer must both run")
    for name, r in result["ratios"].items():
        out.append(line(f"{name}/meridiand CPU per query", r["cpu_per_q"]))
        out.append(line(f"{name}/meridiand user CPU per query", r["user_cpu_per_q"]))
        out.append(line(f"meridiand/{name} qps", r["qps"]))
    return out


def line(label, value):
    return f"  {label:<48} = {'-' if value is None else f'{value:.2f}'}"


def target(result, peers, factor=1.0):
    """'met' when meridiand's CPU/q is at most 1/factor of each peer's and
    its qps at least factor times theirs; None when no such peer ran."""
    present = [n for n in peers if n in result["ratios"]]
    if not present:
        return None
    met = all((result["ratios"][n]["cpu_per_q"] or 0) >= factor and
              (result["ratios"][n]["qps"] or 0) >= factor for n in present)
    return present, met
