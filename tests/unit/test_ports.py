"""Service ports are drawn where outgoing connections never land, and never twice."""

from __future__ import annotations

import socket

import pytest

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


def test_a_port_range_setting_narrows_the_draw_and_a_bad_one_is_refused_by_name() -> None:
    assert ports.port_range({ports.PORT_RANGE_ENV: "21000-21999"}) == (21_000, 21_999)
    for bad in ("21000", "a-b", "22000-21000", "80-90", "21000-70000", "1-2-3"):
        with pytest.raises(ValueError, match=ports.PORT_RANGE_ENV):
            ports.port_range({ports.PORT_RANGE_ENV: bad})


def test_ports_are_drawn_inside_the_configured_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ports.PORT_RANGE_ENV, "23000-23499")
    assert all(23_000 <= ports.free_port() <= 23_499 for _ in range(20))
