"""CRL checking: ``openssl ca -gencrl`` CRLs served from a real HTTP server, and CRL lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tlskit.x509.errors import CertificateVerificationError, Reason
from tlskit.x509.revocation import RevocationChecker, RevocationStatus

from ..support.ports import refused_port
from .revocation_pki import (
    CA_KEY_USAGE_NO_CRL,
    CertSpec,
    Issued,
    Lab,
    Route,
    assert_rejects,
    build_crl,
    issue,
    new_key,
    now,
    open_lab,
    without_next_update,
)

REVOKED_AT = now() - dt.timedelta(days=1)
DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM


class CrlLab:
    """The shared lab plus the CRLs openssl generated from its index."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.url = lab.http.url("/crl")
        self.dead_url = f"http://127.0.0.1:{refused_port()}/gone.crl"
        d = lab.directory
        lab.leaf("good", crl=self.url)
        lab.leaf("revoked", crl=self.url, revoked_at=REVOKED_AT, reason="keyCompromise")
        lab.leaf("down", ocsp=f"http://127.0.0.1:{refused_port()}", crl=self.url)
        lab.leaf("twodp", crl=(self.dead_url, self.url))
        lab.leaf("ldap", crl="ldap://127.0.0.1/cn=crl")
        lab.leaf("nodp")
        self.no_crl_sign = issue(
            d,
            "nocrlsign-ca",
            CertSpec("No cRLSign CA", ca=True, key_usage=CA_KEY_USAGE_NO_CRL),
            lab.root,
        )
        lab.leaf("nocrlsign", crl=lab.http.url("/nocrlsign.crl"), issuer=self.no_crl_sign)
        lab.database.write()
        self.crl = lab.database.gencrl(d / "intermediate.crl.pem")
        self.short_crl = lab.database.gencrl(d / "short.crl.pem", hours=1)

    @property
    def issuer(self) -> Issued:
        return self.lab.intermediate

    def serve(self, body: bytes | x509.CertificateRevocationList, path: str = "/crl") -> None:
        if isinstance(body, x509.CertificateRevocationList):
            body = body.public_bytes(DER)
        self.lab.http.routes[path] = Route(body=body, content_type="application/pkix-crl")

    def check(
        self,
        name: str,
        policy: str = "hard-fail",
        at: dt.datetime | None = None,
        issuer: Issued | None = None,
        **options: object,
    ) -> RevocationStatus:
        checker = RevocationChecker(policy, **options)
        issuer_cert = (issuer or self.issuer).cert
        return checker.check(self.lab.leaves[name].cert, issuer_cert, at or now())

    def fails(self, name: str, reason: Reason, *fragments: str, **kw: object) -> str:
        cert = self.lab.leaves[name].cert
        return assert_rejects(lambda: self.check(name, **kw), cert, reason, *fragments)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrlLab]:
    with open_lab(Path(tmp_path_factory.mktemp("crl-lab"))) as lab:
        yield CrlLab(lab)


# --------------------------------------------------------------------------- fetched CRLs


@pytest.mark.parametrize("encoding", [DER, PEM], ids=["der", "pem"])
def test_good_from_distribution_point(env: CrlLab, encoding: serialization.Encoding) -> None:
    env.serve(env.crl.public_bytes(encoding))
    status = env.check("good")
    assert (status.status, status.source) == ("good", "crl")
    assert env.url in status.detail


@pytest.mark.parametrize("encoding", [DER, PEM], ids=["der", "pem"])
@pytest.mark.parametrize("policy", ["soft-fail", "hard-fail"])
def test_revoked_from_distribution_point(
    env: CrlLab, encoding: serialization.Encoding, policy: str
) -> None:
    env.serve(env.crl.public_bytes(encoding))
    env.fails(
        "revoked",
        Reason.revoked,
        f"CRL {env.url}",
        "keyCompromise",
        REVOKED_AT.strftime("%Y-%m-%d %H:%M:%S"),
        policy=policy,
    )


