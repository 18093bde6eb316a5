"""How the Verifier reaches the revocation module (tlskit.x509.revocation is written
separately; these tests pin the seam, not the module)."""

from __future__ import annotations

import sys
import types
from datetime import datetime
from typing import Any

import pytest
from cryptography import x509

from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier

from . import pki
from .pki import NOW

HOST = "www.example.org"


def test_off_never_imports_the_module(chain: pki.Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tlskit.x509.revocation", None)  # import would fail
    v = Verifier(TrustStore([chain.root.cert]))
    assert v.verify(chain.leaf.cert, chain.intermediates, server_name=HOST, at=NOW)


def test_missing_module_soft_fail_passes_hard_fail_fails(
    chain: pki.Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tlskit.x509.revocation", None)
    soft = Verifier(TrustStore([chain.root.cert]), revocation="soft-fail")
    assert soft.verify(chain.leaf.cert, chain.intermediates, server_name=HOST, at=NOW)
    report = soft.explain(chain.leaf.cert, chain.intermediates, server_name=HOST, at=NOW)
    assert [c.detail for c in report.checks if c.check == "revocation"] == [
        "not checked (no revocation module)"] * 2
    hard = Verifier(TrustStore([chain.root.cert]), revocation="hard-fail")
    with pytest.raises(CertificateVerificationError) as err:
        hard.verify(chain.leaf.cert, chain.intermediates, server_name=HOST, at=NOW)
    assert err.value.reason is Reason.revocation_unknown
    assert err.value.certificate == chain.leaf.cert


def test_checker_is_built_with_policy_crls_and_options(
    chain: pki.Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    calls: list[tuple[x509.Certificate, x509.Certificate, datetime, bytes | None]] = []

    class FakeChecker:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append((args, kwargs))

        def check(self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime,
                  ocsp_response: bytes | None = None) -> str:
            calls.append((cert, issuer, at, ocsp_response))
            return "good"

    fake = types.ModuleType("tlskit.x509.revocation")
    fake.RevocationChecker = FakeChecker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tlskit.x509.revocation", fake)
    v = Verifier(TrustStore([chain.root.cert]), revocation="hard-fail", crls=[],
                 fetch_crls=False, ocsp=True, revocation_timeout=2.0)
    for _ in range(2):
        v.verify(chain.leaf.cert, chain.intermediates, server_name=HOST, at=NOW,
                 ocsp_response=b"staple")
    assert made == [(("hard-fail", []), {"fetch_crls": False, "ocsp": True, "timeout": 2.0,
                                        "profile": "default"})]
    assert calls[:2] == [
        (chain.leaf.cert, chain.inter.cert, NOW, b"staple"),
        (chain.inter.cert, chain.root.cert, NOW, None),
    ]


def test_checker_crash_is_unknown_under_hard_fail(chain: pki.Chain) -> None:
    class Broken:
        def check(self, *args: Any, **kwargs: Any) -> str:
            raise RuntimeError("responder exploded")

    for policy, ok in (("soft-fail", True), ("hard-fail", False)):
        v = Verifier(TrustStore([chain.root.cert]), revocation=policy)  # type: ignore[arg-type]
        v._checker, v._checker_loaded = Broken(), True
        if ok:
            assert v.verify(chain.leaf.cert, chain.intermediates, server_name=HOST, at=NOW)
        else:
            with pytest.raises(CertificateVerificationError) as err:
                v.verify(chain.leaf.cert, chain.intermediates, server_name=HOST, at=NOW)
            assert err.value.reason is Reason.revocation_unknown


def test_status_objects_are_reported_in_words(chain: pki.Chain) -> None:
    from dataclasses import dataclass

    @dataclass
    class Status:
        status: str
        source: str
        detail: str

    class Checker:
        def check(self, *args: Any, **kwargs: Any) -> Status:
            return Status("good", "ocsp", "OCSP response from http://ocsp.test")

    v = Verifier(TrustStore([chain.root.cert]), revocation="hard-fail")
    v._checker, v._checker_loaded = Checker(), True
    report = v.explain(chain.leaf.cert, chain.intermediates, server_name=HOST, at=NOW)
    assert report.valid
    details = [c.detail for c in report.checks if c.check == "revocation"]
    assert details == ["good (source: ocsp): OCSP response from http://ocsp.test"] * 2
