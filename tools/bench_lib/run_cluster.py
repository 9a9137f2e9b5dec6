"""`tools/bench cluster`: cluster mode (issue 10) on a real 3-member etcd.

Everything runs on loopback addresses: etcd member i and meridiand node i
on 127.0.0.i (free ports), all nodes with --etcd (their own member first)
and one shared --api-token-file.

1. Cross-node writes (--writes N each, default 200). The configuration is
   pushed with `meridianctl cluster init` (a small zone), then regions,
   endpoints and a steered name are created through node 1's API. Each write
   goes to node 1's API over one keep-alive connection; while it is in
   flight, nodes 2 and 3 are asked over UDP in a tight loop (dnsmsg.Poller)
   until they answer the new data. Timed from sending the request:
     ack     the API's 2xx (etcd committed it and node 1's replica applied it)
     node 2, node 3, and "both" (the later of the two per write)
   for two kinds of write:
     rrset   PUT www/A with a new address each time
     drain   PATCH r1-1 {"state":"drain"} / {"state":"up"} alternately on
             a failover name over two endpoints; the answer flips r1 <-> r2
   Goal (issue 10): p99 of "both" under 200 ms.
2. A node joining with --records records (tools/bench bigzone's zone,
   zonegen): the zone is imported into a single-node file (meridianctl zone
   import) and pushed into a fresh 3-member etcd with `meridianctl cluster
   init` (timed; transactions of at most 128 puts, etcd's default
   --max-txn-ops, which the run keeps). Then a meridiand with an empty --db
   starts: time until it answers the zone's last A record, and its memory.
   etcd is stopped, and a Knot primary serves the zone file; a Knot secondary
   and then an NSD secondary start empty and transfer it by AXFR: time from
   their start to answering the same record, and their memory. Goal: the
   joining node within 2x of the AXFR secondaries.
"""

import json
import os
import subprocess
import threading
import time

from . import api, common, dnsmsg, etcd, report, run_bigzone, servers, zonegen
from .write_zone import REGIONS, WriteZone

ZONE = WriteZone("cluster.example")
BIG_ZONE = "big.example"
GOAL_P99_MS = 200.0
GOAL_JOIN_RATIO = 2.0


def _ctl(binaries, *args):
    return subprocess.run([binaries.meridianctl] + [str(a) for a in args], check=True,
                          capture_output=True, text=True).stdout


def _cluster_init(binaries, db, cluster):
    """Pushes db into the (empty) etcd; returns meridianctl's figures, with
    the wall time seen from here."""
    t0 = time.monotonic()
    out = _ctl(binaries, "--json", "cluster", "init", "--db", db, "--etcd",
               ",".join(cluster.client_urls))
    figures = json.loads(out)
    figures["wall_s"] = time.monotonic() - t0
    return figures


def _node(workdir, binaries, threads, cluster, member, token_file, label):
    node = servers.Meridian(workdir, threads, binaries.meridiand, binaries.meridianctl,
                            host=cluster.hosts[member], label=label)
    node.enable_api(token_file)
    node.extra_args += ["--etcd", cluster.urls_for(member)]
    return node


def _shared_token(workdir):
    path = os.path.join(workdir, "api.token")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    return path


def timed_writes(node1, others, kind, count, timeout=5.0):
    """`count` writes of one kind through node1's API; for each, seconds
    from sending it to its 2xx and to the first answer showing it on each of
    `others`, polled while the request is in flight."""
    client = api.Client(node1.api_url, node1.token_file)
    client.call("GET", "/api/v1/regions")  # connect before the clock starts
    pollers = [dnsmsg.Poller(n.host, n.port) for n in others]
    ack, seen, missed = [], [[] for _ in others], 0
    for i in range(count):
        name, method, path, body, address = ZONE.write(kind, i)
        want = [address]
        sent = time.monotonic()
        client.send(method, path, body)
        acked, at = None, [None] * len(others)
        deadline = sent + timeout
        while acked is None or None in at:
            if acked is None and client.readable():
                client.finish()
                acked = time.monotonic()
            for j, poller in enumerate(pollers):
                if at[j] is None:
                    got = poller.ask(name)
                    if got is not None and got[0] == 0 and got[1] == want:
                        at[j] = time.monotonic()
            if None not in at and acked is None:
                client.finish()  # blocks; every node already answers
                acked = time.monotonic()
            if time.monotonic() > deadline:
                if acked is None:
                    client.finish()
                    acked = time.monotonic()
                break
        ack.append(acked - sent)
        if None in at:
            missed += 1
            continue
        for j, t in enumerate(at):
            seen[j].append(t - sent)
    queries = sum(p.queries for p in pollers)
    for p in pollers:
        p.close()
    client.close()
    both = [max(v) for v in zip(*seen)] if seen and seen[0] else []

    def stats(values):
        return {"p50_ms": _ms(values, 50), "p99_ms": _ms(values, 99), "max_ms": _ms(values, 100)}
    return {"kind": kind, "writes": count, "missed": missed, "timeout_s": timeout,
            "ack": stats(ack), "both": stats(both),
            "nodes": {n.name: stats(v) for n, v in zip(others, seen)},
            "poll_queries": queries}


