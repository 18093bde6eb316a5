"""`tlskit serve --ech PUBLIC_NAME`'s key, kept between runs like the local CA.

A server's ECHConfigList is published (a DNS HTTPS record's ``ech=``, a client's
``--ech-config-list``): a fresh key at every start would make what was published stale
after each restart. So the key for a public name is kept in serve's state folder (next
to its localhost certificate, beside the local CA): ``ech-NAME.key`` (its raw 32-byte
X25519 private key, mode 0600) and ``ech-NAME.config`` (its one ECHConfig), the files
``--ech-key``/``--ech-config`` take. A later run with the same public name reuses them;
another name has files of its own; ``--ech-new-key`` replaces them. A folder that cannot
be written still serves, with a key that is then not kept, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..ca.files import dir_lock, write_file
from ..config import EchKey, _ech_public_name, generate_ech_key


@dataclass(frozen=True)
class KeptEchKey:
    """The key to serve, and how it came to be, in the words of serve's announcement."""

    key: EchKey
    how: str
    key_path: Path | None  # where it is kept (None: not kept)


def ech_paths(folder: Path, public_name: str) -> tuple[Path, Path]:
    """(private key file, ECHConfig file) for ``public_name`` (already a checked DNS
    name: letters, digits, hyphens and dots only) in ``folder``."""
    return folder / f"ech-{public_name}.key", folder / f"ech-{public_name}.config"


def kept_ech_key(folder: Path, public_name: str, *, new: bool = False) -> KeptEchKey:
    """The key kept in ``folder`` for ``public_name``, or a new one (``new``, none kept,
    or the kept one unusable) written there. ValueError for a public name that is not a
    DNS name, before anything is read or written."""
    name = _ech_public_name(public_name)
    key_path, config_path = ech_paths(folder, name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with dir_lock(folder / ".ech.lock"):  # two serves starting at once keep one key
            return _keep(key_path, config_path, name, new)
    except OSError as exc:  # the folder or its lock: serve still runs, with a key not kept
        return _unkept(generate_ech_key(name), folder, exc)


def _keep(key_path: Path, config_path: Path, name: str, new: bool) -> KeptEchKey:
    problem = None
    if not new:
        kept, problem = _load(key_path, config_path, name)
        if kept is not None:
            return KeptEchKey(kept, f"the key kept in {key_path}, reused: the same config "
                                    "list as the last run", key_path)
    fresh = generate_ech_key(name)
    try:
        write_file(key_path, fresh.private_key, 0o600)
        write_file(config_path, fresh.config, 0o644)
    except OSError as exc:
        return _unkept(fresh, key_path, exc)
    how = f"a new key{' as --ech-new-key asked' if new else ''}, kept in {key_path} for " \
          "later runs" + (f"; {problem}" if problem else "")
    return KeptEchKey(fresh, how, key_path)


def _load(key_path: Path, config_path: Path, name: str) -> tuple[EchKey | None, str | None]:
    """(the kept key, None), (None, None) when there is none, or (None, why it is not
    used)."""
    try:
        kept = EchKey.load(config_path.read_bytes(), key_path.read_bytes())
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        detail = detail.removeprefix("ech_keys[0]: ")
        return None, f"the key kept before could not be used: {detail}"
    if kept.public_name != name:
        return None, f"the key kept before names {kept.public_name}"
    return kept, None


def _unkept(key: EchKey, path: Path, exc: OSError) -> KeptEchKey:
    return KeptEchKey(key, f"a new key, not kept (cannot write {path}: "
                           f"{exc.strerror or exc}): clients need the new list after each "
                           "restart", None)