def test_expired_crl(env: CrlLab) -> None:
    env.serve(env.short_crl)
    later = now() + dt.timedelta(hours=3)
    env.fails("good", Reason.revocation_unknown, f"CRL {env.url} is expired: nextUpdate", at=later)
    status = env.check("good", "soft-fail", at=later)
    assert status.status == "unknown"
    assert "is expired" in status.detail


def test_crl_signed_by_wrong_key(env: CrlLab) -> None:
    env.serve(build_crl(env.issuer.cert.subject, new_key()))
    env.fails(
        "good",
        Reason.revocation_unknown,
        f"CRL {env.url}",
        "has a signature that does not verify with the key of",
        "Test Intermediate CA",
    )


def test_crl_from_another_issuer(env: CrlLab) -> None:
    env.serve(build_crl(env.lab.root.cert.subject, env.lab.root.key))
    env.fails("good", Reason.revocation_unknown, f"CRL {env.url} is issued by 'CN=Test Root CA")


def test_issuer_without_crl_sign_is_not_trusted(env: CrlLab) -> None:
    ca = env.no_crl_sign
    env.serve(build_crl(ca.cert.subject, ca.key), "/nocrlsign.crl")
    env.fails(
        "nocrlsign", Reason.revocation_unknown, "cannot be trusted", "lacks cRLSign", issuer=ca
    )


def test_not_a_crl(env: CrlLab) -> None:
    env.serve(b"-----BEGIN X509 CRL-----\nnope\n-----END X509 CRL-----\n")
    env.fails("good", Reason.revocation_unknown, f"CRL {env.url} is not a valid CRL")


def test_http_404(env: CrlLab) -> None:
    env.lab.http.routes.pop("/crl", None)
    env.fails("good", Reason.revocation_unknown, f"CRL {env.url} answered HTTP 404")


def test_oversized_crl(env: CrlLab) -> None:
    env.serve(env.crl)
    env.fails(
        "good",
        Reason.revocation_unknown,
        "sent a response larger than 100 bytes",
        max_response_bytes=100,
    )


def test_second_distribution_point_used_when_first_is_down(env: CrlLab) -> None:
    env.serve(env.crl)
    status = env.check("twodp")
    assert (status.status, status.source) == ("good", "crl")


def test_second_distribution_point_failure_lists_both(env: CrlLab) -> None:
    env.serve(env.short_crl)
    env.fails(
        "twodp",
        Reason.revocation_unknown,
        f"CRL {env.dead_url} unreachable (connection refused)",
        f"CRL {env.url} is expired",
        at=now() + dt.timedelta(hours=3),
    )


def test_crl_used_when_ocsp_responder_is_down(env: CrlLab) -> None:
    env.serve(env.crl)
    status = env.check("down")
    assert (status.status, status.source) == ("good", "crl")


def test_non_http_distribution_point(env: CrlLab) -> None:
    env.fails("ldap", Reason.revocation_unknown, "CRL ldap://127.0.0.1/cn=crl is not an http://")


def test_fetched_crl_is_cached(env: CrlLab) -> None:
    env.serve(env.crl)
    before = env.lab.http.hits["/crl"]
    checker = RevocationChecker("hard-fail")
    for name in ("good", "good", "twodp"):
        checker.check(env.lab.leaves[name].cert, env.issuer.cert, now())
    assert env.lab.http.hits["/crl"] == before + 1
    with pytest.raises(CertificateVerificationError):  # same cached CRL, other serial
        checker.check(env.lab.leaves["revoked"].cert, env.issuer.cert, now())
    assert env.lab.http.hits["/crl"] == before + 1


# --------------------------------------------------------------------------- CRL contents


def _crl(env: CrlLab, **kw: object) -> x509.CertificateRevocationList:
    return build_crl(env.issuer.cert.subject, env.issuer.key, **kw)


def test_certificate_hold_counts_as_revoked(env: CrlLab) -> None:
    serial = env.lab.leaves["good"].cert.serial_number
    env.serve(_crl(env, revoked=[(serial, REVOKED_AT, x509.ReasonFlags.certificate_hold)]))
    env.fails("good", Reason.revoked, "certificateHold", env.url)


