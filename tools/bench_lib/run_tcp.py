"""`tools/bench tcp`: legitimate TCP queries while attackers hold connections.

The README promises that a legitimate TCP query is still answered within a
second while an idle-connection flood or a slowloris attack runs; the tests
(tests/integration/tcp_limits_test.cc) only check it with margins, this is
where it is measured, for meridiand and, in the same run, NSD and Knot with
their default TCP settings.

Each server gets, one attack after the other, with a fresh start each:

  idle       --idle connections (default 1000) from 50 loopback hosts
             (127.0.2.x) that connect and send nothing;
  slowloris  --trickle connections (default 700) from 100 hosts (127.0.1.x)
             that send one byte of a query at once and one more every 2 s,
             and connect again 250 ms after the server closes one.

Once the attack's connections are up, a legitimate client connects from
127.0.0.1 every 100 ms for --seconds, sends one query and waits up to 5 s for
the answer: the time from connect() to the answer is recorded, and a query
not answered within 5 s is lost.
"""

import os
import selectors
import socket
import struct
import threading
import time

from . import common, dnsmsg, report, servers, zonegen

ZONE = "tcp.example"
PROMISE_S = 1.0
LOST_AFTER_S = 5.0


def _framed(name):
    query = dnsmsg.build_query(name, msg_id=0x5151)
    return struct.pack("!H", len(query)) + query


class Flood:
    """`count` connections from `hosts`, held by one thread, as an attacker
    holds them: idle, or trickling (`every` seconds per byte) and reconnected
    `reconnect` seconds after the server closes one."""

    def __init__(self, port, hosts, count, every=None, reconnect=None, name="www." + ZONE):
        self.port = port
        self.hosts = hosts
        self.count = count
        self.every = every
        self.reconnect = reconnect
        self.payload = _framed(name)
        self.established = 0
        self.closed_by_server = 0
        self.connects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _open(self, slot, now):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.bind((self.hosts[slot % len(self.hosts)], 0))
            sock.connect_ex(("127.0.0.1", self.port))
        except OSError:
            sock.close()
            return None
        self.connects += 1
        return sock

    def _run(self):
        sel = selectors.DefaultSelector()
        # Per slot: [socket or None, "down"|"connecting"|"open"|"dead", next time, bytes sent]
        slots = [[None, "down", 0.0, 0] for _ in range(self.count)]

        def down(i, now, by_server):
            sock = slots[i][0]
            sel.unregister(sock)
            sock.close()
            if by_server:
                self.closed_by_server += 1
            if by_server and self.reconnect is None:
                slots[i] = [None, "dead", 0.0, 0]
            else:
                slots[i] = [None, "down", now + (self.reconnect or 0.1), 0]

        def trickle(i, now):
            sock, _, _, sent = slots[i]
            try:
                if sock.send(self.payload[sent % len(self.payload):][:1]) == 1:
                    slots[i][3] = sent + 1
            except OSError:
                pass
            slots[i][2] = now + self.every

        while not self._stop.is_set():
            now = time.monotonic()
            for i, (sock, state, due, _) in enumerate(slots):
                if state == "down" and now >= due:
                    sock = self._open(i, now)
                    if sock is None:
                        slots[i][2] = now + 0.1
                        continue
                    slots[i] = [sock, "connecting", 0.0, 0]
                    sel.register(sock, selectors.EVENT_WRITE, i)
                elif state == "open" and self.every and now >= due:
                    trickle(i, now)
            for key, _ in sel.select(0.02):
                i = key.data
                sock, state = slots[i][0], slots[i][1]
                now = time.monotonic()
                if state == "connecting":
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                        down(i, now, False)
                        continue
                    slots[i][1] = "open"
                    self.established += 1
                    sel.modify(sock, selectors.EVENT_READ, i)
                    if self.every:
                        trickle(i, now)
                    continue
                try:
                    data = sock.recv(512)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    down(i, now, True)
        for sock, _, _, _ in slots:
            if sock is not None:
                sock.close()
        sel.close()


