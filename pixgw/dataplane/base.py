"""What every dataplane keeps alike (:class:`DataplaneBase`): the gateway's callbacks, the drop
counters of ``show crypto ipsec sa``'s footer, and what becomes of unprotected L2TP."""

from __future__ import annotations

from collections.abc import Callable

from pixgw.dataplane.interfaces import (
    DataplaneCounters,
    L2tpReceived,
    LifetimeListener,
    SendUdp,
)
from pixgw.ike.events import ChildSaDeleted, RekeyRequested
from pixgw.syslog import debug

__all__ = ["DataplaneBase"]


class DataplaneBase:
    """The part of :class:`~pixgw.dataplane.interfaces.IDataplane` that does not depend on
    where ESP is done: ``start`` hands in *l2tp_received* and *send_udp*, IKE hands in its
    lifetime listener; drops are counted by name in ``_c`` (the fields of
    :class:`~pixgw.dataplane.interfaces.DataplaneCounters`)."""

    def __init__(self) -> None:
        self._l2tp_received: L2tpReceived | None = None
        self._send_udp: SendUdp | None = None
        self._lifetime_listener: LifetimeListener | None = None
        self._c: dict[str, int] = dict.fromkeys(DataplaneCounters.__dataclass_fields__, 0)
        # told, with the reason, when the dataplane cannot go on (its TUN device lost for
        # good); twistd then stops with a non-zero status for the service manager
        self.on_fatal: Callable[[str], None] | None = None

    def start(self, l2tp_received: L2tpReceived, send_udp: SendUdp) -> None:
        """From here on L2TP goes to *l2tp_received* and ESP-in-UDP out by *send_udp*; the
        dataplane opens what it needs (:meth:`_open`). A start that fails part-way leaves
        nothing behind: :meth:`stop` undoes what was opened, then the error is raised."""
        self._l2tp_received = l2tp_received
        self._send_udp = send_udp
        try:
            self._open()
        except BaseException:
            self.stop()
            raise

    def _open(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def set_lifetime_listener(self, listener: LifetimeListener) -> None:
        self._lifetime_listener = listener

    def _notify(self, event: RekeyRequested | ChildSaDeleted) -> None:
        """Tell IKE an SA pair wants rekeying or is gone (nobody listening: nothing)."""
        if self._lifetime_listener is not None:
            self._lifetime_listener(event)

    def counters(self) -> DataplaneCounters:
        return DataplaneCounters(**self._c)

    def note_l2tp_without_ipsec(self, source: tuple[str, int] | None) -> None:
        """A plain (unprotected) UDP 1701 datagram arrived: count and drop it, and say so at
        the 1st, 2nd, 4th, 8th ... (a flood does not flood the log)."""
        count = self._c["l2tp_without_ipsec"] = self._c["l2tp_without_ipsec"] + 1
        if count & (count - 1) == 0:
            where = f" from {source[0]}" if source else ""
            debug(
                "vpdn error", f"PIX does not accept L2TP requests without IPsec protection{where}"
            )
