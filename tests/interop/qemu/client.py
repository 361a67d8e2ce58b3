"""The real L2TP/IPsec client in a guest (strongSwan charon IKEv1 + xl2tpd + pppd), and the
harness's own self-test gateway (the same stack as responder/LNS in a second guest).

Test infrastructure, stdlib only.  Profiles follow ``/work/shared/reference/clients.md``;
proposals are in strongSwan syntax (IKE enc-integ-dh, ESP enc-integ, no PFS).  The templates
under ``templates/`` are rendered here with ``string.Template`` and written into the guest
through the agent; ``/usr/local/sbin/pixgw-l2tp`` in the guest runs them.
"""

from __future__ import annotations

import random
import re
import shlex
import string
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from .agent import AgentError, ExecResult
from .guest import Guest

TEMPLATES = Path(__file__).resolve().parent / "templates"
GUEST_PKI = "/etc/pixgw/pki"
GATEWAY_CERT_ID = "C=XX, O=pixgw-interop, CN=gw.pixgw.test"  # subject of the test PKI's server cert
PPP_AUTHS = ("chap", "mschap", "mschap-v2", "pap", "any")


@dataclass(frozen=True)
class Profile:
    """A named client: what it offers in main mode and quick mode, and its L2TP source port."""

    name: str
    ike: tuple[str, ...]
    esp: tuple[str, ...]
    ephemeral_l2tp_port: bool = False
    ike_lifetime: str = "8h"
    esp_lifetime: str = "1h"
    note: str = ""


_MAC_GROUPS = (
    ("modp2048", ("sha256", "sha1", "md5", "sha512")),
    ("modp1536", ("sha256", "sha1", "md5")),
    ("modp1024", ("sha256", "sha1", "md5")),
)
_MAC_IKE = (
    *(f"aes256-{h}-{g}" for g, hashes in _MAC_GROUPS for h in hashes),
    "aes128-sha1-modp1024",
    "aes128-md5-modp1024",
    "3des-sha1-modp1024",
    "3des-md5-modp1024",
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "win2000",
            ("des-md5-modp768",),
            ("des-md5",),
            note="the reference: des/md5/group 1, esp-des esp-md5-hmac",
        ),
        Profile("winxp", ("3des-sha1-modp1024",), ("3des-sha1",), note="3des/sha1/group 2"),
        Profile(
            "win10",
            (
                "aes256-sha1-ecp384",
                "aes128-sha1-ecp256",
                "aes256-sha1-modp2048",
                "3des-sha1-modp2048",
                "3des-sha1-modp1024",
            ),
            ("aes256-sha1", "aes128-sha1", "3des-sha1"),
            note="Windows 8/10/11: groups 20, 19, 14 and 3des fallbacks",
        ),
        Profile(
            "win10g14",
            ("aes256-sha1-modp2048",),
            ("aes256-sha1", "aes128-sha1"),
            note="Windows 10 pinned to aes/sha1/group 14",
        ),
        Profile(
            "macos",
            _MAC_IKE,
            tuple(
                f"{e}-{h}" for e in ("aes256", "aes128", "3des") for h in ("sha256", "sha1", "md5")
            ),
            ephemeral_l2tp_port=True,
            ike_lifetime="1h",
            note="racoon-derived: 14 transforms, ephemeral L2TP source port",
        ),
        Profile(
            "android",
            tuple(
                f"{e}-{h}-modp1024"
                for h in ("sha1", "md5")
                for e in ("aes256", "aes128", "3des", "des")
            ),
            tuple(f"{e}-{h}" for h in ("sha1", "md5") for e in ("aes256", "aes128", "3des", "des")),
            note="racoon: group 2 only, aes/3des/des x sha1/md5",
        ),
    )
}


class ClientError(RuntimeError):
    """Bringing the client up (or another step) failed; the message carries the guest's logs."""


@dataclass(frozen=True)
class ClientCert:
    """PEM files uploaded into the guest for certificate authentication.

    Without one, the client uses the built-in test PKI's client certificate."""

    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes


@dataclass(frozen=True)
class ClientSettings:
    """Everything a client connection is configured with."""

    server: str = "192.0.2.1"
    profile: str = "win2000"
    auth: str = "psk"  # psk | cert
    ppp_auth: str = "mschap-v2"  # chap | mschap | mschap-v2 | pap | any
    psk: str = "interop-psk"
    cert: ClientCert | None = None
    server_id: str = "%any"
    user: str = "interop"
    password: str = "interop-pass"
    stack: str = "starter"  # starter (ipsec.conf, ipsec up) | swanctl
    enforce: bool = True  # L2TP never leaves in clear (xfrm block policies under charon's)
    ike: tuple[str, ...] | None = None  # override the profile's proposals
    esp: tuple[str, ...] | None = None
    ike_lifetime: str | None = None  # override, e.g. "3m" for a rekey test
    esp_lifetime: str | None = None
    conn: str = "pixgw"


@dataclass(frozen=True)
class ClientStatus:
    """What the guest reports (``pixgw-l2tp status``)."""

    charon_pid: str
    xl2tpd_pid: str
    pppd_pid: str
    esp_sas: int
    ppp_address: str
    ppp_peer: str
    dns: tuple[str, ...]
    l2tp_tunnels: int
    l2tp_sessions: int
    raw: str

    @property
    def connected(self) -> bool:
        return bool(self.ppp_address) and self.esp_sas >= 2


@dataclass(frozen=True)
class PingResult:
    sent: int
    received: int
    output: str

    @property
    def ok(self) -> bool:
        return self.received > 0 and self.received == self.sent


def seconds(lifetime: str) -> int:
    """strongSwan time syntax ("90s", "3m", "1h", "1d", or bare seconds) to seconds."""
    m = re.fullmatch(r"(\d+)([smhd]?)", lifetime.strip())
    if m is None:
        raise ValueError(f"bad lifetime {lifetime!r}")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def render(relpath: str, values: dict[str, str]) -> bytes:
    return string.Template((TEMPLATES / relpath).read_text()).substitute(values).encode()


def _ppp_refusals(ppp_auth: str) -> str:
    refuse = {"pap", "chap", "mschap", "mschap-v2", "eap"}
    keep = {"any": {"pap", "chap", "mschap", "mschap-v2"}}.get(ppp_auth, {ppp_auth})
    return "\n".join(f"refuse-{r}" for r in sorted(refuse - keep))


def _conf_quote(value: str) -> str:
    if any(c in value for c in '"\n\\'):
        raise ValueError("quotes, backslashes and newlines are not allowed in interop secrets")
    return value


def parse_status(raw: str) -> ClientStatus:
    kv: dict[str, str] = {}
    for line in raw.splitlines():
        if line.startswith("---"):
            break
        k, sep, v = line.partition("=")
        if sep:
            kv[k.strip()] = v.strip()

    def num(key: str) -> int:
        return int(kv.get(key) or 0) if (kv.get(key) or "0").isdigit() else 0

    return ClientStatus(
        charon_pid=kv.get("charon", ""),
        xl2tpd_pid=kv.get("xl2tpd", ""),
        pppd_pid=kv.get("pppd", ""),
        esp_sas=num("esp_sas"),
        ppp_address=kv.get("ppp_address", ""),
        ppp_peer=kv.get("ppp_peer", ""),
        dns=tuple(dict.fromkeys(d for d in kv.get("dns", "").split(",") if d)),  # DNS1 == DNS2 once
        l2tp_tunnels=num("l2tp_tunnels"),
        l2tp_sessions=num("l2tp_sessions"),
        raw=raw,
    )