def legitimate_query(port, name, expected):
    """Seconds from connect() to a correct answer over TCP, or None when lost."""
    start = time.monotonic()
    deadline = start + LOST_AFTER_S
    msg_id = 0x4242
    query = dnsmsg.build_query(name, msg_id=msg_id)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=LOST_AFTER_S) as sock:
            sock.sendall(struct.pack("!H", len(query)) + query)
            data = b""
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                sock.settimeout(left)
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                data += chunk
                if len(data) >= 2 and len(data) >= 2 + struct.unpack("!H", data[:2])[0]:
                    got = dnsmsg.answer_addresses(data[2:], msg_id)
                    ok = got is not None and got[0] == 0 and expected in got[1]
                    return time.monotonic() - start if ok else None
    except OSError:
        return None


def _hosts(subnet, count):
    return [f"127.0.{subnet}.{i}" for i in range(1, count + 1)]


def attack(server, kind, args, probe):
    """Runs one attack against a started server; returns its figures."""
    if kind == "idle":
        flood = Flood(server.port, _hosts(2, 50), args.idle)
    else:
        flood = Flood(server.port, _hosts(1, 100), args.trickle, every=2.0, reconnect=0.25)
    times = []
    with flood:
        deadline = time.monotonic() + 20
        while flood.established < flood.count and time.monotonic() < deadline:
            time.sleep(0.05)
        established = flood.established
        time.sleep(0.5)
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            times.append(legitimate_query(server.port, *probe))
            time.sleep(0.1)
        figures = {"established": established, "connects": flood.connects,
                   "closed_by_server": flood.closed_by_server}
    answered = [t * 1000 for t in times if t is not None]
    figures.update({
        "attack": kind, "asked": len(times), "answered": len(answered),
        "p50_ms": report.percentile(answered, 50), "p99_ms": report.percentile(answered, 99),
        "max_ms": max(answered) if answered else None,
        "within_promise": len(answered) == len(times) and
        all(t <= PROMISE_S * 1000 for t in answered)})
    return figures


def measure(args, binaries, workdir):
    zone_path = os.path.join(workdir, ZONE + ".zone")
    probe = zonegen.write_static(zone_path, ZONE)
    zones = [servers.Zone(ZONE, zone_path)]
    result = {"run": "tcp", "threads": args.threads, "seconds": args.seconds,
              "idle": args.idle, "trickle": args.trickle, "promise_s": PROMISE_S,
              "machine_start": report.machine_state(), "servers": []}
    for name in args.servers:
        why = common.peer_missing(name)
        if why:
            common.warn(f"skipping {name}: {why}")
            continue
        entry = {"server": name, "attacks": []}
        for kind in ("idle", "slowloris"):
            # A fresh server (and directory) per attack.
            server = common.make_server(name, os.path.join(workdir, kind), args.threads,
                                        binaries)
            server.configure(zones)
            with common.running([server]):
                server.start()
                server.wait_serving(probe[0], probe[1])
                figures = attack(server, kind, args, probe)
                figures["alive"] = server.alive()
            entry["attacks"].append(figures)
            common.say(f"  {name} {kind}: answered {figures['answered']}/{figures['asked']}, "
                       f"p50 {report.ms_text(figures['p50_ms'])} "
                       f"p99 {report.ms_text(figures['p99_ms'])} "
                       f"max {report.ms_text(figures['max_ms'])}")
        entry["version"] = server.version()
        result["servers"].append(entry)
    result["machine_end"] = report.machine_state()
    return result



def render(result):
    start, end = result["machine_start"], result["machine_end"]
    out = [f"\ntcp: legitimate TCP queries (from 127.0.0.1, every 100 ms for "
           f"{result['seconds']:.0f} s) during an idle flood of {result['idle']} connections "
           f"and a slowloris of {result['trickle']} ({report.load_span(start, end)})"]
    rows = []
    for entry in result["servers"]:
        for a in entry["attacks"]:
            rows.append([f"{entry['server']} {entry['version']}", a["attack"],
                         f"{a['answered']}/{a['asked']}", a["p50_ms"], a["p99_ms"], a["max_ms"],
                         a["connects"], a["closed_by_server"],
                         "yes" if a["within_promise"] else "NO"])
    out.append(report.table(["server", "attack", "answered", "p50 ms", "p99 ms", "max ms",
                             "attack connects", "closed by server",
                             f"all <= {result['promise_s'] * 1000:.0f} ms"], rows))
    return "\n".join(out)
