"""Java programs of the test suite (Java's JSSE, OpenJDK's own TLS stack, as a peer),
compiled from their source with the local JDK (Debian's openjdk-17-jdk-headless, installed
by .ci/install-test-deps.sh). Standard library only, so the build never needs the network."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .peers import require_binary

# Start-up flags: the peers run for a second or two, so a JIT that stops at C1 and the
# serial collector start faster than the defaults and change nothing in the TLS stack.
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto")


def build_java(source: Path, out_dir: Path) -> Path:
    """``source`` (one file, one public class) compiled into ``out_dir``, the classpath to
    run it with; a missing JDK or a compile error fails the test with javac's words."""
    built = subprocess.run([require_binary("javac"), "-d", str(out_dir), str(source)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    return out_dir


def java_command(classpath: Path, main: str, *args: str,
                 properties: dict[str, str] | None = None) -> list[str]:
    """The argv running ``main`` from ``classpath`` with ``properties`` as -D flags (JSSE
    reads several of its settings, e.g. jdk.tls.namedGroups, only from those)."""
    props = [f"-D{key}={value}" for key, value in (properties or {}).items()]
    return [require_binary("java"), *JVM_FLAGS, *props, "-cp", str(classpath), main, *args]