def _ms(values, p):
    return None if not values else report.percentile(values, p) * 1e3


def writes(args, binaries, workdir):
    seed = os.path.join(workdir, "seed.db")
    zone_path = ZONE.write_file(os.path.join(workdir, ZONE.zone + ".zone"))
    _ctl(binaries, "--db", seed, "zone", "import", zone_path, "--zone", ZONE.zone + ".")
    cluster = etcd.Cluster(workdir, 3, "etcd-writes")
    token = _shared_token(workdir)
    out = {}
    with common.running([]) as started:
        started.append(cluster)
        cluster.start()
        _cluster_init(binaries, seed, cluster)
        nodes = [_node(workdir, binaries, args.threads, cluster, m, token, f"node{m + 1}")
                 for m in range(3)]
        for node in nodes:
            node.start()
            started.append(node)
        for node in nodes:
            node.wait_serving(*ZONE.static, timeout=60)
        nodes[0].wait_api()
        ZONE.add_steering(nodes[0].ctl)
        for node in nodes:
            node.wait_serving(ZONE.steered, REGIONS["r1"][1], timeout=30)
        common.say(f"3 etcd members, 3 meridiand (--threads {args.threads}) on 127.0.0.1-3; "
                   f"{args.writes} writes of each kind through node1's API")
        out["runs"] = []
        for kind in ("rrset", "drain"):
            r = timed_writes(nodes[0], nodes[1:], kind, args.writes)
            out["runs"].append(r)
            common.say(f"  {kind}: ack p50 {report.ms_text(r['ack']['p50_ms'])}; other nodes "
                       f"p50 {report.ms_text(r['both']['p50_ms'])} p99 "
                       f"{report.ms_text(r['both']['p99_ms'])} max "
                       f"{report.ms_text(r['both']['max_ms'])}; missed {r['missed']}")
        for node in nodes:
            if not node.alive():
                raise SystemExit(f"bench: {node.name} died:\n{node.log_tail()}")
    return out


def _s(seconds):
    return "-" if seconds is None else f"{seconds:.1f}s"


class _AppliedWatch:
    """Polls a joining node's /metrics (every 0.2 s, on a thread) for the
    moment its replica holds etcd's state (meridian_cluster_applied_revision
    > 0: the full load read and applied in SQLite); seconds from its start."""

    def __init__(self, node):
        self.node, self.seconds = node, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.2):
            if self.node.started_at is None:
                continue
            try:
                if self.node.metrics().get("meridian_cluster_applied_revision", 0) > 0:
                    self.seconds = time.monotonic() - self.node.started_at
                    return
            except (OSError, ValueError):
                pass  # not listening yet

    def stop(self):
        self._stop.set()
        self._thread.join()


def _serve_time(server, name, address, timeout):
    """Starts server; seconds to the first correct answer for name, CPU to
    then, and memory a second later (a loader may still free buffers)."""
    server.start()
    start_s = server.wait_serving(name, address, timeout=timeout)
    user, system = server.cpu_seconds()
    time.sleep(1.0)
    return dict(start_to_serving_s=start_s, cpu_to_serving_s=user + system,
                loadavg_1m=os.getloadavg()[0], **server.memory_kb())


