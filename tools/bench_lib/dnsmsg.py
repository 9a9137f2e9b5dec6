"""Just enough DNS wire format for the benchmark: build queries (with an
optional EDNS Client Subnet option) and check an answer's A records.

Kept dependency-free on purpose: the probe must work before anything else
is installed, and dnsperf does the heavy lifting.
"""

import random
import socket
import struct
import time

TYPE_A = 1
TYPE_AAAA = 28
TYPE_OPT = 41
OPTION_ECS = 8
OPTION_COOKIE = 10


def encode_name(name):
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii")
            out.append(len(raw))
            out += raw
    out.append(0)
    return bytes(out)


def ecs_option(address, prefix):
    """The ECS option (RFC 7871 section 6) for an IPv4 subnet.

    Worked example: 198.51.100.0/24 -> family 1, source 24, scope 0, and
    ceil(24 / 8) = 3 address octets c6 33 64, so the option is
    00 08 | 00 07 | 00 01 18 00 c6 33 64. Bits past the prefix must be zero
    (a strict server answers FORMERR otherwise), so the address is masked.
    """
    value = struct.unpack("!I", socket.inet_aton(address))[0]
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0
    octets = struct.pack("!I", value & mask)[: (prefix + 7) // 8]
    body = struct.pack("!HBB", 1, prefix, 0) + octets
    return struct.pack("!HH", OPTION_ECS, len(body)) + body


def build_query(name, qtype=TYPE_A, msg_id=None, edns=False, ecs=None, payload=1232,
                cookie=None):
    """A query message. ecs=(address, prefix) adds an ECS option (and EDNS);
    cookie=bytes a COOKIE option (RFC 7873) with that data (and EDNS)."""
    if msg_id is None:
        msg_id = random.randrange(65536)
    options = ecs_option(*ecs) if ecs else b""
    if cookie is not None:
        options += struct.pack("!HH", OPTION_COOKIE, len(cookie)) + cookie
    arcount = 1 if (edns or ecs or cookie is not None) else 0
    msg = struct.pack("!HHHHHH", msg_id, 0, 1, 0, 0, arcount)
    msg += encode_name(name) + struct.pack("!HH", qtype, 1)
    if arcount:
        # OPT: root owner, type 41, class = UDP payload, TTL = ext-rcode/version/flags.
        msg += b"\x00" + struct.pack("!HHIH", TYPE_OPT, payload, 0, len(options)) + options
    return msg


def _skip_name(msg, pos):
    while True:
        length = msg[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length


def answer_addresses(msg, msg_id):
    """(rcode, [A addresses in the answer section]) or None if not our reply."""
    if len(msg) < 12:
        return None
    rid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    if rid != msg_id or not flags & 0x8000:
        return None
    pos = 12
    try:
        for _ in range(qd):
            pos = _skip_name(msg, pos) + 4
        addresses = []
        for _ in range(an):
            pos = _skip_name(msg, pos)
            rtype, _, _, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
            pos += 10
            if rtype == TYPE_A and rdlen == 4:
                addresses.append(socket.inet_ntoa(msg[pos:pos + 4]))
            pos += rdlen
    except (IndexError, struct.error):
        return None
    return flags & 0xF, addresses


def edns_options(msg):
    """{option code: data} of the OPT record in a response ({} if none)."""
    _, _, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    pos = 12
    for _ in range(qd):
        pos = _skip_name(msg, pos) + 4
    for i in range(an + ns + ar):
        pos = _skip_name(msg, pos)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        if rtype == TYPE_OPT and i >= an + ns:
            options, at = {}, pos
            while at + 4 <= pos + rdlen:
                code, length = struct.unpack("!HH", msg[at:at + 4])
                options[code] = msg[at + 4:at + 4 + length]
                at += 4 + length
            return options
        pos += rdlen
    return {}


def fetch_cookie(host, port, name, timeout=2.0):
    """Asks `name` with a random client cookie; returns the whole COOKIE the
    server sent back (client + server cookie, 24 octets for RFC 9018), which
    this address may then send with its queries (valid for an hour)."""
    client = bytes(random.randrange(256) for _ in range(8))
    msg_id = random.randrange(65536)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(build_query(name, msg_id=msg_id, cookie=client), (host, port))
        data, _ = sock.recvfrom(4096)
    cookie = edns_options(data).get(OPTION_COOKIE)
    if not cookie or cookie[:8] != client:
        raise RuntimeError(f"{host}:{port} sent no COOKIE for our client cookie")
    return cookie


def query_once(host, port, name, timeout=0.05):
    """One UDP query; (rcode, addresses) or None on timeout or garbage."""
    msg_id = random.randrange(65536)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(build_query(name, msg_id=msg_id), (host, port))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                data, _ = sock.recvfrom(4096)
                parsed = answer_addresses(data, msg_id)
                if parsed is not None:
                    return parsed
        except OSError:
            return None
    return None


def wait_for_answer(host, port, name, expected, deadline, alive=lambda: True, interval=0.01):
    """Polls until `name` answers NOERROR with `expected` among its A records.

    Returns the monotonic time of the first correct answer, or None when the
    deadline passes or alive() says the server died.
    """
    while time.monotonic() < deadline:
        if not alive():
            return None
        got = query_once(host, port, name)
        if got is not None and got[0] == 0 and expected in got[1]:
            return time.monotonic()
        time.sleep(interval)
    return None


class Poller:
    """Asks one name again and again over one UDP socket, as fast as the
    server answers (no sleep): the write->answer delays in the api and
    healthd runs are measured with it. Each query has its own ID, and late
    answers to earlier queries are skipped."""

    def __init__(self, host, port, timeout=0.05):
        self.address = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.queries = 0

    def ask(self, name):
        """(rcode, [addresses]) or None on timeout."""
        msg_id = random.randrange(65536)
        self.queries += 1
        try:
            self.sock.sendto(build_query(name, msg_id=msg_id), self.address)
            while True:
                parsed = answer_addresses(self.sock.recv(4096), msg_id)
                if parsed is not None:
                    return parsed
        except OSError:
            return None

    def wait_for(self, name, accept, deadline):
        """Polls until accept(addresses) holds for a NOERROR answer; returns
        the monotonic time of that answer, or None at the deadline."""
        while time.monotonic() < deadline:
            got = self.ask(name)
            if got is not None and got[0] == 0 and accept(got[1]):
                return time.monotonic()
        return None

    def close(self):
        self.sock.close()
