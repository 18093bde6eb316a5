"""Property tests for the decoders that had a fuzz harness but no hypothesis test, or
neither (see the table in fuzz/README.md): each either returns a value that round-trips
or obeys its invariants, or raises only its documented exception.

Session state, the CA index, certificate decompression, the compat ClientHello sniffer,
the OCSP singleExtensions reader, the PEM/DER file readers, and arbitrary bytes to every
handshake message and extension decoder.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit import _ocsp_der, crypto
from tlskit.ca import LocalCA
from tlskit.ca.index import Record, dump_index, load_index
from tlskit.ca.model import CAError, Revocation
from tlskit.cli.trace import split_records
from tlskit.cli.verify import InputError, load_certificates, load_crls
from tlskit.compat.context import SSLContext
from tlskit.compat.hello import HelloBuffer
from tlskit.config import load_pem_chain, load_pem_private_key
from tlskit.enums import AlertDescription as AD
from tlskit.errors import BadCertificate, TLSError
from tlskit.handshake.common12 import DECODERS12
from tlskit.session import _STATE, TicketSealer, TicketState, decode_state, encode_state
from tlskit.sessionstore import GuardedStore, MemoryStore
from tlskit.wire import certcompress, sct
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m
from tlskit.wire import messages12 as m12
from tlskit.wire.messages import CompressedCertificate
from tlskit.x509.crl import load_crl
from tlskit.x509.evidence import EvidenceError
from tlskit.x509.ocsp import _critical_single_extensions
from tlskit.x509.trust import load_pem_certificates

FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SUITE13 = next(iter(crypto.SUITES.values()))


def _state(**changes: object) -> TicketState:
    fields: dict[str, object] = dict(suite=SUITE13, psk=b"k" * 32, issued_ms=5, lifetime=60,
                                     alpn_protocol="h2", server_name="a.test")
    fields.update(changes)
    return TicketState(**fields)  # type: ignore[arg-type]


# --- session state


def _roundtrips(state: TicketState | None) -> None:
    if state is not None:
        assert decode_state(encode_state(state)) == state


@FAST
@given(st.binary(max_size=200))
def test_any_state_plaintext_decodes_to_a_state_or_none(plain: bytes) -> None:
    _roundtrips(decode_state(plain))


@FAST
@given(st.binary(max_size=120), st.integers(0, 200))
def test_a_valid_header_with_any_tail_decodes_to_a_state_or_none(tail: bytes, cut: int) -> None:
    """Past the header (version, a known suite), so the length-prefixed fields are read."""
    good = encode_state(_state(client_chain=[b"\x30\x00"]))
    _roundtrips(decode_state(good[:_STATE.size] + tail))
    _roundtrips(decode_state(good[:cut]))


@pytest.mark.parametrize("tail", [
    b"\x05",                          # the psk length runs past the end
    b"\x00\x01\xff",                  # an ALPN that is not UTF-8
    b"",                              # no psk length at all
    b"\x00\x00\x00\x00\x00",          # no chain count
    b"\x00\x00\x00\x00\x00\x02",      # a chain count with no certificates
    b"\x00\x00\x00\x00\x00\x00",      # no 0-RTT fields
])
def test_a_malformed_state_is_no_state(tail: bytes) -> None:
    """Regression (fuzz_session): these raised IndexError, UnicodeDecodeError or
    struct.error out of `decode_state`, and so out of `TicketSealer.open`, instead of
    meaning "no resumption, full handshake"."""
    header = encode_state(_state())[:_STATE.size]
    assert decode_state(header + tail) is None


@FAST
@given(st.binary(max_size=255), st.binary(max_size=80))
def test_a_state_with_the_server_end_point_roundtrips(end_point: bytes, tail: bytes) -> None:
    """The tls-server-end-point (RFC 5929 4.1) a session records, empty ("none") too:
    read back as written; cut short or followed by anything, a state or none (never an
    exception)."""
    state = _state(server_end_point=end_point, client_chain=[b"\x30\x00"])
    good = encode_state(state)
    assert decode_state(good) == state
    _roundtrips(decode_state(good[:-1] + tail))


def test_an_empty_end_point_is_not_an_unrecorded_one() -> None:
    """Recorded as none (a raw key's session: flag, length 0) reads back as b"", which
    the server refuses to bind; no flag (a state of the earlier layout) as None, which
    it resolves from its config (`resumed_end_point`); the flag with no length byte is
    not our writing."""
    assert decode_state(encode_state(_state())) == _state()
    assert _state().server_end_point is None
    plain, none = encode_state(_state()), encode_state(_state(server_end_point=b""))
    assert none[1] == plain[1] | 32 and none[2:] == plain[2:] + b"\x00"
    assert decode_state(none) == _state(server_end_point=b"")
    assert decode_state(none[:-1]) is None


def test_trailing_bytes_after_a_state_are_no_state() -> None:
    """`encode_state` writes nothing after the 0-RTT fields: more is not its writing."""
    good = encode_state(_state())
    assert decode_state(good) == _state()
    assert decode_state(good + b"\x00") is None


def test_a_sealed_malformed_state_opens_to_none() -> None:
    """Behind a good tag (a ticket key shared with another writer) too."""
    sealer = TicketSealer(GuardedStore(MemoryStore(fixed_key=bytes(32))), lambda: 1.0)
    header = encode_state(_state())[:_STATE.size]
    sealed = sealer.seal_many([header + b"\x00\x01\xff", encode_state(_state())],
                              [bytes(12), bytes(12)])
    assert sealed is not None
    assert sealer.open(sealed[0]) is None
    assert sealer.open(sealed[1]) == _state()


@FAST
@given(st.binary(max_size=200))
def test_any_ticket_opens_to_a_state_or_none(ticket: bytes) -> None:
    sealer = TicketSealer(GuardedStore(MemoryStore(fixed_key=bytes(32))), lambda: 1.0)
    _roundtrips(sealer.open(ticket))
    _roundtrips(sealer.open(b"\x00" * 8 + ticket))  # the fixed key's id, then anything


# --- the CA index


def _load(tmp_path: Path, raw: bytes) -> tuple[dict[int, Record], int] | None:
    path = tmp_path / "index.json"
    path.write_bytes(raw)
    try:
        return load_index(path)
    except CAError:
        return None


@FAST
@given(st.binary(max_size=200))
def test_any_index_bytes_load_or_are_a_ca_error(tmp_path: Path, raw: bytes) -> None:
    loaded = _load(tmp_path, raw)
    if loaded is not None:
        assert _load(tmp_path, dump_index(*loaded)) == loaded


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@FAST
@given(st.dictionaries(st.sampled_from(["version", "crl_number", "certificates"]), JSON),
       st.dictionaries(st.sampled_from(["1", "ff", "x", ""]),
                       st.dictionaries(st.sampled_from(["kind", "names", "not_after", "revoked"]),
                                       JSON), max_size=2))
def test_any_index_json_loads_or_is_a_ca_error(tmp_path: Path, doc: dict, certs: dict) -> None:
    """JSON of the right shape with wrong values (numbers for dates, NaN, huge numbers)."""
    doc = {**doc, "certificates": certs} if certs else doc
    loaded = _load(tmp_path, json.dumps(doc).encode())
    if loaded is not None:
        assert _load(tmp_path, dump_index(*loaded)) == loaded


@pytest.mark.parametrize("raw", [
    b'{"crl_number": Infinity}',      # int(inf): OverflowError
    b'{"crl_number": -Infinity}',
    b"[" * 100_000,                   # nested past the interpreter's stack: RecursionError
    b'{"certificates": ' * 50_000,
])
def test_a_corrupt_index_is_a_ca_error(tmp_path: Path, raw: bytes) -> None:
    """Regression (fuzz_ca_index): these escaped `load_index` as OverflowError and
    RecursionError instead of "corrupt CA index"."""
    path = tmp_path / "index.json"
    path.write_bytes(raw)
    with pytest.raises(CAError, match="corrupt CA index"):
        load_index(path)


def _entry(serial: str, not_after: str, revoked_at: str | None) -> str:
    revoked = "null" if revoked_at is None else \
        f'{{"reason": "keyCompromise", "at": "{revoked_at}"}}'
    return f'"{serial}": {{"kind": "server", "not_after": "{not_after}", "revoked": {revoked}}}'


@pytest.mark.parametrize("entries", [
    [_entry("0x1", "2030-01-01T00:00:00+00:00", "2020-01-01"),        # no UTC offset,
     _entry("0x2", "2030-01-01T00:00:00+00:00", "2020-01-01T00:00:00+00:00")],  # and one
    [_entry("0x1", "2030-01-01", None)],
    [_entry("0x1", "2030-01-01T00:00:00+00:00", "1900-01-01T00:00:00+00:00")],  # no CRL can
    [_entry("-0x1", "2030-01-01T00:00:00+00:00", "2020-01-01T00:00:00+00:00")],
    [_entry("0x0", "2030-01-01T00:00:00+00:00", None)],
    [_entry("0x" + "f" * 40, "2030-01-01T00:00:00+00:00", None)],               # 21 octets
], ids=["naive-and-aware", "naive-not-after", "revoked-1900", "negative-serial", "serial-0",
        "serial-160-bits"])
def test_an_index_a_ca_cannot_use_is_a_ca_error(tmp_path: Path, entries: list[str]) -> None:
    """Regression (fuzz_ca_index, driving a LocalCA whose index.json is the input): these
    loaded, then `revocations` raised TypeError (naive and aware times sorted together),
    `crl` ValueError (a revocation before 1950, a serial that is not one), and a negative
    serial did not survive a dump and load. Everything tlskit writes has a UTC offset and a
    serial from 1 to 2**159 - 1."""
    ca = LocalCA.create(tmp_path / "ca")
    good = ca.issue_server(["kept.test"])
    ca.revoke(good)
    assert len(ca.revocations()) == 1 and ca.crl()  # what tlskit writes loads back
    (tmp_path / "ca" / "index.json").write_text('{"certificates": {' + ", ".join(entries) + "}}")
    with pytest.raises(CAError, match="corrupt CA index"):
        ca.revocations()
    with pytest.raises(CAError, match="corrupt CA index"):
        ca.crl()


@FAST
@given(st.dictionaries(st.integers(1, 2**159 - 1), st.tuples(
    st.sampled_from(["server", "client"]), st.lists(st.text(max_size=10), max_size=3),
    st.datetimes(min_value=dt.datetime(1950, 1, 1), timezones=st.just(dt.UTC)),
    st.none() | st.sampled_from(list(x509.ReasonFlags))), max_size=4), st.integers(0, 2**64))
def test_an_index_dumped_loads_back(tmp_path: Path, rows: dict, crl_number: int) -> None:
    records = {serial: Record(kind, names, at,  # type: ignore[arg-type]
                              None if reason is None else Revocation(serial, reason, at))
               for serial, (kind, names, at, reason) in rows.items()}
    assert _load(tmp_path, dump_index(records, crl_number)) == (records, crl_number)


# --- certificate compression


@FAST
@given(st.integers(0, 0xFFFF), st.integers(0, 1 << 17), st.binary(max_size=300))
def test_any_compressed_certificate_decompresses_exactly_or_is_bad_certificate(
        algorithm: int, length: int, data: bytes) -> None:
    try:
        body = certcompress.decompress(CompressedCertificate(algorithm, length, data), 1 << 16)
    except BadCertificate:
        return
    assert len(body) == length <= 1 << 16


@FAST
@given(st.sampled_from(sorted(certcompress.ALGORITHMS)), st.binary(min_size=1, max_size=2000),
       st.data())
def test_compression_round_trips_and_a_changed_length_is_refused(
        algorithm: int, body: bytes, data: st.DataObject) -> None:
    msg = certcompress.compress(algorithm, body)
    assert certcompress.decompress(msg, 1 << 16) == body
    wrong = data.draw(st.integers(1, 1 << 16).filter(lambda n: n != len(body)))
    with pytest.raises(BadCertificate):
        certcompress.decompress(CompressedCertificate(algorithm, wrong, msg.compressed), 1 << 16)


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # RFC 8878 3.1.1: past it, random bytes reach the frame


@FAST
@given(st.sampled_from(sorted(certcompress.ALGORITHMS)), st.binary(min_size=1, max_size=600),
       st.sampled_from(["flip", "cut", "append", "frame"]), st.data())
def test_a_damaged_stream_decompresses_exactly_or_is_bad_certificate(
        algorithm: int, body: bytes, damage: str, data: st.DataObject) -> None:
    """Every algorithm (brotli and zstd too: the test extra installs them), fed a real
    stream with one byte changed, cut short, with bytes after it, or (zstd) random bytes
    behind the frame magic, under an announced length near the real one or anywhere:
    exactly that many bytes back or bad_certificate, never another exception."""
    packed = bytearray(certcompress.compress(algorithm, body).compressed)
    at = data.draw(st.integers(0, len(packed) - 1))
    if damage == "flip":
        packed[at] ^= data.draw(st.integers(1, 255))
    elif damage == "cut":
        del packed[at:]
    elif damage == "append":
        packed += data.draw(st.binary(min_size=1, max_size=8))
    else:
        packed = bytearray(ZSTD_MAGIC + data.draw(st.binary(max_size=300)))
    length = data.draw(st.one_of(st.integers(len(body) - 2, len(body) + 2),
                                 st.integers(0, 1 << 17)))
    try:
        out = certcompress.decompress(CompressedCertificate(algorithm, length, bytes(packed)),
                                      1 << 16)
    except BadCertificate:
        return
    assert len(out) == length <= 1 << 16


@FAST
@given(st.binary(max_size=40))
def test_any_compress_certificate_extension_decodes_or_is_decode_error(body: bytes) -> None:
    try:
        codes = certcompress.decode_extension(body)
    except TLSError as exc:
        assert exc.alert == AD.decode_error
        return
    assert certcompress.decode_extension(certcompress.encode_extension(codes)) == codes


# --- compat ClientHello sniffer


def _feed(data: bytes, step: int) -> HelloBuffer:
    buf, done = HelloBuffer(), False
    for at in range(0, len(data), step):
        now = buf.add(data[at:at + step])
        assert now or not done
        done = now
    return buf


HELLO = m.ClientHello(bytes(32), bytes(32), [0x1301], m.Extensions(
    {0: ext.encode_server_name("sni.test"), 43: b"\x02\x03\x04"})).encode()
HELLO_RECORD = b"\x16\x03\x01" + len(HELLO).to_bytes(2, "big") + HELLO


@FAST
@given(st.binary(max_size=300) | st.builds(lambda cut, junk: HELLO_RECORD[:cut] + junk,
                                           st.integers(0, len(HELLO_RECORD)),
                                           st.binary(max_size=20)),
       st.integers(1, 40))
def test_the_hello_sniffer_never_raises_and_ignores_read_sizes(data: bytes, step: int) -> None:
    whole, pieces = _feed(data, max(len(data), 1)), _feed(data, step)
    name = whole.server_name()
    assert name is None or isinstance(name, str)
    assert pieces.complete() == whole.complete() and pieces.server_name() == name


def test_the_hello_sniffer_finds_the_name_in_one_or_many_records() -> None:
    assert _feed(HELLO_RECORD, len(HELLO_RECORD)).server_name() == "sni.test"
    split = b"".join(b"\x16\x03\x01" + len(HELLO[i:i + 9]).to_bytes(2, "big") + HELLO[i:i + 9]
                     for i in range(0, len(HELLO), 9))
    buf = _feed(split, 7)
    assert buf.complete() and buf.server_name() == "sni.test"


# --- OCSP singleExtensions


def _read_single(tbs: bytes, index: int) -> None:
    """Its caller turns a ValueError into "malformed response"; nothing else may escape."""
    try:
        found = _critical_single_extensions(tbs, index)
    except ValueError:
        return
    assert all(isinstance(oid, str) and oid for oid in found)


@FAST
@given(st.binary(max_size=300), st.integers(0, 3))
def test_the_single_extensions_reader_returns_oids_or_a_value_error(tbs: bytes, index: int) -> None:
    _read_single(tbs, index)


@FAST
@given(st.binary(min_size=1, max_size=40), st.integers(0, 200))
def test_the_single_extensions_reader_on_a_spliced_response(junk: bytes, at: int) -> None:
    """A real ResponseData with bytes spliced in, so the reader gets past the outer SEQUENCE."""
    cert_id = _ocsp_der.CertID(_ocsp_der.tlv(0x30, b"\x30\x00\x04\x00\x04\x00\x02\x01\x01"),
                               "1.3.14.3.2.26", b"", b"", 1)
    answer = _ocsp_der.SingleResponse(cert_id, "good", dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                                      dt.datetime(2025, 1, 2, tzinfo=dt.UTC))
    tbs = _ocsp_der.response_data(bytes(20), dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                                  [answer, answer], None)
    at %= len(tbs)
    _read_single(tbs[:at] + junk + tbs[at:], 1)


# --- handshake messages, any bytes

ALLOWED = {AD.decode_error, AD.illegal_parameter}
MESSAGE_CLASSES = sorted({*m.DECODERS.values(), *DECODERS12.values(), m12.ClientKeyExchangeRSA},
                         key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", MESSAGE_CLASSES, ids=lambda cls: cls.__name__)
def test_any_bytes_to_a_message_decoder_decode_or_are_refused(cls: type) -> None:
    """The round-trip tests (tests/unit/test_messages_roundtrip.py) start from valid
    messages; here the body is anything: a message that re-encodes to a body decoding
    to itself, or decode_error / illegal_parameter."""
    @FAST
    @given(st.binary(max_size=200))
    def check(body: bytes) -> None:
        try:
            msg = cls.decode(body)  # type: ignore[attr-defined]
        except TLSError as exc:
            assert exc.alert in ALLOWED, exc
            return
        raw = msg.encode()
        assert int.from_bytes(raw[1:4], "big") == len(raw) - 4
        assert cls.decode(raw[4:]) == msg  # type: ignore[attr-defined]
    check()


EXTENSION_DECODERS = {
    "server_name": ext.decode_server_name,
    "client_server_name": ext.decode_client_server_name,
    "versions_client": ext.decode_versions_client,
    "version_server": ext.decode_version_server,
    "u16_list": lambda b: ext.decode_u16_list(b, "list"),
    "u16_list8": lambda b: ext.decode_u16_list8(b, "list"),
    "u16": lambda b: ext.decode_u16(b, "value"),
    "key_share_client": ext.decode_key_share_client,
    "key_share_server": ext.decode_key_share_server,
    "key_share_hrr": ext.decode_key_share_hrr,
    "alpn": ext.decode_alpn,
    "max_fragment_length": ext.decode_max_fragment_length,
    "record_size_limit": ext.decode_record_size_limit,
    "cookie": ext.decode_cookie,
    "psk_modes": ext.decode_psk_modes,
    "status_request": ext.decode_status_request,
    "ocsp_status": ext.decode_ocsp_status,
    "pre_shared_key_client": ext.decode_pre_shared_key_client,
    "selected_identity": ext.decode_selected_identity,
    "renegotiation_info": ext.decode_renegotiation_info,
    "ec_point_formats": ext.decode_ec_point_formats,
    "compress_certificate": certcompress.decode_extension,
    "ca_names": ext.decode_ca_names,
    "cert_types": lambda b: ext.decode_cert_types(b, "server_certificate_type"),
    "cert_type": lambda b: ext.decode_cert_type(b, "server_certificate_type"),
}


def test_every_extension_decoder_is_listed() -> None:
    public = {name[len("decode_"):] for name in dir(ext) if name.startswith("decode_")}
    assert public <= set(EXTENSION_DECODERS)


@pytest.mark.parametrize("name", sorted(EXTENSION_DECODERS))
def test_any_bytes_to_an_extension_decoder_decode_or_are_refused(name: str) -> None:
    decode = EXTENSION_DECODERS[name]

    @FAST
    @given(st.binary(max_size=120))
    def check(body: bytes) -> None:
        try:
            decode(body)
        except TLSError as exc:
            assert exc.alert in ALLOWED, exc
    check()


# --- RFC 7250: the certificate type lists and a TLS 1.2 raw key Certificate


@FAST
@given(st.binary(max_size=300))
def test_any_cert_type_list_decodes_exactly_or_is_decode_error(body: bytes) -> None:
    """The client's list: 1..255 types filling the body, re-encoded to the same bytes;
    the server's answer: exactly one byte."""
    try:
        types = ext.decode_cert_types(body, "client_certificate_type")
    except TLSError as exc:
        assert exc.alert == AD.decode_error, exc
        assert not (len(body) >= 2 and body[0] == len(body) - 1)
    else:
        assert 1 <= len(types) <= 255 and ext.encode_cert_types(types) == body
    try:
        chosen = ext.decode_cert_type(body, "server_certificate_type")
    except TLSError as exc:
        assert exc.alert == AD.decode_error and len(body) != 1
    else:
        assert ext.encode_cert_type(chosen) == body


@FAST
@given(st.binary(max_size=300))
def test_any_raw_key_certificate12_decodes_exactly_or_is_decode_error(body: bytes) -> None:
    try:
        cert = m12.RawKeyCertificate12.decode(body)
    except TLSError as exc:
        assert exc.alert == AD.decode_error, exc
        return
    assert len(cert.spki) == len(body) - 3
    if cert.spki:
        assert cert.encode()[4:] == body


# --- Certificate Transparency (RFC 6962 3.2, 3.3): tlskit.wire.sct

_SCT_ITEM = st.binary(min_size=1, max_size=80)


@FAST
@given(st.lists(_SCT_ITEM, min_size=1, max_size=6))
def test_sct_lists_roundtrip(scts: list[bytes]) -> None:
    assert sct.decode_sct_list(sct.encode_sct_list(scts)) == tuple(scts)


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_to_sct_list_decode_exactly_or_are_decode_error(body: bytes) -> None:
    """1..65535 bytes of SCTs, none empty, nothing after: re-encoded to the same bytes."""
    try:
        scts = sct.decode_sct_list(body)
    except TLSError as exc:
        assert exc.alert == AD.decode_error, exc
        return
    assert scts and all(scts) and sct.encode_sct_list(scts) == body


@FAST
@given(st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32), st.binary(max_size=40),
       st.integers(0, 255), st.integers(0, 255), st.binary(max_size=80))
