"""The authenticator side of PPP authentication: PAP, CHAP-MD5, MS-CHAPv1, MS-CHAPv2.

- RFC 1334 §2: PAP Authenticate-Request / -Ack / -Nak.
- RFC 1994 §4: CHAP Challenge / Response / Success / Failure, Challenge retransmission,
  repeated Responses answered with the same Success/Failure.
- RFC 2433 §3-§5 (MS-CHAPv1): 8-byte challenge, 49-byte response (LM, NT, flags), failure
  packet ``E=691 R=0``.
- RFC 2759 §4-§6 (MS-CHAPv2): 16-byte challenge, 49-byte response (peer challenge, reserved,
  NT response, flags), Success ``S=<authenticator response> M=<message>``, Failure
  ``E=691 R=r C=<challenge> V=3 M=<message>`` and ``E=648`` (password expired), retries.

The authenticator never decides: it produces an :class:`AuthenticationRequested` and waits for
:meth:`PeerAuthenticator.result` (the gateway asks the AAA layer, asynchronously).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from pixgw.ppp.frame import PROTO_CHAP, PROTO_PAP, ControlPacket
from pixgw.ppp.lcp import AuthName
from pixgw.wire import MalformedMessage, Reader, Writer

__all__ = ["AuthenticationRequested", "PeerAuthenticator"]

PAP_REQUEST = 1
PAP_ACK = 2
PAP_NAK = 3
CHAP_CHALLENGE = 1
CHAP_RESPONSE = 2
CHAP_SUCCESS = 3
CHAP_FAILURE = 4

CHALLENGE_LENGTH: Final[dict[AuthName, int]] = {"chap": 16, "mschap": 8, "mschapv2": 16}
MSCHAP_RESPONSE_LENGTH = 49
OUR_NAME: Final = b"pixgw"


@dataclass(frozen=True)
class AuthenticationRequested:
    """The peer presented credentials; the gateway must answer with
    :meth:`pixgw.ppp.session.PppSession.authentication_result`.

    ``response`` is the raw Response value (CHAP: 16 bytes; MS-CHAPv1 and MS-CHAPv2: 49 bytes).
    For the MS-CHAPs ``nt_response`` is its 24-byte NT-Response and, for v2, ``peer_challenge``
    its 16-byte Peer-Challenge. ``password`` is only set for PAP and is never shown in a repr.
    """

    protocol: AuthName
    username: str
    identifier: int
    challenge: bytes = b""
    response: bytes = b""
    peer_challenge: bytes = b""
    nt_response: bytes = b""
    password: str | None = field(default=None, repr=False)
    interface_id: int = 0
    attempt: int = 1


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class PeerAuthenticator:
    """Authenticates the peer with one protocol. States: ``waiting`` (for a request or
    response), ``pending`` (the gateway is deciding), ``succeeded``, ``failed``."""

    def __init__(
        self,
        protocol: AuthName,
        *,
        random_bytes: Callable[[int], bytes],
        interface_id: int = 0,
        restart_interval: float = 3.0,
        max_challenges: int = 10,
        max_retries: int = 0,
    ) -> None:
        self.protocol = protocol
        self.ppp_protocol = PROTO_PAP if protocol == "pap" else PROTO_CHAP
        self._random_bytes = random_bytes
        self.interface_id = interface_id
        self.restart_interval = restart_interval
        self.max_challenges = max_challenges
        self.max_retries = max_retries
        self.state = "idle"
        self.outgoing: list[ControlPacket] = []
        self.deadline: float | None = None
        self.failure_reason = ""
        self.username = ""
        self.errors = 0
        self._challenge = b""
        self._identifier = 0
        self._sends_left = 0
        self._attempt = 0
        self._pending: AuthenticationRequested | None = None
        self._final: ControlPacket | None = None

    # --- start and timers ----------------------------------------------------------------------

    def start(self, now: float) -> None:
        self.state = "waiting"
        self._sends_left = self.max_challenges
        if self.protocol == "pap":
            # RFC 1334: the peer sends first; give it the same total time a CHAP peer gets.
            self.deadline = now + self.restart_interval * self.max_challenges
        else:
            self._new_challenge()
            self._send_challenge(now)

    def _new_challenge(self) -> None:
        self._identifier = self._random_bytes(1)[0]
        self._challenge = self._random_bytes(CHALLENGE_LENGTH[self.protocol])

    def _send_challenge(self, now: float) -> None:
        value = self._challenge
        data = Writer().u8(len(value)).write(value).write(OUR_NAME).getvalue()
        self.outgoing.append(ControlPacket(CHAP_CHALLENGE, self._identifier, data))
        self._sends_left -= 1
        self.deadline = now + self.restart_interval

    def get_timer(self) -> float | None:
        return self.deadline if self.state == "waiting" else None

    def handle_timer(self, now: float) -> None:
        if self.state != "waiting" or self.deadline is None or now < self.deadline:
            return
        if self.protocol != "pap" and self._sends_left > 0:
            self._send_challenge(now)  # RFC 1994 §4.1: retransmit the same Challenge
            return
        self.deadline = None
        self.state = "failed"
        self.failure_reason = "authentication timeout"

    # --- input ---------------------------------------------------------------------------------

    def receive(self, packet: ControlPacket, now: float) -> AuthenticationRequested | None:
        try:
            if self.protocol == "pap":
                return self._receive_pap(packet)
            return self._receive_chap(packet)
        except MalformedMessage:
            self.errors += 1
            return None

    def _receive_pap(self, packet: ControlPacket) -> AuthenticationRequested | None:
        if packet.code != PAP_REQUEST:
            self.errors += 1
            return None
        if self.state in ("succeeded", "failed"):
            self._repeat_final(packet.identifier)
            return None
        if self.state != "waiting":
            return None  # a retransmission while the gateway decides
        r = Reader(packet.data)
        peer_id = r.read(r.u8())
        password = r.read(r.u8())
        self._identifier = packet.identifier
        return self._request(
            AuthenticationRequested(
                "pap", _text(peer_id), packet.identifier, password=_text(password)
            )
        )

    def _receive_chap(self, packet: ControlPacket) -> AuthenticationRequested | None:
        if packet.code != CHAP_RESPONSE:
            self.errors += 1  # we never authenticate ourselves to the client
            return None
        if self.state in ("succeeded", "failed"):
            self._repeat_final(packet.identifier)
            return None
        if self.state != "waiting" or packet.identifier != self._identifier:
            return None  # duplicate while pending, or not an answer to our Challenge
        r = Reader(packet.data)
        value = r.read(r.u8())
        name = _text(r.rest())
        if self.protocol == "chap":
            if len(value) != 16:
                raise MalformedMessage("CHAP-MD5 response is not 16 bytes")
            event = AuthenticationRequested(
                "chap", name, packet.identifier, challenge=self._challenge, response=value
            )
        elif len(value) != MSCHAP_RESPONSE_LENGTH:
            raise MalformedMessage("MS-CHAP response is not 49 bytes")
        elif self.protocol == "mschap":
            event = AuthenticationRequested(
                "mschap",
                name,
                packet.identifier,
                challenge=self._challenge,
                response=value,
                nt_response=value[24:48],
            )
        else:
            event = AuthenticationRequested(
                "mschapv2",
                name,
                packet.identifier,
                challenge=self._challenge,
                response=value,
                peer_challenge=value[:16],
                nt_response=value[24:48],
            )
        return self._request(event)

    def _request(self, event: AuthenticationRequested) -> AuthenticationRequested:
        self._attempt += 1
        self.username = event.username
        self.state = "pending"
        self.deadline = None
        pending = AuthenticationRequested(
            event.protocol,
            event.username,
            event.identifier,
            challenge=event.challenge,
            response=event.response,
            peer_challenge=event.peer_challenge,
            nt_response=event.nt_response,
            password=event.password,
            interface_id=self.interface_id,
            attempt=self._attempt,
        )
        self._pending = pending
        return pending

    def _repeat_final(self, identifier: int) -> None:
        # RFC 1994 §4.2 / RFC 1334 §2.2.1: a repeated Request/Response gets the same answer.
        if self._final is not None and identifier == self._final.identifier:
            self.outgoing.append(self._final)

    # --- the gateway's answer ------------------------------------------------------------------

    def result(
        self,
        accepted: bool,
        now: float,
        *,
        message: str = "",
        mschapv2_authenticator_response: str | None = None,
        failure_code: int = 691,
    ) -> None:
        """Answer the pending request; afterwards :attr:`state` is ``succeeded``, ``failed`` or
        (MS-CHAPv2 with retries left) ``waiting`` again with a new challenge sent in C=."""
        if self.state != "pending" or self._pending is None:
            return
        identifier = self._pending.identifier
        if self.protocol == "pap":
            pap_text = (message or ("Login OK" if accepted else "Login incorrect")).encode()[:255]
            code = PAP_ACK if accepted else PAP_NAK
            pap_data = bytes([len(pap_text)]) + pap_text
            self._finish(accepted, ControlPacket(code, identifier, pap_data))
            return
        if accepted:
            if self.protocol == "mschapv2":
                # RFC 2759 §5: without "S=<authenticator response>" the peer refuses the
                # Success; the gateway must pass what AAA computed (MS-CHAP2-Success).
                auth = mschapv2_authenticator_response or "S=" + "0" * 40
                text = f"{auth} M={message or 'Welcome'}"
            else:
                text = message or "Welcome"
            self._finish(True, ControlPacket(CHAP_SUCCESS, identifier, text.encode()))
            return
        retry = self.protocol == "mschapv2" and self._attempt <= self.max_retries
        if self.protocol == "mschapv2":
            if retry:
                self._new_challenge()
                self._identifier = (identifier + 1) & 0xFF  # RFC 2759 §6: the peer increments
            text = (
                f"E={failure_code} R={1 if retry else 0} C={self._challenge.hex().upper()} V=3"
                f" M={message or 'Authentication failure'}"
            )
        elif self.protocol == "mschap":
            text = f"E={failure_code} R=0"  # no V=: we offer no password change
        else:
            text = message or "Authentication failure"
        packet = ControlPacket(CHAP_FAILURE, identifier, text.encode())
        if retry:
            self.outgoing.append(packet)
            self.state = "waiting"
            self._pending = None
            self._sends_left = 0
            self.deadline = now + self.restart_interval * self.max_challenges
            return
        self.failure_reason = "authentication failed"
        self._finish(False, packet)

    def _finish(self, accepted: bool, packet: ControlPacket) -> None:
        self.outgoing.append(packet)
        self._final = packet
        self._pending = None
        self.deadline = None
        self.state = "succeeded" if accepted else "failed"
