"""L2TP (RFC 2661), the LNS side.

- :mod:`pixgw.l2tp.message`: header codec (§3.1), message types (§3.2), result codes (§4.4.2).
- :mod:`pixgw.l2tp.avp`: AVP codec (§4.1), hidden AVPs (§4.3), attribute types (§4.4).
- :mod:`pixgw.l2tp.channel`: reliable control-message delivery (§5.8).
- :mod:`pixgw.l2tp.core`: :class:`~pixgw.l2tp.core.L2tpLns`, the sans-I/O LNS (§5, §6).
- :mod:`pixgw.l2tp.trace`: ``debug vpdn`` wording.
The gateway (:mod:`pixgw.gateway`) drives the LNS on the reactor clock with the other cores.
"""
