"""The TLS 1.2 handshake's one-join encoders, one-step decoders and per-key facts give the
same answers as the general paths (the layout encoder, the checked `Reader` decoders, the
PRF's definition), including the same error for malformed input; and a traced handshake
still reports message objects that are the bytes that went on the wire.
"""

from __future__ import annotations

import hmac
import struct
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit import ClientConnection, ServerConnection, crypto, prf12, randpool
from tlskit.config import CertifiedKey
from tlskit.errors import DecodeError, IllegalParameter
from tlskit.handshake.common import by_server_name
from tlskit.handshake.server12 import ServerHandshake12
from tlskit.session import SessionCache, TicketSealer, TicketState, decode_state, encode_state
from tlskit.sessionstore import GuardedStore, MemoryStore
from tlskit.trace import TraceStep as T
from tlskit.wire import messages as m
from tlskit.wire import messages12 as m12
from tlskit.wire.codec import Writer

from ..support.pki import client_config, pki, rsa_server, server_config
from ..support.pump import pump

SETTINGS = settings(max_examples=300, deadline=None)
u16 = st.integers(0, 0xFFFF)


def _outcome(fn: Any, body: bytes | memoryview) -> tuple[str, Any]:
    """A decoder's result, or the error it raised (type and message)."""
    try:
        return "ok", fn(body)
    except (DecodeError, IllegalParameter) as exc:
        return type(exc).__name__, str(exc)


def _same(cls: Any, body: bytes) -> None:
    assert _outcome(cls.decode, body) == _outcome(cls.checked_decode, body)
    view = memoryview(body)  # the engine passes memoryviews
    assert _outcome(cls.decode, view) == _outcome(cls.checked_decode, view)


# --- encoders ---------------------------------------------------------------------------

@SETTINGS
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=32), u16,
       st.dictionaries(u16, st.binary(max_size=40), max_size=8))
def test_server_hello12_encodes_like_the_layout(random: bytes, session_id: bytes, suite: int,
                                                 exts: dict[int, bytes]) -> None:
    general = m.ServerHello(random, session_id, suite, m.Extensions(exts)).encode()
    entries = [m12.extension_entry(t, b) for t, b in exts.items()]
    assert m12.encode_server_hello12(random, session_id, suite, entries) == general


def test_server_hello12_refuses_what_the_layout_cannot_carry() -> None:
    with pytest.raises(ValueError):
        m12.encode_server_hello12(bytes(31), b"", 0x1301, [])
    with pytest.raises(ValueError):
        m12.encode_server_hello12(bytes(32), bytes(33), 0x1301, [])
    with pytest.raises(ValueError):
        m12.encode_server_hello12(bytes(32), b"", 0x1301, [m12.extension_entry(1, bytes(65532))])


def _ske_by_writer(group: int, public: bytes, scheme: int, signature: bytes) -> bytes:
    w = Writer()
    w.u8(m12.NAMED_CURVE)
    w.u16(group)
    w.bytes8(public)
    w.u16(scheme)
    w.bytes16(signature)
    return m.frame(12, w.buf)


@SETTINGS
@given(u16, st.binary(min_size=1, max_size=255), u16, st.binary(min_size=1, max_size=600))
def test_server_key_exchange_is_one_join(group: int, public: bytes, scheme: int,
                                         signature: bytes) -> None:
    params = m12.ske_params(group, public)
    assert params == _ske_by_writer(group, public, scheme, signature)[4:4 + len(params)]
    raw = m12.encode_ske(params, scheme, signature)
    assert raw == _ske_by_writer(group, public, scheme, signature)
    msg = m12.ServerKeyExchangeECDHE(group, public, scheme, signature)
    assert msg.encode() == raw and msg.params() == params
    assert m12.ServerKeyExchangeECDHE.decode(memoryview(raw)[4:]) == msg


@SETTINGS
@given(st.binary(max_size=255))
def test_client_key_exchange_is_one_join(public: bytes) -> None:
    w = Writer()
    w.bytes8(public)
    assert m12.encode_cke_ecdhe(public) == m.frame(16, w.buf)
    assert m12.ClientKeyExchangeECDHE(public).encode() == m.frame(16, w.buf)


