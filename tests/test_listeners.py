"""Listening sockets: /proc/net parsing (real tables) and the live host with sockets the test opens."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate.agent.discovery import listeners
from estate.agent.hostaccess import LocalHost, RecordedHost

from .conftest import FIXTURES


def test_real_proc_net_tcp_listeners_only_with_exposure() -> None:
    text = (FIXTURES / "proc_net" / "tcp").read_text()
    found, problems = listeners.parse_proc_net(text, "tcp", "/proc/net/tcp")
    assert not problems
    assert [(lis.address, lis.port, lis.exposed) for lis in found] == [
        ("127.0.0.1", 35647, False), ("0.0.0.0", 2024, True), ("127.0.0.2", 35647, False)]
    v6, _ = listeners.parse_proc_net((FIXTURES / "proc_net" / "tcp6").read_text(), "tcp6", "/proc/net/tcp6")
    assert v6 == []  # only established/time-wait connections in that table


def test_address_decoding_and_exposure_rules() -> None:
    assert listeners.decode_address("0100007F") == "127.0.0.1"
    mapped = ipaddress.IPv6Address(listeners.decode_address("0000000000000000FFFF00000100007F"))
    assert mapped.ipv4_mapped == ipaddress.IPv4Address("127.0.0.1")
    assert listeners.decode_address("00000000000000000000000001000000") == "::1"
    assert not listeners.is_exposed("::ffff:127.0.0.1") and not listeners.is_exposed("::1")
    assert listeners.is_exposed("::") and listeners.is_exposed("10.1.2.3") and listeners.is_exposed("fe80::1%eth0")


def test_garbage_lines_are_reported_and_good_ones_kept(tmp_path: Path) -> None:
    good = (FIXTURES / "proc_net" / "tcp").read_text()
    (tmp_path / "proc" / "net").mkdir(parents=True)
    (tmp_path / "proc" / "net" / "tcp").write_text(good + "  99: ZZZZ:0016 00000000:0000 0A\n  100: short\n")
    (tmp_path / "proc" / "net" / "udp").write_bytes(os.urandom(2048).replace(b"\0", b"x"))
    found = listeners.discover(RecordedHost(tmp_path))
    assert len(found.listeners) == 3
    assert any("/proc/net/tcp:48: unreadable line" in e.message for e in found.errors)


@pytest.fixture
def sockets() -> Iterator[dict[str, int]]:
    """A TCP listener on loopback, one on all addresses, and a bound UDP socket, opened by this test."""
    opened, ports = [], {}
    for name, family, kind, address in (("loopback", socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
                                        ("any", socket.AF_INET, socket.SOCK_STREAM, "0.0.0.0"),
                                        ("udp", socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1")):
        sock = socket.socket(family, kind)
        sock.bind((address, 0))
        if kind == socket.SOCK_STREAM:
            sock.listen()
        opened.append(sock)
        ports[name] = sock.getsockname()[1]
    try:
        yield ports
    finally:
        for sock in opened:
            sock.close()


def test_live_listeners_with_their_process_and_exposure(sockets: dict[str, int]) -> None:
    found = listeners.discover(LocalHost())
    by_port = {(lis.protocol, lis.port): lis for lis in found.listeners}
    loopback, anyaddr = by_port[("tcp", sockets["loopback"])], by_port[("tcp", sockets["any"])]
    udp = by_port[("udp", sockets["udp"])]
    assert (loopback.exposed, anyaddr.exposed, udp.exposed) == (False, True, False)
    assert loopback.pid == anyaddr.pid == udp.pid == os.getpid()
    assert loopback.process and loopback.process in Path(f"/proc/{os.getpid()}/comm").read_text()


def test_netlink_and_proc_net_agree_on_this_host(sockets: dict[str, int]) -> None:
    from estate.agent.discovery import _sockdiag

    via_netlink = {(a, p) for a, p, _ in _sockdiag.tcp_listeners(socket.AF_INET)}
    via_proc, _ = listeners.parse_proc_net(Path("/proc/net/tcp").read_text(), "tcp", "/proc/net/tcp")
    assert via_netlink == {(lis.address, lis.port) for lis in via_proc}
    assert ("127.0.0.1", sockets["loopback"]) in via_netlink