def join(args, binaries, workdir):
    zone_path = os.path.join(workdir, BIG_ZONE + ".zone")
    probe, address = run_bigzone.generate(zone_path, BIG_ZONE, args.records)
    out = {"records": args.records, "zone_file_mb": zonegen.file_mb(zone_path), "probe": probe,
           "servers": {}, "skipped": {}}
    source = os.path.join(workdir, "big-source.db")
    t0 = time.monotonic()
    _ctl(binaries, "--db", source, "zone", "import", zone_path, "--zone", BIG_ZONE + ".")
    out["import_s"] = time.monotonic() - t0
    cluster = etcd.Cluster(workdir, 3, "etcd-join")
    with common.running([]) as started:
        started.append(cluster)
        cluster.start()
        out["init"] = _cluster_init(binaries, source, cluster)
        out["etcd_db_mb"] = cluster.db_mb()
        common.say(f"  meridianctl zone import {out['import_s']:.1f}s; cluster init "
                   f"{out['init']['wall_s']:.1f}s ({out['init']['keys']:,} keys, "
                   f"{out['init']['transactions']:,} transactions), etcd backend "
                   f"{out['etcd_db_mb'] or 0:.0f} MB")
        joiner = _node(workdir, binaries, args.threads, cluster, 0, None, "meridiand")
        applied = _AppliedWatch(joiner)
        try:
            data = _serve_time(joiner, probe, address, args.timeout)
        except RuntimeError as e:  # the AXFR peers still run, for their figures
            out["skipped"]["meridiand"] = f"failed: {e}"
            common.warn(f"joining meridiand: {e}")
            data = None
        finally:
            applied.stop()
            joiner.stop()
        if data is not None:
            data["replica_applied_s"] = applied.seconds
            data["etcd_rss_kb"] = cluster.memory_kb()
            data["db_mb"] = os.path.getsize(joiner.db) / 1e6
            out["servers"]["meridiand"] = data
            common.say(f"  meridiand joining: serving after {data['start_to_serving_s']:.2f}s "
                       f"(replica applied after {_s(applied.seconds)}), RSS "
                       f"{data['rss_max_kb'] / 1024:.0f} MiB, replica {data['db_mb']:.0f} MB")
            # Where the time goes: the same paged read with nothing else to do.
            page_size = 2000  # ReplicaSyncOptions::page_size
            keys, seconds = cluster.read_prefix("/meridian/v1/config/", page_size)
            out["etcd_read"] = {"keys": keys, "seconds": seconds, "page_size": page_size}
            common.say(f"  reading the {keys:,} keys back through etcd's JSON gateway in pages of "
                       f"{page_size:,} (Python, as meridiand's full load does): {seconds:.1f}s")
    _axfr_peers(args, workdir, zone_path, probe, address, out)
    _ratios(out)
    return out


def _axfr_peers(args, workdir, zone_path, probe, address, out):
    """Knot primary serving the file; a Knot and an NSD secondary, one after
    the other, transferring it by AXFR."""
    for name in ("knot", "nsd"):
        why = servers.PEERS[name].missing()
        if why:
            out["skipped"][name] = why
    if "knot" in out["skipped"]:
        common.say(f"skipping the AXFR secondaries: no Knot primary ({out['skipped']['knot']})")
        return
    zones = [servers.Zone(BIG_ZONE, zone_path)]
    primary = servers.Knot(workdir, args.threads, label="knot-primary", allow_transfer=True)
    primary.configure(zones)
    with common.running([]) as started:
        primary.start()
        started.append(primary)
        out["primary_load_s"] = primary.wait_serving(probe, address, timeout=args.timeout)
        common.say(f"  knot primary serving after {out['primary_load_s']:.1f}s")
        for name, cls in (("knot", servers.Knot), ("nsd", servers.Nsd)):
            if name in out["skipped"]:
                continue
            secondary = cls(workdir, args.threads, label=f"{name}-secondary",
                            primary=(primary.host, primary.port))
            secondary.configure(zones)
            try:
                data = _serve_time(secondary, probe, address, args.timeout)
            except RuntimeError as e:
                out["skipped"][name] = f"failed: {e}"
                common.warn(f"{name} secondary: {e}")
                continue
            finally:
                secondary.stop()
            data["version"] = secondary.version()
            out["servers"][name] = data
            common.say(f"  {name} secondary (AXFR): serving after "
                       f"{data['start_to_serving_s']:.2f}s, RSS {data['rss_max_kb'] / 1024:.0f} "
                       f"MiB")


def _ratios(out):
    """meridiand / peer: < 1 means meridiand is ahead; the goal is <= 2."""
    base = out["servers"].get("meridiand")
    out["ratios"] = {}
    if not base:
        return
    for name, data in out["servers"].items():
        if name != "meridiand":
            out["ratios"][name] = {
                "start_to_serving": report.ratio(base["start_to_serving_s"],
                                                 data["start_to_serving_s"]),
                "rss": report.ratio(base["rss_max_kb"], data["rss_max_kb"])}