@dataclass
class L2tpClient:
    """A configured L2TP/IPsec client in a booted guest.

    ``up()``/``down()``/``vanish()``/``status()``/``ping()``/``logs()``; ``ppp_address`` and
    ``dns`` are filled by ``up()`` (and refreshed by ``status()``).
    """

    guest: Guest
    settings: ClientSettings
    ppp_address: str = ""
    ppp_peer: str = ""
    dns: tuple[str, ...] = ()
    up_seconds: float = 0.0
    client_port: int = 1701
    history: list[tuple[str, float]] = field(default_factory=list)  # (guest command, seconds)

    @property
    def profile(self) -> Profile:
        return PROFILES[self.settings.profile]

    def _sh(self, script: str, timeout: float = 60.0) -> ExecResult:
        t0 = time.monotonic()
        try:
            return self.guest.sh(script, timeout=timeout)
        finally:
            self.history.append((script, time.monotonic() - t0))

    def timings(self) -> str:
        return "; ".join(
            f"{cmd.split()[1] if cmd.startswith('pixgw-l2tp') else cmd[:20]} {sec:.1f}s"
            for cmd, sec in self.history
        )

    def configure(self) -> L2tpClient:
        s = self.settings
        if (
            s.auth not in ("psk", "cert")
            or s.ppp_auth not in PPP_AUTHS
            or s.stack not in ("starter", "swanctl")
        ):
            raise ValueError(f"bad client settings {s}")
        prof = self.profile
        ike = ",".join(s.ike or prof.ike)
        esp = ",".join(s.esp or prof.esp)
        self.client_port = random.randint(49152, 65000) if prof.ephemeral_l2tp_port else 1701
        a = self.guest.agent
        files: dict[str, tuple[bytes, int]] = {}
        self._sh(
            "pixgw-l2tp stop >/dev/null 2>&1;"
            " rm -f /etc/swanctl/conf.d/pixgw.conf /etc/ppp/resolv.conf"
            " /var/log/charon.log /var/log/xl2tpd.log /var/log/pppd.log",
            timeout=60,
        )
        if s.auth == "cert":
            if s.cert is not None:
                cert, key, ca = s.cert.cert_pem, s.cert.key_pem, s.cert.ca_pem
            else:
                cert, key, ca = (
                    a.read_file(f"{GUEST_PKI}/{n}")
                    for n in ("client-cert.pem", "client-key.pem", "ca-cert.pem")
                )
            for d in ("/etc/ipsec.d", "/etc/swanctl"):
                sub = (
                    ("cacerts", "certs", "private")
                    if d == "/etc/ipsec.d"
                    else ("x509ca", "x509", "private")
                )
                files[f"{d}/{sub[0]}/interop-ca.pem"] = (ca, 0o644)
                files[f"{d}/{sub[1]}/client-cert.pem"] = (cert, 0o644)
                files[f"{d}/{sub[2]}/client-key.pem"] = (key, 0o600)
            left = "    leftauth=pubkey\n    leftcert=client-cert.pem\n    leftsendcert=always"
            right = "    rightauth=pubkey"
            secrets = ": RSA client-key.pem\n"
        else:
            left, right = "    authby=secret", ""
            secrets = f': PSK "{_conf_quote(s.psk)}"\n'
        ike_life = s.ike_lifetime or prof.ike_lifetime
        esp_life = s.esp_lifetime or prof.esp_lifetime
        values = {
            "profile": prof.name,
            "conn": s.conn,
            "server": s.server,
            "server_id": f'"{s.server_id}"' if s.server_id != "%any" else "%any",
            "client_port": "%any" if prof.ephemeral_l2tp_port else "1701",
            "client_port_num": str(self.client_port),
            "swanctl_client_port": "%any" if prof.ephemeral_l2tp_port else "1701",
            "left_auth": left,
            "right_auth": right,
            "ike": ike,
            "esp": esp,
            "ike_lifetime": f"{seconds(ike_life)}s",
            "esp_lifetime": f"{seconds(esp_life)}s",
            # the client rekeys (like Windows): quick mode again at 90 % of the ESP lifetime
            "esp_rekey": f"{seconds(esp_life) * 9 // 10}s",
            "margin": f"{max(1, min(seconds(ike_life), seconds(esp_life)) // 10)}s",
            "swanctl_auth": "pubkey" if s.auth == "cert" else "psk",
            "swanctl_local_certs": "            certs = client-cert.pem"
            if s.auth == "cert"
            else "",
            "psk": _conf_quote(s.psk),
            "user": _conf_quote(s.user),
            "password": _conf_quote(s.password),
            "ppp_auth": _ppp_refusals(s.ppp_auth),
        }
        if s.stack == "swanctl":
            files["/etc/swanctl/conf.d/pixgw.conf"] = (render("client/swanctl.conf", values), 0o600)
            files["/etc/ipsec.conf"] = (b"config setup\n", 0o644)
            files["/etc/ipsec.secrets"] = (b"", 0o600)
        else:
            files["/etc/ipsec.conf"] = (render("client/ipsec.conf", values), 0o644)
            files["/etc/ipsec.secrets"] = (secrets.encode(), 0o600)
        files["/etc/xl2tpd/xl2tpd.conf"] = (render("client/xl2tpd.conf", values), 0o644)
        files["/etc/ppp/options.l2tpd.client"] = (
            render("client/options.l2tpd.client", values),
            0o600,
        )
        env = {
            "ROLE": "client",
            "STACK": s.stack,
            "CONN": s.conn,
            "SERVER": s.server,
            "ENFORCE": "yes" if s.enforce else "no",
            "L2TP_PORT": str(self.client_port),
        }
        files["/etc/pixgw/l2tp.env"] = (
            "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()).encode(),
            0o600,
        )
        a.write_files(files)
        return self

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> None:
        r = self._sh("pixgw-l2tp start", timeout=timeout)
        if not r.ok:
            raise ClientError(f"client stack did not start:\n{r.stdout}\n{r.stderr}\n{self.logs()}")

    def ike_up(self, timeout: float = 90.0) -> ExecResult:
        """Main mode + quick mode only; returns the result (rc 0 when ESP SAs are installed)."""
        return self._sh("pixgw-l2tp start >/dev/null && pixgw-l2tp ike-up", timeout=timeout)

    def up(self, timeout: float = 90.0) -> ClientStatus:
        t0 = time.monotonic()
        ppp_wait = max(10, int(timeout / 2))
        r = self._sh(f"pixgw-l2tp up {ppp_wait}", timeout=timeout + 30)
        if not r.ok:
            raise ClientError(
                f"client did not come up (rc {r.rc}):\n"
                f"{r.stdout[-3000:]}\n{r.stderr[-2000:]}\n{self.logs()}"
            )
        self.up_seconds = time.monotonic() - t0
        st = self.status()
        if not st.ppp_address:
            raise ClientError(f"no ppp0 address after up:\n{st.raw}\n{self.logs()}")
        return st

    def down(self, timeout: float = 60.0) -> ExecResult:
        r = self._sh("pixgw-l2tp down", timeout=timeout)
        self.ppp_address, self.ppp_peer, self.dns = "", "", ()
        return r

    def vanish(self) -> ExecResult:
        """kill -9 pppd, xl2tpd and charon and flush the kernel SAs: no StopCCN, no Delete."""
        r = self._sh("pixgw-l2tp vanish", timeout=30)
        self.ppp_address, self.ppp_peer, self.dns = "", "", ()
        return r

    def stop(self) -> ExecResult:
        r = self._sh("pixgw-l2tp stop", timeout=60)
        self.ppp_address, self.ppp_peer, self.dns = "", "", ()
        return r

    def status(self) -> ClientStatus:
        st = parse_status(self._sh("pixgw-l2tp status", timeout=30).stdout)
        self.ppp_address, self.ppp_peer, self.dns = st.ppp_address, st.ppp_peer, st.dns
        return st

    def ping(self, addr: str, count: int = 3, timeout: float = 30.0) -> PingResult:
        if not re.fullmatch(r"[0-9.]+", addr):
            raise ValueError("ping: an IPv4 address")
        count = max(1, min(count, 100))
        r = self._sh(
            f"ping -n -c {count} -i 0.3 -W 2 -w {int(timeout)} {addr}", timeout=timeout + 10
        )
        m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
        sent, received = (int(m.group(1)), int(m.group(2))) if m else (count, 0)
        return PingResult(sent, received, r.stdout + r.stderr)

    def logs(self, lines: int = 80) -> str:
        try:
            return self._sh(f"pixgw-l2tp logs {int(lines)}", timeout=30).stdout
        except AgentError as exc:
            return f"(logs unavailable: {exc})"

    def log_file(self, name: str) -> str:
        """A whole guest log: charon, xl2tpd or pppd."""
        try:
            return self.guest.agent.read_file(f"/var/log/{name}.log").decode(errors="replace")
        except AgentError:
            return ""


