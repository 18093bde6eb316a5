"""NSS databases for the peers that read one (Chromium, Firefox, NSS's tstclnt and
selfserv): made with NSS's own certutil, trusting the test root."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .peers import require_binary


def nss_db(directory: Path, root: Path, trust: str = "C,,") -> Path:
    """A new NSS database in ``directory`` that trusts ``root`` (a PEM file) as ``trust``
    says: "C,," for TLS servers, "CT,C,C" for client certificates too."""
    certutil = require_binary("certutil")
    directory.mkdir(parents=True, exist_ok=True)
    for argv in (["-N", "--empty-password"], ["-A", "-t", trust, "-n", "tlskit-test-root",
                                               "-i", str(root)]):
        subprocess.run([certutil, "-d", f"sql:{directory}", *argv], check=True,
                       capture_output=True, timeout=30)
    listed = subprocess.run([certutil, "-d", f"sql:{directory}", "-L"], check=True,
                            capture_output=True, text=True, timeout=30).stdout
    assert "tlskit-test-root" in listed, listed
    return directory
