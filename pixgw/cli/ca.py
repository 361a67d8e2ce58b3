"""``show crypto ca certificates`` / ``show ca certificate`` and ``show ca mypubkey rsa`` in the
PIX 6.3 formats of ``reference/pix63-l2tp-ipsec-reference.txt`` (pure renderers of
:class:`pixgw.status.PkiStatusSnapshot`), and :func:`register`, which puts them and the ``ca``
exec commands (:class:`pixgw.pki.commands.CaExec`, found as ``gateway.pki``) in a
:class:`~pixgw.cli.commands.CommandTable`. The ``debug crypto ca`` lines come from
:mod:`pixgw.pki.mscep` and :mod:`pixgw.pki.commands`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pixgw.cli.commands import CliError, CommandContext, CommandTable
from pixgw.status import CaCertificateStatus, CaKeyStatus, PkiStatusSnapshot

__all__ = ["register", "render_ca_certificates", "render_mypubkey_rsa"]


_OWN = ("Name", "Serial Number", "IP Address")  # what the PIX shows of its own certificate


def _when(t: datetime | None) -> str:
    if t is None:
        return ""
    return f"{t:%H:%M:%S} {t:%b} {t.day:>2} {t.year}".replace("  ", " ")


def _block(cert: CaCertificateStatus) -> list[str]:
    if cert.status == "Pending":
        return [
            cert.role,
            f"  Status: {cert.status}",
            f"  Key Usage: {cert.key_usage}",
            f"  Fingerprint: {cert.fingerprint}",
        ]
    lines = [
        cert.role,
        f"  Status: {cert.status}",
        f"  Certificate Serial Number: {cert.serial}",
        f"  Key Usage: {cert.key_usage}",
    ]
    if cert.role == "Certificate":
        lines.append("  Subject Name")
        subject = list(cert.subject)
        if not any(label == "Name" for label, _v in subject):  # a CA that kept only the CN
            subject = [("Name" if label == "CN" else label, v) for label, v in subject]
        named = [(label, v) for label in _OWN for (lab, v) in subject if lab == label]
        for label, value in named:
            lines.append(f"    {label}: {value}")
        if not named:
            lines += [f"    {label} = {value}" for label, value in cert.subject]
    else:
        for i, (label, value) in enumerate(cert.subject):
            sep = " " if label.endswith(">") else " = "
            lines.append(f"{'  ' if i == 0 else '   '}{label}{sep}{value}")
    lines += [
        "  Validity Date: ",
        f"    start date: {_when(cert.not_before)}",
        f"    end   date: {_when(cert.not_after)}",
    ]
    return lines


def render_ca_certificates(snapshot: PkiStatusSnapshot) -> str:
    """``show crypto ca certificates``: our certificate, then RA signature, CA, RA encryption."""
    out: list[str] = []
    for cert in snapshot.certificates:
        if out:
            out.append("")
        out += _block(cert)
    return "\n".join(out) + ("\n" if out else "")


def render_mypubkey_rsa(key: CaKeyStatus | None) -> str:
    """``show ca mypubkey rsa``: the public key in 4-byte groups, eight to a line."""
    if key is None:
        return ""
    words = [key.public_key_der[i : i + 4].hex() for i in range(0, len(key.public_key_der), 4)]
    lines = [
        f"% Key pair was generated at: {_when(key.generated)}",
        f"Key name: {key.name}",
        f" Usage: {key.usage}",
        " Key Data:",
    ]
    for i in range(0, len(words), 8):
        lines.append("  " + " ".join(words[i : i + 8]))
    return "\n".join(lines) + "\n"


def _pki(context: CommandContext) -> Any:
    pki = getattr(context.gateway, "pki", None)
    if pki is None:
        raise CliError("ERROR: no certificate authority support")
    return pki


def _text(lines: Sequence[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def render_ca_crls(pki: Any, now: float) -> str:
    """``show crypto ca crls``: each CRL IKE checks against (issuer, its updates, where it came
    from, whether it is still good), and how keeping them current went."""
    lines: list[str] = []
    for issuer, crl in pki.source.crls.items():
        next_update = crl.next_update_utc
        stale = next_update is not None and next_update.timestamp() < now
        url = pki.crl_urls.get(issuer)
        name = pki.identity_of_issuer(issuer)
        lines += [
            "CRL Issuer Name:",
            f"    {crl.issuer.rfc4514_string()}",
            f"    LastUpdate: {_pix_time(crl.last_update_utc)}",
            f"    NextUpdate: {_pix_time(next_update) if next_update else 'none'}"
            + (" (expired: revocation status unknown)" if stale else ""),
            f"    Retrieved from CRL Distribution Point: {url}" if url else
            f"    Retrieved by SCEP GetCRL from ca identity {name or 'unknown'}",
            f"    Revoked certificates: {len(crl)}",
            "",
        ]
    if not lines:
        lines = ["% No CRLs", ""]
    lines.append(f"CRLs refreshed before their NextUpdate: {pki.crls_refreshed}, "
                 f"refresh failures: {pki.crl_refresh_failures}")
    return "\n".join(lines)


def _pix_time(when: Any) -> str:
    return f"{when:%H:%M:%S} UTC {when:%b} {when.day} {when:%Y}"


def register(table: CommandTable) -> None:
    def show_certs(ctx: CommandContext, args: Sequence[str]) -> str:
        return render_ca_certificates(_pki(ctx).snapshot())

    def show_crls(ctx: CommandContext, args: Sequence[str]) -> str:
        pki = _pki(ctx)
        return render_ca_crls(pki, pki.now())

    def show_mypubkey(ctx: CommandContext, args: Sequence[str]) -> str:
        return render_mypubkey_rsa(_pki(ctx).snapshot().key)

    def generate(ctx: CommandContext, args: Sequence[str]) -> str:
        try:
            bits = int(args[0])
        except ValueError:
            raise CliError("%Error: key modulus must be a number") from None
        return _text(_pki(ctx).generate_rsa_key(bits))

    def authenticate(ctx: CommandContext, args: Sequence[str]) -> Any:
        d = _pki(ctx).authenticate(args[0], " ".join(args[1:]) or None)
        return d.addCallback(_text)

    def enroll(ctx: CommandContext, args: Sequence[str]) -> Any:
        rest = [a.lower() for a in args[2:]]
        serial = "serial" in rest
        ip = next((a for a in args[2:] if a.count(".") == 3), None)
        d = _pki(ctx).enroll(args[0], args[1], serial, ip)
        return d.addCallback(_text)

    def crl_request(ctx: CommandContext, args: Sequence[str]) -> Any:
        return _pki(ctx).crl_request(args[0]).addCallback(_text)

    def save_all(ctx: CommandContext, args: Sequence[str]) -> str:
        return _text(_pki(ctx).save_all())

    table.register("show crypto ca certificates", show_certs, "Show the CA certificates")
    table.register("show ca certificate", show_certs, "Show the CA certificates")
    table.register("show ca mypubkey rsa", show_mypubkey, "Show our RSA public key")
    table.register("show crypto ca crls", show_crls, "Show the CRLs and their refreshing")
    table.register("show ca crl", show_crls, "Show the CRLs and their refreshing")
    table.register(
        "ca generate rsa key", generate, "Generate an RSA key pair", min_args=1, max_args=1
    )
    table.register(
        "ca authenticate", authenticate, "Get the CA certificate", min_args=1, max_args=5
    )
    table.register("ca enroll", enroll, "Enroll with the CA", min_args=2, max_args=4)
    table.register("ca crl request", crl_request, "Get the CA's CRL", min_args=1, max_args=1)
    table.register("ca save all", save_all, "Save keys and certificates")