def test_delta_crl_is_not_used(env: CrlLab) -> None:
    env.serve(_crl(env, extensions=[(x509.DeltaCRLIndicator(1), True)]))
    env.fails("good", Reason.revocation_unknown, "is a delta CRL, which is not supported")


@pytest.mark.parametrize("extensions", [[], [(x509.CRLNumber(7), True)]],
                         ids=["missing", "critical"])
def test_crl_without_a_conforming_crl_number_is_still_evidence(
    env: CrlLab, extensions: list[tuple[x509.ExtensionType, bool]]
) -> None:
    """RFC 5280 5.2.3 asks CRL issuers for a non-critical cRLNumber; a CRL without one (as
    `openssl ca -gencrl` makes without a crlnumber file) or with a critical one is still
    the issuer's signed word, as OpenSSL takes it: its "revoked" entry revokes, under
    soft-fail too (refusing it would let the certificate pass), and it answers "good" for
    a certificate it does not list."""
    listed = _crl(env, crl_number=None, extensions=extensions,
                  revoked=[(env.lab.leaves[name].cert.serial_number, REVOKED_AT,
                            x509.ReasonFlags.key_compromise) for name in ("good", "nodp")])
    env.serve(listed)
    env.fails("good", Reason.revoked, "keyCompromise", env.url)
    env.fails("good", Reason.revoked, "keyCompromise", env.url, policy="soft-fail")
    env.fails("nodp", Reason.revoked, "keyCompromise", crls=[listed])
    env.serve(_crl(env, crl_number=None, extensions=extensions))
    assert env.check("good").status == "good"


def test_unknown_critical_crl_extension(env: CrlLab) -> None:
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.2"), b"\x05\x00")
    env.serve(_crl(env, extensions=[(odd, True)]))
    env.fails(
        "good", Reason.revocation_unknown, "unsupported critical extension 1.3.6.1.4.1.55555.2"
    )


def _idp(**kw: object) -> x509.IssuingDistributionPoint:
    fields: dict[str, object] = {
        "full_name": None,
        "relative_name": None,
        "only_contains_user_certs": False,
        "only_contains_ca_certs": False,
        "only_some_reasons": None,
        "indirect_crl": False,
        "only_contains_attribute_certs": False,
    }
    fields.update(kw)
    return x509.IssuingDistributionPoint(**fields)


def test_crl_only_for_ca_certificates_does_not_cover_leaf(env: CrlLab) -> None:
    env.serve(_crl(env, extensions=[(_idp(only_contains_ca_certs=True), True)]))
    env.fails("good", Reason.revocation_unknown, f"CRL {env.url} covers only CA certificates")


def test_indirect_crl_is_not_used(env: CrlLab) -> None:
    env.serve(_crl(env, extensions=[(_idp(indirect_crl=True), True)]))
    env.fails("good", Reason.revocation_unknown, "is an indirect CRL")


@pytest.mark.parametrize(("idp", "words"), [
    (_idp(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise})),
     "covers only some revocation reasons, which is not supported"),
    (_idp(relative_name=x509.RelativeDistinguishedName(
        [x509.NameAttribute(x509.NameOID.COMMON_NAME, "CRL1")])),
     "names its distribution point relatively, which is not supported"),
], ids=["only-some-reasons", "relative-name"])
def test_a_partial_or_relatively_named_crl_is_not_used(
        env: CrlLab, idp: x509.IssuingDistributionPoint, words: str) -> None:
    """RFC 5280 5.2.5: a CRL for some reasons only cannot say a certificate is good, and
    a distribution point named relative to the issuer is not matched here: neither is
    evidence, and hard-fail says which."""
    env.serve(_crl(env, extensions=[(idp, True)]))
    env.fails("good", Reason.revocation_unknown, words, env.url)


