"""`tlskit ca install` / `uninstall` against real stores kept in temporary directories:
NSS databases read back with `certutil -L`, and Debian's real `update-ca-certificates`
run under a prefix (``$TLSKIT_SYSTEM_ROOT``) whose hashed directory `openssl verify`
then uses. The machine's own stores are never touched: HOME is a temporary directory and
every run has a system prefix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tlskit.ca import LocalCA

CERTUTIL = shutil.which("certutil")
assert CERTUTIL, "certutil is required (bash .ci/install-test-deps.sh: libnss3-tools)"
assert shutil.which("update-ca-certificates", path=os.environ.get("PATH", "") + ":/usr/sbin"), (
    "update-ca-certificates is required (bash .ci/install-test-deps.sh)")


class Sandbox:
    """A CA, a HOME and a system prefix holding one unrelated "distribution" CA (as a
    real system always has: update-ca-certificates only rewrites a non-empty bundle)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.ca_dir = base / "ca"
        ca = LocalCA.create(self.ca_dir)
        self.root_pem = ca.export_root_pem()
        self.intermediate = self.ca_dir / "intermediate.pem"
        issued = ca.issue_server(["localhost"])
        self.leaf, _ = issued.write(cert_path=base / "leaf.pem", key_path=base / "leaf-key.pem")
        self.home = base / "home"
        self.home.mkdir()
        self.system = base / "system"
        distro = self.system / "usr/share/ca-certificates/distro"
        distro.mkdir(parents=True)
        (distro / "Other_Root.crt").write_bytes(LocalCA.create(None).export_root_pem())
        (self.system / "etc").mkdir()
        (self.system / "etc/ca-certificates.conf").write_text("distro/Other_Root.crt\n")
        (self.system / "etc/ssl/certs").mkdir(parents=True)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
        env.update(HOME=str(self.home), TLSKIT_STATE_DIR=str(self.base / "state"),
                   TLSKIT_SYSTEM_ROOT=str(self.system), COLUMNS="200")
        return env

    def tlskit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tlskit", "ca", *args, "--dir",
                               str(self.ca_dir)], env=self.env(), capture_output=True,
                              text=True, timeout=120)

    @property
    def certs_dir(self) -> Path:
        return self.system / "etc/ssl/certs"

    def system_trusts(self) -> bool:
        """`openssl verify` of the leaf with the prefixed /etc/ssl/certs as its CA path."""
        proc = subprocess.run(["openssl", "verify", "-CApath", str(self.certs_dir),
                               "-untrusted", str(self.intermediate), str(self.leaf)],
                              capture_output=True, text=True, timeout=30)
        return proc.returncode == 0

    def bundle(self) -> bytes:
        return (self.certs_dir / "ca-certificates.crt").read_bytes()


def nss_list(db: Path) -> str:
    assert CERTUTIL is not None
    return subprocess.run([CERTUTIL, "-L", "-d", f"sql:{db}"], capture_output=True,
                          text=True, timeout=30, check=True).stdout


def nss_trust(db: Path, nickname_start: str) -> str | None:
    """The trust flags of the certificate whose nickname starts with ``nickname_start``."""
    for line in nss_list(db).splitlines():
        if line.startswith(nickname_start):
            return line.split()[-1]
    return None


