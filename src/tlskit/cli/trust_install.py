"""`tlskit ca install` / `tlskit ca uninstall`: trust the local CA's root where browsers
and tools on this machine look, as mkcert does, and take it out again.

The stores, on Linux:

- the system store, Debian's way: a ``.crt`` in ``/usr/local/share/ca-certificates``, then
  ``update-ca-certificates`` (which rebuilds ``/etc/ssl/certs``: OpenSSL, curl, Python's
  ``ssl``, Go ...). Its paths can be moved under a prefix with ``--system-root DIR`` or
  ``$TLSKIT_SYSTEM_ROOT`` (how the tests run the real tool without touching the machine);
- NSS databases, with ``certutil``: Chromium's ``~/.pki/nssdb`` (made if missing when a
  Chromium is installed, since Chromium would make it on its first run anyway) and every
  Firefox profile (``~/.mozilla/firefox/*``, snap and flatpak included). ``--nssdb DIR``
  names databases explicitly instead (made if missing).

Every change is a command or a file, printed as it is done; ``--dry-run`` prints them
without doing anything. Exit status 0 when every store ended up as asked, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

NSS_TRUST = "C,,"  # a CA trusted to issue TLS server certificates (not e-mail, not code)
CHROMIUM_BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FIREFOX_DIRS = (".mozilla/firefox", "snap/firefox/common/.mozilla/firefox",
                ".var/app/org.mozilla.firefox/.mozilla/firefox")
TIMEOUT = 60.0
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin",
                             "/sbin"])


def update_ca_certificates() -> str | None:
    """Debian's tool; it lives in /usr/sbin, often not on a normal user's PATH."""
    return shutil.which("update-ca-certificates", path=SBIN_PATH)


class InstallError(Exception):
    """One store could not be changed; the message says which and why."""


@dataclass
class Root:
    """The root to install: its PEM file, a stable nickname and a file name."""

    certificate: x509.Certificate
    pem_path: Path

    @property
    def fingerprint(self) -> str:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return hashlib.sha256(der).hexdigest()

    @property
    def nickname(self) -> str:
        """The NSS nickname: the root's common name (unique per CA) and a fingerprint
        prefix, so two CAs with one name never collide."""
        names = self.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        cn = str(names[0].value) if names else "tlskit local CA"
        return f"{cn} {self.fingerprint[:12]}"

    @property
    def file_name(self) -> str:
        return f"tlskit-{self.fingerprint[:16]}.crt"


@dataclass
class Outcome:
    store: str
    ok: bool
    detail: str


@dataclass
class Plan:
    """What to do to one store: the commands (shown, and run unless dry-run)."""

    store: str
    steps: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    nothing_to_do: str | None = None


# --------------------------------------------------------------------------- running


def _run(argv: Sequence[str]) -> str:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
    except FileNotFoundError as exc:
        raise InstallError(f"{argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise InstallError(f"{shlex.join(argv)} did not finish in {TIMEOUT:g} s") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["?"]
        raise InstallError(f"{shlex.join(argv)} failed (exit {proc.returncode}): {last[0]}")
    return proc.stdout


def _command(argv: list[str]) -> tuple[str, Callable[[], None]]:
    def action() -> None:
        _run(argv)

    return shlex.join(argv), action


# --------------------------------------------------------------------------- NSS


def certutil() -> str:
    path = shutil.which("certutil")
    if path is None:
        raise InstallError("certutil is not installed (Debian/Ubuntu: apt install "
                           "libnss3-tools; Fedora: dnf install nss-tools)")
    return path


def nss_spec(directory: Path) -> str:
    """certutil's database argument: ``sql:`` for cert9.db, ``dbm:`` for an old cert8.db."""
    if (directory / "cert8.db").exists() and not (directory / "cert9.db").exists():
        return f"dbm:{directory}"
    return f"sql:{directory}"


