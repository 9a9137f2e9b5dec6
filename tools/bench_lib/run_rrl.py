"""`tools/bench rrl`: a reflection flood against response rate limiting.

A flood of queries for a large answer (amp TXT, about 500 octets for a query
of about 50) from one prefix, 127.0.1.0/24, at --flood-qps (100,000 by
default), as a spoofed-source attack would send it, while --legit clients
from other prefixes (127.0.10.1, 127.0.11.1, ...) ask for ordinary names at
--legit-qps each. Every address is on loopback, so one machine plays
attacker, victim and resolvers.

Per server, in the same run:
  meridiand      its defaults: RRL 200 per second per /24 and answer, slip 2
  meridiand-off  --rrl-rate 0, for reference: what the flood gets without RRL
  nsd            its own RRL with its defaults (200 per second per /24, slip 2)

Figures, medians over rounds:
  flood amplification  bytes the flood's source got back / bytes it sent
                       (dnsperf: completed x response size / sent x request
                       size); goal <= 1
  legit answered       legitimate queries answered / sent; goal 100%
The flood's achieved rate is reported too: on a small machine dnsperf may
not reach the target while the servers run.
"""

import os
import subprocess
import time

from . import common, dnsperf, procstat, report, servers, zonegen

ZONE = "bench.example"
FLOOD_SOURCE = "127.0.1.1"
AMP_NAME = "amp"


def write_zone(path, legit_names, zone=ZONE):
    """The static zone with legit_names names h0.. and the large amp TXT
    (also tools/soak's zone); returns the probe and the names."""
    probe, names = zonegen.write_static_names(path, zone, legit_names)
    with open(path, "a") as f:
        for i in range(4):  # 4 x 100-character strings: a ~500-octet answer
            f.write(f'{AMP_NAME} IN TXT "{str(i) * 100}"\n')
    return probe, names


def _dnsperf(server, source, query_file, qps, seconds, clients, outstanding, timeout, edns):
    cmd = ["dnsperf", "-s", server.host, "-p", str(server.port), "-a", source,
           "-d", query_file, "-c", str(clients), "-q", str(outstanding), "-Q", str(qps),
           "-l", str(seconds), "-t", str(timeout), "-O", "suppress=timeout"]
    if edns:
        cmd.append("-e")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _finish(proc):
    output = proc.stdout.read().decode("utf-8", "replace")
    proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"dnsperf exited {proc.returncode}:\n{output[-2000:]}")
    return dnsperf.parse_statistics(output)


def _rrl_counters(server):
    if not isinstance(server, servers.Meridian) or not server.api_url:
        return {}
    m = server.metrics()
    out = {what: sum(v for k, v in m.items() if k.startswith(f"meridian_rrl_{what}_total"))
           for what in ("limited", "slipped", "dropped")}
    out["received"] = m.get('meridian_dns_queries_total{transport="udp"}', 0)
    return out


def _phase(server, args, flood_file, legit_file):
    """One flood with the legitimate clients beside it; the figures."""
    before = _rrl_counters(server)
    udp0 = procstat.udp_counters()
    cpu0 = procstat.cpu_seconds(server.proc.pid)
    wall0 = time.monotonic()
    flood = _dnsperf(server, FLOOD_SOURCE, flood_file, args.flood_qps, args.seconds,
                     clients=8, outstanding=65535, timeout=0.5, edns=True)
    legit = [_dnsperf(server, f"127.0.{10 + k}.1", legit_file, args.legit_qps, args.seconds,
                      clients=1, outstanding=100, timeout=1, edns=True)
             for k in range(args.legit)]
    f = _finish(flood)
    ls = [_finish(p) for p in legit]
    wall = time.monotonic() - wall0
    user, system = procstat.cpu_seconds(server.proc.pid)
    udp1 = procstat.udp_counters()
    after = _rrl_counters(server)
    bytes_in = f["sent"] * f.get("request_bytes", 0)
    bytes_out = f["completed"] * f.get("response_bytes", 0)
    legit_sent = sum(x["sent"] for x in ls)
    legit_done = sum(x["completed"] for x in ls)
    stats = {
        "flood_sent": f["sent"],
        "flood_qps": f["sent"] / max(f.get("run_time", args.seconds), 1e-9),
        "flood_completed": f["completed"],
        "flood_request_bytes": f.get("request_bytes"),
        "flood_response_bytes": f.get("response_bytes"),
        "amplification": report.ratio(bytes_out, bytes_in),
        "legit_sent": legit_sent,
        "legit_completed": legit_done,
        "legit_answered": report.ratio(legit_done, legit_sent),
        "legit_rcodes": [x.get("rcodes", {}) for x in ls],
        "server_cores": (user + system - cpu0[0] - cpu0[1]) / wall,
        # Datagrams the kernel dropped because a receive buffer was full (the
        # server's or a dnsperf's): what the machine could not carry.
        "udp_rcvbuf_errors": udp1.get("RcvbufErrors", 0) - udp0.get("RcvbufErrors", 0),
    }
    for what in after:
        stats[f"rrl_{what}"] = after[what] - before.get(what, 0)
    return stats


