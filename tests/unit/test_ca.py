"""tlskit.ca: issued certificates, revocation, CRL and OCSP, checked with cryptography and
with the real `openssl` binary (which knows nothing of our code)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import re
import shutil
import stat
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, OCSPExtensionOID

from tlskit import _ocsp_der
from tlskit.ca import CAError, Issued, KeyType, LocalCA, default_directory
from tlskit.x509 import lint_chain

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.interop  # openssl is required: CI installs it
assert OPENSSL is not None, "the openssl binary is required (bash .ci/install-test-deps.sh)"
NOW = dt.datetime(2030, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
ALL_KEY_TYPES = [k.value for k in KeyType]


def fixed(when: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: when


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def verify_signature(cert: x509.Certificate, data: bytes, signature: bytes, algo) -> None:
    """Check a signature made by ``cert``'s key, whatever its type (raises if bad)."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(algo))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), algo)
    else:
        assert isinstance(key, ed25519.Ed25519PublicKey)
        key.verify(signature, data)


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    """One in-memory CA for tests that only issue (revocation tests make their own)."""
    return LocalCA.create(None, clock=fixed(NOW))


@pytest.fixture
def disk_ca(tmp_path: Path) -> LocalCA:
    return LocalCA.create(tmp_path / "ca")


def ocsp_request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    nonce: bytes | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


# --------------------------------------------------------------------------- hierarchy


def test_root_and_intermediate_shape(ca: LocalCA) -> None:
    root, inter = ca.root, ca.intermediate
    assert root.subject == root.issuer
    root.verify_directly_issued_by(root)
    inter.verify_directly_issued_by(root)
    assert inter.subject != root.subject
    root_bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    inter_bc = inter.extensions.get_extension_for_class(x509.BasicConstraints)
    assert root_bc.critical and root_bc.value.ca
    assert inter_bc.critical and inter_bc.value.ca and inter_bc.value.path_length == 0
    usage = inter.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert root.not_valid_after_utc - NOW >= dt.timedelta(days=3650)
    assert ca.export_root_pem() == pem(root)
    aki = inter.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest


@pytest.mark.parametrize("key_type", ALL_KEY_TYPES)
def test_issue_server_each_key_type(ca: LocalCA, key_type: str) -> None:
    issued = ca.issue_server(["localhost", "127.0.0.1", "::1"], key_type=key_type, days=30)
    leaf = issued.certificate
    assert issued.chain == [leaf, ca.intermediate]
    leaf.verify_directly_issued_by(ca.intermediate)
    assert leaf.public_key() == issued.private_key.public_key()
    assert 2**120 <= leaf.serial_number < 2**127  # 16 octets, positive

    ext = leaf.extensions
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    assert ku.value.key_encipherment == (key_type == "rsa2048")
    eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(leaf.public_key())
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    inter_ski = ca.intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == inter_ski.value.digest
    assert leaf.not_valid_before_utc == NOW - dt.timedelta(hours=1)
    assert leaf.not_valid_after_utc == NOW + dt.timedelta(days=30)


def test_names_idna_wildcard_and_urls(ca: LocalCA) -> None:
    leaf = ca.issue_server(
        ["bücher.example", "*.Example.COM"],
        ocsp_url="http://127.0.0.1:9/ocsp",
        crl_url="http://127.0.0.1:9/crl.pem",
    ).certificate
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["xn--bcher-kva.example", "*.example.com"]
    aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == ["http://127.0.0.1:9/ocsp"]
    cdp = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name == [x509.UniformResourceIdentifier("http://127.0.0.1:9/crl.pem")]


@pytest.mark.parametrize(("typed", "common_name"), [
    ("Bücher.Example.", "xn--bcher-kva.example"),
    ("0:0::1", "::1"),
])
def test_common_name_is_the_san_entry_not_the_name_as_typed(
    ca: LocalCA, typed: str, common_name: str
) -> None:
    """CA/B BR 7.1.4.3, as tlskit's own lint checks it: before, the CN was the name as
    typed (U-label, capitals, trailing dot, uncompressed IPv6), matching no SAN entry."""
    issued = ca.issue_server([typed])
    cn = issued.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0]
    assert cn.value == common_name
    assert lint_chain([*issued.chain, ca.root]) == []