def test_scts_roundtrip(timestamp: int, log_id: bytes, extensions: bytes, hash_alg: int,
                        sig_alg: int, signature: bytes) -> None:
    one = sct.SignedCertificateTimestamp(0, log_id, timestamp, extensions, hash_alg, sig_alg,
                                         signature)
    assert sct.decode_sct(one.encode()) == one


@FAST
@given(st.binary(max_size=200), st.binary(max_size=8))
def test_any_bytes_to_sct_decode_exactly_or_are_decode_error(body: bytes, junk: bytes) -> None:
    for data in (body, b"\x00" + bytes(32) + body, b"\x00" + bytes(40) + junk):
        try:
            one = sct.decode_sct(data)
        except TLSError as exc:
            assert exc.alert == AD.decode_error, exc
            continue
        assert one.version == 0 and one.encode() == data


@functools.cache
def _sct_staple() -> bytes:
    from ..support.ct import SigningLog, staple_with_scts
    from ..support.pki import pki
    return staple_with_scts(pki().server, pki().ca.intermediate_key,
                            [SigningLog().sct(pki().server.chain[0])])


@FAST
@given(st.binary(max_size=300), st.integers(0, 2000), st.binary(min_size=1, max_size=8))
def test_any_bytes_as_an_ocsp_staple_give_scts_or_none(raw: bytes, at: int,
                                                      junk: bytes) -> None:
    """x509.ct.stapled_scts never raises: a tuple of non-empty SCTs, or empty."""
    from tlskit.x509.ct import stapled_scts
    staple = _sct_staple()
    at %= len(staple)
    for data in (raw, staple[:at] + junk + staple[at + len(junk):], staple[:at]):
        scts = stapled_scts(data)
        assert isinstance(scts, tuple) and all(scts)
    assert len(stapled_scts(staple)) == 1


