"""A second client implementation for the interop suite: libreswan's pluto (IKEv1) + xl2tpd +
pppd in the ``libreswan`` guest variant (``ensure_guest(variant="libreswan")``).

Test infrastructure, stdlib and ``cryptography`` only.  ``LibreswanClient`` is an
``L2tpClient``: the same lifecycle (``up``/``down``/``vanish``/``stop``/``status``/``ping``/
``logs``) and the same xl2tpd and pppd templates; only the IKE half differs.  ``configure()``
renders ``templates/libreswan/ipsec.conf`` (``ikev2=no``, ``type=transport``,
``leftprotoport=rightprotoport=17/1701``, ``authby=secret`` or ``authby=rsasig`` with the test
PKI in pluto's NSS database, ``ike=``/``phase2alg=`` per profile, NAT traversal and DPD as a
client would), and uploads ``templates/libreswan/pixgw-l2tp`` over the guest's strongSwan
driver of the same name (same commands and status keys; ``charon`` there is pluto's pid).

Profiles: libreswan 4.10 as Debian builds it has no 1DES and no MODP768/MODP1024 (``ipsec
algparse 'ike=3des-sha1;modp1024'`` -> "not supported"), so the win2000, winxp and android
profiles of the strongSwan client cannot be reproduced; the ones here are what it can offer of
the Windows 8/10/11 list (clients.md) plus an ECP-256 AES-128 client.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from .client import (
    GUEST_PKI,
    PPP_AUTHS,
    TEMPLATES,
    ClientSettings,
    L2tpClient,
    Profile,
    _conf_quote,
    _ppp_refusals,
    render,
    seconds,
)
from .guest import Guest

NSS_DB = "sql:/var/lib/ipsec/nss"
CLIENT_NICK = "pixgw-client"
CA_NICK = "pixgw-interop-ca"
P12_PASSWORD = "interop-p12"


@dataclass(frozen=True)
class LibreswanProfile(Profile):
    """``ike``/``esp`` entries in libreswan syntax (``enc-integ;dh``, ``enc-integ``)."""

    expected_transform: str = ""  # what ``show crypto ipsec sa`` must say on pixgw


PROFILES: dict[str, LibreswanProfile] = {
    p.name: p
    for p in (
        LibreswanProfile(
            "win10",
            (
                "aes256-sha1;dh20",
                "aes128-sha1;dh19",
                "aes256-sha1;modp2048",
                "3des-sha1;modp2048",
            ),
            ("aes256-sha1", "aes128-sha1", "3des-sha1"),
            note="the Windows 8/10/11 list without its MODP1024 fallback",
            expected_transform="esp-aes-256 esp-sha-hmac",
        ),
        LibreswanProfile(
            "win10g14",
            ("aes256-sha1;modp2048",),
            ("aes256-sha1", "aes128-sha1"),
            note="Windows pinned to aes-256/sha1/group 14",
            expected_transform="esp-aes-256 esp-sha-hmac",
        ),
        LibreswanProfile(
            "3des-g14",
            ("3des-sha1;modp2048",),
            ("3des-sha1",),
            note="Windows' 3des/sha1/group 14 transform alone (a winxp-like cipher, a group "
            "libreswan still has)",
            expected_transform="esp-3des esp-sha-hmac",
        ),
        LibreswanProfile(
            "ecp256",
            ("aes128-sha1;dh19",),
            ("aes128-sha1",),
            note="aes-128/sha1/ECP-256 (group 19), esp-aes esp-sha-hmac",
            expected_transform="esp-aes esp-sha-hmac",
        ),
    )
}

SCRIPT = "libreswan/pixgw-l2tp"


def client_p12(cert_pem: bytes, key_pem: bytes) -> bytes:
    """The client's key and certificate as PKCS#12 for ``pk12util`` (pluto's NSS db)."""
    key = serialization.load_pem_private_key(key_pem, None)
    cert = x509.load_pem_x509_certificate(cert_pem)
    return pkcs12.serialize_key_and_certificates(
        CLIENT_NICK.encode(),
        key,  # type: ignore[arg-type]
        cert,
        None,
        serialization.BestAvailableEncryption(P12_PASSWORD.encode()),
    )


@dataclass
class LibreswanClient(L2tpClient):
    """An L2TP/IPsec client whose IKE daemon is libreswan's pluto."""

    @property
    def profile(self) -> LibreswanProfile:
        return PROFILES[self.settings.profile]

    def configure(self) -> LibreswanClient:
        s = self.settings
        if s.auth not in ("psk", "cert") or s.ppp_auth not in PPP_AUTHS:
            raise ValueError(f"bad client settings {s}")
        prof = self.profile
        self.client_port = 1701
        a = self.guest.agent
        files: dict[str, tuple[bytes, int]] = {
            "/usr/local/sbin/pixgw-l2tp": ((TEMPLATES / SCRIPT).read_bytes(), 0o755)
        }
        a.write_files(files)
        self._sh(
            "pixgw-l2tp stop >/dev/null 2>&1;"
            " rm -f /etc/ppp/resolv.conf /var/log/pluto.log /var/log/pluto.stdout"
            " /var/log/xl2tpd.log /var/log/pppd.log",
            timeout=60,
        )
        files = {}
        if s.auth == "cert":
            if s.cert is not None:
                cert, key, ca = s.cert.cert_pem, s.cert.key_pem, s.cert.ca_pem
            else:
                cert, key, ca = (
                    a.read_file(f"{GUEST_PKI}/{n}")
                    for n in ("client-cert.pem", "client-key.pem", "ca-cert.pem")
                )
            files["/etc/pixgw/client.p12"] = (client_p12(cert, key), 0o600)
            files["/etc/pixgw/ca.pem"] = (ca, 0o644)
            auth = (
                "    authby=rsasig\n"
                f"    leftcert={CLIENT_NICK}\n"
                "    leftid=%fromcert\n"
                "    leftsendcert=always\n"
                "    rightca=%same"
            )
            secrets = f": RSA {CLIENT_NICK}\n"
        else:
            auth = "    authby=secret"
            secrets = f': PSK "{_conf_quote(s.psk)}"\n'
        ike_life = s.ike_lifetime or prof.ike_lifetime
        esp_life = s.esp_lifetime or prof.esp_lifetime
        values = {
            "profile": prof.name,
            "conn": s.conn,
            "server": s.server,
            "left": self.guest.ip,
            "auth": auth,
            "ike": ",".join(s.ike or prof.ike),
            "esp": ",".join(s.esp or prof.esp),
            "ike_lifetime": f"{seconds(ike_life)}s",
            "esp_lifetime": f"{seconds(esp_life)}s",
            "margin": f"{max(1, min(seconds(ike_life), seconds(esp_life)) // 10)}s",
            "client_port": "1701",
            "client_port_num": "1701",
            "user": _conf_quote(s.user),
            "password": _conf_quote(s.password),
            "ppp_auth": _ppp_refusals(s.ppp_auth),
        }
        files["/etc/ipsec.conf"] = (render("libreswan/ipsec.conf", values), 0o644)
        files["/etc/ipsec.secrets"] = (secrets.encode(), 0o600)
        files["/etc/xl2tpd/xl2tpd.conf"] = (render("client/xl2tpd.conf", values), 0o644)
        files["/etc/ppp/options.l2tpd.client"] = (
            render("client/options.l2tpd.client", values),
            0o600,
        )
        env = {"CONN": s.conn, "SERVER": s.server, "ENFORCE": "yes" if s.enforce else "no"}
        files["/etc/pixgw/l2tp.env"] = (
            "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()).encode(),
            0o600,
        )
        a.write_files(files)
        # a fresh NSS db each time: the CA trusted for peers, the client's key and certificate
        nss = (
            "set -e; rm -f /var/lib/ipsec/nss/*.db /var/lib/ipsec/nss/pkcs11.txt;"
            " ipsec initnss >/dev/null"
        )
        if s.auth == "cert":
            nss += (
                f"; pk12util -i /etc/pixgw/client.p12 -d {NSS_DB} -W {P12_PASSWORD} >/dev/null"
                f"; certutil -A -n {CA_NICK} -t CT,, -d {NSS_DB} -a -i /etc/pixgw/ca.pem"
                f"; certutil -L -d {NSS_DB}"
            )
        r = self._sh(nss, timeout=60)
        if not r.ok:
            raise RuntimeError(f"NSS database: {r.stdout}\n{r.stderr}")
        return self

    def log_file(self, name: str) -> str:
        """A whole guest log: pluto (also under the name charon), xl2tpd or pppd."""
        return super().log_file("pluto" if name == "charon" else name)


def libreswan_client_on(guest: Guest, **kwargs: object) -> LibreswanClient:
    """Configure the libreswan client stack of ``guest`` with ``ClientSettings(**kwargs)``."""
    settings = replace(ClientSettings(), **kwargs)  # type: ignore[arg-type]
    return LibreswanClient(guest, settings).configure()
