"""What the CLI tests share: the messages every TLS 1.3 diagram draws, a reader for the
text of a written SVG diagram, and a CA with a localhost leaf on disk."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tlskit.ca import Issued, LocalCA

HANDSHAKE_MESSAGES = ["ClientHello", "ServerHello", "EncryptedExtensions", "Certificate",
                      "CertificateVerify", "Finished"]


def diagram_text(svg: Path) -> str:
    """All the text of an SVG file, joined."""
    return " ".join("".join(el.itertext()) for el in ET.parse(svg).getroot().iter())


def assert_full_handshake_drawn(svg: Path) -> str:
    """Every TLS 1.3 handshake message is in the diagram, Finished from both sides;
    returns the diagram's text for further checks."""
    text = diagram_text(svg)
    for name in HANDSHAKE_MESSAGES:
        assert name in text, name
    assert text.count("Finished") >= 2
    return text


@dataclass
class LocalhostPKI:
    """A CA on disk (``root``, ``intermediate`` PEM files) and a localhost/127.0.0.1
    server leaf written as ``cert`` (full chain) and ``key``."""

    ca: LocalCA
    issued: Issued
    root: Path
    intermediate: Path
    cert: Path
    key: Path

    @classmethod
    def create(cls, base: Path, leaf: str) -> LocalhostPKI:
        ca = LocalCA.create(base / "ca")
        issued = ca.issue_server(["localhost", "127.0.0.1"])
        cert, key = issued.write(cert_path=base / f"{leaf}.pem",
                                 key_path=base / f"{leaf}-key.pem")
        return cls(ca, issued, base / "ca" / "root.pem", base / "ca" / "intermediate.pem",
                   cert, key)
