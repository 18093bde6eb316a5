"""Entry point: `tlskit <command>`. Each command lives in its own module with
``add_arguments(parser)`` and ``run(args) -> int``; modules are imported lazily so a
command's dependencies cost nothing to the others."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "demo": "walk through a real handshake on loopback, step by step",
    "connect": "connect to a TLS server and show the handshake",
    "serve": "run a TLS server that shows each visitor its own handshake",
    "verify": "validate a certificate chain and explain every check",
    "ca": "a small local certificate authority",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tlskit", description="TLS 1.3 that shows its work.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        try:
            module = importlib.import_module(f"tlskit.cli.{name}")
        except ImportError as exc:  # a command whose optional dependency is missing
            if exc.name != f"tlskit.cli.{name}":
                raise
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks on errors")
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the one place that turns any failure into one clear line
        if getattr(args, "debug", False):
            raise
        print(f"tlskit {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
