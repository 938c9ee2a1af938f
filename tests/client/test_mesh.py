"""Link quality from batctl's tables (text in the formats batctl prints: the originator lines
are from a batctl 2022.3 session and the transglobal lines from batctl 2019.1's documented
sample, addresses kept), and its use as placement's tie-breaker. batctl itself and a mesh are
not on this machine: link_quality() is only checked to say nothing without them."""

from __future__ import annotations

import shutil

from fission.client.mesh import (
    combine,
    link_quality,
    parse_neighbours,
    parse_originators,
    parse_transglobal,
)
from fission.client.placement import Placer, Server
from fission.core.jobs import PythonJob

ORIGINATORS = """\
[B.A.T.M.A.N. adv 2022.3, MainIF/MAC: enp70s0/2c:f0:5d:04:70:39 (bat0/7a:8b:21:b7:13:b8 BATMAN_IV)]
   Originator        last-seen (#/255) Nexthop           [outgoingIF]
 * 50:7b:9d:ce:26:83    0.684s   (255) 50:7b:9d:ce:26:83 [   enp70s0]
 * 02:ba:de:af:fe:03    0.880s   (217) 50:7b:9d:ce:26:83 [   enp70s0]
   02:ba:de:af:fe:03    0.912s   (198) 02:ba:de:af:fe:03 [   enp70s0]
 * 02:ba:de:af:fe:05    1.204s   ( 40) 02:ba:de:af:fe:03 [   enp70s0]
"""

# batctl before 2019 (debugfs): no star, one line per originator, potential next hops after ':'
ORIGINATORS_DEBUGFS = """\
[B.A.T.M.A.N. adv 2016.2, MainIF/MAC: mesh-vpn/72:85:7b:32:ea:38 (bat0 BATMAN_IV)]
  Originator      last-seen (#/255)           Nexthop [outgoingIF]:   Potential nexthops ...
02:42:0a:22:00:03    7.150s   (250) 02:42:0a:22:00:03 [  mesh-vpn]: 02:42:0a:22:00:01 (213)
02:42:0a:22:00:04    2.120s   (150) 02:42:0a:22:00:03 [  mesh-vpn]: 02:42:0a:22:00:01 (147)
"""

# BATMAN_V reports throughput, not TQ: nothing to read
ORIGINATORS_BATMAN_V = """\
[B.A.T.M.A.N. adv 2019.4, MainIF/MAC: eth0/00:0c:29:c5:d2:da (bat0/de:8b:cc:39:d0:69 BATMAN_V)]
   Originator        last-seen ( throughput)  Nexthop           [outgoingIF]
 * 00:0c:29:53:f8:c9    0.320s (    10000.0)  00:0c:29:53:f8:c9 [      eth0]
"""

TRANSGLOBAL = """\
[B.A.T.M.A.N. adv 2019.1, MainIF/MAC: enp0s3/02:ba:de:af:fe:01 (bat0/06:23:9d:ef:ec:90 BATMAN_IV)]
   Client             VID Flags Last ttvn     Via        ttvn  (CRC       )
 * 33:33:ff:77:a7:41   -1 [....] (  2) 02:ba:de:af:fe:03 (  2) (0x2d4b7679)
 * 1a:23:47:77:a7:41   -1 [....] (  2) 02:ba:de:af:fe:03 (  2) (0x2d4b7679)
 * 1a:23:47:77:a7:41    0 [....] (  2) 02:ba:de:af:fe:03 (  2) (0x539543a8)
 * 06:11:22:d0:ea:ae   -1 [....] (  2) 02:ba:de:af:fe:05 (  2) (0x1f80235d)
"""

# ip neigh show dev bat0
NEIGHBOURS = """\
10.0.0.3 lladdr 1a:23:47:77:a7:41 REACHABLE
fe80::1823:47ff:fe77:a741 lladdr 1a:23:47:77:a7:41 STALE
10.0.0.5 lladdr 06:11:22:d0:ea:ae STALE
10.0.0.2 lladdr 50:7b:9d:ce:26:83 DELAY
10.0.0.9 FAILED
"""


def test_originators_take_the_route_in_use() -> None:
    assert parse_originators(ORIGINATORS) == {
        "50:7b:9d:ce:26:83": 255,
        "02:ba:de:af:fe:03": 217,  # the starred route, not the better-looking-but-unused one
        "02:ba:de:af:fe:05": 40,
    }


def test_older_and_batman_v_tables() -> None:
    assert parse_originators(ORIGINATORS_DEBUGFS) == {
        "02:42:0a:22:00:03": 250,
        "02:42:0a:22:00:04": 150,
    }
    assert parse_originators(ORIGINATORS_BATMAN_V) == {}
    assert parse_originators("Error - mesh iface bat0 does not exist\n") == {}


def test_from_addresses_to_link_quality() -> None:
    announced_by = parse_transglobal(TRANSGLOBAL)
    assert announced_by["1a:23:47:77:a7:41"] == "02:ba:de:af:fe:03"
    neighbours = parse_neighbours(NEIGHBOURS)
    assert neighbours == {
        "1a:23:47:77:a7:41": "10.0.0.3",  # IPv4 preferred to the IPv6 entry
        "06:11:22:d0:ea:ae": "10.0.0.5",
        "50:7b:9d:ce:26:83": "10.0.0.2",
    }
    # 10.0.0.2's bat0 has its mesh interface's MAC: no translation needed
    assert combine(parse_originators(ORIGINATORS), announced_by, neighbours) == {
        "10.0.0.3": 217,
        "10.0.0.5": 40,
        "10.0.0.2": 255,
    }


def test_without_a_mesh_there_is_no_link_quality() -> None:
    if shutil.which("batctl") is None:
        assert link_quality() == {}
    else:  # batctl installed, but this machine has no bat0 with that name
        assert link_quality("fission-no-such-mesh") == {}


class Work(PythonJob):
    def run(self, value):
        return value


def _job(number: int) -> Work:
    job = Work()
    job.id = number
    return job


def test_link_quality_breaks_ties_between_equally_free_servers() -> None:
    servers = {
        name: Server(name, slots=2, alive=True) for name in ("10.0.0.2", "10.0.0.3", "10.0.0.5")
    }
    placer = Placer(servers)
    placer.set_link_quality({"10.0.0.2": 180, "10.0.0.3": 217, "10.0.0.5": 40})
    assert placer.place(_job(1)) and placer.where[1] == "10.0.0.3"
    # free slots still come first: 10.0.0.3 now has one job, the others none
    assert placer.place(_job(2)) and placer.where[2] == "10.0.0.2"
    assert placer.place(_job(3)) and placer.where[3] == "10.0.0.5"
    # one free slot each again: the best link wins
    assert placer.place(_job(4)) and placer.where[4] == "10.0.0.3"


def test_without_link_quality_placement_ranks_by_name() -> None:
    servers = {name: Server(name, slots=2, alive=True) for name in ("b", "a")}
    placer = Placer(servers)
    placer.set_link_quality({})
    assert placer.place(_job(1)) and placer.where[1] == "a"
