"""IKEv1 (RFC 2407, 2408, 2409) responder, NAT-T (RFC 3947), DPD (RFC 3706)."""