@SETTINGS
@given(st.binary(min_size=12, max_size=12))
def test_finished12_is_the_general_encoding(verify_data: bytes) -> None:
    assert m12.encode_finished12(verify_data) == m.Finished(verify_data).encode()


def test_finished12_and_client_key_exchange_refuse_bad_lengths() -> None:
    with pytest.raises(ValueError):
        m12.encode_finished12(bytes(32))
    with pytest.raises(ValueError):
        m12.encode_cke_ecdhe(bytes(256))


def test_server_hello_done_is_the_layouts() -> None:
    assert m12.ServerHelloDone().encode() == m12.SERVER_HELLO_DONE


# --- decoders: one step when well formed, the checked reader otherwise ------------------

@SETTINGS
@given(st.binary(max_size=80))
def test_decoders_agree_on_any_bytes(body: bytes) -> None:
    for cls in (m12.Certificate12, m12.ServerKeyExchangeECDHE, m12.ClientKeyExchangeECDHE,
                m12.ServerHelloDone):
        _same(cls, body)


@SETTINGS
@given(st.lists(st.binary(max_size=30), max_size=5), st.integers(-2, 2), st.binary(max_size=4))
def test_certificate_lists_agree(certs: list[bytes], skew: int, tail: bytes) -> None:
    """Well-formed lists, empty entries, wrong outer lengths and trailing bytes."""
    inner = b"".join(len(c).to_bytes(3, "big") + c for c in certs)
    _same(m12.Certificate12, max(0, len(inner) + skew).to_bytes(3, "big") + inner + tail)
    _same(m12.Certificate12, len(inner).to_bytes(3, "big") + inner)


@SETTINGS
@given(st.integers(0, 4), u16, st.binary(max_size=70), st.integers(-2, 2), u16,
       st.binary(max_size=80), st.integers(-2, 2), st.binary(max_size=3))
def test_server_key_exchanges_agree(curve_type: int, group: int, public: bytes, pskew: int,
                                    scheme: int, sig: bytes, sskew: int, tail: bytes) -> None:
    """Near-misses of every length field, another curve type, empty vectors, tails."""
    plen = max(0, min(255, len(public) + pskew))
    slen = max(0, len(sig) + sskew)
    body = (bytes((curve_type,)) + struct.pack(">HB", group, plen) + public
            + struct.pack(">HH", scheme, slen) + sig + tail)
    _same(m12.ServerKeyExchangeECDHE, body)
    outcome, ske = _outcome(m12.ServerKeyExchangeECDHE.decode, body)
    if outcome == "ok":  # the client checks the signature over the params as received
        raw = m.frame(12, body)  # the whole message, as the client's handler gets it
        assert m12.ServerKeyExchangeECDHE.signed_params(raw) == ske.params()


@SETTINGS
@given(st.binary(max_size=70), st.integers(-2, 2), st.binary(max_size=3))
def test_client_key_exchanges_agree(public: bytes, skew: int, tail: bytes) -> None:
    _same(m12.ClientKeyExchangeECDHE,
          bytes((max(0, min(255, len(public) + skew)),)) + public + tail)