# RFC 4055 3.1: an RSASSA-PSS SPKI's algorithm (restricted to SHA-384), then the key.
_PSS_ALGORITHM = bytes.fromhex(
    "303d06092a864886f70d01010a3030a00d300b0609608648016503040202a11a301806092a864886f7"
    "0d010108300b0609608648016503040202a203020130")


def _pss_spki(algorithm: bytes, key: bytes = b"\x03\x03\x00\x30\x00") -> bytes:
    body = algorithm + key
    return bytes([0x30, 0x81, len(body)]) + body if len(body) > 127 else \
        bytes([0x30, len(body)]) + body


def _pss_params_or_der_error(spki: bytes) -> Any:
    from tlskit.x509.der import DERError, PssParams, spki_pss_params
    try:
        params = spki_pss_params(spki)
    except DERError:
        return DERError
    assert params is None or isinstance(params, PssParams)
    return params


def test_the_pss_parameters_of_a_good_spki() -> None:
    from tlskit.x509.der import PssParams
    assert _pss_params_or_der_error(_pss_spki(_PSS_ALGORITHM)) == PssParams(
        "sha384", "sha384", 48, 1)
    no_params = bytes([0x30, 11]) + _PSS_ALGORITHM[2:13]  # the OID alone
    assert _pss_params_or_der_error(_pss_spki(no_params)) is None


