"""The browser login's loopback receiver listens on 127.0.0.1 and nowhere else: the
authorization code arrives on it, so no other machine (and no other local address) may
reach it. Checked on the bound socket and by connecting to this machine's other
addresses."""

from __future__ import annotations

import contextlib
import socket
import sys

import pytest

from ctct.errors import ConfigError
from ctct.flows._loopback import LoopbackReceiver


def _other_local_addresses() -> list[str]:
    """IPv4 addresses of this machine other than 127.0.0.1 (one extra loopback address
    on Linux, where all of 127/8 is local, and the interfaces' addresses)."""
    found = {"127.0.0.2"} if sys.platform.startswith("linux") else set()
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        found.add(udp.getsockname()[0])
    found.discard("127.0.0.1")
    found.discard("0.0.0.0")
    return sorted(found)


def test_the_listener_is_bound_to_127_0_0_1_only() -> None:
    # safety: src/ctct/flows/_loopback.py: self.socket.bind(self.server_address)
    others = _other_local_addresses()
    assert others, "no other local address to check against"
    with LoopbackReceiver("http://127.0.0.1/callback") as receiver:
        host, port = receiver._server.socket.getsockname()[:2]
        assert (host, port) == ("127.0.0.1", receiver.port)
        assert receiver.redirect_uri == f"http://127.0.0.1:{port}/callback"
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        for address in others:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, port), timeout=2).close()


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://localhost/callback",  # a name: the browser may resolve it to ::1
        "http://0.0.0.0:8000/callback",
        "http://[::1]/callback",
        "http://127.0.0.2/callback",
        "http://192.0.2.2/callback",
        "https://127.0.0.1/callback",  # the scheme alone
    ],
)
def test_a_redirect_uri_on_any_other_host_or_scheme_is_refused(redirect_uri: str) -> None:
    # safety: src/ctct/flows/_loopback.py: raise _not_loopback(redirect_uri)
    with pytest.raises(ConfigError) as caught:
        LoopbackReceiver(redirect_uri).close()
    assert "listens on 127.0.0.1 only" in caught.value.message
    assert redirect_uri in caught.value.message
