"""The one command line: ``videoassist serve`` and ``videoassist user add``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
import time

from videoassist.settings import Settings, from_env

MIN_PASSWORD = 8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="videoassist", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080)")

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
    overrides = {
        k: v
        for k, v in (("host", getattr(args, "host", None)), ("port", getattr(args, "port", None)))
        if v is not None
    }
    settings = from_env(**overrides)
    if args.command == "serve":
        return _serve(settings)
    return asyncio.run(_add_user(settings, args))


def _serve(settings: Settings) -> int:
    from aiohttp import web

    from videoassist.app import create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aioice").setLevel(logging.WARNING)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, shutdown_timeout=10)
    return 0


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