@pytest.mark.parametrize(("reasons", "crl_issuer"), [
    (frozenset({x509.ReasonFlags.key_compromise}), None),
    (None, [x509.DirectoryName(x509.Name([
        x509.NameAttribute(x509.NameOID.COMMON_NAME, "Another CRL Issuer")]))]),
], ids=["reasons", "crl-issuer"])
def test_a_reason_partitioned_or_indirect_distribution_point_is_skipped(
        env: CrlLab, reasons: frozenset[x509.ReasonFlags] | None,
        crl_issuer: list[x509.GeneralName] | None) -> None:
    """A certificate's cRLDistributionPoints entry for some reasons only, or naming another
    CRL issuer, leads to a CRL that cannot prove it good: skipped, and said so."""
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(env.url)], None,
                                   reasons, crl_issuer)
    key = new_key()
    issuer = env.issuer
    cert = (x509.CertificateBuilder().subject_name(x509.Name([
                x509.NameAttribute(x509.NameOID.COMMON_NAME, "partitioned.test")]))
            .issuer_name(issuer.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now() - dt.timedelta(days=1))
            .not_valid_after(now() + dt.timedelta(days=1))
            .add_extension(x509.CRLDistributionPoints([point]), critical=False)
            .sign(issuer.key, hashes.SHA256()))
    env.serve(env.crl)
    assert_rejects(lambda: RevocationChecker("hard-fail").check(cert, issuer.cert, now()),
                   cert, Reason.revocation_unknown,
                   "a CRL distribution point is indirect or reason-partitioned (not supported)")


def test_crl_only_for_end_entities_does_not_cover_a_ca(env: CrlLab) -> None:
    """onlyContainsUserCerts: such a CRL says nothing about the intermediate it is
    checked for (its issuer's, the root's, configured here)."""
    lab = env.lab
    user_only = build_crl(lab.root.cert.subject, lab.root.key,
                          extensions=[(_idp(only_contains_user_certs=True), True)])
    checker = RevocationChecker("hard-fail", crls=[user_only])
    assert_rejects(lambda: checker.check(lab.intermediate.cert, lab.root.cert, now()),
                   lab.intermediate.cert, Reason.revocation_unknown,
                   "covers only end-entity certificates")
    full = build_crl(lab.root.cert.subject, lab.root.key)
    assert RevocationChecker("hard-fail", crls=[full]).check(
        lab.intermediate.cert, lab.root.cert, now()).status == "good"


def test_issuing_distribution_point_must_match(env: CrlLab) -> None:
    matching = _idp(full_name=[x509.UniformResourceIdentifier(env.url)])
    env.serve(_crl(env, extensions=[(matching, True)]))
    assert env.check("good").status == "good"
    other = _idp(full_name=[x509.UniformResourceIdentifier("http://elsewhere.test/x.crl")])
    env.serve(_crl(env, extensions=[(other, True)]))
    env.fails("good", Reason.revocation_unknown, "issuing distribution point that does not match")


# --------------------------------------------------------------------------- configured CRLs


def test_configured_crl_good_without_network(env: CrlLab) -> None:
    status = env.check("nodp", crls=[env.crl])
    assert (status.status, status.source) == ("good", "crl")
    assert "configured CRL" in status.detail


def test_configured_crl_revoked_without_network(env: CrlLab) -> None:
    before = env.lab.http.hits["/crl"]
    env.fails(
        "revoked",
        Reason.revoked,
        "the configured CRL from 'CN=Test Intermediate CA",
        "keyCompromise",
        crls=[env.crl],
        policy="soft-fail",
    )
    assert env.lab.http.hits["/crl"] == before


def test_configured_crl_is_tried_before_ocsp(env: CrlLab) -> None:
    """The 'down' leaf has a dead OCSP responder; the configured CRL answers first."""
    status = env.check("down", crls=[env.crl], fetch_crls=False)
    assert (status.status, status.source) == ("good", "crl")


def test_configured_crl_from_other_issuer_is_ignored(env: CrlLab) -> None:
    root_crl = build_crl(env.lab.root.cert.subject, env.lab.root.key)
    env.fails(
        "nodp",
        Reason.revocation_unknown,
        "no configured CRL is issued by 'CN=Test Intermediate CA",
        crls=[root_crl],
    )


