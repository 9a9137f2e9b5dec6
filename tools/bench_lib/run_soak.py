"""`tools/soak`: meridiand and meridian-healthd on one database for a long
run under everything at once, watching memory, lost queries and crashes.

meridiand runs as an operator runs it: RRL (200 responses per second per
client /24 and answer) and DNS cookies at their defaults. For the whole run:

  legitimate  dnsperf at a fixed rate (-Q) over --names names, run as one
              dnsperf per interval so lost queries are counted per interval
  reloads     every --reload-every s, alternately SIGHUP and an sqlite3-shell
              edit of edit.<zone> A (then polled until served)
  API writes  one every --api-every s through the JSON API with the token
  flapping    healthd probes TCP and HTTP ports this script opens and closes
              (periods 2, 3, 5 s; 4 s) and two steady HTTP checks (/healthz)
  flood       a second dnsperf from the same 127.0.0.1 asking one name at
              --flood-qps (far above the RRL rate): its losses are RRL working

RRL keys on (client prefix, name, type): flood and legitimate load come from
the same 127.0.0.1, so the names are what keeps them apart. dnsperf reads
its file round-robin, so each legitimate name is asked qps / names times a
second. Worked example: 2,000 qps over 1,000 names + lb + edit = 1,002 names
-> 2.0 per name per second, 1% of the 200 per second a bucket allows; the
flood's one name at 3,000 per second is 15 times over it.

Goals (issue 9): RSS flat within 5% from the first sample after the warm-up
to the last, 0 legitimate queries lost, no process gone or exiting non-zero.
"""

import contextlib
import os
import re
import signal
import subprocess
import time

from . import api, common, dnsperf, procstat, report, run_reload, run_rrl, servers
from .soak_load import ApiWriter, Flood, FlappingHttp, Reloader, Sampler

ZONE = "soak.example"
EDIT = "edit." + ZONE
STEERED = "lb." + ZONE
RRL_RATE = 200  # meridiand's default --rrl-rate
GROWTH_GOAL_PCT = 5.0
TCP_PERIODS = (2.0, 3.0, 5.0)
HTTP_PERIOD = 4.0


def _write_files(workdir, names):
    zone_path = os.path.join(workdir, ZONE + ".zone")
    probe, legit = run_rrl.write_zone(zone_path, names, zone=ZONE)
    with open(zone_path, "a") as f:
        f.write("edit IN A 198.51.100.250\n")
    legit_file = os.path.join(workdir, "legit.txt")
    with open(legit_file, "w") as f:
        f.writelines(f"{name} A\n" for name in legit + [EDIT, STEERED])
    flood_file = os.path.join(workdir, "flood.txt")
    with open(flood_file, "w") as f:
        f.write(f"{run_rrl.AMP_NAME}.{ZONE} TXT\n")
    return zone_path, probe, len(legit) + 2, legit_file, flood_file


def _setup_health(client, api_port, tcp, http):
    """Regions r1, r2; flapping endpoints f-tcp-N (r1) and f-http-0 (r2);
    steady s-0 (r1), s-1 (r2) checking meridiand's /healthz; the steered
    name lb, failover r1 then r2. Returns the flapping endpoints' names."""
    quick = {"interval_s": 1, "timeout_ms": 500, "rise": 1, "fall": 1}
    for name, lat in (("r1", 50), ("r2", 40)):
        client.call("POST", "/api/v1/regions", {"name": name, "latitude": lat, "longitude": 8})
    flapping = []
    for i, port in enumerate(p.port for p in tcp):
        flapping.append(f"f-tcp-{i}")
        client.call("POST", "/api/v1/endpoints", {
            "name": flapping[-1], "region": "r1", "address": "127.0.0.1",
            "check": dict(quick, type="tcp", port=port)})
    for i, listener in enumerate(http):
        flapping.append(f"f-http-{i}")
        client.call("POST", "/api/v1/endpoints", {
            "name": flapping[-1], "region": "r2", "address": f"192.0.2.{20 + i}",
            "check": dict(quick, type="http", url=f"http://127.0.0.1:{listener.port}/")})
    for i, region in enumerate(("r1", "r2")):
        client.call("POST", "/api/v1/endpoints", {
            "name": f"s-{i}", "region": region, "address": f"192.0.2.{10 + i}",
            "check": dict(quick, type="http", url=f"http://127.0.0.1:{api_port}/healthz")})
    client.call("PUT", f"/api/v1/zones/{ZONE}/steering/lb",
                {"type": "A", "policy": "failover", "regions": ["r1", "r2"], "ttl": 30})
    return flapping


