"""Service ports are drawn where outgoing connections never land, and never twice."""

from __future__ import annotations

import socket

from burstlab.stack import ports


def test_ports_are_outside_the_ephemeral_range_free_and_distinct() -> None:
    # Given the machine's ephemeral range (where outgoing connections take their local ports)
    low = int(ports.EPHEMERAL_RANGE_FILE.read_text().split()[0])
    # When many ports are handed out
    handed = [ports.free_port() for _ in range(50)]
    # Then each is below that range, none twice, and each can be bound as a service would
    assert all(port < low for port in handed), handed
    assert len(set(handed)) == len(handed)
    for port in handed[:5]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen()


def test_a_port_something_listens_on_is_not_handed_out() -> None:
    # Given a listener on a port of the range
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", ports.free_port()))
        listener.listen()
        taken = listener.getsockname()[1]
        # Then it is not bindable, so never handed out
        assert not ports._bindable("127.0.0.1", taken)
