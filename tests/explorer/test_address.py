"""``soccerreid explore``'s host and port, checked before the server starts."""

from __future__ import annotations

import socket

import pytest

from soccerreid.errors import ArgumentError
from soccerreid.explorer.address import check_address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_free_port_on_loopback_passes():
    check_address("127.0.0.1", _free_port())


@pytest.mark.parametrize("port", [0, -1, 65536, 99999, True, "80"])
def test_a_port_out_of_range_names_the_flag(port):
    with pytest.raises(ArgumentError) as info:
        check_address("127.0.0.1", port)
    assert str(info.value) == f"--port: expected 1 to 65535, got {port!r}"


def test_a_port_in_use_is_named_as_such():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ArgumentError) as info:
            check_address("127.0.0.1", port)
    assert str(info.value) == f"--port {port}: already in use on 127.0.0.1 (another server? pick another --port)"


def test_an_unresolvable_host_is_a_host_problem_not_a_port_problem():
    with pytest.raises(ArgumentError) as info:
        check_address("no-such-host.invalid", _free_port())
    message = str(info.value)
    assert message.startswith("--host no-such-host.invalid: cannot resolve this host name (") and "port" not in message


def test_an_address_of_another_machine_is_named():
    with pytest.raises(ArgumentError) as info:
        check_address("192.0.2.1", _free_port())  # TEST-NET-1: never an address of this machine
    assert str(info.value) == "--host 192.0.2.1: not an address of this machine"
