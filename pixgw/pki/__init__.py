"""pixgw.pki: RSA keys, CA certificates, enrollment and revocation for IKE rsa-sig.

- :mod:`pixgw.pki.scep` — SCEP messages, pure (RFC 8894; Microsoft NDES RA dialect).
- :mod:`pixgw.pki.mscep` — the treq shell (``ScepCertificateAuthority``), the ``file`` plugin
  (``FileCertificateAuthority``), CDP CRL fetches; ``PLUGINS`` by name.
- :mod:`pixgw.pki.interfaces` — ``ICertificateAuthority``, ``EnrollmentRequest``, ``CaError``.
- :mod:`pixgw.pki.store` — ``CaStore``: atomic files, private key 0600.
- :mod:`pixgw.pki.ike` — ``PkiCertificateSource``, IKE's ``IkeCertificateSource``.
- :mod:`pixgw.pki.commands` — ``CaExec``: the ``ca`` exec commands and the ``show`` snapshot.

Wiring (gateway/tap): ``pki = CaExec(config.ca, fqdn, serial=...)``; ``pki.load()`` at startup;
give ``pki.source`` to the IKE responder as its certificate source; set ``gateway.pki = pki``
and call :func:`pixgw.cli.ca.register` on the command table; on a new config replace
``pki.config`` and call ``pki.load()`` again (or keep state and only refresh); call
``pki.refresh_crls()`` now and then (e.g. after an IKE verdict with a warning).
"""
