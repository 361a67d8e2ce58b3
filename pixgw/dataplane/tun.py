"""The TUN device of the inside network (Linux ``Documentation/networking/tuntap.rst``: TUNSETIFF
with IFF_TUN | IFF_NO_PI, so each read and write is exactly one IP packet, RFC 791), configured
with pyroute2 (MTU, address, link up, routes for the ``ip local pool`` ranges), and a reactor
reader on its file descriptor that reads in batches.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Final

from twisted.internet.interfaces import IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

TUNSETIFF: Final = 0x400454CA
IFF_TUN: Final = 0x0001
IFF_NO_PI: Final = 0x1000
READ_BATCH: Final = 64
READ_SIZE: Final = 65535


def open_tun(name: str) -> tuple[int, str]:
    """Create (or attach to) TUN device *name*; returns (non-blocking fd, interface name)."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        request = struct.pack("16sH", name.encode()[:15], IFF_TUN | IFF_NO_PI)
        answer = fcntl.ioctl(fd, TUNSETIFF, request)
    except OSError:
        os.close(fd)
        raise
    return fd, answer[:16].rstrip(b"\0").decode()


def configure_tun(
    name: str,
    *,
    mtu: int,
    address: IPv4Address | None,
    routes: Iterable[IPv4Network],
) -> None:
    """MTU, address (a /32 of the gateway on the inside of the pools), link up, pool routes."""
    from pyroute2 import IPRoute  # noqa: PLC0415  (imported where used: slow import)

    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=name)[0]
        ipr.link("set", index=index, mtu=mtu, state="up")
        if address is not None:
            ipr.addr("replace", index=index, address=str(address), prefixlen=32)
        for network in routes:
            ipr.route(
                "replace", dst=str(network.network_address), dst_len=network.prefixlen, oif=index
            )


def remove_tun(name: str) -> None:
    from pyroute2 import IPRoute  # noqa: PLC0415

    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            ipr.link("del", index=found[0])


@implementer(IReadDescriptor)
class FdPacketReader:
    """Reads whole packets from a non-blocking fd (TUN, raw or UDP socket) when the reactor says
    it is readable, up to :data:`READ_BATCH` per wake-up, and gives each to *received*."""

    def __init__(
        self,
        fd: int,
        received: Callable[[bytes], None],
        read: Callable[[int], bytes] | None = None,
        lost: Callable[[OSError], None] | None = None,
    ) -> None:
        self._fd = fd
        self._received = received
        self._read: Callable[[int], bytes] = read or (lambda n: os.read(fd, n))
        # a read error other than "nothing now": a socket's (an ICMP error on UDP) passes, a
        # device's (the TUN gone) is handed to *lost*, once; the reader then reads no more
        self._lost = lost

    def fileno(self) -> int:
        return self._fd

    def doRead(self) -> None:
        read = self._read
        received = self._received
        for _ in range(READ_BATCH):
            try:
                data = read(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if self._lost is not None:
                    lost, self._lost = self._lost, None
                    lost(e)
                return
            if not data:
                return
            received(data)

    def connectionLost(self, reason: Failure) -> None:
        # the reactor saw an error or hang-up on the fd and took the reader off: a TUN device
        # deleted under us polls POLLERR (reads would fail with EBADFD)
        if self._lost is not None:
            lost, self._lost = self._lost, None
            error = reason.value if isinstance(reason.value, OSError) else OSError(
                errno.EBADFD, f"{reason.getErrorMessage()} (the reactor lost the fd)")
            lost(error)

    def logPrefix(self) -> str:
        return "pixgw-dataplane"


class Readers:
    """The packet readers a dataplane keeps on the reactor (``addReader``/``removeReader``),
    and the sockets behind them, closed when it stops."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._readers: list[FdPacketReader] = []
        self._sockets: list[socket.socket] = []

    def add(self, reader: FdPacketReader) -> FdPacketReader:
        self._readers.append(reader)
        self._reactor.addReader(reader)
        return reader

    def remove(self, reader: FdPacketReader) -> None:
        if reader in self._readers:
            self._readers.remove(reader)
            self._reactor.removeReader(reader)

    def add_socket(
        self,
        sock: socket.socket,
        received: Callable[[bytes], None],
        read: Callable[[int], bytes] | None = None,
    ) -> None:
        """Read *sock* (with ``recv`` unless *read* says otherwise) and close it at stop."""
        self._sockets.append(sock)
        self.add(FdPacketReader(sock.fileno(), received, read or sock.recv))

    def stop(self) -> None:
        for reader in self._readers:
            self._reactor.removeReader(reader)
        self._readers.clear()
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