def test_issue_client(ca: LocalCA) -> None:
    leaf = ca.issue_client("alice", key_type="ed25519").certificate
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    cn = leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "alice"


def test_bad_input_is_rejected(ca: LocalCA) -> None:
    with pytest.raises(CAError, match="key type"):
        ca.issue_server(["localhost"], key_type="dsa1024")
    with pytest.raises(CAError, match="days"):
        ca.issue_server(["localhost"], days=0)
    with pytest.raises(CAError):
        ca.issue_server([])
    with pytest.raises(CAError, match="outlive"):
        ca.issue_server(["localhost"], days=100 * 365)


@pytest.mark.parametrize(("name", "reason"), [
    ("*.*.example.com", "a wildcard must be the whole leftmost label"),
    ("a*.example.com", "a wildcard must be the whole leftmost label"),
    ("*.com", "followed by at least two labels"),
    ("300.1.1.1", "not a valid IP address, and a host name cannot end in a numeric label"),
    ("-dash.example", "labels are letters, digits, hyphens (not first or last)"),
    ("a..b", "invalid host name 'a..b'"),
])
def test_names_no_client_would_match_are_refused(ca: LocalCA, name: str, reason: str) -> None:
    """The verifier (and browsers) would never match these: refuse to issue them, and say
    why, rather than hand out a certificate that cannot work."""
    with pytest.raises(CAError, match=re.escape(reason)):
        ca.issue_server([name])


def test_expired_certificate_via_clock() -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
    old_ca = LocalCA.create(None, clock=fixed(past))
    leaf = old_ca.issue_server(["localhost"], days=30).certificate
    assert leaf.not_valid_after_utc < dt.datetime.now(dt.UTC)
    assert leaf.not_valid_before_utc == past.replace(microsecond=0) - dt.timedelta(hours=1)


def test_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        LocalCA.create(None, clock=lambda: dt.datetime(2030, 1, 1))


def test_each_ca_gets_fresh_keys() -> None:
    a, b = LocalCA.create(None), LocalCA.create(None)
    assert a.root.public_key() != b.root.public_key()
    assert a.root.subject != b.root.subject


# --------------------------------------------------------------------------- files


def test_files_reach_the_disk_before_their_new_name_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: no fsync, so after a power loss the renamed key or index could be empty.
    Now the data is synced before the rename, and the directory (the rename) after it."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        events.append(("fsync", "dir" if stat.S_ISDIR(info.st_mode) else f"{info.st_size}"))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    from tlskit.ca.files import write_file
    write_file(tmp_path / "key.pem", b"k" * 100, 0o600)
    assert events == [("fsync", "100"), ("replace", "key.pem"), ("fsync", "dir")]


def test_write_files_and_modes(ca: LocalCA, tmp_path: Path) -> None:
    issued = ca.issue_server(["localhost"])
    cert_path, key_path = issued.write(tmp_path / "out")
    assert (cert_path.name, key_path.name) == ("cert.pem", "key.pem")
    assert x509.load_pem_x509_certificates(cert_path.read_bytes()) == issued.chain
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert key.public_key() == issued.private_key.public_key()
    assert b"BEGIN PRIVATE KEY" in key_path.read_bytes()  # PKCS#8, unencrypted
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600

    custom = issued.write(cert_path=tmp_path / "a.pem", key_path=tmp_path / "a-key.pem")
    assert custom == (tmp_path / "a.pem", tmp_path / "a-key.pem")