def measure(args, binaries, workdir):
    why = etcd.missing()
    if why:
        raise SystemExit(f"bench: {why}")
    result = {"run": "cluster", "threads": args.threads, "etcd_version": etcd.version(),
              "machine_start": report.machine_state()}
    if args.writes > 0:
        result["writes"] = writes(args, binaries, workdir)
    if args.records > 0:
        result["join"] = join(args, binaries, workdir)
    result["machine_end"] = report.machine_state()
    return result


def render(result):
    start, end = result["machine_start"], result["machine_end"]
    out = [f"\ncluster: 3 etcd members ({result['etcd_version']}) and meridiand --threads "
           f"{result['threads']} on 127.0.0.1-3 ({report.load_span(start, end)})"]
    w = result.get("writes")
    if w:
        rows = []
        for r in w["runs"]:
            rows.append([r["kind"], r["writes"], r["ack"]["p50_ms"], r["ack"]["p99_ms"],
                         r["both"]["p50_ms"], r["both"]["p99_ms"], r["both"]["max_ms"]]
                        + [n["p99_ms"] for n in r["nodes"].values()] + [r["missed"]])
        names = list(w["runs"][0]["nodes"])
        out.append(report.table(
            ["write on node1 -> answer", "writes", "ack p50 ms", "ack p99 ms", "other nodes p50",
             "p99", "max"] + [f"{n} p99" for n in names] + ["missed"], rows))
        out.append("(ms from sending the request; 'other nodes' is the later of "
                   f"{' and '.join(names)} per write; ack: the API's 2xx)")
        for r in w["runs"]:
            p99 = r["both"]["p99_ms"]
            met = p99 is not None and p99 < GOAL_P99_MS and not r["missed"]
            out.append(f"goal: {r['kind']} cross-node p99 under {GOAL_P99_MS:.0f} ms: "
                       f"{'met' if met else 'NOT met'} ({report.ms_text(p99)})")
    j = result.get("join")
    if j:
        init = j["init"]
        out.append(f"\njoin: {j['records']:,} records ({j['zone_file_mb']:.0f} MB zone file); "
                   f"meridianctl zone import {j['import_s']:.1f}s, cluster init "
                   f"{init['wall_s']:.1f}s ({init['keys']:,} keys in "
                   f"{init['transactions']:,} transactions of <= 128 puts), etcd backend "
                   f"{j['etcd_db_mb'] or 0:.0f} MB per member")
        rows = []
        for name, d in j["servers"].items():
            how = "empty --db, from etcd" if name == "meridiand" else "AXFR from knot primary"
            rows.append([name, how, d["start_to_serving_s"], d["cpu_to_serving_s"],
                         d["rss_max_kb"] / 1024, d["hwm_max_kb"] / 1024, d["pss_sum_kb"] / 1024])
        out.append(report.table(["node", "from", "start->last record s", "cpu s", "RSS MiB",
                                 "HWM MiB", "PSS MiB"], rows))
        m = j["servers"].get("meridiand")
        if m:
            out.append(f"meridiand: replica applied (etcd read + SQLite) after "
                       f"{_s(m.get('replica_applied_s'))}, replica {m['db_mb']:.0f} MB; etcd "
                       "members' RSS " + ", ".join(f"{kb / 1024:.0f}" for kb in m["etcd_rss_kb"])
                       + " MiB")
        r = j.get("etcd_read")
        if r:
            out.append(f"etcd alone: {r['keys']:,} keys read through the JSON gateway in pages "
                       f"of {r['page_size']:,} in {r['seconds']:.1f}s")
        if "primary_load_s" in j:
            out.append(f"knot primary loaded the file in {j['primary_load_s']:.1f}s")
        for name, why in j["skipped"].items():
            out.append(f"skipped {name}: {why}")
        for name, r in j["ratios"].items():
            t = r["start_to_serving"]
            met = t is not None and t <= GOAL_JOIN_RATIO
            out.append(f"meridiand/{name}: time {t:.2f}, RSS {r['rss']:.2f}; goal: join within "
                       f"{GOAL_JOIN_RATIO:.0f}x of the AXFR secondary: "
                       + ("met" if met else "NOT met"))
    return "\n".join(out)
