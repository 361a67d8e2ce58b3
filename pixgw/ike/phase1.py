"""The main-mode responder's lifecycle (RFC 2409 §5, identity protection exchange of RFC 2408
§4.5) as one declared table, and the state of one ISAKMP SA.

States are the PIX's ``show crypto isakmp sa`` names. Every (state, input) pair has an outcome in
:data:`TRANSITIONS`: a next state, or ``None`` for "drop the input" (counted by the core).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pixgw.ike.crypto import CipherSpec, DhPrivate, Phase1Keys
from pixgw.ike.events import Endpoint
from pixgw.ike.natt import NattVariant
from pixgw.ike.policy import Phase1Choice


class MainModeState(Enum):
    MM_NO_STATE = "MM_NO_STATE"  # created, nothing sent yet
    MM_SA_SETUP = "MM_SA_SETUP"  # message 2 sent, waiting for 3
    MM_KEY_EXCH = "MM_KEY_EXCH"  # message 4 sent, waiting for 5
    QM_IDLE = "QM_IDLE"  # message 6 sent: authenticated
    MM_DELETED = "MM_DELETED"


class MainModeInput(Enum):
    MESSAGE_1 = "message 1 (SA)"
    MESSAGE_3 = "message 3 (KE, nonce)"
    MESSAGE_5 = "message 5 (ID, auth)"
    QUICK_MODE = "quick mode"
    INFORMATIONAL = "informational"
    AUTH_FAILED = "authentication failed"
    EXPIRED = "expired"
    DELETE = "delete"


S = MainModeState
I = MainModeInput  # noqa: E741

# (state, input) -> next state; None: the input is dropped in that state.
TRANSITIONS: dict[tuple[MainModeState, MainModeInput], MainModeState | None] = {
    (S.MM_NO_STATE, I.MESSAGE_1): S.MM_SA_SETUP,
    (S.MM_NO_STATE, I.MESSAGE_3): None,
    (S.MM_NO_STATE, I.MESSAGE_5): None,
    (S.MM_NO_STATE, I.QUICK_MODE): None,
    (S.MM_NO_STATE, I.INFORMATIONAL): None,
    (S.MM_NO_STATE, I.AUTH_FAILED): S.MM_DELETED,
    (S.MM_NO_STATE, I.EXPIRED): S.MM_DELETED,
    (S.MM_NO_STATE, I.DELETE): S.MM_DELETED,
    (S.MM_SA_SETUP, I.MESSAGE_1): None,  # a duplicate is answered by retransmission
    (S.MM_SA_SETUP, I.MESSAGE_3): S.MM_KEY_EXCH,
    (S.MM_SA_SETUP, I.MESSAGE_5): None,
    (S.MM_SA_SETUP, I.QUICK_MODE): None,
    (S.MM_SA_SETUP, I.INFORMATIONAL): None,  # unauthenticated: logged, ignored
    (S.MM_SA_SETUP, I.AUTH_FAILED): S.MM_DELETED,
    (S.MM_SA_SETUP, I.EXPIRED): S.MM_DELETED,
    (S.MM_SA_SETUP, I.DELETE): S.MM_DELETED,
    (S.MM_KEY_EXCH, I.MESSAGE_1): None,
    (S.MM_KEY_EXCH, I.MESSAGE_3): None,
    (S.MM_KEY_EXCH, I.MESSAGE_5): S.QM_IDLE,
    (S.MM_KEY_EXCH, I.QUICK_MODE): None,
    (S.MM_KEY_EXCH, I.INFORMATIONAL): None,
    (S.MM_KEY_EXCH, I.AUTH_FAILED): S.MM_DELETED,
    (S.MM_KEY_EXCH, I.EXPIRED): S.MM_DELETED,
    (S.MM_KEY_EXCH, I.DELETE): S.MM_DELETED,
    (S.QM_IDLE, I.MESSAGE_1): None,
    (S.QM_IDLE, I.MESSAGE_3): None,
    (S.QM_IDLE, I.MESSAGE_5): None,  # a duplicate is answered by retransmission
    (S.QM_IDLE, I.QUICK_MODE): S.QM_IDLE,
    (S.QM_IDLE, I.INFORMATIONAL): S.QM_IDLE,
    (S.QM_IDLE, I.AUTH_FAILED): S.QM_IDLE,  # a bad quick-mode hash does not end phase 1
    (S.QM_IDLE, I.EXPIRED): S.MM_DELETED,
    (S.QM_IDLE, I.DELETE): S.MM_DELETED,
    **{(S.MM_DELETED, i): None for i in I},
}


def next_state(state: MainModeState, event: MainModeInput) -> MainModeState | None:
    return TRANSITIONS[(state, event)]


@dataclass
class Retransmission:
    """Our last message of an exchange and when to send it again (the PIX: 5 more, 5 s apart)."""

    data: bytes
    next_at: float | None
    remaining: int
    fragments: tuple[bytes, ...] = ()  # what goes on the wire when the peer takes fragments


@dataclass
class IsakmpSa:
    cky_i: bytes
    cky_r: bytes
    local: Endpoint
    remote: Endpoint
    created: float
    conn_id: int
    state: MainModeState = MainModeState.MM_NO_STATE
    choice: Phase1Choice | None = None
    cipher: CipherSpec | None = None
    sai_b: bytes = b""
    dh: DhPrivate | None = None
    gxi: bytes = b""
    gxr: bytes = b""
    gxy: bytes = b""
    ni: bytes = b""
    nr: bytes = b""
    keys: Phase1Keys | None = None
    iv: bytes = b""  # phase-1 CBC chain; after message 6 its last block seeds phase 2
    natt: NattVariant | None = None
    peer_behind_nat: bool = False
    local_behind_nat: bool = False
    peer_vendor: str | None = None
    peer_dpd: bool = False
    peer_certreq: bool = False
    peer_fragmentation: bool = False  # Cisco/Microsoft IKE fragmentation vendor ID
    peer_initial_contact: bool = False  # Windows: "MS Vid-Initial-Contact" vendor ID
    keepalive_next_at: float | None = None  # our NAT-T keepalives (RFC 3948 §2.3)
    peer_id: tuple[int, bytes] | None = None
    first_remote: Endpoint | None = None  # where message 1 came from (the initiator index)
    last_received: bytes = b""
    last_sent: Retransmission | None = None
    expires_at: float | None = None  # half-open expiry, then phase-1 lifetime
    authenticated_at: float | None = None
    children_created: int = 0
    dpd_sequence: int = 0
    dpd_next_at: float | None = None
    dpd_unanswered: int = 0
    last_heard: float = 0.0
    info_message_ids: set[int] = field(default_factory=set)

    @property
    def ike_sa_id(self) -> bytes:
        return self.cky_i + self.cky_r