def new_nss(db: Path) -> Path:
    assert CERTUTIL is not None
    db.mkdir(parents=True)
    subprocess.run([CERTUTIL, "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True, timeout=30)
    return db


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def test_dry_run_changes_nothing(box: Sandbox) -> None:
    nssdb = box.base / "nssdb"
    before = sorted(p.relative_to(box.base) for p in box.base.rglob("*"))
    proc = box.tlskit("install", "--dry-run", "--nssdb", str(nssdb))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "would run: " in proc.stdout and "update-ca-certificates" in proc.stdout
    assert f"certutil -A -d sql:{nssdb} -t C,," in proc.stdout
    assert "Dry run: nothing was changed." in proc.stdout
    assert sorted(p.relative_to(box.base) for p in box.base.rglob("*")) == before


def test_install_and_uninstall(box: Sandbox) -> None:
    nssdb = box.base / "nssdb"  # made by install
    assert not box.system_trusts()
    proc = box.tlskit("install", "--nssdb", str(nssdb))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert nss_trust(nssdb, "tlskit local CA root") == "C,,", nss_list(nssdb)
    assert box.root_pem.strip() in box.bundle()
    assert box.system_trusts()
    again = box.tlskit("install", "--nssdb", str(nssdb))
    assert again.returncode == 0
    assert "already trusts" in again.stdout and "already has" in again.stdout
    assert nss_list(nssdb).count("tlskit local CA root") == 1

    dry = box.tlskit("uninstall", "--dry-run", "--nssdb", str(nssdb))
    assert dry.returncode == 0 and "certutil -D" in dry.stdout
    assert nss_trust(nssdb, "tlskit local CA root") == "C,,"
    proc = box.tlskit("uninstall", "--nssdb", str(nssdb))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert nss_trust(nssdb, "tlskit local CA root") is None
    assert box.root_pem.strip() not in box.bundle()
    assert b"BEGIN CERTIFICATE" in box.bundle()  # the distribution's root stays
    assert not box.system_trusts()
    assert not any(p.is_symlink() and not p.exists() for p in box.certs_dir.iterdir())
    gone = box.tlskit("uninstall", "--nssdb", str(nssdb))
    assert gone.returncode == 0 and "does not hold" in gone.stdout


def test_finds_chromium_and_firefox_databases(box: Sandbox) -> None:
    """Without --nssdb: $HOME/.pki/nssdb (made, since chromium is installed) and every
    Firefox profile with a cert9.db; a profile folder without one is left alone."""
    profiles = box.home / ".mozilla/firefox"
    release = new_nss(profiles / "abcd1234.default-release")
    esr = new_nss(profiles / "efgh5678.default-esr")
    (profiles / "not-a-profile").mkdir()
    proc = box.tlskit("install", "--no-system")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for db in (box.home / ".pki/nssdb", release, esr):
        assert nss_trust(db, "tlskit local CA root") == "C,,", (db, proc.stdout)
    assert not any((profiles / "not-a-profile").iterdir())
    assert "system store" not in proc.stdout
    assert not (box.system / "usr/local").exists()
    proc = box.tlskit("uninstall", "--no-system")
    assert proc.returncode == 0, proc.stdout
    for db in (box.home / ".pki/nssdb", release, esr):
        assert nss_trust(db, "tlskit local CA root") is None


def test_a_failing_store_is_reported_and_exit_1(box: Sandbox) -> None:
    blocker = box.base / "a-file"
    blocker.write_text("not a directory")
    proc = box.tlskit("install", "--nssdb", str(blocker / "db"))
    assert proc.returncode == 1, proc.stdout
    assert "failed: " in proc.stdout
    assert box.system_trusts()  # the other store was still done


def test_needs_an_existing_ca(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path), TLSKIT_STATE_DIR=str(tmp_path / "state"),
               TLSKIT_SYSTEM_ROOT=str(tmp_path / "system"))
    proc = subprocess.run([sys.executable, "-m", "tlskit", "ca", "install", "--dry-run"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith("tlskit ca: error: ") and "Traceback" not in proc.stderr
    assert not (tmp_path / "system").exists()


def test_nss_database_kinds(tmp_path: Path) -> None:
    """certutil's prefix follows the files: sql: for cert9.db (every current browser),
    dbm: for a profile that only has the old cert8.db."""
    from tlskit.cli.trust_install import nss_spec

    new = new_nss(tmp_path / "new")
    assert nss_spec(new) == f"sql:{new}"
    old = tmp_path / "old"
    old.mkdir()
    (old / "cert8.db").write_bytes(b"")
    assert nss_spec(old) == f"dbm:{old}"