def test_ca_directory_round_trip(disk_ca: LocalCA) -> None:
    directory = disk_ca.directory
    assert directory is not None
    for name in ("root-key.pem", "intermediate-key.pem"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
    loaded = LocalCA.load(directory)
    assert loaded.root == disk_ca.root and loaded.intermediate == disk_ca.intermediate
    issued = loaded.issue_server(["localhost"])
    issued.certificate.verify_directly_issued_by(disk_ca.intermediate)


def test_create_refuses_to_overwrite(disk_ca: LocalCA) -> None:
    assert disk_ca.directory is not None
    with pytest.raises(CAError, match="already exists"):
        LocalCA.create(disk_ca.directory)
    replaced = LocalCA.create(disk_ca.directory, overwrite=True)
    assert LocalCA.load(disk_ca.directory).root == replaced.root != disk_ca.root


def test_load_errors(tmp_path: Path, disk_ca: LocalCA) -> None:
    with pytest.raises(CAError, match="no CA"):
        LocalCA.load(tmp_path / "nowhere")
    assert disk_ca.directory is not None
    other = LocalCA.create(None)
    key = other.intermediate_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (disk_ca.directory / "intermediate-key.pem").write_bytes(key)
    with pytest.raises(CAError, match="does not match"):
        LocalCA.load(disk_ca.directory)


def test_default_lives_in_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSKIT_STATE_DIR", str(tmp_path / "state"))
    assert default_directory() == tmp_path / "state" / "tlskit" / "ca"
    first = LocalCA.default()
    assert (tmp_path / "state" / "tlskit" / "ca" / "root.pem").is_file()
    assert LocalCA.default().root == first.root

    monkeypatch.delenv("TLSKIT_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == tmp_path / "xdg" / "tlskit" / "ca"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_directory() == tmp_path / "home" / ".local" / "state" / "tlskit" / "ca"


# --------------------------------------------------------------------------- revocation


def test_revoke_is_persisted_across_load(disk_ca: LocalCA) -> None:
    assert disk_ca.directory is not None
    bad = disk_ca.issue_server(["bad.test"])
    good = disk_ca.issue_server(["good.test"])
    revocation = disk_ca.revoke(bad.certificate, reason="superseded")
    assert revocation.reason is x509.ReasonFlags.superseded

    loaded = LocalCA.load(disk_ca.directory)
    assert loaded.status(bad.serial_number) == "revoked"
    assert loaded.status(good.serial_number) == "good"
    assert loaded.status(12345) == "unknown"
    assert [r.serial_number for r in loaded.revocations()] == [bad.serial_number]
    # A second revocation keeps the first one's date and reason.
    again = loaded.revoke(bad.serial_number, reason="keyCompromise")
    assert again == revocation


def test_revoke_rejects_foreign_and_unknown(ca: LocalCA) -> None:
    foreign = LocalCA.create(None).issue_server(["x.test"]).certificate
    with pytest.raises(CAError, match="not issued"):
        ca.revoke(foreign)
    with pytest.raises(CAError, match="not issued"):
        ca.revoke(1)
    issued = ca.issue_server(["x.test"])
    with pytest.raises(CAError, match="reason"):
        ca.revoke(issued.certificate, reason="because")


def test_revocation_seen_by_other_instance(disk_ca: LocalCA) -> None:
    """A running responder (one LocalCA) must see `tlskit ca revoke` (another one)."""
    assert disk_ca.directory is not None
    issued = disk_ca.issue_server(["shared.test"])
    other = LocalCA.load(disk_ca.directory)
    assert other.status(issued.serial_number) == "good"
    disk_ca.revoke(issued.serial_number)
    assert other.status(issued.serial_number) == "revoked"


def test_crl_lists_revoked_and_verifies(disk_ca: LocalCA) -> None:
    revoked = [disk_ca.issue_server([f"r{i}.test"]) for i in range(2)]
    kept = disk_ca.issue_server(["kept.test"])
    disk_ca.revoke(revoked[0].certificate, reason="keyCompromise")
    disk_ca.revoke(revoked[1].serial_number, reason="unspecified")

    crl = disk_ca.crl(days=3)
    assert crl.is_signature_valid(disk_ca.intermediate.public_key())
    assert not crl.is_signature_valid(disk_ca.root.public_key())
    assert crl.issuer == disk_ca.intermediate.subject
    assert {r.serial_number for r in crl} == {i.serial_number for i in revoked}
    assert crl.get_revoked_certificate_by_serial_number(kept.serial_number) is None
    entry = crl.get_revoked_certificate_by_serial_number(revoked[0].serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=3)

    def number(c: x509.CertificateRevocationList) -> int:
        return c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    assert disk_ca.directory is not None
    assert number(LocalCA.load(disk_ca.directory).crl()) == number(crl) + 1


# --------------------------------------------------------------------------- OCSP


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256()], ids=["sha1", "sha256"])
def test_ocsp_response_good_revoked_unknown(ca: LocalCA, algorithm) -> None:
    good = ca.issue_server(["good.test"])
    bad = ca.issue_server(["bad.test"])
    ca.revoke(bad.certificate, reason="cACompromise")
    # Same issuer, a serial never issued: what a forged certificate would carry.
    forged = bad.certificate.serial_number ^ 1
    inter = ca.intermediate
    template = ocsp.load_der_ocsp_request(ocsp_request(good.certificate, inter, None, algorithm))
    unknown_req = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            template.issuer_name_hash, template.issuer_key_hash, forged, algorithm
        )
        .add_extension(x509.OCSPNonce(b"n-unknown"), critical=False)
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    cases = [
        (ocsp_request(good.certificate, inter, b"n-good", algorithm), b"n-good", "GOOD"),
        (ocsp_request(bad.certificate, inter, b"n-bad", algorithm), b"n-bad", "REVOKED"),
        (unknown_req, b"n-unknown", "UNKNOWN"),
    ]
    for request, nonce, expected in cases:
        response = ocsp.load_der_ocsp_response(ca.ocsp_response(request))
        assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
        assert response.certificate_status is getattr(ocsp.OCSPCertStatus, expected)
        assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
        assert response.hash_algorithm.name == algorithm.name
        assert response.responder_key_hash == (
            inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        )
        verify_signature(
            inter,
            response.tbs_response_bytes,
            response.signature,
            response.signature_hash_algorithm,
        )
        if expected == "REVOKED":
            assert response.revocation_reason is x509.ReasonFlags.ca_compromise
            assert response.revocation_time_utc is not None