def _counters(server, flapping):
    """The /metrics figures the report follows, or None when unreadable."""
    try:
        m = server.metrics()
    except Exception:
        return None

    def total(prefix):
        return sum(v for k, v in m.items() if k.startswith(prefix))
    out = {what: total(f"meridian_rrl_{what}_total") for what in ("limited", "slipped",
                                                                  "dropped")}
    out["rrl_classes"] = {k: v for k, v in m.items() if k.startswith("meridian_rrl_") and v}
    out["flips"] = sum(v for k, v in m.items()
                       if k.startswith("meridian_endpoint_transitions_total") and
                       any(f'endpoint="{name}"' in k for name in flapping))
    for key in ("meridian_reloads_total", "meridian_reload_failures_total",
                "meridian_health_reloads_total", "meridian_snapshot_memory_bytes"):
        out[key[len("meridian_"):]] = m.get(key)
    return out


def _log_levels(path):
    """{"warn": N, "error": N, "last_error": line} of one of our logs."""
    out = {"warn": 0, "error": 0, "last_error": None}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = re.match(r"\S+Z (warn|error)", line)
                if m:
                    out[m.group(1)] += 1
                    if m.group(1) == "error":
                        out["last_error"] = line.strip()[:200]
    except OSError:
        pass
    return out


