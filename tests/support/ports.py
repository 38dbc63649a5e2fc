"""Loopback ports for the servers tests start: below Linux's ephemeral range (32768 and up).

A port the kernel handed out with bind(0) may be given again, between our check and the
server's bind, as the local port of any outgoing connection on the machine. Below the ephemeral
range only an explicit bind can take a port, so a free one stays free.
"""

from __future__ import annotations

import contextlib
import random
import socket


def free_port_range(count: int) -> int:
    """The first of ``count`` consecutive ports free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        base = random.randrange(20000, 32000 - count)
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                        s = stack.enter_context(socket.socket(socket.AF_INET, kind))
                        s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError(f"no {count} free consecutive ports on 127.0.0.1")


def free_port() -> int:
    """One port free for both UDP and TCP on 127.0.0.1."""
    return free_port_range(1)
