"""Comparing certificate analyses: what two ways of analysing one certificate (the fast
DER readers and cryptography's parsing, a cached and a fresh analysis) must agree on."""

from __future__ import annotations

from typing import Any

from tlskit.x509 import certinfo

# CertInfo fields that are caches or the certificate object itself.
NOT_COMPARED = frozenset({"cert", "verdicts", "_description", "_subject", "_issuer",
                          "_common_names", "_fingerprint", "_key_family",
                          "_dns_label"})


def analysis_fields(info: certinfo.CertInfo) -> dict[str, Any]:
    """Every field of ``info`` an equal analysis must have equal."""
    fields = {name: getattr(info, name) for name in certinfo.CertInfo.__dataclass_fields__
              if name not in NOT_COMPARED}
    return {**fields, "dns_label": info.dns_label, "serial_problem": info.serial_problem}
