"""Real AAA servers for the interop tests, started from private temp config dirs on 127.0.0.1
and stopped by pid: FreeRADIUS 3.2 (RFC 2865/2866) and OpenLDAP slapd (RFC 4511)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests import runid

FREERADIUS = "/usr/sbin/freeradius"
SLAPD = "/usr/sbin/slapd"
RADIUS_SECRET = "pixgw-interop-secret"
RADIUS_AUTH_PORT = runid.port(28120)
RADIUS_ACCT_PORT = runid.port(28130)


def missing(binary: str) -> str | None:
    return None if os.access(binary, os.X_OK) else f"{binary} is not installed"


def nt_hash_hex(password: str) -> str:
    from pixgw.ppp import mschap

    return mschap.nt_password_hash(password).hex().upper()


@dataclass
class FreeRadius:
    """One radiusd -f from ``root`` (generated); ``start()``/``stop()`` may be repeated."""

    root: Path
    auth_port: int = RADIUS_AUTH_PORT
    acct_port: int = RADIUS_ACCT_PORT
    sign_replies: bool = True  # add Message-Authenticator to every Access reply
    address: str = "127.0.0.1"  # where it listens (a second server: another loopback address)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def raddb(self) -> Path:
        return self.root / "raddb"

    @property
    def log(self) -> Path:
        return self.root / "log" / "radius.log"

    def detail_records(self) -> list[str]:
        """Every record of the detail files (one text block each)."""
        blocks: list[str] = []
        for f in sorted((self.root / "radacct").rglob("detail-*")):
            blocks += [b for b in f.read_text().split("\n\n") if "Acct-Status-Type" in b]
        return blocks

    def write_config(self) -> None:
        for d in ("raddb", "log", "run", "radacct"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        shutil.copy("/etc/freeradius/3.0/dictionary", self.raddb / "dictionary")
        (self.raddb / "users").write_text(
            'alice\tCleartext-Password := "alice-pw"\n'
            "\tFramed-IP-Address = 192.0.2.77,\n"
            "\tSession-Timeout = 3600,\n"
            "\tIdle-Timeout = 600,\n"
            '\tClass := "alice-class",\n'
            "\tMS-Primary-DNS-Server = 192.0.2.53\n\n"
            f"bob\tNT-Password := 0x{nt_hash_hex('bob-pw')}\n"
            "\tService-Type = Framed-User\n"
        )
        r = self.root
        sign = "\t\tupdate reply {\n\t\t\tMessage-Authenticator := 0x00\n\t\t}"
        if not self.sign_replies:
            sign = ""
        (self.raddb / "radiusd.conf").write_text(f"""
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = {r}/log
raddbdir = {r}/raddb
radacctdir = {r}/radacct
name = freeradius
confdir = ${{raddbdir}}
modconfdir = ${{confdir}}/mods-config
certdir = ${{confdir}}/certs
cadir = ${{confdir}}/certs
run_dir = {r}/run
db_dir = ${{raddbdir}}
libdir = /usr/lib/freeradius
pidfile = ${{run_dir}}/radiusd.pid
correct_escapes = true
max_request_time = 30
cleanup_delay = 0
max_requests = 1024
hostname_lookups = no
log {{
	destination = files
	colourise = no
	file = ${{logdir}}/radius.log
	auth = yes
}}
security {{
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}}
thread pool {{
	start_servers = 1
	max_servers = 2
	min_spare_servers = 1
	max_spare_servers = 2
	max_requests_per_server = 0
	auto_limit_acct = no
}}
client pixgw {{
	ipaddr = 127.0.0.1
	proto = udp
	secret = {RADIUS_SECRET}
	require_message_authenticator = yes
	nas_type = other
	shortname = pixgw
}}
modules {{
	pap {{
	}}
	chap {{
	}}
	mschap {{
		use_mppe = yes
		require_encryption = no
		require_strong = no
		with_ntdomain_hack = yes
	}}
	files {{
		filename = ${{confdir}}/users
	}}
	detail {{
		filename = ${{radacctdir}}/%{{Packet-Src-IP-Address}}/detail-%Y%m%d
		escape_filenames = no
		permissions = 0600
		header = "%t"
	}}
	always ok {{
		rcode = ok
	}}
}}
server pixgw {{
	listen {{
		type = auth
		ipaddr = {self.address}
		port = {self.auth_port}
	}}
	listen {{
		type = acct
		ipaddr = {self.address}
		port = {self.acct_port}
	}}
	authorize {{
		chap
		mschap
		files
		pap
	}}
	authenticate {{
		Auth-Type PAP {{
			pap
		}}
		Auth-Type CHAP {{
			chap
		}}
		Auth-Type MS-CHAP {{
			mschap
		}}
	}}
	preacct {{
	}}
	accounting {{
		detail
		ok
	}}
	# FreeRADIUS before 3.2.5 signs replies only when asked (Blast-RADIUS, CVE-2024-3596):
	# pixgw requires a Message-Authenticator on every Access reply.
	post-auth {{
{sign}
		Post-Auth-Type REJECT {{
{sign}
		}}
	}}
}}
""")
        subprocess.run(["chmod", "-R", "go-w", str(self.root)], check=True)

    def start(self) -> None:
        if not (self.raddb / "radiusd.conf").exists():
            self.write_config()
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.process = subprocess.Popen(
            [FREERADIUS, "-f", "-d", str(self.raddb), "-n", "radiusd", "-l", str(self.log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.log.exists() and b"Ready to process requests" in self.log.read_bytes()[offset:]:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"freeradius exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("freeradius did not become ready in 15 s")

    def stop(self) -> None:
        p, self.process = self.process, None
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


SLAPD_PORT = runid.port(23890)
SLAPDS_PORT = runid.port(23891)
LDAP_BASE = "dc=pixgw,dc=example"
LDAP_ADMIN = f"cn=admin,{LDAP_BASE}"
LDAP_ADMIN_PASSWORD = "pixgw-ldap-admin"

# The one Samba attribute the MS-CHAP path reads (OID of samba.schema), and a class carrying it.
_SAMBA_SCHEMA = """
attributetype ( 1.3.6.1.4.1.7165.2.1.25 NAME 'sambaNTPassword'
  DESC 'MD4 hash of the unicode password'
  EQUALITY caseIgnoreIA5Match
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{32} SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.7165.2.2.6 NAME 'sambaSamAccount' SUP top AUXILIARY
  MAY ( sambaNTPassword ) )