@FAST
@given(st.binary(max_size=200))
def test_any_spki_has_pss_parameters_none_or_der_error(spki: bytes) -> None:
    """`x509.der.spki_pss_params` (raw keys and certificates): parameters, None, or a
    DERError; never another exception."""
    _pss_params_or_der_error(spki)


@FAST
@given(st.integers(0, 62), st.binary(max_size=12), st.integers(15, 63))
def test_edited_pss_parameters_read_or_are_der_error(at: int, insert: bytes, cut: int) -> None:
    """The good algorithm with bytes put in or cut off inside its parameters (the SEQUENCE
    lengths fixed up), so the reader meets every malformed field."""
    body = _PSS_ALGORITHM[2:]
    edited = body[:at] + insert + body[at:] if insert else body[:cut]
    _pss_params_or_der_error(_pss_spki(bytes([0x30, len(edited)]) + edited))


@FAST
@given(st.binary(max_size=200))
def test_any_pem_body_gives_a_pss_spki_or_nothing(body: bytes) -> None:
    """`config.pss_spki_from_pem` (`RawPublicKey.from_file`) on any private key body:
    bytes (b"" for what is not an RSASSA-PSS PKCS #8 key), never an exception."""
    from tlskit.config import pss_spki_from_pem
    key = _pss_rsa_key()
    pem = b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(body) + \
        b"-----END PRIVATE KEY-----\n"
    assert isinstance(pss_spki_from_pem(pem, key), bytes)
    pem = b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(
        b"\x30\x50\x02\x01\x00" + _PSS_ALGORITHM + body) + b"-----END PRIVATE KEY-----\n"
    assert isinstance(pss_spki_from_pem(pem, key), bytes)