def test_stale_configured_crl_falls_back_to_distribution_point(env: CrlLab) -> None:
    later = now() + dt.timedelta(hours=3)
    fresh = _crl(env, this_update=now(), next_update=now() + dt.timedelta(days=2))
    env.serve(fresh)
    status = env.check("good", crls=[env.short_crl], at=later)
    assert (status.status, status.source) == ("good", "crl")
    assert env.url in status.detail


def test_stale_configured_crl_alone_is_reported(env: CrlLab) -> None:
    env.fails(
        "nodp",
        Reason.revocation_unknown,
        "configured CRL from 'CN=Test Intermediate CA",
        "is expired",
        crls=[env.short_crl],
        at=now() + dt.timedelta(hours=3),
    )


def _crl_without_next_update(env: CrlLab, **kw: object) -> x509.CertificateRevocationList:
    return without_next_update(_crl(env, **kw), env.issuer.key)


def test_configured_crl_without_next_update_is_current(env: CrlLab) -> None:
    """OpenSSL's ``verify -crl_check`` uses a CRL with no nextUpdate, however old its
    thisUpdate (test_openssl_interop runs the binary): by default so does tlskit."""
    old = now() - dt.timedelta(days=400)
    serial = env.lab.leaves["revoked"].cert.serial_number
    crl = _crl_without_next_update(env, this_update=old,
                                   revoked=[(serial, REVOKED_AT, x509.ReasonFlags.key_compromise)])
    status = env.check("nodp", crls=[crl], fetch_crls=False, ocsp=False)
    assert (status.status, status.source) == ("good", "crl")
    assert "no nextUpdate" in status.detail
    assert old.strftime("%Y-%m-%d %H:%M:%S") in status.detail
    env.fails("revoked", Reason.revoked, "keyCompromise", "configured CRL",
              crls=[crl], fetch_crls=False, ocsp=False)


def test_cabf_profile_refuses_configured_crl_without_next_update(env: CrlLab) -> None:
    crl = _crl_without_next_update(env)
    message = env.fails("nodp", Reason.revocation_unknown, "configured CRL from",
                        "has no nextUpdate, which profile \"cabf\" requires",
                        "ask its issuer for a CRL with a nextUpdate, or use the default profile",
                        crls=[crl], fetch_crls=False, ocsp=False, profile="cabf")
    assert "RFC 5280 section 5.1.2.5" in message
    status = env.check("nodp", "soft-fail", crls=[crl], fetch_crls=False, ocsp=False,
                       profile="cabf")
    assert status.status == "unknown"
    assert "has no nextUpdate" in status.detail


def test_fetched_crl_without_next_update_is_used_and_fetched_again(env: CrlLab) -> None:
    """Used as OpenSSL uses it, but never cached: with no nextUpdate there is no time to
    keep it until, so each check takes the distribution point's current CRL."""
    env.serve(_crl_without_next_update(env))
    checker = RevocationChecker("hard-fail", ocsp=False)
    before = env.lab.http.hits["/crl"]
    for _ in range(2):
        status = checker.check(env.lab.leaves["good"].cert, env.issuer.cert, now())
        assert (status.status, status.source) == ("good", "crl")
        assert "no nextUpdate" in status.detail
    assert env.lab.http.hits["/crl"] == before + 2
    serial = env.lab.leaves["good"].cert.serial_number
    env.serve(_crl_without_next_update(env, revoked=[(serial, REVOKED_AT, None)]))
    with pytest.raises(CertificateVerificationError) as err:
        checker.check(env.lab.leaves["good"].cert, env.issuer.cert, now())
    assert err.value.reason is Reason.revoked


def test_cabf_profile_refuses_fetched_crl_without_next_update(env: CrlLab) -> None:
    env.serve(_crl_without_next_update(env))
    env.fails("good", Reason.revocation_unknown, f"CRL {env.url} has no nextUpdate",
              "or use the default profile", profile="cabf", ocsp=False)


