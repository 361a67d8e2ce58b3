"""pixgw.ppp: the PPP core (RFC 1661 LCP, RFC 1334/1994/2433/2759 authentication, RFC 1332/1877
IPCP, RFC 3079 MPPE keys), sans-I/O. The gateway uses :class:`pixgw.ppp.session.PppSession`."""
