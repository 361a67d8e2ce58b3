"""pixgw interop harness: a real Linux L2TP/IPsec client (strongSwan + xl2tpd + pppd on the stock
Debian 12 kernel, QEMU TCG guest) against whatever listens on 192.0.2.1 in the gateway namespace.

Test infrastructure (stdlib + pytest only); no protocol RFC is implemented here.  The pieces:

* ``build.ensure_guest() -> GuestImage`` - builds the guest once (``build-guest.sh``: kernel from
  ``apt-get download linux-image-amd64`` + module closure, debootstrap minbase bookworm, packed as
  an initramfs), cached in ``/var/tmp/pixgw-interop`` and rebuilt when the SHA-256 of its inputs
  (``build-guest.sh`` + ``guest/``) changes.  ``GuestImage.pki`` holds the test PKI:
  ``ca-cert.pem``,
  ``ca-key.pem``, ``server-cert.pem``/``server-key.pem`` (SANs 192.0.2.1, 192.0.2.3,
  gw.pixgw.test) and ``client-cert.pem``/``client-key.pem`` (CN=client1.pixgw.test).
* ``netns.Topology`` - namespaces ``P-out`` (bridge br0: the outside L2 segment), ``P-gw`` (eth0
  192.0.2.1/24 on br0, inside0 203.0.113.1/24, forwarding on), ``P-in`` (inside host
  203.0.113.2/24, default via .1) and, on demand, ``P-nat`` (192.0.2.254 outside, br1
  198.51.100.1/24 inside, MASQUERADE).  ``Namespace.spawn(argv, log_name=None, env=None) ->
  BackgroundProcess`` starts a command in the background; ``Namespace.stop(proc)`` ends it by pid;
  ``Namespace.exec(argv)`` runs one to completion.  Stale namespaces of a crashed run are removed
  by ``create()``; ``destroy()`` stops everything by pid and deletes the namespaces.
* ``guest.boot_guest(image, topology, name, ip, index, gw=None, behind_nat=False) -> Guest`` -
  QEMU TCG with a tap on br0 (or br1), bounded wait for qemu-guest-agent; ``Guest.sh(cmd,
  timeout)``, ``Guest.agent`` (``agent.GuestAgent``: ``exec``, ``sh``, ``write_file``,
  ``read_file``), ``Guest.stop()`` (agent shutdown, QMP quit, TERM, KILL - bounded, by pid).
* ``client.L2tpClient`` (made by ``client.client_on(guest, **ClientSettings fields)``) - the
  client stack, configured with a named profile (``client.PROFILES``: win2000, winxp, win10,
  win10g14, macos, android), ``auth`` psk|cert (``cert=ClientCert(...)`` or the built-in test
  client certificate), ``ppp_auth`` chap|mschap|mschap-v2|pap|any, ``user``/``password``,
  ``stack`` starter|swanctl, lifetimes (for rekey tests).  API:

  ========================  ============================================================
  ``up(timeout=90)``        IKE MM+QM, L2TP tunnel + session, PPP; returns ``ClientStatus``,
                            raises ``ClientError`` (with the guest's logs) on failure
  ``down()``                hang up as Windows does: LCP Terminate, L2TP StopCCN, IKE Delete
  ``vanish()``              kill -9 pppd/xl2tpd/charon, flush xfrm: no goodbye at all
  ``status()``              ``ClientStatus``: esp_sas, ppp_address, ppp_peer, dns,
                            l2tp_tunnels, l2tp_sessions, charon/xl2tpd/pppd pids, raw
  ``ping(addr, count=3)``   ``PingResult(sent, received, output)``, ``.ok``
  ``ppp_address``, ``dns``  set by ``up()``/``status()`` (DNS: pppd ``usepeerdns``)
  ``logs()``                tails of charon, xl2tpd and pppd logs in the guest
  ``ike_up()``              main + quick mode only (``ExecResult``, rc 0 when ESP SAs exist)
  ========================  ============================================================

* ``client.SelfTestGateway`` - the same stack as responder + LNS + pppd server in a second guest
  (the harness's own end-to-end check).  ``responder.HostResponder`` - host charon as an IKEv1
  responder in the gateway namespace (MM+QM complete; ESP install fails: no ESP in this kernel).
* ``capture.Capture.start(namespace, iface, pcap, bpf)`` - tcpdump on the outside segment;
  ``clear_l2tp()`` counts UDP/1701 packets seen in clear.

pytest fixtures (``tests/interop/conftest.py``): ``interop_image``, ``interop_topology``,
``gateway_netns`` (``Namespace``: ``.name``, ``.address`` = 192.0.2.1, ``.spawn``, ``.stop``,
``.exec``), ``inside_netns``, ``client_vm`` (the session's guest at 192.0.2.2), ``client_guest``
(factory: ``client_guest(profile="win2000", auth="psk", ppp_auth="mschap-v2", psk=..., cert=None,
user=..., password=..., **ClientSettings fields) -> L2tpClient``, stopped after the test),
``nat_client_guest`` (same, for guests behind the NAT router: ``nat_client_guest(index=1, ...)``),
``outside_capture`` (factory: ``outside_capture(name, bpf="") -> Capture``, on every port of br0).

Network rule: documentation addresses only, no QEMU user networking, no uplink.
"""

from __future__ import annotations

from .agent import AgentError, ExecResult, GuestAgent
from .build import GuestImage, ensure_guest
from .capture import Capture
from .client import (
    PROFILES,
    ClientCert,
    ClientError,
    ClientSettings,
    ClientStatus,
    L2tpClient,
    PingResult,
    Profile,
    SelfTestGateway,
    client_on,
)
from .guest import Guest, boot_guest
from .netns import (
    INSIDE_GW,
    INSIDE_HOST,
    OUTSIDE_GW,
    OUTSIDE_NAT,
    PRIVATE_NAT,
    BackgroundProcess,
    Namespace,
    Topology,
)
from .responder import HostResponder, responder_available

__all__ = [
    "INSIDE_GW",
    "INSIDE_HOST",
    "OUTSIDE_GW",
    "OUTSIDE_NAT",
    "PRIVATE_NAT",
    "PROFILES",
    "AgentError",
    "BackgroundProcess",
    "Capture",
    "ClientCert",
    "ClientError",
    "ClientSettings",
    "ClientStatus",
    "ExecResult",
    "Guest",
    "GuestAgent",
    "GuestImage",
    "HostResponder",
    "L2tpClient",
    "Namespace",
    "PingResult",
    "Profile",
    "SelfTestGateway",
    "Topology",
    "boot_guest",
    "client_on",
    "ensure_guest",
    "responder_available",
]
