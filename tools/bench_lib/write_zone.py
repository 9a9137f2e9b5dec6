"""The zone the write benchmarks change (tools/bench api, tools/bench cluster):
a static name to wait for, an RRset they rewrite (www) and a steered name (lb)
that fails over from region r1 to r2 when r1's endpoint is drained."""

from . import zonegen

REGIONS = {"r1": ("r1-1", "192.0.2.11"), "r2": ("r2-1", "192.0.2.21")}


class WriteZone:
    def __init__(self, zone):
        self.zone = zone
        self.static = ("static." + zone, "192.0.2.1")  # (name, its address)
        self.rrset = "www." + zone
        self.steered = "lb." + zone

    def write_file(self, path):
        with open(path, "w") as f:
            f.write(zonegen.HEADER.format(zone=self.zone))
            f.write(f"static IN A {self.static[1]}\nwww IN A 198.18.1.1\n")
        return path

    def add_steering(self, ctl):
        """The regions, their endpoints and lb's failover, through `ctl`
        (meridianctl's arguments -> its run)."""
        for region, (endpoint, address) in REGIONS.items():
            ctl("region", "add", region, "--lat", 50, "--lon", 8)
            ctl("endpoint", "add", endpoint, "--region", region, "--address", address)
        ctl("steering", "set", self.zone + ".", "lb", "--type", "A", "--policy", "failover",
            "--regions", ",".join(REGIONS), "--ttl", "30")

    def write(self, kind, i):
        """(name to ask, method, path, body, expected address) of write i of
        `kind`: "drain" alternates r1's endpoint between drain and up; any
        other kind puts a new address into www."""
        if kind == "drain":
            state = "drain" if i % 2 == 0 else "up"
            want = REGIONS["r2"][1] if state == "drain" else REGIONS["r1"][1]
            return (self.steered, "PATCH", f"/api/v1/endpoints/{REGIONS['r1'][0]}",
                    {"state": state}, want)
        want = f"198.18.200.{i % 250 + 1}"  # differs from the previous write's
        return (self.rrset, "PUT", f"/api/v1/zones/{self.zone}/rrsets/www/A",
                {"ttl": 300, "records": [want]}, want)
