"""Whether a destination is on this computer's own network, where no household line needs sparing.

A NAS at 192.168.1.5 or `nas.local`, a server on the loopback: the automatic limit would spend its
first seconds finding a "line" that is a gigabit switch, hold uploads below it meanwhile, and
probe it five times a second for nothing. Such a destination gets no limit by default; the user's
own choices (a fixed limit, a schedule, a pause) still apply. A name counts as local only when
every address it resolves to is: loopback, the private ranges (RFC 1918, IPv6 unique local),
link-local. Public addresses, the provider's shared range (100.64.0.0/10, across the line) and
names that do not resolve are the household line.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse

from engine.config.destination import is_s3, parse_s3

__all__ = ["on_local_network"]

_LOCAL = [
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
    + ("::1/128", "fc00::/7", "fe80::/10")
]


def on_local_network(location: str) -> bool:
    """True for an S3 destination whose server is on this computer's own network (a disk is never
    paced, and Amazon S3 is always across the line)."""
    if not is_s3(location):
        return False
    endpoint = parse_s3(location).endpoint
    host = urlparse(endpoint).hostname if endpoint else None
    if not host:
        return False
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found}
    return bool(addresses) and all(any(a in net for net in _LOCAL) for a in addresses)
