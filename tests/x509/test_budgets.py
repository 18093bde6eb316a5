"""Work budgets: a hostile chain is rejected as too_complex once a budget is spent, never
accepted, and the work done stays within the budget (counted by `Verifier.stats`)."""

from __future__ import annotations

from functools import cache

import pytest
from cryptography import x509

from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier

from . import pki
from .pki import NOW

HOST = "n0.example.com"


@cache
def _constraint_bomb(count: int) -> tuple[pki.Issued, pki.Issued]:
    """A root with ``count`` permitted dNSName subtrees and a leaf with ``count`` SANs,
    every one of them inside the constraints: valid, but count**2 comparisons."""
    names = [f"n{i}.example.com" for i in range(count)]
    root = pki.root(f"Bomb Root {count}", permitted=names)
    leaf = pki.leaf(HOST, root, sans=names)
    return root, leaf


def _fail(v: Verifier, leaf: x509.Certificate, inters: list[x509.Certificate],
          host: str | None = HOST) -> CertificateVerificationError:
    with pytest.raises(CertificateVerificationError) as err:
        v.verify(leaf, inters, server_name=host, at=NOW)
    return err.value


def test_2048_constraints_times_2048_names_is_too_complex() -> None:
    root, leaf = _constraint_bomb(2048)
    v = Verifier(TrustStore([root.cert]))
    err = _fail(v, leaf.cert, [])
    assert err.reason is Reason.too_complex and "max_name_checks" in str(err)
    assert err.certificate == leaf.cert
    assert v.stats.budget_exhausted == 1
    assert v.stats.name_checks == 0  # refused before comparing anything
    report = v.explain(leaf.cert, [], server_name=HOST, at=NOW)
    assert report.error is not None and report.error.reason is Reason.too_complex
    assert v.stats.name_checks <= v.max_name_checks


def test_the_name_budget_is_tunable() -> None:
    root, leaf = _constraint_bomb(64)  # about 64 * 66 comparisons
    v = Verifier(TrustStore([root.cert]))
    assert v.verify(leaf.cert, [], server_name=HOST, at=NOW)[-1] == root.cert
    assert 64 * 64 <= v.stats.name_checks <= v.max_name_checks
    tight = Verifier(TrustStore([root.cert]), max_name_checks=1000)
    assert _fail(tight, leaf.cert, []).reason is Reason.too_complex
    assert tight.stats.name_checks <= 1000


def _hostile_graph(
    layers: int = 6, width: int = 4
) -> tuple[pki.Issued, list[x509.Certificate], pki.Issued]:
    """``layers`` layers of ``width`` CAs sharing one name and one key per layer, so each
    one verifies under every CA of the layer above (cross-signs), topped by a real trust
    anchor whose pathLenConstraint 0 every path breaks only at its very end: width**layers
    paths, each a chain of valid signatures."""
    anchor = pki.root("Hostile Anchor", path_len=0)
    parents = [anchor]
    graph: list[x509.Certificate] = []
    for n in range(layers - 1, -1, -1):
        key = pki.key("ec256", f"hostile{n}")
        layer = [pki.make(f"Hostile {n}", parents[i % len(parents)], ca=True, private=key)
                 for i in range(width)]
        graph += [c.cert for c in layer]
        parents = layer
    return anchor, graph, pki.leaf(HOST, parents[0])


def test_hostile_cross_signed_graph_is_too_complex() -> None:
    anchor, graph, leaf = _hostile_graph()
    v = Verifier(TrustStore([anchor.cert]))
    err = _fail(v, leaf.cert, graph)
    assert err.reason is Reason.too_complex and "max_signature_checks" in str(err)
    assert v.stats.signature_checks <= v.max_signature_checks
    assert v.stats.budget_exhausted == 1
    # Nothing is accepted after the budget: not even with the valid chain also offered.
    assert _fail(v, leaf.cert, graph).reason is Reason.too_complex


def test_the_search_budgets_are_tunable() -> None:
    anchor, graph, leaf = _hostile_graph()
    v = Verifier(TrustStore([anchor.cert]), max_signature_checks=10_000, max_candidates=50)
    err = _fail(v, leaf.cert, graph)
    assert err.reason is Reason.too_complex and "max_candidates" in str(err)
    assert v.stats.candidates <= 51


def test_too_many_intermediates_is_too_complex(chain: pki.Chain) -> None:
    """Every certificate sent along is parsed before the search, so their number is the
    first budget; the fallback name index is built once however many there are."""
    decoys = [pki.intermediate(f"Decoy {n}", chain.root).cert for n in range(20)]
    v = Verifier(TrustStore([chain.root.cert]), max_intermediates=16)
    err = _fail(v, chain.leaf.cert, [*decoys, chain.inter.cert], "www.example.org")
    assert err.reason is Reason.too_complex and "max_intermediates" in str(err)
    assert v.stats.signature_checks == 0 and v.stats.budget_exhausted == 1
    roomy = Verifier(TrustStore([chain.root.cert]), max_intermediates=32)
    assert roomy.verify(chain.leaf.cert, [*decoys, chain.inter.cert],
                        server_name="www.example.org", at=NOW)[1] == chain.inter.cert
