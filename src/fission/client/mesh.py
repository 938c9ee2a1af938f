"""Link quality on a B.A.T.M.A.N-adv mesh, as the client sees it: ``{server address: TQ}``.

TQ ("transmit quality", 0-255, 255 = perfect) is what ``batctl`` reports per originator (a
mesh node, named by the MAC address of its mesh interface, e.g. wlan0) in the originator table
of BATMAN_IV, the default algorithm. Servers are known by IP address, so the client follows
the chain the kernel and batman-adv keep: IP -> MAC of the server's bat0 (``ip neigh show dev
bat0``) -> the originator announcing that MAC (``batctl transglobal``) -> its TQ.

Nothing here is needed to run: without batctl or bat0, or with BATMAN_V (which reports
throughput instead of TQ), :func:`link_quality` returns ``{}`` and placement ignores links.
"""

from __future__ import annotations

import re
import shutil
import subprocess

__all__ = ["combine", "link_quality", "parse_neighbours", "parse_originators", "parse_transglobal"]

_MAC = r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}"
# " * 50:7b:9d:ce:26:83    0.684s   (255) 50:7b:9d:ce:26:83 [   enp70s0]": the star marks
# the route in use; older batctl (debugfs) prints one line per originator without a star.
_ORIGINATOR = re.compile(
    rf"^\s*(?P<best>\*)?\s*(?P<originator>{_MAC})\s+[\d.]+s\s+\(\s*(?P<tq>\d+)\)\s+{_MAC}\s+\["
)
# " * 1a:23:47:77:a7:41   -1 [....] (  2) 02:ba:de:af:fe:03 (  2) (0x2d4b7679)": a client MAC
# (here: another node's bat0), its VLAN, flags, and the originator that announces it
_CLIENT = re.compile(
    rf"^\s*(?P<best>\*)?\s*(?P<client>{_MAC})\s+-?\d+\s+\[[^\]]*\]\s+\(\s*\d+\)\s+(?P<via>{_MAC})\b"
)
# "10.0.0.3 lladdr 50:7b:9d:ce:26:83 REACHABLE"
_NEIGHBOUR = re.compile(rf"^(?P<address>\S+)\s+(?:dev\s+\S+\s+)?lladdr\s+(?P<mac>{_MAC})\b")


def parse_originators(text: str) -> dict[str, int]:
    """``{originator MAC: TQ}`` from ``batctl originators`` output (the route in use, else the
    best one listed)."""
    best: dict[str, int] = {}
    starred: set[str] = set()
    for line in text.splitlines():
        match = _ORIGINATOR.match(line)
        if match is None:
            continue
        mac, tq = match["originator"].lower(), int(match["tq"])
        if match["best"]:
            if mac not in starred:
                best[mac] = tq
            starred.add(mac)
        elif mac not in starred:
            best[mac] = max(tq, best.get(mac, 0))
    return best


def parse_transglobal(text: str) -> dict[str, str]:
    """``{client MAC: originator MAC}`` from ``batctl transglobal`` output (the selected
    originator where several announce a client)."""
    via: dict[str, str] = {}
    for line in text.splitlines():
        match = _CLIENT.match(line)
        if match is not None and (match["best"] or match["client"].lower() not in via):
            via[match["client"].lower()] = match["via"].lower()
    return via


def parse_neighbours(text: str) -> dict[str, str]:
    """``{MAC: IP address}`` from ``ip neigh show`` output (entries that have an address)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _NEIGHBOUR.match(line.strip())
        if match is None or "FAILED" in line:
            continue
        mac, address = match["mac"].lower(), match["address"]
        # servers are named by IPv4 addresses in NODES: prefer those to IPv6 ones
        if mac not in found or (":" in found[mac] and ":" not in address):
            found[mac] = address
    return found


def _output(argv: list[str], timeout: float) -> str | None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def link_quality(mesh_interface: str = "bat0", timeout: float = 2.0) -> dict[str, int]:
    """``{IP address: TQ}`` of the mesh nodes this machine knows; ``{}`` without a mesh.

    Runs ``batctl meshif <if> originators`` and ``transglobal`` (batctl 2019.2 and later;
    else the older ``batctl -m <if> o`` and ``tg``) and ``ip neigh show dev <if>``: blocking,
    at most ``timeout`` seconds each, so call it outside the client's event loop.
    """
    batctl = shutil.which("batctl")
    ip = shutil.which("ip")
    if batctl is None or ip is None:
        return {}

    def table(name: str, short: str) -> str:
        text = _output([batctl, "meshif", mesh_interface, name], timeout)
        if text is None:
            text = _output([batctl, "-m", mesh_interface, short], timeout)
        return text or ""

    originators = parse_originators(table("originators", "o"))
    if not originators:
        return {}
    announced_by = parse_transglobal(table("transglobal", "tg"))
    neighbours = _output([ip, "neigh", "show", "dev", mesh_interface], timeout) or ""
    return combine(originators, announced_by, parse_neighbours(neighbours))


def combine(
    originators: dict[str, int], announced_by: dict[str, str], neighbours: dict[str, str]
) -> dict[str, int]:
    """``{IP: TQ}`` from the three tables (a neighbour whose MAC is itself an originator, as
    when bat0 takes its mesh interface's MAC, needs no translation)."""
    quality: dict[str, int] = {}
    for mac, address in neighbours.items():
        originator = announced_by.get(mac, mac)
        if originator in originators:
            quality[address] = originators[originator]
    return quality
