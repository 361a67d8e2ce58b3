"""ESP (RFC 4303) transport-mode security associations, sans-I/O: see :mod:`pixgw.esp.sa`."""

from pixgw.esp.sa import CIPHERS, INTEGRITIES, EspDrop, EspSa, EspSaStatistics, LifetimeEvent

__all__ = ["CIPHERS", "INTEGRITIES", "EspDrop", "EspSa", "EspSaStatistics", "LifetimeEvent"]
