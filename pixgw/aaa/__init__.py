"""pixgw.aaa: PPP authentication and accounting behind twisted.cred (RFC 1334, RFC 1994,
RFC 2433, RFC 2759 credentials; RFC 2865/2866 RADIUS; RFC 4511 LDAP).

Entry points for the wiring: :func:`pixgw.aaa.chain.build_authenticator`,
:func:`pixgw.aaa.chain.build_accounting`, and the gateway adapters in
:mod:`pixgw.aaa.gateway_seam`.
"""