def test_ocsp_nonce_of_1_to_128_octets(ca: LocalCA) -> None:
    """RFC 9654 2.1: an empty nonce or one over 128 octets is a malformedRequest (before:
    echoed, whatever its length); 1 and 128 octets are echoed. An old client's bare
    octets (no inner OCTET STRING) are measured as they are."""
    good = ca.issue_server(["nonce.test"]).certificate
    for nonce, echoed in ((b"", False), (b"n", True), (b"n" * 128, True), (b"n" * 129, False)):
        response = ocsp.load_der_ocsp_response(
            ca.ocsp_response(ocsp_request(good, ca.intermediate, nonce)))
        if echoed:
            assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
            assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce \
                == nonce
        else:
            assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    bare = ocsp.OCSPRequestBuilder().add_certificate(good, ca.intermediate, hashes.SHA1())
    bare = bare.add_extension(
        x509.UnrecognizedExtension(OCSPExtensionOID.NONCE, b"\x07" * 129), critical=False)
    response = ocsp.load_der_ocsp_response(
        ca.ocsp_response(bare.build().public_bytes(serialization.Encoding.DER)))
    assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_critical_extensions_not_understood_are_refused(ca: LocalCA) -> None:
    """RFC 6960 4.4: an unrecognized extension is ignored unless it is critical. Before,
    critical ones were ignored too, in requestExtensions and singleRequestExtensions."""
    cert = ca.issue_server(["critical.test"]).certificate
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")

    def status(request: bytes) -> ocsp.OCSPResponseStatus:
        return ocsp.load_der_ocsp_response(ca.ocsp_response(request)).response_status

    def with_extension(critical: bool) -> bytes:
        builder = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.intermediate, hashes.SHA1())
        builder = builder.add_extension(x509.OCSPNonce(b"n" * 16), critical=True)
        return builder.add_extension(unknown, critical=critical).build().public_bytes(
            serialization.Encoding.DER)

    assert status(with_extension(False)) is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert status(with_extension(True)) is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    plain = _ocsp_der.parse_request(ocsp_request(cert, ca.intermediate))
    for critical, expected in ((b"", "SUCCESSFUL"), (b"\x01\x01\xff", "MALFORMED_REQUEST")):
        extension = _ocsp_der.tlv(0x30, _ocsp_der.encode_oid("1.2.3.4") + critical
                                  + _ocsp_der.tlv(0x04, b"\x05\x00"))
        single = _ocsp_der.tlv(0x30, plain.cert_ids[0].raw
                               + _ocsp_der.tlv(0xA0, _ocsp_der.tlv(0x30, extension)))
        request = _ocsp_der.tlv(0x30, _ocsp_der.tlv(0x30, _ocsp_der.tlv(0x30, single)))
        assert status(request) is getattr(ocsp.OCSPResponseStatus, expected)