"""


def _run(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        list(args), input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stderr[-2000:]}")
    return done.stdout


@dataclass
class Slapd:
    """OpenLDAP slapd on ldap://127.0.0.1:23890 and ldaps://127.0.0.1:23891 from ``root``."""

    root: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def ca_file(self) -> Path:
        return self.root / "tls" / "ca.pem"

    def write_config(self) -> None:
        tls = self.root / "tls"
        for d in ("db", "tls"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        openssl = "/usr/bin/openssl"
        _run(
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=pixgw test LDAP CA",
            "-keyout",
            str(tls / "ca.key"),
            "-out",
            str(tls / "ca.pem"),
        )
        _run(
            openssl,
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(tls / "server.key"),
            "-out",
            str(tls / "server.csr"),
        )
        (tls / "ext.cnf").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        )
        _run(
            openssl,
            "x509",
            "-req",
            "-in",
            str(tls / "server.csr"),
            "-CA",
            str(tls / "ca.pem"),
            "-CAkey",
            str(tls / "ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(tls / "ext.cnf"),
            "-out",
            str(tls / "server.pem"),
        )
        (self.root / "samba-min.schema").write_text(_SAMBA_SCHEMA)
        rootpw = _run("/usr/sbin/slappasswd", "-s", LDAP_ADMIN_PASSWORD).strip()
        r = self.root
        (r / "slapd.conf").write_text(f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include {r}/samba-min.schema
pidfile {r}/slapd.pid
argsfile {r}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {tls}/ca.pem
TLSCertificateFile {tls}/server.pem
TLSCertificateKeyFile {tls}/server.key

database mdb
maxsize 104857600
suffix "{LDAP_BASE}"
rootdn "{LDAP_ADMIN}"
rootpw {rootpw}
directory {r}/db
index objectClass eq
index uid eq
access to attrs=userPassword
  by anonymous auth
  by * none
access to attrs=sambaNTPassword
  by * none
access to *
  by * read
""")
        people = f"ou=people,{LDAP_BASE}"
        ldif = f"""dn: {LDAP_BASE}
objectClass: dcObject
objectClass: organization
o: pixgw
dc: pixgw

dn: {people}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{LDAP_BASE}
objectClass: organizationalUnit
ou: groups
"""
        for uid, password in (("alice", "alice-pw"), ("bob", "bob-pw"), ("st*r", "star-pw")):
            hashed = _run("/usr/sbin/slappasswd", "-s", password).strip()
            ldif += f"""
dn: uid={uid},{people}
objectClass: inetOrgPerson
objectClass: sambaSamAccount
uid: {uid}
cn: {uid}
sn: {uid}
userPassword: {hashed}
sambaNTPassword: {nt_hash_hex(password)}
"""
        ldif += f"""
dn: cn=vpnusers,ou=groups,{LDAP_BASE}
objectClass: groupOfNames
cn: vpnusers
member: uid=alice,{people}
"""
        _run("/usr/sbin/slapadd", "-f", str(r / "slapd.conf"), stdin=ldif)

    def start(self) -> None:
        if not (self.root / "slapd.conf").exists():
            self.write_config()
        self.process = subprocess.Popen(
            [
                SLAPD,
                "-d",
                "0",
                "-f",
                str(self.root / "slapd.conf"),
                "-h",
                f"ldap://127.0.0.1:{SLAPD_PORT}/ ldaps://127.0.0.1:{SLAPDS_PORT}/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("slapd exited at start")
            done = subprocess.run(
                ["/usr/bin/ldapwhoami", "-x", "-H", f"ldap://127.0.0.1:{SLAPD_PORT}"],
                capture_output=True,
                timeout=5,
                check=False,
            )
            if done.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("slapd did not answer in 15 s")

    def stop(self) -> None:
        p, self.process = self.process, None
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
