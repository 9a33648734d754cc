"""Network interfaces of the live Linux host through getifaddrs(3), called with ctypes.

psutil.net_if_addrs() does the same, but importing psutil costs about 15 ms of CPU, a sixth of a
whole scan; ctypes is already loaded by the interpreter. Other systems use psutil.
"""

from __future__ import annotations

import ctypes
import socket

AF_PACKET = 17


class _SockAddr(ctypes.Structure):
    _fields_ = (("sa_family", ctypes.c_ushort), ("sa_data", ctypes.c_ubyte * 14))


class _SockAddrIn(ctypes.Structure):
    _fields_ = (("sin_family", ctypes.c_ushort), ("sin_port", ctypes.c_uint16), ("sin_addr", ctypes.c_ubyte * 4))


class _SockAddrIn6(ctypes.Structure):
    _fields_ = (("sin6_family", ctypes.c_ushort), ("sin6_port", ctypes.c_uint16), ("sin6_flowinfo", ctypes.c_uint32),
                ("sin6_addr", ctypes.c_ubyte * 16), ("sin6_scope_id", ctypes.c_uint32))


class _SockAddrLL(ctypes.Structure):
    _fields_ = (("sll_family", ctypes.c_ushort), ("sll_protocol", ctypes.c_uint16), ("sll_ifindex", ctypes.c_int),
                ("sll_hatype", ctypes.c_ushort), ("sll_pkttype", ctypes.c_ubyte), ("sll_halen", ctypes.c_ubyte),
                ("sll_addr", ctypes.c_ubyte * 8))


class _IfAddrs(ctypes.Structure):
    pass


_IfAddrs._fields_ = (("ifa_next", ctypes.POINTER(_IfAddrs)), ("ifa_name", ctypes.c_char_p),
                     ("ifa_flags", ctypes.c_uint), ("ifa_addr", ctypes.POINTER(_SockAddr)),
                     ("ifa_netmask", ctypes.POINTER(_SockAddr)), ("ifa_ifu", ctypes.POINTER(_SockAddr)),
                     ("ifa_data", ctypes.c_void_p))


def interfaces(max_entries: int = 4096) -> dict[str, tuple[str, list[str]]]:
    """name -> (MAC, [addresses]) for every interface; raises OSError when getifaddrs fails."""
    libc = ctypes.CDLL(None, use_errno=True)
    head = ctypes.POINTER(_IfAddrs)()
    if libc.getifaddrs(ctypes.byref(head)) != 0:
        raise OSError(ctypes.get_errno(), "getifaddrs failed")
    result: dict[str, tuple[str, list[str]]] = {}
    try:
        node = head
        for _ in range(max_entries):
            if not node:
                break
            entry = node.contents
            name = (entry.ifa_name or b"").decode("utf-8", errors="replace")
            _, addresses = result.setdefault(name, ("", []))
            if entry.ifa_addr:
                family = entry.ifa_addr.contents.sa_family
                if family == socket.AF_INET:
                    raw = ctypes.cast(entry.ifa_addr, ctypes.POINTER(_SockAddrIn)).contents.sin_addr
                    addresses.append(socket.inet_ntop(socket.AF_INET, bytes(raw)))
                elif family == socket.AF_INET6:
                    raw6 = ctypes.cast(entry.ifa_addr, ctypes.POINTER(_SockAddrIn6)).contents.sin6_addr
                    addresses.append(socket.inet_ntop(socket.AF_INET6, bytes(raw6)))
                elif family == AF_PACKET:
                    link = ctypes.cast(entry.ifa_addr, ctypes.POINTER(_SockAddrLL)).contents
                    length = min(link.sll_halen, 8)
                    if length:
                        result[name] = (":".join(f"{b:02x}" for b in bytes(link.sll_addr)[:length]), addresses)
            node = entry.ifa_next
    finally:
        libc.freeifaddrs(head)
    return result
