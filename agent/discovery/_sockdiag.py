"""Listening TCP sockets of the live Linux host through netlink sock_diag (what `ss` uses).

Reading /proc/net/tcp makes the kernel walk its whole connection hash table and format every
line: about 4 ms per file on a host with much memory (big tables), a tenth of a scan. sock_diag
is asked for listening sockets only.
"""

from __future__ import annotations

import socket
import struct

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_LISTEN = 10
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_REQUEST = struct.Struct("=BBBxI48x")  # inet_diag_req_v2: family, protocol, ext, states, sockid
_MESSAGE = struct.Struct("=BBBB2s2s16s16sIQIIIII")  # inet_diag_msg up to idiag_inode
MAX_BYTES = 32 * 1024 * 1024


def tcp_listeners(family: int, timeout: float = 5.0) -> list[tuple[str, int, int]]:
    """(address, port, inode) of each listening TCP socket of `family`; OSError if netlink refuses."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as sock:
        sock.settimeout(timeout)
        body = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 1 << TCP_LISTEN)
        sock.send(_HEADER.pack(_HEADER.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + body)
        found: list[tuple[str, int, int]] = []
        received = 0
        while received < MAX_BYTES:
            data = sock.recv(65536)
            received += len(data)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    raise OSError("sock_diag: malformed netlink message")
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", data, offset + _HEADER.size)
                    raise OSError(-code, "sock_diag refused the request")
                if kind == SOCK_DIAG_BY_FAMILY and length >= _HEADER.size + _MESSAGE.size:
                    fields = _MESSAGE.unpack_from(data, offset + _HEADER.size)
                    msg_family, sport, src, inode = fields[0], fields[4], fields[6], fields[-1]
                    size = 4 if msg_family == socket.AF_INET else 16
                    address = socket.inet_ntop(msg_family, src[:size])
                    found.append((address, int.from_bytes(sport, "big"), inode))
                offset += (length + 3) & ~3
        raise OSError("sock_diag: answer larger than the bound")
