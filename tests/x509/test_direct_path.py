"""A leaf sent alone under one trust anchor skips the search machinery (`direct_path`).

The step must be the search's own: for each chain here (good ones and ones failing every
check a leaf-to-anchor step makes), a Verifier taking the direct step and one forced
through `PathBuilder` return the same chain or raise the same reason and message, write
the same report, and count the same work. A direct step that skipped a check, or
reported another failure, fails here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from cryptography import x509

from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier
from tlskit.x509 import verify as verify_module
from tlskit.x509.path import PathBuilder, direct_path, takes_direct_path

from . import pki

AT = pki.NOW


@dataclasses.dataclass
class Case:
    anchors: list[x509.Certificate]
    leaf: x509.Certificate
    host: str | None = "direct.example"
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    at: datetime = AT


def _cases() -> dict[str, Callable[[], Case]]:
    def good(kind: str = "ec256") -> Case:
        root = pki.root(f"Direct Root {kind}", key_kind=kind)
        return Case([root.cert], pki.leaf("direct.example", root, key_kind=kind).cert)

    def with_root(**root_kw: Any) -> Callable[[], Case]:
        def make() -> Case:
            root = pki.root("Direct Odd Root", slot="odd", **root_kw)
            return Case([root.cert], pki.leaf("direct.example", root).cert)
        return make

    def with_leaf(**leaf_kw: Any) -> Callable[[], Case]:
        def make() -> Case:
            root = pki.root("Direct Root ec256")
            return Case([root.cert], pki.leaf("direct.example", root, **leaf_kw).cert)
        return make

    def tampered() -> Case:
        case = good()
        return dataclasses.replace(case, leaf=pki.tamper_signature(case.leaf))

    def budget(**kw: int) -> Callable[[], Case]:
        return lambda: dataclasses.replace(good(), kwargs=kw)

    def same_key_and_name() -> Case:
        """A self-issued leaf with the anchor's name and key: the search never puts
        that pair twice on a path, so the anchor is no candidate."""
        root = pki.root("Direct Twin Root")
        twin = pki.make("direct.example", None, private=root.key, subject=root.subject,
                        sans=["direct.example"], eku=[pki.SERVER_AUTH])
        return Case([root.cert], twin.cert)

    def self_issued_under_other_key() -> Case:
        """A self-signed leaf whose name is an anchor's: the signature fails, and the
        leaf is reported as self-signed."""
        root = pki.root("Direct Name Root")
        fake = pki.make("Direct Name Root", None, slot="fake", subject=root.subject,
                        sans=["direct.example"], eku=[pki.SERVER_AUTH])
        return Case([root.cert], fake.cert)

    def two_anchors() -> Case:
        root = pki.root("Direct Shared Name", slot="one")
        other = pki.root("Direct Shared Name", slot="two")
        return Case([other.cert, root.cert], pki.leaf("direct.example", root).cert)

    def wrong_host() -> Case:
        return dataclasses.replace(good(), host="other.example")

    return {
        "good ec256": good,
        "good rsa2048": lambda: good("rsa2048"),
        "no host name": lambda: dataclasses.replace(good(), host=None),
        "wrong host": wrong_host,
        "bad signature": tampered,
        "anchor expired": with_root(not_after=AT - pki.DAY),
        "anchor not yet valid": with_root(not_before=AT + pki.DAY),
        "anchor not a CA": with_root(ca=False, ku=pki.CA_KU),
        "anchor without keyCertSign": with_root(ku={"digital_signature": True}),
        "anchor EKU for clients only": with_root(eku=[pki.CLIENT_AUTH]),
        "anchor with a weak key": with_root(key_kind="rsa1024"),
        "anchor with pathLen 0": with_root(path_len=0),
        "anchor name constraints excluding the leaf": with_root(permitted=["other.example"]),
        "anchor name constraints allowing the leaf": with_root(permitted=["example"]),
        "anchor with an unknown critical extension": with_root(
            extra=[(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.9.9"),
                                               b"\x05\x00"), True)]),
        "leaf expired": with_leaf(not_after=AT - pki.DAY),
        "leaf is a CA": with_leaf(ca=True),
        "leaf signed with SHA-224": with_leaf(hash_name="sha224"),
        "leaf EKU for clients only": with_leaf(eku=[pki.CLIENT_AUTH]),
        "no signature budget": budget(max_signature_checks=0),
        "no candidate budget": budget(max_candidates=0),
        "leaf shares the anchor's name and key": same_key_and_name,
        "self-issued leaf under an anchor's name": self_issued_under_other_key,
        "two anchors of one name": two_anchors,
    }


CASES = _cases()


def _answer(v: Verifier, case: Case) -> tuple[object, ...]:
    """What a validation says (chain or failure), its report, and the work counted."""
    try:
        chain: object = v.verify(case.leaf, [], server_name=case.host, at=case.at)
    except CertificateVerificationError as exc:
        chain = (exc.reason, str(exc))
    report = v.explain(case.leaf, [], server_name=case.host, at=case.at)
    checks = [(c.certificate, c.check, c.ok, c.detail) for c in report.checks]
    error = None if report.error is None else (report.error.reason, str(report.error))
    return chain, report.chain, checks, error, dataclasses.asdict(v.stats)


@pytest.mark.parametrize("name", sorted(CASES))
def test_direct_step_answers_as_the_search(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]()
    direct = _answer(Verifier(TrustStore(case.anchors), **case.kwargs), case)
    monkeypatch.setattr(verify_module, "takes_direct_path", lambda *args: False)
    searched = _answer(Verifier(TrustStore(case.anchors), **case.kwargs), case)
    assert direct == searched


def test_direct_step_is_taken_for_a_leaf_under_one_anchor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above means something only if the direct step runs: it does for
    the plain case, and never for a leaf sent with intermediates."""
    case = CASES["good ec256"]()
    taken: list[bool] = []

    def spy(*args: Any) -> bool:
        taken.append(takes_direct_path(*args))
        return taken[-1]

    monkeypatch.setattr(verify_module, "takes_direct_path", spy)
    v = Verifier(TrustStore(case.anchors))
    assert v.verify(case.leaf, [], server_name=case.host, at=AT)[0] is case.leaf
    assert taken == [True]
    chain = pki.simple_chain("direct.example")
    Verifier(TrustStore([chain.root.cert])).verify(
        chain.leaf.cert, chain.intermediates, server_name="direct.example", at=AT)
    assert taken == [True]


@pytest.mark.parametrize("name", sorted(CASES))
def test_direct_path_is_the_builders_result(name: str) -> None:
    """Where the Verifier would take it, `direct_path` returns what `PathBuilder.build`
    returns: the same path, or the same failure on the same path."""
    case = CASES[name]()
    v = Verifier(TrustStore(case.anchors), **case.kwargs)
    leaf = v.analyze(case.leaf)
    anchors = v._anchors_named(leaf.issuer_der)
    ctx = v._context(AT, "server")
    if not takes_direct_path(ctx, leaf, anchors):
        return
    direct = direct_path(ctx, leaf, anchors[0])
    built = PathBuilder(v._context(AT, "server"), v.store, [], v._anchors_named).build(leaf)
    if isinstance(direct, list):
        assert direct == built.path and built.failure is None
    else:
        assert built.path is None and built.failure is not None
        assert direct.path == built.failure.path
        assert direct.anchored == built.failure.anchored
        assert direct.outcome == built.failure.outcome