def test_well_formed_messages_take_the_one_step_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a handshake receives is read without the checked reader (which is only for
    what is not well formed)."""
    def refuse(cls: Any, body: Any) -> Any:
        raise AssertionError("checked reader used for a well-formed message")
    for cls in (m12.Certificate12, m12.ServerKeyExchangeECDHE, m12.ClientKeyExchangeECDHE,
                m12.ServerHelloDone):
        monkeypatch.setattr(cls, "checked_decode", classmethod(refuse))
    assert m12.Certificate12.decode(b"\x00\x00\x05\x00\x00\x02ab").certificates == [b"ab"]
    ske = m12.ServerKeyExchangeECDHE(0x1D, bytes(32), 0x0403, b"sig")
    assert m12.ServerKeyExchangeECDHE.decode(memoryview(ske.encode())[4:]) == ske
    assert m12.ClientKeyExchangeECDHE.decode(b"\x02ab").public == b"ab"
    assert m12.ServerHelloDone.decode(memoryview(b"")) == m12.ServerHelloDone()


def test_malformed_server_key_exchange_keeps_its_errors() -> None:
    with pytest.raises(IllegalParameter, match="only named curves"):
        m12.ServerKeyExchangeECDHE.decode(b"\x01\x00\x1d\x01\x00\x04\x03\x00\x01\x00")
    with pytest.raises(DecodeError, match="ECPoint"):
        m12.ServerKeyExchangeECDHE.decode(b"\x03\x00\x1d\x00\x04\x03\x00\x01\x00")
    with pytest.raises(DecodeError, match="truncated"):
        m12.ServerKeyExchangeECDHE.decode(b"\x03\x00\x1d\x01\x00\x04\x03\x00\x05\x01")
    # signature<0..2^16-1>: an empty one is well-formed (and then fails verification).
    assert m12.ServerKeyExchangeECDHE.decode(
        b"\x03\x00\x1d\x01\x00\x04\x03\x00\x00").signature == b""


# --- the PRF's one-block Finished -------------------------------------------------------

@SETTINGS
@given(st.sampled_from(["sha256", "sha384"]), st.booleans(), st.binary(max_size=64),
       st.binary(max_size=64))
def test_finished_is_the_prfs_first_twelve_bytes(hash_name: str, is_client: bool,
                                                 master: bytes, transcript: bytes) -> None:
    label = b"client finished" if is_client else b"server finished"
    seed = label + transcript
    a1 = hmac.new(master, seed, hash_name).digest()
    expected = hmac.new(master, a1 + seed, hash_name).digest()[:12]
    assert prf12.finished(hash_name, master, is_client, transcript) == expected
    assert expected == prf12.prf(hash_name, master, label, transcript, 12)


# --- per-key facts ----------------------------------------------------------------------

def test_certified_key_knows_its_tls12_family_and_curve() -> None:
    ec_leaf, rsa_leaf = pki().server, rsa_server()
    for issued in (ec_leaf, rsa_leaf, pki().server_ed):
        ck = CertifiedKey(issued.chain, issued.private_key)
        assert ck.auth12 == crypto.key_auth_kind(issued.private_key)
        assert ck.curve12 == crypto.ec_key_group(issued.private_key)
    assert CertifiedKey(ec_leaf.chain, ec_leaf.private_key).auth12 == "ECDSA"
    assert CertifiedKey(ec_leaf.chain, ec_leaf.private_key).curve12 == 0x0017
    assert CertifiedKey(rsa_leaf.chain, rsa_leaf.private_key).auth12 == "RSA"
    assert CertifiedKey(rsa_leaf.chain, rsa_leaf.private_key).curve12 is None
    assert isinstance(ec_leaf.private_key, ec.EllipticCurvePrivateKey)
    assert isinstance(rsa_leaf.private_key, rsa.RSAPrivateKey)
    assert isinstance(pki().server_ed.private_key, ed25519.Ed25519PrivateKey)


# --- tracing: objects only when traced, and then the ones sent --------------------------

def _traced_pair(**kw: Any) -> list[tuple[Any, dict[str, Any]]]:
    """One traced TLS 1.2 handshake; `kw` goes to both configs."""
    steps: list[tuple[Any, dict[str, Any]]] = []
    def tracer(step: Any, fields: dict[str, Any]) -> None:
        steps.append((step, fields))
    ccfg = client_config(versions=["TLSv1.2"], tracer=tracer, **kw)
    scfg = server_config(versions=["TLSv1.2"], tracer=tracer, **kw)
    c, s = ClientConnection(ccfg, "localhost"), ServerConnection(scfg)
    pump(c, s)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    assert c.handshake_complete.version == "TLSv1.2"
    return steps


@pytest.mark.parametrize("alpn", [[], ["h2", "http/1.1"]])
def test_traced_messages_are_the_bytes_sent(alpn: list[str]) -> None:
    steps = _traced_pair(alpn_protocols=alpn)
    seen = {step for step, _ in steps}
    for wanted in (T.SERVER_HELLO, T.CERTIFICATE, T.SERVER_KEY_EXCHANGE, T.SERVER_HELLO_DONE,
                   T.CLIENT_KEY_EXCHANGE, T.CLIENT_FINISHED, T.SERVER_FINISHED):
        assert wanted in seen
    for step, fields in steps:
        msg: Any = fields.get("message")
        raw = fields.get("raw")
        if msg is not None and raw is not None:
            assert msg.encode() == raw, step
        if step in (T.CLIENT_FINISHED, T.SERVER_FINISHED):
            assert msg.verify_data == fields["verify_data"] and len(msg.verify_data) == 12
        if step is T.SERVER_KEY_EXCHANGE and "server_share" in fields:
            assert msg.public == fields["server_share"]
        if step is T.SERVER_HELLO and "version" in fields and alpn:
            assert msg.extensions[0x10] == b"\x00\x03\x02h2"


# --- the PRF keyed once -----------------------------------------------------------------

@SETTINGS
@given(st.sampled_from(["sha256", "sha384"]), st.binary(max_size=64),
       st.lists(st.tuples(st.binary(max_size=40), st.integers(0, 130)), min_size=1,
                max_size=4), st.binary(max_size=48))
def test_keyed_prf_reused_gives_what_a_fresh_hmac_gives(
        hash_name: str, secret: bytes, uses: list[tuple[bytes, int]], transcript: bytes) -> None:
    """One `KeyedPrf` serves the key block, both Finished and the exporter: each use equals
    the PRF computed with fresh HMACs, whatever came before it on the same object."""
    keyed = prf12.KeyedPrf(hash_name, secret)
    for seed, length in uses:
        expected = b""
        a = seed
        while len(expected) < length:
            a = hmac.new(secret, a, hash_name).digest()
            expected += hmac.new(secret, a + seed, hash_name).digest()
        assert keyed(b"", seed, length) == expected[:length]
        for is_client in (True, False):
            label = b"client finished" if is_client else b"server finished"
            a1 = hmac.new(secret, label + transcript, hash_name).digest()
            assert keyed.finished(is_client, transcript) == hmac.new(
                secret, a1 + label + transcript, hash_name).digest()[:12]


# --- the server's random bytes ------------------------------------------------------------

def _tls12_pair(server: ServerConnection, **client_kw: Any) -> ClientConnection:
    client = ClientConnection(client_config(versions=["TLSv1.2"], **client_kw),
                              server_name="localhost")
    pump(client, server)
    assert client.handshake_complete is not None and server.handshake_complete is not None
    assert client.handshake_complete.version == "TLSv1.2"
    return client


def test_tls12_server_draws_from_the_pool_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default rng goes through the server pool: the random, the session ID, the
    X25519 key and a seal nonce in one draw (the same 108 bytes the two draws it once
    made took); and the session so made resumes."""
    pool = randpool.RandomPool()
    monkeypatch.setattr(randpool, "pooled_urandom", pool)
    draws: list[int] = []
    real = randpool.RandomPool.__call__

    def counted(self: randpool.RandomPool, n: int) -> bytes:
        draws.append(n)
        return real(self, n)
    monkeypatch.setattr(randpool.RandomPool, "__call__", counted)
    server_cfg = server_config(session_tickets=0)
    cache = SessionCache()
    _tls12_pair(ServerConnection(server_cfg), session_cache=cache)
    assert draws == [32 + 32 + 32 + 12] and pool._pos == 108
    session = cache.take("localhost", time.time())
    assert session is not None and cache.take("localhost", time.time()) is None  # one
    assert session.session_id and session.tls12
    cache.put(session)
    again = _tls12_pair(ServerConnection(server_cfg), session_cache=cache)
    assert again.handshake_complete is not None and again.handshake_complete.resumed


