"""X.509 certificate path validation for TLS: trust stores, path building, RFC 5280 checks,
RFC 9525 hostname matching, and an explainable report.

    from tlskit.x509 import Verifier, TrustStore
    chain = Verifier(TrustStore.default()).verify(leaf, intermediates, server_name="example.com")
    warnings = Verifier(store).lint(leaf, intermediates)  # CA/B issuance rules, as Findings
"""

from __future__ import annotations

from .errors import CertificateVerificationError, Reason, describe
from .lint import Finding, lint_chain
from .names import dns_name_matches, match_hostname
from .trust import TrustStore
from .verify import Check, Report, Verifier

__all__ = [
    "CertificateVerificationError",
    "Check",
    "Finding",
    "Reason",
    "Report",
    "TrustStore",
    "Verifier",
    "describe",
    "dns_name_matches",
    "lint_chain",
    "match_hostname",
]