def test_ocsp_without_nonce_and_error_statuses(ca: LocalCA) -> None:
    good = ca.issue_server(["good.test"])
    plain = ocsp.load_der_ocsp_response(
        ca.ocsp_response(ocsp_request(good.certificate, ca.intermediate))
    )
    assert plain.certificate_status is ocsp.OCSPCertStatus.GOOD
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.OCSPNonce)

    other = LocalCA.create(None)
    foreign = other.issue_server(["x.test"]).certificate
    denied = ca.ocsp_response(ocsp_request(foreign, other.intermediate, b"nonce"))
    status = ocsp.load_der_ocsp_response(denied).response_status
    assert status is ocsp.OCSPResponseStatus.UNAUTHORIZED
    # The root is not the issuer of leaves: asking "root issued this?" is another issuer.
    denied = ca.ocsp_response(ocsp_request(good.certificate, ca.root))
    status = ocsp.load_der_ocsp_response(denied).response_status
    assert status is ocsp.OCSPResponseStatus.UNAUTHORIZED

    garbage = ocsp.load_der_ocsp_response(ca.ocsp_response(b"\x30\x03\x02\x01\x00"))
    assert garbage.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_serve_ocsp_post_and_get(ca: LocalCA) -> None:
    issued = ca.issue_server(["served.test"])
    request = ocsp_request(issued.certificate, ca.intermediate, b"over-http")
    lines: list[str] = []
    with ca.serve_ocsp(port=0, log=lines.append) as responder:
        assert responder.port > 0
        assert responder.url == f"http://127.0.0.1:{responder.port}"
        post = urllib.request.Request(
            responder.url,
            data=request,
            headers={"Content-Type": "application/ocsp-request"},
        )
        with urllib.request.urlopen(post, timeout=10) as reply:
            assert reply.headers["Content-Type"] == "application/ocsp-response"
            by_post = ocsp.load_der_ocsp_response(reply.read())
        encoded = urllib.parse.quote(base64.b64encode(request).decode(), safe="")
        with urllib.request.urlopen(f"{responder.url}/{encoded}", timeout=10) as reply:
            by_get = ocsp.load_der_ocsp_response(reply.read())
        # A certificate's OCSP URL may carry a path of its own: GET <url>/ocsp/<request>.
        with urllib.request.urlopen(f"{responder.url}/ocsp/{encoded}", timeout=10) as reply:
            by_get_prefixed = ocsp.load_der_ocsp_response(reply.read())
        with urllib.request.urlopen(f"{responder.url}/%%%", timeout=10) as reply:
            junk = ocsp.load_der_ocsp_response(reply.read())
    for response in (by_post, by_get, by_get_prefixed):
        assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert response.serial_number == issued.serial_number
    assert junk.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert any("POST" in line and "good" in line for line in lines)
    responder.close()  # idempotent


# --------------------------------------------------------------------------- openssl


def run_openssl(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, *map(str, args)], capture_output=True, text=True, timeout=30, check=False
    )