@functools.cache
def _pss_rsa_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(65537, 2048)


# --- PEM and DER files: tlskit.config and the compat SSLContext


def _pem_material() -> tuple[bytes, bytes]:
    """A self-signed P-256 certificate (DER) and its key (PKCS#8 DER)."""
    key = ec.derive_private_key(0x9E3, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "pem.test")])
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7).not_valid_before(at)
            .not_valid_after(at + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.DER),
            key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = b"\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return b"-----BEGIN " + label.encode() + b"-----\n" + lines + b"\n-----END " + \
        label.encode() + b"-----\n"


CERT_DER, KEY_DER = _pem_material()
P256 = bytes.fromhex("06082a8648ce3d030107")
BAD_VERSION = CERT_DER.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x34", 1)  # v53
_POINT = CERT_DER.index(b"\x03\x42\x00\x04") + 4
OFF_CURVE = CERT_DER[:_POINT + 63] + bytes((CERT_DER[_POINT + 63] ^ 1,)) + CERT_DER[_POINT + 64:]
ODD_CURVE_KEY = KEY_DER.replace(P256, P256[:-1] + b"\x08", 1)  # 1.2.840.10045.3.1.8


def test_a_certificate_of_an_unknown_version_is_the_readers_error(tmp_path: Path) -> None:
    """Regression (fuzz_pem): cryptography's InvalidVersion is no ValueError; it escaped
    `load_pem_chain` (documented: ValueError naming the file) and the compat loaders."""
    path = tmp_path / "cert.pem"
    path.write_bytes(_pem("CERTIFICATE", BAD_VERSION))
    with pytest.raises(ValueError, match=r"cert\.pem holds no readable PEM certificate"):
        load_pem_chain(path)
    assert load_pem_certificates(_pem("CERTIFICATE", BAD_VERSION) +
                                 _pem("CERTIFICATE", CERT_DER)) != []  # the good one kept
    with pytest.raises(ssl.SSLError, match="cadata holds a certificate that does not parse"):
        SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=BAD_VERSION)