def client_on(guest: Guest, **kwargs: object) -> L2tpClient:
    """Configure the client stack of ``guest`` with ``ClientSettings(**kwargs)``."""
    return L2tpClient(guest, replace(ClientSettings(), **kwargs)).configure()  # type: ignore[arg-type]


# LCP auth option as pppd's debug log prints it, per ppp_auth name
PPP_AUTH_OPTION = {"chap": "chap MD5", "mschap": "chap MS", "mschap-v2": "chap MS-v2", "pap": "pap"}


def negotiated_ppp_auth(pppd_log: str) -> str:
    """The ppp_auth name of the last authentication protocol the peer acknowledged ("" if none)."""
    found: list[str] = re.findall(r"rcvd \[LCP ConfAck id=\S+ .*?<auth ([^>]+)>", pppd_log)
    if not found:
        return ""
    last = found[-1]
    return {v: k for k, v in PPP_AUTH_OPTION.items()}.get(last, last)


@dataclass
class SelfTestGateway:
    """strongSwan responder + xl2tpd LNS + pppd server in a guest: the client side end to end.

    It accepts PSK and certificates at once (two conns; IKEv1 picks by the offered auth method),
    every proposal of every profile (the initiator's preference wins) and every PPP
    authentication protocol, so one start serves a whole matrix of clients.
    """

    guest: Guest
    address: str
    psk: str = "interop-psk"
    user: str = "interop"
    password: str = "interop-pass"
    local_ip: str = "203.0.113.129"
    pool_range: str = "203.0.113.130-203.0.113.140"
    dns: str = "203.0.113.53"

    def configure(self) -> SelfTestGateway:
        a = self.guest.agent
        files: dict[str, tuple[bytes, int]] = {}
        ike = ",".join(sorted({i for p in PROFILES.values() for i in p.ike}))
        esp = ",".join(sorted({e for p in PROFILES.values() for e in p.esp}))
        for n in ("ca-cert.pem", "server-cert.pem", "server-key.pem"):
            sub = {
                "ca-cert.pem": "cacerts",
                "server-cert.pem": "certs",
                "server-key.pem": "private",
            }[n]
            files[f"/etc/ipsec.d/{sub}/{n}"] = (
                a.read_file(f"{GUEST_PKI}/{n}"),
                0o600 if "key" in n else 0o644,
            )
        common = {"server": self.address, "ike": ike, "esp": esp}
        conf = 'config setup\n    charondebug="ike 2, knl 2, cfg 2"\n    uniqueids=no\n\n'
        conf += render(
            "gateway/ipsec.conf",
            {**common, "conn": "selftest-psk", "left_auth": "    authby=secret", "right_auth": ""},
        ).decode()
        conf += (
            "\n"
            + render(
                "gateway/ipsec.conf",
                {
                    **common,
                    "conn": "selftest-cert",
                    "left_auth": "    leftauth=pubkey\n    leftcert=server-cert.pem\n"
                    f'    leftid="{GATEWAY_CERT_ID}"\n    leftsendcert=always',
                    "right_auth": "    rightauth=pubkey\n    rightid=%any\n    rightca=%same",
                },
            ).decode()
        )
        values = {
            "server": self.address,
            "pool_range": self.pool_range,
            "local_ip": self.local_ip,
            "ppp_auth": "require-mschap-v2\nrequire-mschap\nrequire-chap\nrequire-pap",
            "dns": self.dns,
        }
        files["/etc/strongswan.d/zz-selftest.conf"] = (
            b"charon {\n    prefer_configured_proposals = no\n}\n",
            0o644,
        )
        files["/etc/ipsec.conf"] = (conf.encode(), 0o644)
        files["/etc/ipsec.secrets"] = (
            f': PSK "{_conf_quote(self.psk)}"\n: RSA server-key.pem\n'.encode(),
            0o600,
        )
        files["/etc/xl2tpd/xl2tpd.conf"] = (render("gateway/xl2tpd.conf", values), 0o644)
        files["/etc/ppp/options.xl2tpd"] = (render("gateway/options.xl2tpd", values), 0o644)
        user, pw = _conf_quote(self.user), _conf_quote(self.password)
        files["/etc/ppp/chap-secrets"] = (f'"{user}" * "{pw}" *\n'.encode(), 0o600)
        files["/etc/ppp/pap-secrets"] = (f'"{user}" * "{pw}" *\n'.encode(), 0o600)
        env = {
            "ROLE": "gateway",
            "STACK": "starter",
            "CONN": "selftest",
            "SERVER": self.address,
            # block clear L2TP on the gateway too: its replies wait for its outbound SA instead
            # of leaving in clear while quick mode is still being installed (seen under load)
            "ENFORCE": "yes",
        }
        files["/etc/pixgw/l2tp.env"] = (
            "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()).encode(),
            0o600,
        )
        a.write_files(files)
        return self

    def start(self) -> None:
        r = self.guest.sh(
            "pixgw-l2tp stop >/dev/null 2>&1; rm -f /var/log/*.log; pixgw-l2tp start", timeout=120
        )
        if not r.ok:
            raise ClientError(f"self-test gateway did not start:\n{r.stdout}\n{r.stderr}")

    def stop(self) -> None:
        self.guest.sh("pixgw-l2tp stop", timeout=60)

    def esp_algorithms(self) -> str:
        return self.guest.sh("ip xfrm state list proto esp", timeout=20).stdout

    def ppp_log(self) -> str:
        return self.guest.agent.read_file("/var/log/pppd.log").decode(errors="replace")

    def logs(self) -> str:
        return self.guest.sh("pixgw-l2tp logs 60", timeout=30).stdout
