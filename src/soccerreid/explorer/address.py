"""Where ``soccerreid explore`` listens: the host and port checked before the server (and gradio) start.

Examples::

    check_address("127.0.0.1", 7860)        # returns, or raises a one-line ArgumentError:
    check_address("127.0.0.1", 99999)       # --port: expected 1 to 65535, got 99999
    check_address("no-such-host.invalid", 7860)  # --host no-such-host.invalid: cannot resolve ...
"""

from __future__ import annotations

import errno
import socket

from soccerreid.errors import ArgumentError


def check_address(host: str, port: int) -> None:
    """Raise a one-line :class:`ArgumentError` naming ``--host`` or ``--port`` unless ``host``
    resolves and ``port`` is a free TCP port on it."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ArgumentError(f"--port: expected 1 to 65535, got {port!r}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as err:
        raise ArgumentError(f"--host {host}: cannot resolve this host name ({_reason(err)})") from None
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind(address)
        except OSError as err:
            raise ArgumentError(_bind_error(host, port, err)) from None


def _bind_error(host: str, port: int, err: OSError) -> str:
    if err.errno == errno.EADDRINUSE:
        return f"--port {port}: already in use on {host} (another server? pick another --port)"
    if err.errno == errno.EACCES:
        return f"--port {port}: permission denied on {host} (ports below 1024 need privileges)"
    if err.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine"
    return f"--host {host} --port {port}: cannot listen there ({err.strerror or err})"


def _reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__