def nss_has(tool: str, directory: Path, nickname: str) -> bool:
    proc = subprocess.run([tool, "-L", "-d", nss_spec(directory), "-n", nickname],
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    return proc.returncode == 0


@dataclass
class NSSDatabase:
    label: str
    directory: Path
    create: bool = False  # make the database when it does not exist yet

    def exists(self) -> bool:
        return (self.directory / "cert9.db").exists() or (self.directory / "cert8.db").exists()

    def plan(self, root: Root, install: bool) -> Plan:
        plan = Plan(f"{self.label} ({self.directory})")
        tool = certutil()
        spec = nss_spec(self.directory)
        if not self.exists():
            if not install:
                plan.nothing_to_do = "no database, nothing to remove"
                return plan
            directory = self.directory
            plan.steps.append((f"mkdir -p {shlex.quote(str(directory))}",
                               lambda: directory.mkdir(parents=True, exist_ok=True)))
            plan.steps.append(_command([tool, "-N", "-d", spec, "--empty-password"]))
            has = False
        else:
            has = nss_has(tool, self.directory, root.nickname)
        if install:
            if has:
                plan.nothing_to_do = f"already trusts {root.nickname!r}"
            else:
                plan.steps.append(_command([tool, "-A", "-d", spec, "-t", NSS_TRUST, "-n",
                                            root.nickname, "-i", str(root.pem_path)]))
        elif has:
            plan.steps.append(_command([tool, "-D", "-d", spec, "-n", root.nickname]))
        else:
            plan.nothing_to_do = f"does not hold {root.nickname!r}"
        return plan


def discover_nss(home: Path) -> list[NSSDatabase]:
    """Chromium's shared database and every Firefox profile under ``home``."""
    found: list[NSSDatabase] = []
    chromium = home / ".pki" / "nssdb"
    has_chromium = any(shutil.which(b) for b in CHROMIUM_BINARIES)
    db = NSSDatabase("Chromium NSS database", chromium, create=has_chromium)
    if db.exists() or has_chromium:
        found.append(db)
    snap_chromium = home / "snap" / "chromium" / "current" / ".pki" / "nssdb"
    if NSSDatabase("", snap_chromium).exists():
        found.append(NSSDatabase("Chromium (snap) NSS database", snap_chromium))
    for base in FIREFOX_DIRS:
        folder = home / base
        if not folder.is_dir():
            continue
        for profile in sorted(folder.iterdir()):
            candidate = NSSDatabase(f"Firefox profile {profile.name}", profile)
            if profile.is_dir() and candidate.exists():
                found.append(candidate)
    return found


# --------------------------------------------------------------------------- system store


@dataclass
class DebianStore:
    """``/usr/local/share/ca-certificates`` + ``update-ca-certificates``, optionally under a
    prefix (``--system-root``) where the tool is pointed at the prefixed paths too."""

    prefix: Path | None = None

    def _path(self, absolute: str) -> Path:
        return Path(absolute) if self.prefix is None else self.prefix / absolute.lstrip("/")

    @property
    def local_dir(self) -> Path:
        return self._path("/usr/local/share/ca-certificates")

    def update_command(self, fresh: bool) -> list[str]:
        tool = update_ca_certificates() or "update-ca-certificates"
        argv = [tool] + (["--fresh"] if fresh else [])
        if self.prefix is not None:
            argv += ["--certsconf", str(self._path("/etc/ca-certificates.conf")),
                     "--certsdir", str(self._path("/usr/share/ca-certificates")),
                     "--localcertsdir", str(self.local_dir),
                     "--etccertsdir", str(self._path("/etc/ssl/certs")),
                     "--hooksdir", str(self._path("/etc/ca-certificates/update.d"))]
        return argv

    def plan(self, root: Root, install: bool) -> Plan:
        plan = Plan(f"system store ({self.local_dir})")
        if update_ca_certificates() is None:
            raise InstallError("no update-ca-certificates on this system (Debian/Ubuntu: "
                               "apt install ca-certificates); trust the root by hand: "
                               "tlskit ca export-root")
        target = self.local_dir / root.file_name
        pem = root.certificate.public_bytes(serialization.Encoding.PEM)
        present = target.is_file() and target.read_bytes() == pem
        if install:
            if present:
                plan.nothing_to_do = f"already has {target.name}"
                return plan
            if self.prefix is not None:
                dirs = [self._path(p) for p in ("/etc/ssl/certs", "/usr/share/ca-certificates",
                                                "/etc/ca-certificates/update.d")]
                dirs.append(self.local_dir)
                plan.steps.append((f"mkdir -p {' '.join(shlex.quote(str(d)) for d in dirs)}",
                                   lambda: _mkdirs(dirs)))
                conf = self._path("/etc/ca-certificates.conf")
                plan.steps.append((f"touch {shlex.quote(str(conf))}", lambda: conf.touch()))
            local = self.local_dir
            plan.steps.append((f"install -m 644 {shlex.quote(str(root.pem_path))} "
                               f"{shlex.quote(str(target))}",
                               lambda: _write(local, target, pem)))
            plan.steps.append(_command(self.update_command(fresh=False)))
        elif present or target.exists():
            plan.steps.append((f"rm {shlex.quote(str(target))}", lambda: target.unlink()))
            # --fresh also drops the /etc/ssl/certs link to the removed file
            plan.steps.append(_command(self.update_command(fresh=True)))
        else:
            plan.nothing_to_do = f"has no {target.name}"
        return plan


def _mkdirs(dirs: list[Path]) -> None:
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)


