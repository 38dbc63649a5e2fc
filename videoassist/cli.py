"""The one command line: ``videoassist serve`` (``--lan`` to try it from a phone) and
``videoassist user add``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import ipaddress
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from videoassist.settings import Settings, from_env
from videoassist.tls import NoLanAddress

MIN_PASSWORD = 8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="videoassist", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080)")
    serve.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", help="the certificate's private key (PEM)")
    serve.add_argument(
        "--redirect-port", type=int, help="with TLS: also listen here over HTTP, only to redirect"
    )
    serve.add_argument(
        "--lan",
        action="store_true",
        help="try it from a phone: serve HTTPS on this machine's LAN address with a self-signed "
        "certificate, and print the addresses to open (with a QR code)",
    )

    user = sub.add_parser("user", help="manage staff accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create a staff account")
    add.add_argument("name", help="login name")
    add.add_argument("--role", required=True, choices=["agent", "supervisor", "trainer", "admin"])
    add.add_argument("--display-name", help="name shown to customers (default: the login)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )

    args = parser.parse_args(argv)
    options = ("host", "port", "tls_cert", "tls_key", "redirect_port")
    overrides = {k: v for k in options if (v := getattr(args, k, None)) is not None}
    settings = from_env(**overrides)
    if args.command == "serve":
        if args.lan:
            try:
                settings = _lan(settings, host_given="host" in overrides)
            except NoLanAddress as exc:
                print(f"--lan: {exc}", file=sys.stderr)
                return 2
        return _serve(settings)
    return asyncio.run(_add_user(settings, args))


def _lan(settings: Settings, host_given: bool) -> Settings:
    """Serve HTTPS on the LAN address (media candidates too) with a self-signed certificate
    made for it, and say where to go."""
    import segno

    from videoassist.tls import lan_address, self_signed

    address = settings.host if host_given else lan_address()
    if not settings.tls:
        cert, key = self_signed(Path(settings.data_dir) / "tls", address)
        settings = settings.with_(tls_cert=str(cert), tls_key=str(key))
    settings = settings.with_(host=address, media_addresses=(address,))
    base = f"https://{address}:{settings.port}"
    print(f"Customer page: {base}/")
    print(f"Agent console: {base}/agent")
    print(
        "The certificate is self-signed: each browser warns once; accept it to go on "
        "(on a phone: Advanced, then proceed)."
    )
    segno.make(f"{base}/", micro=False).terminal(compact=True)
    sys.stdout.flush()
    return settings


def _serve(settings: Settings) -> int:
    from aiohttp import web

    from videoassist.app import create_app
    from videoassist.logs import configure
    from videoassist.tls import redirect_app, server_context

    configure(sys.stderr)  # JSON unless stderr is a terminal
    logging.getLogger("aioice").setLevel(logging.WARNING)
    context = (
        server_context(Path(settings.tls_cert), Path(settings.tls_key)) if settings.tls else None
    )
    if context is None and not _loopback(settings.host):
        logging.getLogger("videoassist").warning(
            "serving plain HTTP on %s: browsers on other devices will refuse the camera to "
            "these pages; serve HTTPS (--tls-cert/--tls-key, --lan, or a TLS proxy: "
            "docs/deploy.md)",
            settings.host,
        )
    app = create_app(settings)
    if settings.redirect_port:
        redirect = web.AppRunner(redirect_app(settings.port))

        async def plain_http(_: web.Application) -> AsyncIterator[None]:
            await redirect.setup()
            await web.TCPSite(redirect, settings.host, settings.redirect_port).start()
            yield
            await redirect.cleanup()

        app.cleanup_ctx.append(plain_http)
    # web.run_app would build a plain AppRunner; ours accepts connections through the guard
    # (http/guard.py).
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(app, settings, context))
    return 0


async def _run(app: Any, settings: Settings, context: Any) -> None:
    from aiohttp import web

    from videoassist.http.guard import GuardedRunner
    from videoassist.http.keys import CONNECTION_GUARD

    # SIGINT and SIGTERM end the wait below; the drain (on_shutdown) then runs while the desk,
    # the media hub and every other task are still alive. (aiohttp's own handlers raise
    # GracefulExit out of the loop, after which asyncio.run cancels every task at once and the
    # drain finds the desk gone.)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = GuardedRunner(app, app[CONNECTION_GUARD], handle_signals=False, shutdown_timeout=10)
    # Start-up may wait a long time (a standby waits for the leader lease): a signal ends it.
    setup = asyncio.ensure_future(runner.setup())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({setup, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not setup.done():
        setup.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await setup
        return
    stopped.cancel()
    setup.result()  # a start-up that failed says why
    try:
        site = web.TCPSite(runner, settings.host, settings.port, ssl_context=context)
        await site.start()
        print(f"======== Running on {site.name} ========\n(Press CTRL+C to quit)", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _add_user(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError

    from videoassist.auth import hash_password
    from videoassist.store.records import Records

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            print("passwords do not match", file=sys.stderr)
            return 2
    if len(password) < MIN_PASSWORD:
        print(f"the password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    records = Records.open(settings.db_url)
    try:
        await records.migrate()
        user_id = await records.add_user(
            args.name,
            args.display_name or args.name,
            hash_password(password),
            args.role,
            time.time(),
        )
    except IntegrityError:
        print(f"a user named {args.name!r} already exists", file=sys.stderr)
        return 1
    finally:
        await records.close()
    print(f"created {args.role} {args.name!r} (id {user_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
