"""`tools/bench reload`: how soon a committed change is served, while
meridian-healthd writes. The README promises "within a second"; this is where
that promise is measured (the tests only tell served from lost).

One meridiand serves reload.example (a static name `www`). meridian-healthd
probes --endpoints endpoints with TCP checks every second: most against
meridiand's own API port (up), every fourth against a port that this run
opens and closes every 0.7 s (flapping), so healthd writes state changes,
RTTs and heartbeats throughout. Then --changes times each:

  shell   `sqlite3 DB "UPDATE records SET rdata = ..."`: www's address
          changes outside Meridian's store, as an operator's script would;
  sighup  the same edit, then SIGHUP to meridiand at once;
  api     PUT /api/v1/zones/reload.example/rrsets/www/A through the API;

timed from the commit (sqlite3's exit, the API's 2xx) to the first UDP answer
that shows it (dnsmsg.Poller), after a random pause so commits fall anywhere
in meridiand's poll cycle and healthd's write cycle.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time

from . import api, common, dnsmsg, report, servers, zonegen

ZONE = "reload.example"
NAME = "www." + ZONE
PROMISE_S = 1.0


class FlappingPort:
    """A TCP port that accepts for `period` s (0.7), then refuses for as long,
    and so on."""

    def __init__(self, period=0.7):
        self.period = period
        self.port = servers.free_port()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            listener.settimeout(0.05)
            until = time.monotonic() + self.period
            while time.monotonic() < until and not self.stop.is_set():
                try:
                    listener.accept()[0].close()
                except OSError:
                    pass
            listener.close()
            self.stop.wait(self.period)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def _address(i):
    return f"198.18.{200 + (i >> 8) % 50}.{i % 250 + 1}"


def _rdata_hex(address):
    return "".join(f"{int(octet):02x}" for octet in address.split("."))


def changes(server, kind, count, rng, timeout):
    """`count` changes of `kind`; seconds from each commit to its answer."""
    poller = dnsmsg.Poller(server.host, server.port)
    client = api.Client(server.api_url, server.token_file) if kind == "api" else None
    delays, missed = [], 0
    for i in range(count):
        time.sleep(rng.uniform(0.05, 0.5))
        want = _address(i + (0 if kind == "shell" else 1000 if kind == "sighup" else 2000))
        if kind == "api":
            client.call("PUT", f"/api/v1/zones/{ZONE}/rrsets/www/A",
                        {"ttl": 300, "records": [want]})
        else:
            subprocess.run(["sqlite3", "-cmd", ".timeout 10000", server.db,
                            f"UPDATE records SET rdata = x'{_rdata_hex(want)}' "
                            f"WHERE owner = '{NAME}.' AND type = 1"], check=True)
            if kind == "sighup":
                server.proc.send_signal(signal.SIGHUP)
        committed = time.monotonic()
        seen = poller.wait_for(NAME, lambda got, want=want: got == [want], committed + timeout)
        if seen is None:
            missed += 1
        else:
            delays.append(seen - committed)
    poller.close()
    if client:
        client.close()

    def ms(p):
        return None if not delays else report.percentile(delays, p) * 1e3
    return {"kind": kind, "changes": count, "missed": missed, "p50_ms": ms(50),
            "p99_ms": ms(99), "max_ms": ms(100),
            "within_promise": missed == 0 and bool(delays) and max(delays) <= PROMISE_S}


def measure(args, binaries, workdir):
    if not shutil.which("sqlite3"):
        raise SystemExit("bench: the sqlite3 shell is not installed (apt-get install sqlite3)")
    healthd_bin = os.path.join(os.path.abspath(args.build_dir), "healthd", "meridian-healthd")
    if not os.access(healthd_bin, os.X_OK):
        raise SystemExit(f"bench: {healthd_bin} is missing (ninja -C {args.build_dir} "
                         "meridian-healthd)")
    zone_path = os.path.join(workdir, ZONE + ".zone")
    with open(zone_path, "w") as f:
        f.write(zonegen.HEADER.format(zone=ZONE) + "www IN A 192.0.2.1\n")
    server = servers.Meridian(workdir, args.threads, binaries.meridiand, binaries.meridianctl)
    server.enable_api()
    server.configure([servers.Zone(ZONE, zone_path)])
    rng = random.Random(args.seed)
    result = {"run": "reload", "endpoints": args.endpoints, "promise_s": PROMISE_S,
              "machine_start": report.machine_state(), "kinds": []}
    healthd = None
    healthd_log = os.path.join(workdir, "healthd.log")
    with common.running([server]), FlappingPort() as flapping:
        try:
            server.start()
            server.wait_serving(NAME, "192.0.2.1", timeout=60)
            server.wait_api()
            api_port = int(server.api_url.rsplit(":", 1)[1].split("/")[0])
            server.ctl("region", "add", "r1", "--lat", 50, "--lon", 8)
            for i in range(args.endpoints):
                port = flapping.port if i % 4 == 0 else api_port
                check = {"type": "tcp", "port": port, "interval_s": 1, "timeout_ms": 500,
                         "rise": 1, "fall": 1}
                server.ctl("endpoint", "add", f"e{i}", "--region", "r1", "--address",
                           "127.0.0.1", "--check", json.dumps(check))
            with open(healthd_log, "w") as log:
                healthd = subprocess.Popen([healthd_bin, "--db", server.db, "--vantage", "bench"],
                                           stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT)
            time.sleep(3)  # every endpoint probed a few times
            common.say(f"reload: meridiand@{server.port} + meridian-healthd ({args.endpoints} "
                       f"TCP checks at 1 s, every fourth flapping); {args.changes} changes each")
            for kind in ("shell", "sighup", "api"):
                k = changes(server, kind, args.changes, rng, args.timeout)
                result["kinds"].append(k)
                p50, p99, top = (report.ms_text(k[f]) for f in ("p50_ms", "p99_ms", "max_ms"))
                common.say(f"  {kind}: p50 {p50} p99 {p99} max {top}, missed {k['missed']}")
                if healthd.poll() is not None:
                    raise RuntimeError(f"meridian-healthd exited; see {healthd_log}")
        finally:
            if healthd and healthd.poll() is None:
                healthd.terminate()
                healthd.wait(10)
        if not server.alive():
            raise SystemExit(f"bench: meridiand died:\n{server.log_tail()}")
    result["machine_end"] = report.machine_state()
    return result



def render(result):
    start, end = result["machine_start"], result["machine_end"]
    out = [f"\nreload: commit -> served while meridian-healthd writes ({result['endpoints']} "
           f"endpoints; {report.load_span(start, end)})"]
    rows = [[k["kind"], k["changes"], k["p50_ms"], k["p99_ms"], k["max_ms"], k["missed"],
             "yes" if k["within_promise"] else "NO"] for k in result["kinds"]]
    out.append(report.table(["change", "changes", "p50 ms", "p99 ms", "max ms", "missed",
                             f"all <= {result['promise_s'] * 1000:.0f} ms"], rows))
    return "\n".join(out)
