"""IKEv1 numbers: RFC 2408 §3.1/§3.14/§3.15 (ISAKMP header, payload types, notify types),
RFC 2407 §4.4-§4.6 (IPsec DOI: ESP transform ids, SA attributes, ID types), RFC 2409 Appendix A
(phase-1 attributes), RFC 3947 §3/§4/§5 and draft-ietf-ipsec-nat-t-ike-02/03 (NAT-T vendor IDs,
NAT-D/NAT-OA payload numbers, encapsulation modes), RFC 3706 §7 (DPD)."""

from __future__ import annotations

from typing import Final

ISAKMP_VERSION: Final = 0x10
DOI_IPSEC: Final = 1
SIT_IDENTITY_ONLY: Final = 1

# exchange types (RFC 2408 §3.1, RFC 2409 §5)
EXCH_MAIN: Final = 2
EXCH_AGGRESSIVE: Final = 4
EXCH_INFO: Final = 5
EXCH_QUICK: Final = 32

# header flags
FLAG_ENCRYPTION: Final = 0x01
FLAG_COMMIT: Final = 0x02
FLAG_AUTH_ONLY: Final = 0x04

# payload types (RFC 2408 §3.1; RFC 3947 §3.2/§5.2; draft numbering 130/131)
PT_NONE: Final = 0
PT_SA: Final = 1
PT_PROPOSAL: Final = 2
PT_TRANSFORM: Final = 3
PT_KE: Final = 4
PT_ID: Final = 5
PT_CERT: Final = 6
PT_CERTREQ: Final = 7
PT_HASH: Final = 8
PT_SIG: Final = 9
PT_NONCE: Final = 10
PT_NOTIFY: Final = 11
PT_DELETE: Final = 12
PT_VENDOR: Final = 13
PT_NAT_D: Final = 20
PT_NAT_OA: Final = 21
PT_NAT_D_DRAFT: Final = 130
PT_NAT_OA_DRAFT: Final = 131
PT_FRAGMENT: Final = 132

PAYLOAD_NAMES: Final = {
    PT_SA: "SA", PT_PROPOSAL: "PROPOSAL", PT_TRANSFORM: "TRANSFORM", PT_KE: "KE", PT_ID: "ID",
    PT_CERT: "CERT", PT_CERTREQ: "CERT_REQ", PT_HASH: "HASH", PT_SIG: "SIG", PT_NONCE: "NONCE",
    PT_NOTIFY: "NOTIFY", PT_DELETE: "DELETE", PT_VENDOR: "vendor id", PT_NAT_D: "NAT-D",
    PT_NAT_OA: "NAT-OA", PT_NAT_D_DRAFT: "NAT-D", PT_NAT_OA_DRAFT: "NAT-OA",
}

# protocol ids (RFC 2407 §4.4.1)
PROTO_ISAKMP: Final = 1
PROTO_AH: Final = 2
PROTO_ESP: Final = 3

KEY_IKE: Final = 1  # transform id of a phase-1 transform

# phase-1 attributes (RFC 2409 Appendix A)
P1_ENCRYPTION: Final = 1
P1_HASH: Final = 2
P1_AUTH: Final = 3
P1_GROUP: Final = 4
P1_LIFE_TYPE: Final = 11
P1_LIFE_DURATION: Final = 12
P1_KEY_LENGTH: Final = 14

ENC_DES: Final = 1
ENC_3DES: Final = 5
ENC_AES: Final = 7

HASH_MD5: Final = 1
HASH_SHA: Final = 2
HASH_SHA256: Final = 4
HASH_SHA384: Final = 5
HASH_SHA512: Final = 6

AUTH_PSK: Final = 1
AUTH_RSA_SIG: Final = 3

LIFE_SECONDS: Final = 1
LIFE_KILOBYTES: Final = 2

# phase-2 attributes (RFC 2407 §4.5)
P2_LIFE_TYPE: Final = 1
P2_LIFE_DURATION: Final = 2
P2_GROUP: Final = 3
P2_ENCAPSULATION: Final = 4
P2_AUTH: Final = 5
P2_KEY_LENGTH: Final = 6