def _write(directory: Path, target: Path, pem: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(pem)
    tmp.chmod(0o644)
    tmp.replace(target)


# --------------------------------------------------------------------------- the commands


def add_parsers(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
                dir_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``install`` and ``uninstall`` under `tlskit ca`."""
    for name, helptext in (("install", "trust the root in the system store and the NSS "
                                       "databases of Chromium and Firefox"),
                           ("uninstall", "remove the root from those stores")):
        p = sub.add_parser(name, help=helptext, description=helptext + " (as mkcert does).")
        p.add_argument("--dry-run", action="store_true",
                       help="print what would be done, change nothing")
        p.add_argument("--nssdb", metavar="DIR", action="append", default=[],
                       help="this NSS database (made if missing) instead of the Chromium and "
                            "Firefox ones found in $HOME; repeatable")
        p.add_argument("--no-nss", action="store_true", help="leave NSS databases alone")
        p.add_argument("--no-system", action="store_true", help="leave the system store alone")
        p.add_argument("--system-root", metavar="DIR",
                       default=os.environ.get("TLSKIT_SYSTEM_ROOT") or None,
                       help="treat DIR as / for the system store (default: "
                            "$TLSKIT_SYSTEM_ROOT, else /)")
        dir_option(p)
        p.set_defaults(_ca_run=run_install if name == "install" else run_uninstall)


def run_install(args: argparse.Namespace) -> int:
    return _apply(args, install=True)


def run_uninstall(args: argparse.Namespace) -> int:
    return _apply(args, install=False)


def _root(args: argparse.Namespace) -> Root:
    from ..ca import LocalCA, default_directory

    directory = Path(args.dir).expanduser() if args.dir else default_directory()
    ca = LocalCA.load(directory)
    return Root(ca.root, directory / "root.pem")


def stores(args: argparse.Namespace) -> list[NSSDatabase | DebianStore]:
    chosen: list[NSSDatabase | DebianStore] = []
    if not args.no_system:
        prefix = Path(args.system_root).expanduser() if args.system_root else None
        chosen.append(DebianStore(prefix))
    if not args.no_nss:
        if args.nssdb:
            chosen += [NSSDatabase("NSS database", Path(d).expanduser(), create=True)
                       for d in args.nssdb]
        else:
            chosen += discover_nss(Path.home())
    return chosen


def _apply(args: argparse.Namespace, install: bool) -> int:
    root = _root(args)
    verb = "trust" if install else "remove"
    print(f"{'Would ' if args.dry_run else ''}{verb} {root.nickname!r} "
          f"(SHA-256 {root.fingerprint[:16]}..., {root.pem_path})"
          + (":" if install else " from:"))
    outcomes: list[Outcome] = []
    found = stores(args)
    if not found:
        print("  no trust store found (no Chromium or Firefox database in $HOME; use "
              "--nssdb DIR, or trust the root by hand: tlskit ca export-root)")
        return 1
    for store in found:
        outcomes.append(_apply_one(store, root, install, args.dry_run))
    failed = [o for o in outcomes if not o.ok]
    if args.dry_run:
        print("Dry run: nothing was changed.")
    elif not failed:
        print("Done." if install else "Removed.")
    return 1 if failed else 0


def _apply_one(store: NSSDatabase | DebianStore, root: Root, install: bool,
               dry_run: bool) -> Outcome:
    try:
        plan = store.plan(root, install)
    except InstallError as exc:
        label = store.label if isinstance(store, NSSDatabase) else "system store"
        print(f"  {label}: cannot: {exc}")
        return Outcome(label, False, str(exc))
    if plan.nothing_to_do:
        print(f"  {plan.store}: {plan.nothing_to_do}")
        return Outcome(plan.store, True, plan.nothing_to_do)
    print(f"  {plan.store}:")
    for shown, action in plan.steps:
        print(f"    {'would run' if dry_run else 'run'}: {shown}", flush=True)
        if dry_run:
            continue
        try:
            action()
        except (InstallError, OSError) as exc:
            hint = (" (the system store needs root: try sudo)"
                    if isinstance(exc, PermissionError) else "")
            print(f"    failed: {exc}{hint}")
            return Outcome(plan.store, False, str(exc))
    return Outcome(plan.store, True, "dry run" if dry_run else "done")