def _stop_healthd(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _plan(args):
    run = args.seconds if args.seconds is not None else args.minutes * 60.0
    interval = args.interval or (60.0 if run >= 600 else max(10.0, run / 12))
    warmup = args.warmup if args.warmup is not None else min(60.0, run / 10)
    return run, interval, warmup


def measure(args, binaries, workdir):
    run, interval, warmup = _plan(args)
    healthd_bin = os.path.join(os.path.abspath(args.build_dir), "healthd", "meridian-healthd")
    if not os.access(healthd_bin, os.X_OK):
        raise SystemExit(f"soak: {healthd_bin} is missing (ninja -C {args.build_dir} "
                         "meridian-healthd)")
    zone_path, probe, names, legit_file, flood_file = _write_files(workdir, args.names)
    server = servers.Meridian(workdir, args.threads, binaries.meridiand, binaries.meridianctl)
    server.defences = True  # RRL and cookies at their defaults
    server.enable_api()
    server.configure([servers.Zone(ZONE, zone_path)])
    result = {"run": "soak", "seconds": run, "interval_s": interval, "warmup_s": warmup,
              "threads": args.threads, "qps": args.qps, "names": names,
              "flood_qps": args.flood_qps, "intervals": [], "crashes": [],
              "machine_start": report.machine_state(), "interrupted": False}
    healthd_log = os.path.join(workdir, "healthd.log")
    with contextlib.ExitStack() as stack:
        tcp = [stack.enter_context(run_reload.FlappingPort(p)) for p in TCP_PERIODS]
        http = [FlappingHttp(HTTP_PERIOD).start()]
        stack.callback(http[0].stop)
        stack.enter_context(common.running([server]))
        server.start()
        server.wait_serving(*probe, timeout=60)
        server.wait_api()
        api_port = int(server.api_url.rsplit(":", 1)[1])
        client = api.Client(server.api_url, server.token_file)
        flapping = _setup_health(client, api_port, tcp, http)
        client.close()
        with open(healthd_log, "w") as log:
            healthd = subprocess.Popen([healthd_bin, "--db", server.db, "--vantage", "soak",
                                        "--log-level", "warn"], stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        stack.callback(_stop_healthd, healthd)
        pids = {"meridiand": server.proc.pid, "healthd": healthd.pid}
        sampler = Sampler(pids, args.sample_every).start()
        stack.callback(sampler.stop)
        result["start_counters"] = _counters(server, flapping)
        flood = Flood(server, flood_file, args.flood_qps, int(run) + 60)
        stack.callback(flood.stop)
        writer = ApiWriter(server, ZONE, args.api_every, api_port,
                           weighted=[n for n in flapping if n.startswith("f-tcp")],
                           drained="s-0").start()
        stack.callback(writer.stop)
        reloader = Reloader(server, EDIT, args.reload_every).start()
        stack.callback(reloader.stop)
        common.say(f"soak: {run / 60:.1f} min; meridiand@{server.port} (RRL {RRL_RATE}/s, "
                   f"cookies on, --threads {args.threads}) + meridian-healthd, pids "
                   f"{pids['meridiand']} / {pids['healthd']}; legit {args.qps} qps over "
                   f"{names} names, flood {args.flood_qps} qps of one name; "
                   f"{interval:g} s intervals")
        t0 = time.monotonic()

        def dead():
            out = []
            if not server.alive():
                out.append(("meridiand", server.proc.returncode, "during the run"))
            if healthd.poll() is not None:
                out.append(("meridian-healthd", healthd.returncode, "during the run"))
            return out

        settings = dnsperf.ClientSettings(clients=2, outstanding=500, threads=1,
                                          timeout=args.timeout)
        load = None
        try:
            while not dead() and time.monotonic() - t0 < run - 1:
                settings.seconds = round(min(interval, run - (time.monotonic() - t0)), 1)
                begin = time.monotonic()
                drops = procstat.udp_socket_drops(server.port)
                # -b 4096: dnsperf's sockets get 4 MiB receive buffers, as
                # meridiand's have, so a dnsperf starved of CPU for a moment
                # on a busy machine does not lose answers in its own buffer.
                load = dnsperf.start_background(server.host, server.port, legit_file, settings,
                                                server.proc.pid, own_session=True,
                                                extra=["-Q", str(args.qps), "-b", "4096"])
                while not load.done() and not dead():
                    time.sleep(0.2)
                stats = load.finish() if load.done() else load.interrupt()
                stats["server_drops"] = procstat.udp_socket_drops(server.port) - drops
                _record(result, t0, begin, time.monotonic(), stats, sampler, writer, reloader,
                        _counters(server, flapping))
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut teardown
            result["interrupted"] = True
            common.say("soak: interrupted; stopping everything and reporting what ran")
            if load is not None and not load.done():
                try:  # the interval cut short still counts
                    stats = load.interrupt()
                    stats["server_drops"] = procstat.udp_socket_drops(server.port) - drops
                    _record(result, t0, begin, time.monotonic(), stats, sampler, writer,
                            reloader, _counters(server, flapping))
                except (OSError, RuntimeError) as e:
                    common.warn(f"the last interval's dnsperf: {e}")
        result["crashes"] = dead()
        result["elapsed_s"] = time.monotonic() - t0
        writer.stop()
        reloader.stop()
        result["flood"] = flood.stop()
        sampler.take()
        sampler.stop()
        result["end_counters"] = _counters(server, flapping)
        result["healthd_exit"] = _stop_healthd(healthd)
        server.stop()
        result["meridiand_exit"] = server.proc.returncode
    result["samples"] = [(t - t0, s) for t, s in sampler.samples]
    slowest = max(writer.calls, key=lambda c: c[3], default=None)
    result["api"] = {"writes": writer.count(), "failures": writer.failures(),
                     "errors": writer.errors, "thread_error": writer.error,
                     "p99_s": report.percentile([c[3] for c in writer.calls], 99),
                     "max_s": slowest and slowest[3],
                     "slowest": slowest and f"{slowest[1]} at {_clock(slowest[0] - t0).strip()}"}
    result["reload"] = {"sighups": reloader.count(kind="sighup"),
                        "edits": reloader.count(kind="edit"), "edit_failed": reloader.edit_failed,
                        "not_served": reloader.not_served, "thread_error": reloader.error,
                        "served_max_s": max(reloader.delays, default=None),
                        "served_p50_s": report.percentile(reloader.delays, 50)}
    result["logs"] = {"meridiand": _log_levels(server.log_path),
                      "healthd": _log_levels(healthd_log)}
    for name, code in (("meridiand", result["meridiand_exit"]),
                       ("meridian-healthd", result["healthd_exit"])):
        if code != 0 and all(c[0] != name for c in result["crashes"]):
            result["crashes"].append((name, code, "at the end (SIGTERM)"))
    result["machine_end"] = report.machine_state()
    summarize(result)
    return result


def _record(result, t0, begin, end, stats, sampler, writer, reloader, counters):
    """One interval's figures; begin and end are monotonic times."""
    last = sampler.samples[-1][1] if sampler.samples else {}
    result["intervals"].append({
        "begin_s": begin - t0, "end_s": end - t0, "sent": stats.get("sent", 0),
        "completed": stats.get("completed", 0), "lost": stats.get("lost", 0),
        "interrupted": stats.get("interrupted", 0),
        "not_noerror": sum(v for k, v in stats.get("rcodes", {}).items() if k != "NOERROR"),
        # Kernel drops for full receive buffers: at meridiand's sockets, and
        # anywhere else on the machine (dnsperf's sockets, other processes).
        "server_drops": stats.get("server_drops"),
        "other_drops": max(0, (stats.get("udp_rcvbuf_errors") or 0) -
                           (stats.get("server_drops") or 0)),
        "rss_kb": {name: v[0] for name, v in last.items()},
        "fds": {name: v[1] for name, v in last.items()},
        "api_writes": writer.count(begin, end),
        "api_failures": writer.failures(begin, end),
        "reloads": reloader.count(begin, end),
        "loadavg_1m": os.getloadavg()[0],
        "counters": counters})
    i = result["intervals"][-1]
    common.say(f"  {_clock(end - t0)}  legit sent {i['sent']:,} lost {i['lost']}  RSS meridiand "
               f"{_mib(i['rss_kb'].get('meridiand'))} healthd {_mib(i['rss_kb'].get('healthd'))}"
               f" MiB  API {i['api_writes']} ({i['api_failures']} failed)  reloads "
               f"{i['reloads']}")


def summarize(result):
    ivs = result["intervals"]
    result["legit"] = {k: sum(i[k] for i in ivs) for k in ("sent", "completed", "lost",
                                                           "interrupted", "not_noerror")}
    result["growth"] = {}
    for name in ("meridiand", "healthd"):
        after = [(t, s[name][0]) for t, s in result["samples"]
                 if t >= result["warmup_s"] and s[name][0]]
        if len(after) < 2:
            result["growth"][name] = None
            continue
        first, last = after[0][1], after[-1][1]
        result["growth"][name] = {"first_kb": first, "last_kb": last,
                                  "min_kb": min(v for _, v in after),
                                  "max_kb": max(v for _, v in after),
                                  "pct": 100.0 * (last - first) / first,
                                  "first_t": after[0][0], "last_t": after[-1][0]}
        fds = [s[name][1] for t, s in result["samples"]
               if t >= result["warmup_s"] and s[name][1] is not None]
        result["growth"][name]["fds"] = (fds[0], fds[-1]) if fds else (None, None)
    g = result["growth"]
    result["goals"] = {
        "rss_flat": all(v is not None and v["pct"] <= GROWTH_GOAL_PCT for v in g.values()),
        "no_lost": result["legit"]["lost"] == 0 and result["legit"]["sent"] > 0,
        "no_crash": not result["crashes"],
    }


def _clock(seconds):
    return f"{int(seconds) // 60:3d}:{int(seconds) % 60:02d}"


def _mib(kb):
    return "-" if kb is None else f"{kb / 1024:.1f}"


def _delta(result, key):
    a, b = result.get("start_counters"), result.get("end_counters")
    if not a or not b or a.get(key) is None or b.get(key) is None:
        return None
    return b[key] - a[key]


def render(result):
    start, end = result["machine_start"], result["machine_end"]
    out = [f"\nsoak: {result['elapsed_s'] / 60:.1f} of {result['seconds'] / 60:.1f} min, "
           f"legit {result['qps']} qps over {result['names']} names "
           f"({result['qps'] / result['names']:.1f} per name per second; RRL {RRL_RATE}), "
           f"flood {result['flood_qps']} qps of one name ({report.load_span(start, end)})"]
    rows = []
    first = result["samples"][0][1] if result["samples"] else {}
    if first:
        rows.append(["0:00", _mib(first["meridiand"][0]), _mib(first["healthd"][0]),
                     first["meridiand"][1], first["healthd"][1]] + [None] * 11)
    prev = result.get("start_counters") or {}
    for i in result["intervals"]:
        c = i["counters"] or {}
        rows.append([_clock(i["end_s"]).strip(), _mib(i["rss_kb"].get("meridiand")),
                     _mib(i["rss_kb"].get("healthd")), i["fds"].get("meridiand"),
                     i["fds"].get("healthd"), i["sent"], i["lost"], i["server_drops"],
                     i["other_drops"], i["not_noerror"],
                     i["api_writes"], i["api_failures"], i["reloads"],
                     _diff(c, prev, "flips"), _diff(c, prev, "limited"), i["loadavg_1m"]])
        prev = c or prev
    out.append(report.table(["time", "meridiand MiB", "healthd MiB", "m fds", "h fds",
                             "legit sent", "lost", "srv drops", "other drops", "not NOERROR",
                             "API writes", "API failed", "reloads", "flips", "RRL limited",
                             "load"], rows))
    for name, g in result["growth"].items():
        if g is None:
            out.append(f"RSS {name}: too few samples after the {result['warmup_s']:g} s warm-up")
            continue
        out.append(f"RSS {name}: {_mib(g['first_kb'])} MiB at {_clock(g['first_t']).strip()} "
                   f"(after the {result['warmup_s']:g} s warm-up) -> {_mib(g['last_kb'])} MiB at "
                   f"{_clock(g['last_t']).strip()}: {g['pct']:+.2f}% (min {_mib(g['min_kb'])}, "
                   f"max {_mib(g['max_kb'])}); open fds {g['fds'][0]} -> {g['fds'][1]}")
    lg = result["legit"]
    out.append(f"legitimate queries: {lg['sent']:,} sent, {lg['lost']:,} lost, "
               f"{lg['not_noerror']:,} answered other than NOERROR, {lg['interrupted']} "
               "interrupted at the end")
    a = result["api"]
    out.append(f"API writes: {a['writes']:,}, not 2xx or no answer: {a['failures']}, p99 "
               f"{_ms(a['p99_s'])}, slowest {_ms(a['max_s'])} ({a['slowest']})" +
               (f"; first failures: {a['errors']}" if a["errors"] else ""))
    r = result["reload"]
    out.append(f"reloads: {r['sighups']} SIGHUP + {r['edits']} sqlite3 edits ("
               f"{len(r['edit_failed'])} failed, {r['not_served']} not served within 5 s, "
               f"served p50 {_ms(r['served_p50_s'])} max {_ms(r['served_max_s'])}); "
               f"meridian_reloads_total +{_fmt(_delta(result, 'reloads_total'))}, "
               f"failures +{_fmt(_delta(result, 'reload_failures_total'))}, health-only "
               f"rebuilds +{_fmt(_delta(result, 'health_reloads_total'))}")
    out.append(f"health flips (meridian_endpoint_transitions_total of the flapping endpoints, "
               f"listeners up and down for {', '.join(f'{p:g}' for p in TCP_PERIODS)} s (TCP) "
               f"and {HTTP_PERIOD:g} s (HTTP)): +{_fmt(_delta(result, 'flips'))}")
    f = result.get("flood") or {}
    c = result.get("end_counters") or {}
    out.append(f"flood: {f.get('sent', 0):,} sent, {f.get('completed', 0):,} answered (full or "
               f"TC slip), {f.get('lost', 0):,} unanswered (expected); RRL over the run: limited "
               f"+{_fmt(_delta(result, 'limited'))}, slipped +{_fmt(_delta(result, 'slipped'))}, "
               f"dropped +{_fmt(_delta(result, 'dropped'))}; totals at the end by class: "
               f"{_classes(c.get('rrl_classes'))}")
    limited, slipped = _delta(result, "limited"), _delta(result, "slipped")
    if limited is not None and slipped is not None and "sent" in f:
        # Every flood query is answered in full (within the rate) or limited,
        # so what RRL limited beyond that was someone else's. Worked example:
        # 120,371 sent, 64,297 answered of which 56,073 slips -> 8,224 full,
        # 112,147 limited: 112,147 - (120,371 - 8,224) = 0.
        # Answers still in flight when the flood stops are neither completed
        # nor lost, so the figure may be off by up to that many either way.
        full = f.get("completed", 0) - slipped
        in_flight = f["sent"] - f.get("completed", 0) - f.get("lost", 0)
        beyond = int(limited - (f["sent"] - full))
        if beyond > in_flight:
            verdict = "so RRL limited answers that were not the flood's"
        elif beyond < -in_flight:
            verdict = "fewer: some flood queries never reached meridiand (kernel drops)"
        else:
            verdict = "so no legitimate answer was limited"
        out.append(f"RRL limited beyond the flood's own queries: {beyond:+,} (exact up to the "
                   f"{in_flight:,} flood queries in flight when it stopped), {verdict}")
    for name, lv in result["logs"].items():
        out.append(f"{name} log: {lv['warn']} warn, {lv['error']} error lines"
                   + (f"; last: {lv['last_error']}" if lv["last_error"] else ""))
    for what in ("api", "reload"):
        if result[what]["thread_error"]:
            out.append(f"warning: the {what} thread stopped: {result[what]['thread_error']}")
    if result["reload"]["edit_failed"]:
        out.append(f"sqlite3 edits that failed: {result['reload']['edit_failed'][:3]}")
    out.append(f"processes: meridiand exit {_exit(result['meridiand_exit'])}, meridian-healthd "
               f"exit {_exit(result['healthd_exit'])}" +
               "".join(f"; {n} gone {when} ({_exit(code)})" for n, code, when in
                       result["crashes"]))
    if result["interrupted"]:
        out.append("interrupted before the end: figures cover the part that ran")
    gl = result["goals"]
    out.append(f"\ngoals: RSS flat within {GROWTH_GOAL_PCT:g}%: {_yes(gl['rss_flat'])}; 0 lost "
               f"legitimate queries: {_yes(gl['no_lost'])}; no crash: {_yes(gl['no_crash'])}")
    return "\n".join(out)


def _diff(now, before, key):
    if now.get(key) is None or before.get(key) is None:
        return None
    return int(now[key] - before[key])


def _classes(samples):
    """{'meridian_rrl_limited_total{class="positive"}': 5.0, ...} ->
    'positive limited 5, ...' (only the counters that moved)."""
    if not samples:
        return "?"
    out = []
    for key, value in sorted(samples.items()):
        m = re.match(r'meridian_rrl_(\w+)_total\{class="(\w+)"\}', key)
        if m:
            out.append(f"{m.group(2)} {m.group(1)} {int(value):,}")
    return ", ".join(out) or "none"


def _fmt(value):
    return "?" if value is None else f"{int(value):,}"


def _ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:.0f} ms"


def _exit(code):
    if code is None:
        return "?"
    return f"signal {-code}" if code < 0 else str(code)


def _yes(ok):
    return "yes" if ok else "NO"


def passed(result):
    return all(result["goals"].values()) and not result["interrupted"]