def test_a_key_on_an_unsupported_curve_is_the_readers_error(tmp_path: Path) -> None:
    """Regression (fuzz_pem): cryptography's UnsupportedAlgorithm escaped
    `load_pem_private_key` and the compat `load_cert_chain`."""
    path = tmp_path / "key.pem"
    path.write_bytes(_pem("PRIVATE KEY", ODD_CURVE_KEY))
    with pytest.raises(ValueError, match=r"key\.pem"):
        load_pem_private_key(path)
    both = tmp_path / "both.pem"
    both.write_bytes(_pem("CERTIFICATE", CERT_DER) + _pem("PRIVATE KEY", ODD_CURVE_KEY))
    with pytest.raises(ssl.SSLError, match="cannot load the private key"):
        SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(both)


def test_a_certificate_whose_key_cannot_be_read_is_an_ssl_error(tmp_path: Path) -> None:
    """Regression (fuzz_pem): a point off the curve in the certificate raised ValueError
    out of the compat `load_cert_chain`; the ssl module raises SSLError."""
    both = tmp_path / "both.pem"
    both.write_bytes(_pem("CERTIFICATE", OFF_CURVE) + _pem("PRIVATE KEY", KEY_DER))
    with pytest.raises(ssl.SSLError, match="public key cannot be read"):
        SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(both)
    both.write_bytes(_pem("CERTIFICATE", CERT_DER) + _pem("PRIVATE KEY", KEY_DER))
    SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(both)


