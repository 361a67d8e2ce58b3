"""pixgw.aaa: PPP authentication and accounting behind twisted.cred (RFC 1334, RFC 1994,
RFC 2433, RFC 2759 credentials; RFC 2865/2866/2868/2869/3579 RADIUS; RFC 4511 LDAP).

Wiring (``tap.py``)::

    from pixgw.aaa.chain import build_accounting, build_authenticator
    from pixgw.aaa_seam import CredAccounting, CredAuthenticate

    group = vpdn_group.authentication_aaa            # None -> local users
    authenticate = CredAuthenticate(build_authenticator(config, group, reactor=reactor))
    accounting = CredAccounting(
        build_accounting(config, vpdn_group.accounting, reactor=reactor, spool_dir=STATE_DIR),
        reactor,
    )                                                 # only when ``client accounting GRP``
    accounting.accounting_on()                        # startService
    accounting.accounting_off()                       # stopService

Modules: :mod:`~pixgw.aaa.credentials` (PAP/CHAP/MS-CHAP credentials), :mod:`~pixgw.aaa.local`
(checker, realm, PIX hashes), :mod:`~pixgw.aaa.chain` (plugin discovery, fall-through chain),
:mod:`~pixgw.aaa.radius` (Twisted UDP client), :mod:`~pixgw.aaa.accounting` (RADIUS accounting
with a disk spool), :mod:`~pixgw.aaa.ldap`, :mod:`~pixgw.aaa.snapshot` (``show`` data),
:mod:`~pixgw.aaa.memory` (in-memory fakes); in the wiring layer above the gateway,
:mod:`pixgw.aaa_seam` (the gateway's adapters).
Backends are plugins in :mod:`pixgw.plugins` (``local``, ``radius``, ``ldap``).
"""
