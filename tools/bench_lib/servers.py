"""meridiand and the Debian peers, each started as a foreground child on
127.0.0.1 in its own temporary directory, with the same thread count.

Thread mapping, so every server gets N UDP workers:
  meridiand  --threads N                (N libuv loops, each UDP + TCP)
  gdnsd      udp_threads N, tcp_threads 1
  nsd        server-count N (processes), reuseport
  knot       udp-workers N, tcp-workers 1, background-workers 1
  pdns       receiver-threads N, reuseport, distributor-threads 1
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time

from . import dnsmsg, procstat


def free_port(host="127.0.0.1"):
    """An unused port on `host`, free for both UDP and TCP when checked."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
            return port
    raise RuntimeError(f"no free port on {host}")


def package_version(package):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


class Zone:
    """A zone to serve: its name (no trailing dot) and its RFC 1035 file."""

    def __init__(self, name, path):
        self.name = name.rstrip(".")
        self.path = os.path.abspath(path)


class Server:
    """One server process under test. Subclasses write config and command."""

    name = "server"
    package = None  # Debian package, for the version in the report
    binary = None   # program that must be on PATH

    def __init__(self, workdir, threads, host="127.0.0.1", label=None):
        if label:  # a second instance of the same server, e.g. "pdns-shared"
            self.name = label
        self.dir = os.path.join(workdir, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.threads = threads
        self.host = host
        self.port = free_port(host)
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")
        self.started_at = None

    @classmethod
    def missing(cls):
        """None when runnable here, else why not (the run skips it)."""
        if cls.binary and shutil.which(cls.binary) is None:
            return f"{cls.binary} not installed"
        return None

    def version(self):
        return package_version(self.package) if self.package else "?"

    def configure(self, zones):
        raise NotImplementedError

    def command(self):
        raise NotImplementedError

    def start(self):
        log = open(self.log_path, "ab")
        self.started_at = time.monotonic()
        # Own process group, so stop() can reach forked children (NSD) too.
        self.proc = subprocess.Popen(self.command(), cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_serving(self, name, expected, timeout=60.0):
        """Seconds from start() to the first correct answer for `name`."""
        t = dnsmsg.wait_for_answer(self.host, self.port, name, expected,
                                   time.monotonic() + timeout, alive=self.alive)
        if t is None:
            why = "exited" if not self.alive() else f"gave no correct answer in {timeout:.0f}s"
            raise RuntimeError(f"{self.name} {why}; log {self.log_path}:\n{self.log_tail()}")
        return t - self.started_at

    def cpu_seconds(self):
        return procstat.cpu_seconds(self.proc.pid)

    def memory_kb(self):
        return procstat.memory_kb(self.proc.pid)

    def stop(self, timeout=15.0):
        if not self.alive():
            return
        pgid = self.proc.pid  # == its process group (start_new_session)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait()
        # Forked children that outlived the parent (none expected).
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def _link_zone(self, zone, filename):
        target = os.path.join(self.dir, filename)
        if os.path.lexists(target):
            os.remove(target)
        os.symlink(zone.path, target)
        return target


class Meridian(Server):
    name = "meridiand"

    def __init__(self, workdir, threads, meridiand, meridianctl, host="127.0.0.1", label=None):
        super().__init__(workdir, threads, host, label)
        self.meridiand = meridiand
        self.meridianctl = meridianctl
        self.db = os.path.join(self.dir, "meridian.db")
        self.import_seconds = {}
        self.extra_args = []  # e.g. --geodb for the geo run
        self.api_url = None
        self.token_file = None
        # Response rate limiting and DNS cookies at their defaults (200
        # responses per second per client /24 and answer). Off unless a run
        # asks: dnsperf from one address asking one name would mostly get
        # truncated "slip" answers, as the NSD stanza below says for NSD.
        self.defences = False
        # False for a build older than RRL and cookies (a --baseline-build),
        # which has neither option, nor either defence.
        self.knows_defences = True
        self.log_level = "warn"

    def version(self):
        return "working tree"

    def enable_api(self, token_file=None):
        """Serves the JSON API on a free port with a fresh token in
        DIR/api.token, or with `token_file` (one shared by the nodes of a
        cluster); meridiand reads a given --api-token-file and creates only
        the default DB.token. Call before start()."""
        port = free_port(self.host)
        self.api_url = f"http://{self.host}:{port}"
        self.token_file = token_file or os.path.join(self.dir, "api.token")
        if token_file is None:
            fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        self.extra_args += ["--api-listen", f"{self.host}:{port}",
                            "--api-token-file", self.token_file]

    def ctl(self, *args):
        """Runs meridianctl against this server's API; returns its stdout."""
        return subprocess.run([self.meridianctl, "--api", self.api_url,
                               "--token-file", self.token_file] + [str(a) for a in args],
                              check=True, capture_output=True, text=True).stdout

    def wait_api(self, timeout=30.0):
        """Waits for the API in the ready file ({"dns": [...], "api": ...})."""
        ready = os.path.join(self.dir, "ready.json")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(ready) as f:
                    if json.load(f).get("api"):
                        return
            except (OSError, ValueError):
                pass
            if not self.alive():
                break
            time.sleep(0.02)
        raise RuntimeError(f"{self.name}: no API in {ready}; log {self.log_path}:\n"
                           f"{self.log_tail()}")

    def configure(self, zones):
        """Imports every zone with meridianctl; records how long each took."""
        for zone in zones:
            t0 = time.monotonic()
            subprocess.run([self.meridianctl, "--db", self.db, "zone", "import", zone.path,
                            "--zone", zone.name + "."], check=True, stdout=subprocess.DEVNULL)
            self.import_seconds[zone.name] = time.monotonic() - t0

    def command(self):
        off = self.knows_defences and not self.defences
        defences = ["--rrl-rate", "0", "--no-cookies"] if off else []
        # Without enable_api() no API at all: two instances in one run would
        # otherwise both try the default 127.0.0.1:8053.
        if self.api_url is None:
            defences.append("--no-api")
        return [self.meridiand, "--db", self.db, "--dns-listen", f"{self.host}:{self.port}",
                "--threads", str(self.threads), "--log-level", self.log_level,
                "--ready-file", os.path.join(self.dir, "ready.json")] + defences + \
            self.extra_args

    def metrics(self):
        """/metrics as {sample: value}; needs enable_api()."""
        import urllib.request
        with urllib.request.urlopen(self.api_url + "/metrics", timeout=10) as response:
            text = response.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out


class Gdnsd(Server):
    name = "gdnsd"
    package = "gdnsd"
    binary = "gdnsd"

    def __init__(self, workdir, threads, host="127.0.0.1", plugins=""):
        super().__init__(workdir, threads, host)
        self.plugins = plugins  # text of a `plugins => { ... }` stanza (geo run)

    def configure(self, zones):
        for sub in ("zones", "run", "state", "geoip"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        for zone in zones:
            self._link_zone(zone, os.path.join("zones", zone.name))
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(f"""options => {{
  listen => [ {self.host}:{self.port} ]
  udp_threads => {self.threads}
  tcp_threads => 1
  run_dir => {self.dir}/run
  state_dir => {self.dir}/state
  zones_strict_data => true
}}
{self.plugins}
""")

    def command(self):
        return ["gdnsd", "-c", self.dir, "start"]


class Nsd(Server):
    name = "nsd"
    package = "nsd"
    binary = "nsd"

    def __init__(self, workdir, threads, host="127.0.0.1", label=None, rrl=False, primary=None):
        super().__init__(workdir, threads, host, label)
        self.rrl = rrl  # True: NSD's own RRL defaults (tools/bench rrl)
        # (host, port): the zones are secondaries, transferred from there by
        # AXFR at start (tools/bench cluster); their files are written later.
        self.primary = primary

    def configure(self, zones):
        stanzas = ""
        for zone in zones:
            stanzas += f"zone:\n  name: {zone.name}\n  zonefile: {zone.name}.zone\n"
            if self.primary:
                host, port = self.primary
                stanzas += (f"  request-xfr: AXFR {host}@{port} NOKEY\n"
                            f"  allow-notify: {host} NOKEY\n")
            else:
                self._link_zone(zone, zone.name + ".zone")
        d = self.dir
        if self.rrl:
            # NSD's defaults, spelled out: 200 per second per /24 (IPv6 /64),
            # every second limited answer slips as TC.
            rrl = ("  rrl-ratelimit: 200\n  rrl-slip: 2\n  rrl-ipv4-prefix-length: 24\n"
                   "  rrl-ipv6-prefix-length: 64\n")
        else:
            # Debian's NSD has response rate limiting on (200 qps per /24); a
            # benchmark from one address would mostly get truncated "slip"
            # answers.
            rrl = "  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n"
        with open(os.path.join(d, "nsd.conf"), "w") as f:
            f.write(f"""server:
  ip-address: {self.host}@{self.port}
  server-count: {self.threads}
  reuseport: yes
  minimal-responses: yes
{rrl}  username: ""
  chroot: ""
  zonesdir: "{d}"
  database: ""
  zonelistfile: "{d}/zone.list"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}"
  pidfile: "{d}/nsd.pid"
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
{stanzas}""")

    def command(self):
        return ["nsd", "-d", "-c", os.path.join(self.dir, "nsd.conf")]


class Knot(Server):
    name = "knot"
    package = "knot"
    binary = "knotd"

    def __init__(self, workdir, threads, host="127.0.0.1", label=None, primary=None,
                 allow_transfer=False):
        super().__init__(workdir, threads, host, label)
        # (host, port): the zones are secondaries, transferred from there at
        # start (tools/bench cluster), kept in memory only (no zone file,
        # no journal). allow_transfer: any 127.0.0.0/8 address may AXFR.
        self.primary = primary
        self.allow_transfer = allow_transfer

    def configure(self, zones):
        d = self.dir
        os.makedirs(os.path.join(d, "db"), exist_ok=True)
        stanzas, remotes = "", ""
        if self.primary:
            remotes = (f"remote:\n  - id: primary\n    address: {self.primary[0]}@"
                       f"{self.primary[1]}\nacl:\n  - id: notify\n    address: "
                       f"{self.primary[0]}\n    action: notify\n")
        elif self.allow_transfer:
            remotes = "acl:\n  - id: transfer\n    address: 127.0.0.0/8\n    action: transfer\n"
        for zone in zones:
            stanzas += f"  - domain: {zone.name}\n    file: {zone.name}.zone\n"
            if self.primary:
                stanzas += "    master: primary\n    acl: notify\n"
            else:
                self._link_zone(zone, zone.name + ".zone")
                if self.allow_transfer:
                    stanzas += "    acl: transfer\n"
        with open(os.path.join(d, "knot.conf"), "w") as f:
            f.write(f"""server:
  rundir: "{d}"
  listen: {self.host}@{self.port}
  udp-workers: {self.threads}
  tcp-workers: 1
  background-workers: 1
log:
  - target: stderr
    any: warning
database:
  storage: "{d}/db"
template:
  - id: default
    storage: "{d}"
    journal-content: none
    zonefile-sync: -1
    zonefile-load: whole
    semantic-checks: off
{remotes}zone:
{stanzas}""")

    def command(self):
        return ["knotd", "-c", os.path.join(self.dir, "knot.conf")]


class Pdns(Server):
    name = "pdns"
    package = "pdns-server"
    binary = "pdns_server"

    def __init__(self, workdir, threads, host="127.0.0.1", extra_config=(), launch="bind",
                 label=None):
        super().__init__(workdir, threads, host, label)
        self.extra_config = list(extra_config)  # e.g. LUA records + geoip backend (geo run)
        self.launch = launch

    def configure(self, zones):
        d = self.dir
        with open(os.path.join(d, "named.conf"), "w") as f:
            for zone in zones:
                path = self._link_zone(zone, zone.name + ".zone")
                f.write(f'zone "{zone.name}" {{ type master; file "{path}"; }};\n')
        lines = [
            f"launch={self.launch}",
            f"bind-config={d}/named.conf",
            f"local-address={self.host}",
            f"local-port={self.port}",
            "daemon=no",
            "guardian=no",
            f"socket-dir={d}",
            f"receiver-threads={self.threads}",
            "distributor-threads=1",
            "reuseport=yes",
            "disable-syslog=yes",
            "loglevel=4",
            # No security-status lookup over the network.
            "security-poll-suffix=",
        ] + self.extra_config
        with open(os.path.join(d, "pdns.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def command(self):
        return ["pdns_server", f"--config-dir={self.dir}"]


PEERS = {"gdnsd": Gdnsd, "nsd": Nsd, "knot": Knot, "pdns": Pdns}
