"""Path building: unordered, redundant, cross-signed and hostile intermediate sets."""

from __future__ import annotations

import inspect
import random
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding

from tlskit.verifier import CertificateVerifier
from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier

from . import pki
from .pki import DAY, NOW

HOST = "www.example.org"


def _verify(v: Verifier, leaf: pki.Issued, pool: list[x509.Certificate], **kw: object
            ) -> list[x509.Certificate]:
    return v.verify(leaf.cert, pool, server_name=HOST, at=NOW, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tree() -> dict[str, pki.Issued]:
    """Root -> A -> B -> leaf, plus unrelated CAs for noise."""
    r = pki.root("Tree Root")
    a = pki.intermediate("Tree A", r)
    b = pki.intermediate("Tree B", a)
    lf = pki.leaf(HOST, b)
    other = pki.root("Noise Root")
    noise = [pki.intermediate(f"Noise {n}", other) for n in range(5)]
    out = {"root": r, "a": a, "b": b, "leaf": lf, "other": other}
    out.update({f"noise{n}": c for n, c in enumerate(noise)})
    return out


def test_shuffled_redundant_intermediates(tree: dict[str, pki.Issued]) -> None:
    pool = [c.cert for k, c in tree.items() if k != "leaf"]
    pool += [tree["a"].cert, tree["b"].cert]  # duplicates
    v = Verifier(TrustStore([tree["root"].cert]))
    rng = random.Random(5280)
    for _ in range(10):
        rng.shuffle(pool)
        chain = _verify(v, tree["leaf"], pool)
        assert chain == [tree["leaf"].cert, tree["b"].cert, tree["a"].cert, tree["root"].cert]


def test_anchor_sent_along_is_fine(tree: dict[str, pki.Issued]) -> None:
    v = Verifier(TrustStore([tree["root"].cert]))
    pool = [tree["root"].cert, tree["a"].cert, tree["b"].cert]
    assert _verify(v, tree["leaf"], pool)[-1] == tree["root"].cert


def test_trusted_intermediate_shortens_path(tree: dict[str, pki.Issued]) -> None:
    v = Verifier(TrustStore([tree["a"].cert]))
    chain = _verify(v, tree["leaf"], [tree["b"].cert])
    assert chain == [tree["leaf"].cert, tree["b"].cert, tree["a"].cert]


def test_cross_signed_root() -> None:
    old = pki.root("Old Root")
    new = pki.root("New Root")
    new_by_old = pki.cross_sign(new, old)
    inter = pki.intermediate("Issuing CA", new)
    lf = pki.leaf(HOST, inter)
    pool = [inter.cert, new_by_old.cert]
    # Only the old root is trusted: leaf -> inter -> cross-cert -> old root.
    chain = _verify(Verifier(TrustStore([old.cert])), lf, pool)
    assert chain == [lf.cert, inter.cert, new_by_old.cert, old.cert]
    # The new root is trusted: the shorter path, and the cross-cert is not needed.
    chain = _verify(Verifier(TrustStore([new.cert])), lf, pool)
    assert chain == [lf.cert, inter.cert, new.cert]


def test_expired_cross_sign_is_skipped_for_a_valid_one() -> None:
    old = pki.root("XS Old Root")
    new = pki.root("XS New Root")
    expired_cross = pki.cross_sign(new, old, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    valid_cross = pki.cross_sign(new, old)
    inter = pki.intermediate("XS Issuing", new)
    lf = pki.leaf(HOST, inter)
    v = Verifier(TrustStore([old.cert]))
    for pool in ([inter.cert, expired_cross.cert, valid_cross.cert],
                 [valid_cross.cert, expired_cross.cert, inter.cert]):
        assert _verify(v, lf, pool) == [lf.cert, inter.cert, valid_cross.cert, old.cert]
    # Alone, the expired cross-certificate is the reported culprit.
    with pytest.raises(CertificateVerificationError) as err:
        _verify(v, lf, [inter.cert, expired_cross.cert])
    assert err.value.reason is Reason.expired
    assert err.value.certificate == expired_cross.cert


def test_backtracks_past_a_failing_anchor() -> None:
    """Two same-key intermediates, one under an expired root listed first: the search must
    fail at the top of the first path and come back down to take the second."""
    dead = pki.root("Dead Root", not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    live = pki.root("Live Root")
    mid_dead = pki.intermediate("Bridge", dead)
    mid_live = pki.cross_sign(mid_dead, live)
    lf = pki.leaf(HOST, mid_dead)
    v = Verifier(TrustStore([dead.cert, live.cert]))
    for pool in ([mid_dead.cert, mid_live.cert], [mid_live.cert, mid_dead.cert]):
        assert _verify(v, lf, pool) == [lf.cert, mid_live.cert, live.cert]
    with pytest.raises(CertificateVerificationError) as err:
        _verify(v, lf, [mid_dead.cert])
    assert err.value.reason is Reason.expired and err.value.certificate == dead.cert


def test_certificate_loop_terminates() -> None:
    """A signs B signs A, and neither leads to an anchor."""
    a_key, b_key = pki.key("ec256", "loopA"), pki.key("ec256", "loopB")
    a_self = pki.make("Loop A", None, ca=True, private=a_key)
    b = pki.make("Loop B", a_self, ca=True, private=b_key)
    a = pki.make("Loop A", b, ca=True, private=a_key)  # Loop A issued by Loop B
    lf = pki.leaf(HOST, a)
    v = Verifier(TrustStore([pki.root("Unrelated Root").cert]))
    before = v.stats.signature_checks
    with pytest.raises(CertificateVerificationError) as err:
        _verify(v, lf, [a.cert, b.cert, a_self.cert])
    assert err.value.reason is Reason.unknown_issuer
    assert v.stats.signature_checks - before <= 6


def test_many_same_name_decoys_bounded() -> None:
    r = pki.root("Decoy Root")
    real = pki.intermediate("Popular Name", r)
    ski = real.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    decoys = [pki.intermediate("Popular Name", r, slot=f"decoy{n}", ski=ski) for n in range(50)]
    lf = pki.leaf(HOST, real)
    v = Verifier(TrustStore([r.cert]))
    before = v.stats.signature_checks
    chain = _verify(v, lf, [d.cert for d in decoys] + [real.cert])
    assert chain[1] == real.cert
    assert v.stats.signature_checks - before <= 51 + 2  # each decoy once, then the real path
    # With no real issuer among them the answer comes back just as cheaply.
    before = v.stats.signature_checks
    with pytest.raises(CertificateVerificationError) as err:
        _verify(v, lf, [d.cert for d in decoys])
    assert err.value.reason is Reason.bad_signature
    assert v.stats.signature_checks - before <= 50


def test_exponential_mesh_is_cut_by_the_budget() -> None:
    """Six layers of four same-name, same-key CAs, each issued by every CA of the next
    layer: 4**6 paths, none reaching an anchor. The budget stops the search."""
    layers = 6
    keys = [pki.key("ec256", f"mesh{n}") for n in range(layers + 1)]
    top = [pki.make(f"Mesh {layers}", None, ca=True, private=keys[layers])]
    mesh: list[x509.Certificate] = []
    parents = top * 4
    for n in range(layers - 1, -1, -1):
        layer = [pki.make(f"Mesh {n}", p, ca=True, private=keys[n]) for p in parents]
        mesh += [c.cert for c in layer]
        parents = layer
    lf = pki.leaf(HOST, parents[0])
    v = Verifier(TrustStore([pki.root("Elsewhere").cert]), max_candidates=200)
    before = v.stats.candidates
    with pytest.raises(CertificateVerificationError) as err:
        _verify(v, lf, mesh)
    assert err.value.reason is Reason.too_complex and "budget" in str(err.value)
    assert v.stats.candidates - before <= 201
    assert v.stats.budget_exhausted == 1
    assert v.stats.signature_verifications <= len(mesh) + 1  # the cache absorbs repeats


def test_most_relevant_failure_is_reported() -> None:
    """One candidate is a decoy (bad signature), the real one is expired: say expired."""
    r = pki.root("Relevance Root")
    real = pki.intermediate("Relevant CA", r, not_after=NOW - DAY)
    decoy = pki.intermediate("Relevant CA", r, slot="relevant-decoy")
    lf = pki.leaf(HOST, real)
    with pytest.raises(CertificateVerificationError) as err:
        _verify(Verifier(TrustStore([r.cert])), lf, [decoy.cert, real.cert])
    assert err.value.reason is Reason.expired and err.value.certificate == real.cert


def test_depth_beats_a_same_name_key_that_is_not_the_issuer() -> None:
    """root -> CA (key 1) -> CA (same name, key 2: a self-issued rollover) -> leaf, with
    max_depth=1 (x509-limbo pathlen::max-chain-depth-1-self-issued). Both CAs carry the
    leaf's issuer name; the key-1 one fails its signature check, but the leaf's
    authorityKeyIdentifier already says it is not the issuer: the chain fails because the
    real path needs two intermediates, and the error says so. (max_depth counts every
    intermediate, as OpenSSL's -verify_depth and pyca's max_chain_depth do; limbo skips
    self-issued ones and expects success, which no mainstream validator gives.)"""
    r = pki.root("Rollover Root")
    old = pki.intermediate("Rollover CA", r, slot="rollover-1")
    new = pki.make("Rollover CA", old, ca=True, slot="rollover-2")
    lf = pki.leaf(HOST, new)
    pool = [old.cert, new.cert]
    assert _verify(Verifier(TrustStore([r.cert]), max_depth=2), lf, pool)[1:3] == pool[::-1]
    with pytest.raises(CertificateVerificationError) as err:
        _verify(Verifier(TrustStore([r.cert]), max_depth=1), lf, pool)
    assert err.value.reason is Reason.path_too_long
    assert err.value.certificate == old.cert
    assert "beyond the maximum path depth of 1; raise Verifier(max_depth=...)" in str(err.value)


def test_leaf_in_store_is_a_one_certificate_path() -> None:
    lf = pki.make(HOST, None, sans=[HOST], eku=[pki.SERVER_AUTH], slot="pinned")
    v = Verifier(TrustStore([lf.cert]))
    assert _verify(v, lf, []) == [lf.cert]
    with pytest.raises(CertificateVerificationError) as err:
        v.verify(lf.cert, [], server_name="other.example.org", at=NOW)
    assert err.value.reason is Reason.hostname_mismatch
    with pytest.raises(CertificateVerificationError) as err:
        v.verify(lf.cert, [], server_name=HOST, at=NOW + 365 * DAY)
    assert err.value.reason is Reason.expired


@pytest.mark.parametrize("kind", ["ec256", "ec384", "ec521", "rsa2048", "ed25519"])
def test_algorithms(kind: str) -> None:
    c = pki.simple_chain(HOST, kind)
    v = Verifier(TrustStore([c.root.cert]))
    assert len(_verify(v, c.leaf, c.intermediates)) == 3


def test_rsa_pss_signatures() -> None:
    r = pki.root("PSS Root", key_kind="rsa2048", pss=True)
    i = pki.intermediate("PSS Intermediate", r, key_kind="rsa2048", slot="pss-i", pss=True,
                         hash_name="sha384")
    lf = pki.leaf(HOST, i, pss=True)
    assert isinstance(lf.cert.signature_algorithm_parameters, padding.PSS)
    v = Verifier(TrustStore([r.cert]))
    assert len(_verify(v, lf, [i.cert])) == 3
    with pytest.raises(CertificateVerificationError) as err:
        _verify(v, pki.Issued(pki.tamper_signature(lf.cert), lf.key), [i.cert])
    assert err.value.reason is Reason.bad_signature


def test_key_type_mismatch_is_bad_signature() -> None:
    """A leaf signed by an EC key but naming an RSA CA as issuer never verifies."""
    rsa_ca = pki.root("RSA CA", key_kind="rsa2048")
    ec_impostor = pki.root("RSA CA", key_kind="ec256", slot="impostor")
    lf = pki.leaf(HOST, ec_impostor)
    with pytest.raises(CertificateVerificationError) as err:
        _verify(Verifier(TrustStore([rsa_ca.cert])), lf, [])
    assert err.value.reason is Reason.bad_signature


def test_signature_cache_makes_repeats_free(tree: dict[str, pki.Issued]) -> None:
    v = Verifier(TrustStore([tree["root"].cert]))
    pool = [tree["a"].cert, tree["b"].cert]
    _verify(v, tree["leaf"], pool)
    first = v.stats.signature_verifications
    assert first == 3
    # Freshly parsed copies of the same DER hit the cache too.
    again = [x509.load_der_x509_certificate(c.public_bytes(pki.serialization.Encoding.DER))
             for c in [tree["leaf"].cert, *pool]]
    v.verify(again[0], again[1:], server_name=HOST, at=NOW)
    assert v.stats.signature_verifications == first


def test_self_issued_intermediate_does_not_count_for_path_length() -> None:
    r = pki.root("SI Root", path_len=1)
    old_i = pki.intermediate("SI CA", r)
    rollover = pki.make("SI CA", old_i, ca=True, slot="si-new")  # self-issued key rollover
    lf = pki.leaf(HOST, rollover)
    v = Verifier(TrustStore([r.cert]))
    # Two intermediates below a pathLen-1 root, but one of them is self-issued.
    chain = _verify(v, lf, [old_i.cert, rollover.cert])
    assert chain == [lf.cert, rollover.cert, old_i.cert, r.cert]
    sub = pki.intermediate("SI Sub", rollover)
    with pytest.raises(CertificateVerificationError) as err:
        _verify(v, pki.leaf(HOST, sub), [old_i.cert, rollover.cert, sub.cert])
    assert err.value.reason is Reason.path_length_exceeded
    assert err.value.certificate == sub.cert


def test_naive_datetime_is_utc_and_none_is_now() -> None:
    now = datetime.now(UTC)
    r = pki.root("Now Root", not_before=now - DAY, not_after=now + DAY)
    lf = pki.leaf(HOST, r, not_before=now - DAY, not_after=now + DAY)
    v = Verifier(TrustStore([r.cert]))
    assert v.verify(lf.cert, [], server_name=HOST) == [lf.cert, r.cert]
    naive = (now + timedelta(days=2)).replace(tzinfo=None)
    with pytest.raises(CertificateVerificationError) as err:
        v.verify(lf.cert, [], server_name=HOST, at=naive)
    assert err.value.reason is Reason.expired


def test_verifier_satisfies_the_protocol() -> None:
    v: CertificateVerifier = Verifier(TrustStore([]))
    want = list(inspect.signature(CertificateVerifier.verify).parameters)
    assert list(inspect.signature(Verifier.verify).parameters) == want
    assert callable(v.verify)


def test_explain_valid_chain(tree: dict[str, pki.Issued]) -> None:
    v = Verifier(TrustStore([tree["root"].cert]))
    report = v.explain(tree["leaf"].cert, [tree["b"].cert, tree["a"].cert],
                       server_name=HOST, at=NOW)
    assert report.valid and report.error is None
    assert report.chain[-1] == tree["root"].cert
    names = {c.check for c in report.checks_for(tree["leaf"].cert)}
    assert {"validity", "signature", "hostname", "extended key usage"} <= names
    assert all(c.ok for c in report.checks)
    assert {c.check for c in report.checks_for(tree["root"].cert)} >= {"trust anchor"}


def test_explain_never_raises_and_agrees_with_verify(tree: dict[str, pki.Issued]) -> None:
    v = Verifier(TrustStore([tree["root"].cert]))
    expired = pki.leaf(HOST, tree["b"], not_after=NOW - DAY, slot="explain-expired")
    cases = [
        (expired.cert, [tree["a"].cert, tree["b"].cert], HOST),
        (tree["leaf"].cert, [tree["b"].cert], HOST),  # missing A
        (tree["leaf"].cert, [tree["a"].cert, tree["b"].cert], "wrong.example"),
    ]
    for leaf, pool, host in cases:
        report = v.explain(leaf, pool, server_name=host, at=NOW)
        with pytest.raises(CertificateVerificationError) as err:
            v.verify(leaf, pool, server_name=host, at=NOW)
        assert report.error is not None and report.error.reason is err.value.reason
        assert str(report.error) == str(err.value)
        failed = [c for c in report.checks if not c.ok]
        assert failed and failed[0].certificate == err.value.certificate
    # The expired leaf's report still shows the whole chain up to the root.
    report = v.explain(expired.cert, [tree["a"].cert, tree["b"].cert], server_name=HOST, at=NOW)
    assert report.chain[-1] == tree["root"].cert


def test_shared_verifier_across_threads(tree: dict[str, pki.Issued]) -> None:
    """One Verifier serves every connection: concurrent use must give the same answers."""
    from concurrent.futures import ThreadPoolExecutor

    v = Verifier(TrustStore([tree["root"].cert]), max_signature_checks=8)
    pool = [tree["a"].cert, tree["b"].cert]
    leaves = [pki.leaf(HOST, tree["b"], slot=f"thread{n}").cert for n in range(16)]

    def one(leaf: x509.Certificate) -> int:
        return len(v.verify(leaf, pool, server_name=HOST, at=NOW))

    with ThreadPoolExecutor(8) as executor:
        assert list(executor.map(one, leaves * 4)) == [4] * 64
