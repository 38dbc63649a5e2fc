"""Serving over TLS: the server's SSL context, a self-signed certificate for trying the product on
a LAN, the plain-HTTP listener that only redirects, and finding the machine's LAN address.

Browsers give pages the camera only in a secure context (HTTPS, or http://localhost), so a phone
reaching the server over the network needs HTTPS. In production a reverse proxy usually
terminates TLS (docs/deploy.md); these are for serving it directly.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
from pathlib import Path

from aiohttp import web

logger = logging.getLogger(__name__)

SELF_SIGNED_DAYS = 365
_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


class NoLanAddress(RuntimeError):
    pass


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """TLS 1.2+ with the standard library's secure defaults; fails clearly on unreadable files."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise SystemExit(f"TLS: cannot use {cert} with {key}: {exc}") from None
    return context


def self_signed(folder: Path, address: str) -> tuple[Path, Path]:
    """A certificate for ``address`` (an IP) kept in ``folder``; made on first use, and again
    when the address changed or it is about to expire."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = folder / f"{address}.crt", folder / f"{address}.key"
    now = datetime.datetime.now(datetime.UTC)
    if cert_path.exists() and key_path.exists():
        existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if existing.not_valid_after_utc - now > datetime.timedelta(days=7):
            return cert_path, key_path
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"videoassist on {address}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    logger.info("made a self-signed certificate for %s in %s", address, folder)
    return cert_path, key_path


def lan_address() -> str:
    """The machine's LAN address: an IPv4 address of an interface that is neither loopback nor
    link-local, a private (RFC 1918) one first. NoLanAddress when there is none."""
    import ifaddr  # aioice's dependency, so always installed with aiortc

    found: list[ipaddress.IPv4Address] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue  # IPv6: phones on a LAN are reached over IPv4 in practice
            address = ipaddress.IPv4Address(ip.ip)
            if address.is_loopback or address.is_link_local or address.is_multicast:
                continue
            found.append(address)
    if not found:
        raise NoLanAddress(
            "no LAN address found: this machine has no network interface with an IPv4 address "
            "other than loopback. Connect it to the network the phone is on, or pass --host."
        )
    found.sort(key=lambda a: (not any(a in net for net in _PRIVATE), int(a)))
    return str(found[0])


def redirect_app(https_port: int) -> web.Application:
    """A plain-HTTP app that sends every request to the same place over HTTPS (308 keeps the
    method and body) and serves nothing itself."""

    async def to_https(request: web.Request) -> web.StreamResponse:
        host = request.url.host or "localhost"
        if ":" in host:
            host = f"[{host}]"  # an IPv6 literal
        port = "" if https_port == 443 else f":{https_port}"
        raise web.HTTPPermanentRedirect(f"https://{host}{port}{request.rel_url}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", to_https)
    return app