def test_tls12_server_hands_each_spare_byte_out_once() -> None:
    """`_fresh`: the bytes drawn with the random go out once (a seal nonce is never
    reused), then the rng answers."""
    hs = ServerHandshake12.__new__(ServerHandshake12)
    calls: list[int] = []

    def rng(n: int) -> bytes:
        calls.append(n)
        return b"r" * n
    hs._rng = rng
    hs._spare = bytes(range(44))
    assert hs._fresh(32) == bytes(range(32)) and hs._fresh(12) == bytes(range(32, 44))
    assert hs._fresh(12) == b"r" * 12 and calls == [12]


@pytest.mark.parametrize("name", ["localhost", "other.example"])
def test_one_configured_chain_is_chosen_like_by_server_name(name: str) -> None:
    """With a single chain the 1.2 server skips name matching: it serves what
    `by_server_name` puts first, for a matching name and for any other."""
    server_cfg = server_config()
    assert len(server_cfg._certs) == 1
    client = ClientConnection(client_config(versions=["TLSv1.2"], check_hostname=False),
                              server_name=name)
    server = ServerConnection(server_cfg)
    pump(client, server)
    assert client.handshake_complete is not None
    assert client.handshake_complete.version == "TLSv1.2"
    expected = by_server_name(server_cfg._certs, name)[0]
    assert client.handshake_complete.peer_certificates == list(expected.chain)