def test_configured_crl_with_bad_signature(env: CrlLab) -> None:
    forged = build_crl(env.issuer.cert.subject, new_key())
    env.fails("nodp", Reason.revocation_unknown, "configured CRL", "does not verify", crls=[forged])


def test_revoked_in_any_valid_configured_crl_wins(env: CrlLab) -> None:
    serial = env.lab.leaves["nodp"].cert.serial_number
    listing = _crl(env, revoked=[(serial, REVOKED_AT, x509.ReasonFlags.superseded)])
    env.fails("nodp", Reason.revoked, "superseded", crls=[env.crl, listing])


def test_large_crl(env: CrlLab) -> None:
    """Thousands of entries: still fetched, parsed and searched quickly."""
    serial = env.lab.leaves["good"].cert.serial_number
    entries = [(n, REVOKED_AT, None) for n in range(1, 4000)] + [(serial, REVOKED_AT, None)]
    env.serve(_crl(env, revoked=entries))
    env.fails("good", Reason.revoked, "reason: unspecified")


def _crl_with_entry_extension(
    env: CrlLab, extension: x509.ExtensionType, critical: bool, serial: int | None = None
) -> x509.CertificateRevocationList:
    """A CRL with one entry carrying ``extension``: for the "good" leaf, or ``serial``."""
    if serial is None:
        serial = env.lab.leaves["good"].cert.serial_number
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(serial)
        .revocation_date(REVOKED_AT)
        .add_extension(extension, critical=critical)
        .build()
    )
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(env.issuer.cert.subject)
        .last_update(now() - dt.timedelta(minutes=1))
        .next_update(now() + dt.timedelta(days=1))
        .add_revoked_certificate(entry)
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(env.issuer.key, hashes.SHA256())
    )


def test_critical_invalidity_date_entry_is_understood(env: CrlLab) -> None:
    env.serve(_crl_with_entry_extension(env, x509.InvalidityDate(REVOKED_AT), critical=True))
    env.fails("good", Reason.revoked, env.url)


def test_critical_certificate_issuer_entry_is_not_supported(env: CrlLab) -> None:
    other = x509.CertificateIssuer([x509.DNSName("other.test")])
    env.serve(_crl_with_entry_extension(env, other, critical=True))
    env.fails("good", Reason.revocation_unknown, "unsupported critical entry extension")


def test_critical_unknown_entry_extension_on_another_entry_voids_the_crl(env: CrlLab) -> None:
    """RFC 5280 5.3: a critical entry extension we cannot process makes the CRL unusable for
    every certificate, not only the one it is on: it cannot vouch for "good" either."""
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.3"), b"\x05\x00")
    bad = _crl_with_entry_extension(env, odd, critical=True, serial=0x7E57)
    words = ("has an unsupported critical entry extension 1.3.6.1.4.1.55555.3 (in the entry for "
             "serial 0x7e57), so RFC 5280 5.3 forbids using it for any certificate")
    env.serve(bad)
    env.fails("good", Reason.revocation_unknown, f"CRL {env.url} {words}")
    issuer = env.issuer.cert.subject.rfc4514_string()
    env.fails("nodp", Reason.revocation_unknown, f"configured CRL from '{issuer}' {words}",
              crls=[bad])


def test_a_redirected_distribution_point_is_followed(env: CrlLab) -> None:
    """A CRL moved behind an http:// redirect is used, as OpenSSL's CRL download does; a
    redirect to https:// is not followed and says so."""
    moved = env.lab.http.url("/moved.crl")
    env.lab.leaf("moved", crl=moved)
    env.serve(_crl(env))
    env.lab.http.routes["/moved.crl"] = Route(status=302, location=env.url)
    status = env.check("moved")
    assert (status.status, status.source) == ("good", "crl")
    assert moved in status.detail
    env.lab.http.routes["/moved.crl"] = Route(status=301, location="https://127.0.0.1/x.crl")
    env.fails("moved", Reason.revocation_unknown,
              f"CRL {moved} redirects to https://127.0.0.1/x.crl, which is not an http:// URL")