def test_truncated_cadata_and_a_broken_crl_are_ssl_errors(tmp_path: Path) -> None:
    """Regression (fuzz_pem): cryptography's ValueError escaped `load_verify_locations`
    for DER cadata cut short and for a CA file with a CRL block that does not parse."""
    ctx = SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ssl.SSLError):
        ctx.load_verify_locations(cadata=CERT_DER[:-5])
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(_pem("CERTIFICATE", CERT_DER) + _pem("X509 CRL", b"\x30\x03\x02\x01\x01"))
    with pytest.raises(ssl.SSLError, match="a CRL that does not parse"):
        ctx.load_verify_locations(cafile=cafile)


@pytest.mark.filterwarnings("ignore:Parsed a serial number")
@FAST
@given(st.binary(max_size=300) | st.builds(
    lambda der, at, junk: der[:at] + junk + der[at + len(junk):],
    st.sampled_from([CERT_DER, KEY_DER]), st.integers(0, 600), st.binary(min_size=1, max_size=4)),
    st.sampled_from(["CERTIFICATE", "PRIVATE KEY", "X509 CRL"]))
def test_any_pem_file_is_read_or_refused_with_the_documented_error(
        tmp_path: Path, der: bytes, label: str) -> None:
    path = tmp_path / "any.pem"
    path.write_bytes(_pem(label, der) + (_pem("PRIVATE KEY", KEY_DER) if label == "CERTIFICATE"
                                         else b""))
    with contextlib.suppress(ValueError):
        load_pem_chain(path)
    with contextlib.suppress(ValueError, TypeError):
        load_pem_private_key(path)
    for call in (lambda c: c.load_verify_locations(cafile=path),
                 lambda c: c.load_verify_locations(cadata=der),
                 lambda c: c.load_cert_chain(path)):
        with contextlib.suppress(ssl.SSLError):
            call(SSLContext(ssl.PROTOCOL_TLS_CLIENT))


