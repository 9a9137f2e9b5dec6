"""`tools/bench bigzone`: one generated zone of N records (default 1,000,000).

For meridiand: import time (meridianctl --db F zone import), then start to
first correct answer, then memory once serving. For NSD and Knot (and gdnsd
or pdns if asked): start to first correct answer on the same zone file, and
memory. Servers run one at a time so they do not compete for the 2 cores.
"""

import os
import time

from . import common, report, zonegen

ZONE = "big.example"


def generate(zone_path, zone, records):
    """zonegen.write_big, saying what it wrote and how long it took;
    returns its (probe name, address). tools/bench cluster's join uses it too."""
    t0 = time.monotonic()
    name, address = zonegen.write_big(zone_path, zone, records)
    common.say(f"generated {records:,} records ({zonegen.file_mb(zone_path):.0f} MB) in "
               f"{time.monotonic() - t0:.1f}s; probe {name} A {address}")
    return name, address


def measure(args, binaries, workdir):
    zone_path = os.path.join(workdir, ZONE + ".zone")
    name, address = generate(zone_path, ZONE, args.records)
    result = {"run": "bigzone", "records": args.records, "threads": args.threads,
              "zone_file_mb": zonegen.file_mb(zone_path), "probe": name,
              "machine_start": report.machine_state(), "servers": {}, "skipped": {}}
    zones = [common.servers.Zone(ZONE, zone_path)]
    for server_name in args.servers:
        why = common.peer_missing(server_name)
        if why:
            result["skipped"][server_name] = why
            common.say(f"skipping {server_name}: {why}")
            continue
        server = common.make_server(server_name, workdir, args.threads, binaries)
        data = {"version": server.version(), "starts": []}
        try:
            server.configure(zones)
            if server_name == "meridiand":
                data["import_s"] = server.import_seconds[ZONE]
                data["db_mb"] = os.path.getsize(server.db) / 1e6
                common.say(f"  meridianctl zone import: {data['import_s']:.1f}s, "
                           f"database {data['db_mb']:.0f} MB")
            for r in range(args.rounds):
                data["starts"].append(_start_once(server, name, address, args.timeout))
                s = data["starts"][-1]
                common.say(f"  {server_name:9} start {r + 1}/{args.rounds}: serving after "
                           f"{s['start_to_serving_s']:.2f}s, RSS {s['rss_max_kb'] / 1024:.0f} MiB, "
                           f"PSS {s['pss_sum_kb'] / 1024:.0f} MiB (load {s['loadavg_1m']:.1f})")
        except Exception as e:
            result["skipped"][server_name] = f"failed: {e}"
            common.warn(f"{server_name}: {e}")
            server.stop()
            continue
        data["median"] = {k: report.median([s[k] for s in data["starts"]])
                          for k in data["starts"][0]}
        result["servers"][server_name] = data
    result["machine_end"] = report.machine_state()
    _ratios(result)
    return result


def _start_once(server, name, address, timeout):
    with common.running([]) as started:
        server.start()
        started.append(server)
        start_s = server.wait_serving(name, address, timeout=timeout)
        user, system = server.cpu_seconds()
        # Let a background loader settle (Knot frees its parse buffers after
        # switching zones) before reading memory.
        time.sleep(1.0)
        mem = server.memory_kb()
    return dict(start_to_serving_s=start_s, cpu_to_serving_s=user + system,
                loadavg_1m=os.getloadavg()[0], **mem)


def _ratios(result):
    base = result["servers"].get("meridiand", {}).get("median")
    result["ratios"] = {}
    if not base:
        return
    for name, data in result["servers"].items():
        if name == "meridiand":
            continue
        m = data["median"]
        # > 1 means meridiand is ahead (faster start, less memory).
        result["ratios"][name] = {
            "start_to_serving": report.ratio(m["start_to_serving_s"], base["start_to_serving_s"]),
            "rss": report.ratio(m["rss_max_kb"], base["rss_max_kb"]),
            "pss": report.ratio(m["pss_sum_kb"], base["pss_sum_kb"]),
        }


def render(result):
    rows = []
    for name, data in result["servers"].items():
        m = data["median"]
        rows.append([name, data.get("import_s"), m["start_to_serving_s"], m["cpu_to_serving_s"],
                     m["rss_max_kb"] / 1024, m["hwm_max_kb"] / 1024, m["pss_sum_kb"] / 1024,
                     m["processes"]])
    out = [f"\nbigzone: {result['records']:,} records, {result['zone_file_mb']:.0f} MB zone file "
           f"(load {result['machine_start']['loadavg'][0]:.1f} at start, "
           f"{result['machine_end']['loadavg'][0]:.1f} at end)",
           report.table(["server", "import s", "start->serving s", "cpu s to serve", "RSS MiB",
                         "HWM MiB", "PSS MiB", "procs"], rows)]
    meridian = result["servers"].get("meridiand")
    if meridian:
        out.append(f"meridiand database: {meridian['db_mb']:.0f} MB")
    for name, why in result["skipped"].items():
        out.append(f"skipped {name}: {why}")
    out.append("\nsummary (each > 1 means meridiand is ahead)")
    for name, r in result["ratios"].items():
        out.append(_line(f"{name}/meridiand start to serving", r["start_to_serving"]))
        out.append(_line(f"{name}/meridiand RSS (largest process)", r["rss"]))
        out.append(_line(f"{name}/meridiand PSS (all processes)", r["pss"]))
    if meridian and result["ratios"]:
        out.append("  (meridiand's import is a separate, one-off step: "
                   f"{meridian['import_s']:.1f}s; the peers parse the file at every start)")
    return "\n".join(out)


def _line(label, value):
    return f"  {label:<40} = {'-' if value is None else f'{value:.2f}'}"