def write_chain(directory: Path, ca: LocalCA, issued: Issued) -> tuple[Path, Path, Path]:
    """root.pem, intermediate.pem and leaf.pem, each one certificate, as openssl wants."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "root.pem", directory / "intermediate.pem", directory / "leaf.pem"
    for path, cert in zip(paths, (ca.root, ca.intermediate, issued.certificate)):
        path.write_bytes(pem(cert))
    return paths


@needs_openssl
@pytest.mark.parametrize("key_type", ALL_KEY_TYPES)
def test_openssl_verifies_each_leaf_key_type(key_type: str, tmp_path: Path) -> None:
    live_ca = LocalCA.create(None)
    issued = live_ca.issue_server(["localhost", "127.0.0.1"], key_type=key_type)
    root, inter, leaf = write_chain(tmp_path, live_ca, issued)
    result = run_openssl(
        "verify", "-purpose", "sslserver", "-CAfile", root, "-untrusted", inter, leaf
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{leaf}: OK" in result.stdout


@needs_openssl
@pytest.mark.parametrize("key_type", ["ec384", "rsa2048", "ed25519"])
def test_openssl_verifies_each_ca_key_type(key_type: str, tmp_path: Path) -> None:
    typed_ca = LocalCA.create(None, key_type=key_type)
    client = typed_ca.issue_client("alice", key_type=key_type)
    root, inter, leaf = write_chain(tmp_path, typed_ca, client)
    result = run_openssl(
        "verify", "-purpose", "sslclient", "-CAfile", root, "-untrusted", inter, leaf
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_openssl
def test_openssl_rejects_expired(tmp_path: Path) -> None:
    old_ca = LocalCA.create(None, clock=fixed(dt.datetime.now(dt.UTC) - dt.timedelta(days=60)))
    root, inter, leaf = write_chain(tmp_path, old_ca, old_ca.issue_server(["x.test"], days=7))
    result = run_openssl("verify", "-CAfile", root, "-untrusted", inter, leaf)
    assert result.returncode != 0
    assert "expired" in result.stdout + result.stderr


@needs_openssl
def test_openssl_crl_check_sees_revocation(disk_ca: LocalCA, tmp_path: Path) -> None:
    bad = disk_ca.issue_server(["bad.test"])
    good = disk_ca.issue_server(["good.test"])
    disk_ca.revoke(bad.certificate)
    crl_path = tmp_path / "crl.pem"
    crl_path.write_bytes(disk_ca.crl().public_bytes(serialization.Encoding.PEM))

    root, inter, leaf = write_chain(tmp_path / "bad", disk_ca, bad)
    result = run_openssl(
        "verify", "-crl_check", "-CRLfile", crl_path, "-CAfile", root, "-untrusted", inter, leaf
    )
    assert result.returncode != 0
    assert "certificate revoked" in result.stdout + result.stderr

    root, inter, leaf = write_chain(tmp_path / "good", disk_ca, good)
    result = run_openssl(
        "verify", "-crl_check", "-CRLfile", crl_path, "-CAfile", root, "-untrusted", inter, leaf
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_openssl
@pytest.mark.interop
def test_openssl_ocsp_against_responder(disk_ca: LocalCA, tmp_path: Path) -> None:
    good = disk_ca.issue_server(["good.test"])
    bad = disk_ca.issue_server(["bad.test"])
    with disk_ca.serve_ocsp(port=0) as responder:
        # Revoke through another instance, as `tlskit ca revoke` would while it runs.
        assert disk_ca.directory is not None
        LocalCA.load(disk_ca.directory).revoke(bad.serial_number, reason="keyCompromise")
        for name, issued, expected in (("good", good, "good"), ("bad", bad, "revoked")):
            root, inter, leaf = write_chain(tmp_path / name, disk_ca, issued)
            result = run_openssl(
                "ocsp", "-issuer", inter, "-cert", leaf, "-url", responder.url,
                "-CAfile", root, "-resp_text",
            )  # fmt: skip
            output = result.stdout + result.stderr
            assert result.returncode == 0, output
            assert f"{leaf}: {expected}" in output
            assert "Response verify OK" in output
            assert "OCSP Nonce" in output  # echoed: openssl would warn "no nonce in response"
            assert "no nonce" not in output.lower()
        assert "Reason: keyCompromise" in output