ENCAPS_TUNNEL: Final = 1
ENCAPS_TRANSPORT: Final = 2
ENCAPS_UDP_TUNNEL: Final = 3
ENCAPS_UDP_TRANSPORT: Final = 4
ENCAPS_UDP_TUNNEL_DRAFT: Final = 61443
ENCAPS_UDP_TRANSPORT_DRAFT: Final = 61444

AUTH_HMAC_MD5: Final = 1
AUTH_HMAC_SHA: Final = 2
AUTH_HMAC_SHA256: Final = 5

# ESP transform ids (RFC 2407 §4.4.4)
ESP_DES: Final = 2
ESP_3DES: Final = 3
ESP_NULL: Final = 11
ESP_AES: Final = 12

# ID types (RFC 2407 §4.6.2.1)
ID_IPV4_ADDR: Final = 1
ID_FQDN: Final = 2
ID_USER_FQDN: Final = 3
ID_IPV4_ADDR_SUBNET: Final = 4
ID_IPV4_ADDR_RANGE: Final = 7
ID_DER_ASN1_DN: Final = 9
ID_KEY_ID: Final = 11
ID_NAMES: Final = {
    ID_IPV4_ADDR: "ID_IPV4_ADDR", ID_FQDN: "ID_FQDN", ID_USER_FQDN: "ID_USER_FQDN",
    ID_IPV4_ADDR_SUBNET: "ID_IPV4_ADDR_SUBNET", ID_IPV4_ADDR_RANGE: "ID_IPV4_ADDR_RANGE",
    ID_DER_ASN1_DN: "ID_DER_ASN1_DN", ID_KEY_ID: "ID_KEY_ID",
}

# certificate encodings (RFC 2408 §3.9)
CERT_X509_SIG: Final = 4

# notify message types (RFC 2408 §3.14.1, RFC 2407 §4.6.3, RFC 3706 §5)
N_INVALID_PAYLOAD_TYPE: Final = 1
N_INVALID_EXCHANGE_TYPE: Final = 7
N_INVALID_FLAGS: Final = 8
N_INVALID_MESSAGE_ID: Final = 9
N_INVALID_PROTOCOL_ID: Final = 10
N_INVALID_SPI: Final = 11
N_INVALID_TRANSFORM_ID: Final = 12
N_ATTRIBUTES_NOT_SUPPORTED: Final = 13
N_NO_PROPOSAL_CHOSEN: Final = 14
N_PAYLOAD_MALFORMED: Final = 16
N_INVALID_KEY_INFORMATION: Final = 17
N_INVALID_ID_INFORMATION: Final = 18
N_INVALID_CERTIFICATE: Final = 19
N_INVALID_HASH_INFORMATION: Final = 23
N_AUTHENTICATION_FAILED: Final = 24
N_INVALID_SIGNATURE: Final = 25
N_RESPONDER_LIFETIME: Final = 24576
N_REPLAY_STATUS: Final = 24577
N_INITIAL_CONTACT: Final = 24578
N_R_U_THERE: Final = 36136
N_R_U_THERE_ACK: Final = 36137

# vendor IDs
VID_NATT_RFC3947: Final = bytes.fromhex("4a131c81070358455c5728f20e95452f")
VID_NATT_DRAFT_02: Final = bytes.fromhex("90cb80913ebb696e086381b5ec427b1f")
VID_NATT_DRAFT_02N: Final = bytes.fromhex("cd60464335df21f87cfdb2fc68b6a448")
VID_NATT_DRAFT_03: Final = bytes.fromhex("7d9419a65310ca6f2c179d9215529d56")
VID_DPD: Final = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")
VID_MS_NT5_PREFIX: Final = bytes.fromhex("1e2b516905991c7d7c96fcbfb587e461")
VID_FRAGMENTATION: Final = bytes.fromhex("4048b7d56ebce88525e7de7f00d6c2d3")
VID_MS_INITIAL_CONTACT: Final = bytes.fromhex("26244d38eddb61b3172a36e3d0cfb819")

NON_ESP_MARKER: Final = b"\x00\x00\x00\x00"
IKE_PORT: Final = 500
NATT_PORT: Final = 4500
