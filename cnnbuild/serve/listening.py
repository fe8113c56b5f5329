"""The server's listening socket, taken before the model loads: a port in use (or an address this
machine does not have) is refused in a second, not after TensorFlow has loaded."""

from __future__ import annotations

import errno
import socket

from cnnbuild.errors import CnnbuildError
from cnnbuild.serve.connections import ACCEPT_BATCH


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening; CnnbuildError saying what to do when it cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CnnbuildError(f"--host {host}: not an address of this machine ({exc.strerror}); use 127.0.0.1, or 0.0.0.0 for every address") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a server just stopped leaves its port in TIME_WAIT
        sock.bind(address)
        sock.listen(ACCEPT_BATCH)  # connections the kernel queues while the server is busy or warming up
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CnnbuildError(f"port {port} on {host} is in use by another program (another cnnbuild serve?); choose another --port") from exc
        if exc.errno == errno.EACCES:
            raise CnnbuildError(f"port {port} on {host}: permission denied (ports below 1024 need privileges); choose a --port of 1024 or more") from exc
        raise CnnbuildError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock
