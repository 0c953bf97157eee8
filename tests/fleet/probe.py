"""``python -m tests.fleet.probe PORT``, run inside a test host: send a Redis ``PING``
to ``127.0.0.1:PORT`` and print what happened (``+PONG``, ``refused``, ``timeout``),
then the host's HOME."""

from __future__ import annotations

import os
import socket
import sys


def main(port: int, timeout: float) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(16).decode().strip() or "closed"
    except ConnectionRefusedError:
        answer = "refused"
    except TimeoutError:
        answer = "timeout"
    print(answer, os.environ["HOME"])


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 5.0)