def measure(args, binaries, workdir):
    zone_path = os.path.join(workdir, ZONE + ".zone")
    probe, names = write_zone(zone_path, args.legit_names)
    flood_file = os.path.join(workdir, "flood.txt")
    with open(flood_file, "w") as f:
        f.write(f"{AMP_NAME}.{ZONE} TXT\n")
    legit_file = os.path.join(workdir, "legit.txt")
    with open(legit_file, "w") as f:
        f.writelines(f"{name} A\n" for name in names)
    zones = [servers.Zone(ZONE, zone_path)]
    result = {"run": "rrl", "threads": args.threads, "rounds": args.rounds,
              "seconds": args.seconds, "flood_qps_target": args.flood_qps,
              "legit_clients": args.legit, "legit_qps_each": args.legit_qps,
              "servers": {}, "skipped": {}, "machine_start": report.machine_state()}
    with common.running([]) as started:
        live = []
        for name in args.servers:
            peer = "meridiand" if name.startswith("meridiand") else name
            why = common.peer_missing(peer)
            if why:
                result["skipped"][name] = why
                common.say(f"skipping {name}: {why}")
                continue
            if peer == "meridiand":
                server = servers.Meridian(workdir, args.threads, binaries.meridiand,
                                          binaries.meridianctl, label=name)
                server.defences = True
                if name == "meridiand-off":
                    server.extra_args += ["--rrl-rate", "0"]
                server.enable_api()
            elif name == "nsd":
                server = servers.Nsd(workdir, args.threads, rrl=True)
            else:
                result["skipped"][name] = "only meridiand, meridiand-off and nsd take part"
                continue
            server.configure(zones)
            server.start()
            started.append(server)
            server.wait_serving(*probe, timeout=60)
            result["servers"][name] = {"version": server.version(), "rounds": []}
            live.append(server)
        if not live:
            raise SystemExit("bench: no server started")
        common.say(f"servers: {', '.join(f'{s.name}@{s.port}' for s in live)}; {args.rounds} "
                   f"rounds of {args.seconds:g}s: flood {args.flood_qps:,} qps from "
                   f"{FLOOD_SOURCE}, {args.legit} legitimate clients at {args.legit_qps} qps")
        for r in range(args.rounds):
            for server in live[r % len(live):] + live[:r % len(live)]:
                stats = _phase(server, args, flood_file, legit_file)
                stats["round"] = r
                result["servers"][server.name]["rounds"].append(stats)
                common.say(f"  round {r + 1}/{args.rounds} {server.name:13} flood "
                           f"{stats['flood_qps']:>9,.0f} qps, amplification "
                           f"{stats['amplification'] or 0:.3f}, legit answered "
                           f"{100 * (stats['legit_answered'] or 0):.2f}%")
                if not server.alive():
                    raise SystemExit(f"bench: {server.name} died:\n{server.log_tail()}")
                time.sleep(1.5)  # buckets refill, timeouts drain
    result["machine_end"] = report.machine_state()
    for data in result["servers"].values():
        rounds = data["rounds"]
        data["median"] = {k: report.median([x.get(k) for x in rounds])
                          for k in ("flood_qps", "amplification", "legit_answered",
                                    "flood_response_bytes", "flood_request_bytes",
                                    "server_cores", "rrl_limited", "rrl_slipped",
                                    "rrl_dropped", "rrl_received", "udp_rcvbuf_errors")}
        data["legit_lost"] = sum(x["legit_sent"] - x["legit_completed"] for x in rounds)
    return result


def render(result):
    start, end = result["machine_start"], result["machine_end"]
    out = [f"\nrrl: flood of {AMP_NAME}.{ZONE} TXT +EDNS from {FLOOD_SOURCE} "
           f"(target {result['flood_qps_target']:,} qps) beside {result['legit_clients']} "
           f"legitimate clients at {result['legit_qps_each']} qps each, --threads "
           f"{result['threads']}, median of {result['rounds']} rounds of {result['seconds']:g}s "
           f"({report.load_span(start, end)})"]
    headers = ["server", "flood qps", "req B", "resp B", "amplification", "legit answered %",
               "legit lost", "rcvbuf drops", "received", "limited", "slipped", "dropped",
               "srv cores"]
    rows = []
    for name, data in result["servers"].items():
        m = data["median"]
        rows.append([name, m["flood_qps"], m["flood_request_bytes"], m["flood_response_bytes"],
                     m["amplification"],
                     None if m["legit_answered"] is None else 100 * m["legit_answered"],
                     data["legit_lost"], m["udp_rcvbuf_errors"], m["rrl_received"],
                     m["rrl_limited"], m["rrl_slipped"], m["rrl_dropped"], m["server_cores"]])
    out.append(report.table(headers, rows))
    for name, why in result["skipped"].items():
        out.append(f"skipped {name}: {why}")
    out.append("(rcvbuf drops: datagrams the kernel dropped for a full receive buffer, the "
               "server's or a dnsperf's; received: UDP queries meridiand read)")
    out.append("\nsummary (goals: amplification <= 1, legitimate answered 100%)")
    for name, data in result["servers"].items():
        m = data["median"]
        if m["amplification"] is None:
            continue
        out.append(f"  {name:<14} amplification {m['amplification']:.3f}, legitimate answered "
                   f"{100 * m['legit_answered']:.2f}%, flood {m['flood_qps']:,.0f} qps")
    return "\n".join(out)