def _bad_version_crl() -> bytes:
    key = ec.derive_private_key(0x9E3, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "pem.test")])
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    der = (x509.CertificateRevocationListBuilder().issuer_name(name).last_update(at)
           .next_update(at + dt.timedelta(days=1)).sign(key, hashes.SHA256())
           .public_bytes(serialization.Encoding.DER))
    return der.replace(b"\x02\x01\x01", b"\x02\x01\x11", 1)  # version 17


def test_a_crl_of_an_unknown_version_is_the_readers_error(tmp_path: Path) -> None:
    """Regression (fuzz_pem under atheris): cryptography's InvalidVersion escaped the
    compat `load_verify_locations` (a CA file's CRL) and ``tlskit verify``'s readers."""
    crl = _pem("X509 CRL", _bad_version_crl())
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(_pem("CERTIFICATE", CERT_DER) + crl)
    with pytest.raises(ssl.SSLError, match="a CRL that does not parse"):
        SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=cafile)
    (tmp_path / "crl.pem").write_bytes(crl)
    with pytest.raises(InputError, match="is not a PEM or DER CRL"):
        load_crls(tmp_path / "crl.pem")
    (tmp_path / "cert.der").write_bytes(BAD_VERSION)
    with pytest.raises(InputError, match="is not a PEM or DER certificate"):
        load_certificates(tmp_path / "cert.der")


# --- CRLs: tlskit.x509.crl.load_crl (fuzz_crl.py drives it through Verifier too)


@pytest.mark.filterwarnings("ignore::UserWarning")
@FAST
@given(st.binary(max_size=300) | st.builds(
    lambda der, at, junk: der[:at] + junk + der[at + len(junk):],
    st.just(_bad_version_crl().replace(b"\x02\x01\x11", b"\x02\x01\x01", 1)),
    st.integers(0, 400), st.binary(min_size=1, max_size=4)), st.booleans())
def test_any_crl_bytes_load_or_are_an_evidence_error(der: bytes, pem: bool) -> None:
    data = _pem("X509 CRL", der) if pem else der
    try:
        crl = load_crl(data)
    except EvidenceError:
        return
    assert crl.public_bytes(serialization.Encoding.DER)


# --- tlskit connect --trace: the server's bytes split into records for display


@FAST
@given(st.binary(max_size=300))
def test_split_records_is_a_prefix_of_the_stream(data: bytes) -> None:
    records = split_records(data)
    joined = b"".join(r["bytes"] for r in records)
    assert data.startswith(joined) and len(data) - len(joined) < 5
    for record in records[:-1]:
        assert len(record["bytes"]) == 5 + record["length"]