# --- the session state a full handshake seals ---------------------------------------------

def _state_by_writer(state: TicketState) -> bytes:
    """The sealed-state format field by field through the general `Writer`."""
    w = Writer()
    w.u8(3)  # format version
    w.u8((1 if state.tls12 else 0) | (2 if state.extended_master_secret else 0))
    w.u16(state.suite.code)
    w.raw(state.issued_ms.to_bytes(8, "big"))
    w.u32(state.lifetime)
    w.bytes8(state.psk)
    w.bytes8((state.alpn_protocol or "").encode())
    w.bytes16((state.server_name or "").encode())
    w.bytes8(state.context)
    w.u8(len(state.client_chain))
    for der in state.client_chain:
        w.bytes24(der)
    w.u32(state.max_early_data)
    w.u32(state.age_add)
    return w.getvalue()


@SETTINGS
@given(st.sampled_from(sorted(crypto.SUITES12)), st.binary(max_size=64),
       st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1),
       st.none() | st.text(min_size=1, max_size=20), st.none() | st.text(min_size=1, max_size=40),
       st.binary(max_size=32), st.lists(st.binary(max_size=70), max_size=3),
       st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_state_encoding_is_the_formats_fields(code: int, psk: bytes, issued: int, lifetime: int,
                                              alpn: str | None, sni: str | None, context: bytes,
                                              chain: list[bytes], early: int, age_add: int,
                                              tls12: bool, ems: bool) -> None:
    """`encode_state`'s one join is the format field by field, and reads back whole."""
    suite = crypto.SUITES12[code] if tls12 else next(iter(crypto.SUITES.values()))
    state = TicketState(suite, psk, issued, lifetime, alpn, sni, context, chain,
                        max_early_data=early, age_add=age_add, tls12=tls12,
                        extended_master_secret=ems)
    plain = encode_state(state)
    assert plain == _state_by_writer(state)
    assert decode_state(plain) == TicketState(
        suite, psk, issued, lifetime, alpn or None, sni or None, context, chain,
        max_early_data=early, age_add=age_add, tls12=tls12, extended_master_secret=ems)


def test_one_state_seals_like_seal_many() -> None:
    """`seal` (one state, no lists) gives `seal_many`'s bytes for the same nonce."""
    sealer = TicketSealer(GuardedStore(MemoryStore()), lambda: 1_000_000.0)
    state = TicketState(next(iter(crypto.SUITES12.values())), b"m" * 48, 5, 7200, None,
                        "localhost", bytes(32), [], tls12=True)
    nonce = b"n" * 12
    one = sealer.seal(state, nonce)
    assert one is not None and [one] == sealer.seal_many([encode_state(state)], [nonce])
    assert sealer.open(one) == state
    broken = TicketSealer(GuardedStore(_NoKeys()), lambda: 1_000_000.0)
    assert broken.seal(state, nonce) is None and broken.seal_many([b""], [nonce]) is None


class _NoKeys(MemoryStore):
    """A backend whose ticket keys cannot be had (the guard turns that into None)."""

    def ticket_keys(self, now: float) -> Any:
        raise ConnectionError("store down")
