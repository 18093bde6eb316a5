"""Encrypted Client Hello, client side (RFC 9849 6.1): which config to use, the inner
and outer ClientHellos, and whether the server accepted.

The client sends ClientHelloOuter (the config's public_name as SNI) carrying
ClientHelloInner (the real name, ALPN and the rest) sealed with HPKE under the server's
ECH key, the outer hello with the payload zeroed as associated data. Both transcripts
run until the ServerHello: its random's last 8 bytes say which one the server took
(7.2); after a HelloRetryRequest its encrypted_client_hello extension says so, and the
second inner hello is sealed with the same HPKE context (6.1.5).

`ClientHandshake13` calls in here only when ``ClientConfig.ech_config_list`` is set; the
plain handshake pays one attribute test per hook.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import hpke
from ..crypto import Suite
from ..enums import ExtensionType, ProtocolVersion
from ..errors import DecodeError, IllegalParameter
from ..keyschedule import hkdf_expand_label, hkdf_extract
from ..wire import ech
from ..wire import extensions as ext
from ..wire import messages as m
from .common import Transcript, pad_client_hello

_E = ExtensionType
INFO_PREFIX = b"tls ech\x00"  # RFC 9849 6.1: "tls ech" || 0x00 || ECHConfig
ACCEPT_LABEL = b"ech accept confirmation"
HRR_ACCEPT_LABEL = b"hrr ech accept confirmation"
# Extensions the inner hello copies from the outer one through ech_outer_extensions
# (5.1) when their bodies are the same: the large, name-independent ones.
_COMPRESSIBLE = (_E.supported_groups, _E.key_share, _E.signature_algorithms,
                 _E.signature_algorithms_cert, _E.psk_key_exchange_modes,
                 _E.compress_certificate, _E.record_size_limit)
# TLS 1.2 only: ClientHelloInner offers TLS 1.3 alone (RFC 9849 6.1), so leaves these out.
_TLS12_ONLY = frozenset({_E.ec_point_formats, _E.extended_master_secret, _E.session_ticket,
                         _E.renegotiation_info})
_TLS13_ONLY_VERSIONS = ext.encode_versions_client([ProtocolVersion.TLSv1_3])


# --- choosing a config (RFC 9849 4, 6.1) -----------------------------------------------------

def valid_public_name(name: bytes) -> bool:
    """4: a dot-separated sequence of LDH labels (no hyphen first or last), no leading or
    trailing dot, whose last label is not all digits nor 0x-hex (an IPv4 address in
    disguise)."""
    try:
        text = name.decode("ascii")
    except UnicodeDecodeError:
        return False
    labels = text.split(".")
    for label in labels:
        if not 1 <= len(label) <= 63 or not all(c.isalnum() or c == "-" for c in label):
            return False
        if label[0] == "-" or label[-1] == "-":  # (RFC 5890 2.3.1's LDH label)
            return False
    last = labels[-1].lower()
    return not (last.isdigit() or (last.startswith("0x") and all(
        c in "0123456789abcdef" for c in last[2:])))


def choose_config(configs: list[ech.ECHConfig]) -> tuple[ech.ECHConfig, ech.CipherSuite] | None:
    """The first config this client can use, with its first HPKE suite tlskit implements;
    None when there is none. Skipped (4, 6.1): other versions, unsupported KEMs or
    suites, a low-order X25519 public key, any mandatory extension (tlskit understands
    none), an invalid public_name."""
    for config in configs:
        if not config.known_version or config.kem_id not in hpke.SUPPORTED_KEMS:
            continue
        if not hpke.usable_public_key(config.public_key):  # (a length or low order)
            continue
        if any(e.mandatory for e in config.extensions):
            continue
        if not valid_public_name(config.public_name):
            continue
        for suite in config.cipher_suites:
            if hpke.supported(config.kem_id, suite.kdf_id, suite.aead_id):
                return config, suite
    return None


def parse_config_list(data: bytes) -> tuple[ech.ECHConfig, ech.CipherSuite]:
    """What `ClientConfig` keeps of ``ech_config_list``: a ValueError if it does not
    decode or holds no usable config (sending the real name in the clear instead would
    defeat the point, so tlskit refuses, as Go's crypto/tls and rustls do)."""
    try:
        configs = ech.decode_config_list(data)
    except DecodeError as exc:
        raise ValueError(f"ech_config_list is not an ECHConfigList: {exc}") from None
    chosen = choose_config(configs)
    if chosen is None:
        seen = "; ".join(_why_unusable(c) for c in configs) or "the list is empty"
        raise ValueError(
            "ech_config_list holds no ECH config tlskit can use (version 0xfe0d, "
            f"DHKEM(X25519) with HKDF-SHA256/384/512 and AES-GCM or ChaCha20-Poly1305, no "
            f"mandatory extension, a valid public_name): {seen}")
    return chosen


def _why_unusable(config: ech.ECHConfig) -> str:
    """Why choose_config skips ``config``, in its order, for the error message: "versions
    seen: 0xfe0d" said nothing when the version was fine and the public name was not."""
    if not config.known_version:
        return f"a config of version {config.version:#06x}"
    what = f"config {config.config_id}"
    if config.kem_id not in hpke.SUPPORTED_KEMS:
        return f"{what} uses KEM {config.kem_id:#06x}"
    if not hpke.usable_public_key(config.public_key):
        return f"{what} has an unusable X25519 public key"
    if any(e.mandatory for e in config.extensions):
        return f"{what} has a mandatory extension"
    if not valid_public_name(config.public_name):
        return (f"{what} has public_name {config.public_name.decode('ascii', 'replace')!r}, "
                "not a DNS name")
    return f"{what} offers no HPKE suite tlskit implements"


# --- the offer ------------------------------------------------------------------------------

@dataclass(slots=True)
class EchOffer:
    """One connection's ECH state: the HPKE sender context (kept for the second
    ClientHello), the inner hello and its transcript, and the outcome."""

    config: ech.ECHConfig
    suite: ech.CipherSuite
    context: hpke.Context
    enc: bytes
    inner_random: bytes
    public_name: str
    inner_transcript: Transcript = field(default_factory=Transcript)
    inner_hello: m.ClientHello | None = None
    hrr_accepted: bool | None = None  # None: no HelloRetryRequest
    accepted: bool | None = None  # None until the ServerHello (or a TLS 1.2 one) tells
    retry_configs: bytes | None = None

    @classmethod
    def start(cls, config: ech.ECHConfig, suite: ech.CipherSuite,
              inner_random: bytes) -> EchOffer:
        enc, context = hpke.setup_base_s(config.public_key, INFO_PREFIX + config.encode(),
                                         suite.kdf_id, suite.aead_id, config.kem_id)
        return cls(config, suite, context, enc, inner_random,
                   config.public_name.decode("ascii"))

    # -- building the hellos (5.1, 6.1) ---------------------------------------------------

    def inner_extensions(self, exts: m.Extensions) -> tuple[m.Extensions, list[int]]:
        """The ClientHelloInner extensions from the handshake's (real SNI): TLS 1.3
        only, the inner marker, and the compressible ones moved last (in order), where
        ech_outer_extensions will stand for them. Returns them and the types compressed."""
        head = m.Extensions()
        for etype, body in exts.items():
            if etype not in _TLS12_ONLY and etype not in _COMPRESSIBLE:
                head[etype] = body
        head[_E.supported_versions] = _TLS13_ONLY_VERSIONS
        head[_E.encrypted_client_hello] = ech.INNER_BODY
        compressed = [t for t in exts if t in _COMPRESSIBLE]
        for etype in compressed:
            head[etype] = exts[etype]
        return head, compressed

    def outer_extensions(self, exts: m.Extensions) -> m.Extensions:
        """The ClientHelloOuter extensions: the handshake's, with public_name as SNI."""
        outer = m.Extensions(exts)
        outer[_E.server_name] = ext.encode_server_name(self.public_name)
        return outer

    def encoded_inner(self, inner: m.ClientHello, compressed: list[int]) -> bytes:
        """EncodedClientHelloInner (5.1): the inner hello without legacy_session_id, the
        compressed extensions replaced by one ech_outer_extensions, zero padding (6.1.3)."""
        exts = m.Extensions()
        for etype, body in inner.extensions.items():
            if etype not in compressed:
                exts[etype] = body
        if compressed:
            exts[_E.ech_outer_extensions] = ech.encode_outer_extensions(compressed)
        body = m.ClientHello(inner.random, b"", inner.cipher_suites, exts).encode()[4:]
        sni = exts.get(_E.server_name)
        return body + bytes(self._padding(len(body), None if sni is None else len(sni) - 5))

    def _padding(self, length: int, name_length: int | None) -> int:
        """6.1.3: hide the name's length up to maximum_name_length (or a whole
        server_name extension's worth when none is sent), then round to 32 bytes."""
        max_name = self.config.maximum_name_length
        pad = max(0, max_name - name_length) if name_length is not None else max_name + 9
        return pad + 31 - ((length + pad - 1) % 32)

    def seal(self, outer: m.ClientHello, encoded_inner: bytes, first: bool) -> bytes:
        """Seal the inner hello into `outer`'s encrypted_client_hello, the AAD being the
        outer hello with a zero payload of the same length (5.2); the outer's bytes."""
        enc = self.enc if first else b""  # 6.1.5: the retry reuses the context, no enc
        placeholder = ech.OuterHello(self.suite, self.config.config_id, enc,
                                     bytes(len(encoded_inner) + hpke.TAG_LENGTH))
        outer.extensions[_E.encrypted_client_hello] = placeholder.encode()
        # Padded as a plain (or GREASE) hello is (an unpadded size would tell ECH from
        # GREASE), inside the AAD: the server sees the same bytes.
        aad = pad_client_hello(outer, outer.encode())[4:]
        payload = self.context.seal(aad, encoded_inner)
        outer.extensions[_E.encrypted_client_hello] = ech.OuterHello(
            self.suite, self.config.config_id, enc, payload).encode()
        return outer.encode()

    # -- the server's answer (7.2, 7.2.1) ----------------------------------------------------

    def _confirmation(self, suite: Suite, label: bytes, transcript_hash: bytes) -> bytes:
        return confirmation(suite, self.inner_random, label, transcript_hash)

    def check_server_hello(self, suite: Suite, raw: bytes, random: bytes) -> bool:
        """7.2: whether ServerHello.random's last 8 bytes confirm the inner hello, over
        the inner transcript with those bytes zeroed. A HelloRetryRequest's answer must
        agree (6.1.5: illegal_parameter otherwise)."""
        zeroed = raw[:30] + bytes(8) + raw[38:]  # (header 4, version 2, random 24 + 8)
        expected = self._confirmation(
            suite, ACCEPT_LABEL, self.inner_transcript.hash_with(suite.hash_name, zeroed))
        accepted = hmac.compare_digest(expected, random[24:])
        if self.hrr_accepted is not None and accepted != self.hrr_accepted:
            raise IllegalParameter(
                "ECH: the ServerHello " + ("accepts" if accepted else "rejects")
                + " the encrypted ClientHello the HelloRetryRequest "
                + ("rejected" if accepted else "accepted") + " (RFC 9849 6.1.5)")
        self.accepted = accepted
        return accepted

    def check_hello_retry_request(self, suite: Suite, raw: bytes, exts: m.Extensions) -> None:
        """7.2.1: the HRR's encrypted_client_hello confirmation, over message_hash(inner
        ClientHello1) and the HRR with the confirmation zeroed; then the inner
        transcript moves on as the outer one does."""
        body = exts.get(_E.encrypted_client_hello)
        accepted = False
        if body is not None:
            confirmation = ech.decode_hrr_confirmation(body)
            probe = self.inner_transcript.copy()
            probe.restart_after_hrr(suite.hash_name)
            zeroed = zero_extension(raw, _E.encrypted_client_hello)
            expected = self._confirmation(suite, HRR_ACCEPT_LABEL,
                                          probe.hash_with(suite.hash_name, zeroed))
            accepted = hmac.compare_digest(expected, confirmation)
        self.hrr_accepted = accepted
        self.inner_transcript.restart_after_hrr(suite.hash_name)
        self.inner_transcript.update(raw)


def grease_extension(rng: Callable[[int], bytes]) -> bytes:
    """RFC 9849 6.2: a GREASE encrypted_client_hello body: HKDF-SHA256 with AES-128-GCM,
    a random config_id, a random 32-byte enc (an X25519 key's size) and a random payload
    of 128..224 bytes plus the tag: a padded inner hello's sizes (6.1.3 makes those a
    multiple of 32, so any other length would tell GREASE from ECH)."""
    head = rng(2)
    payload = rng(128 + 32 * (head[1] % 4) + hpke.TAG_LENGTH)
    return ech.OuterHello(ech.CipherSuite(1, 1), head[0], rng(hpke.X25519_KEY_LENGTH),
                          payload).encode()


def confirmation(suite: Suite, inner_random: bytes, label: bytes,
                 transcript_hash: bytes) -> bytes:
    """7.2: HKDF-Expand-Label(HKDF-Extract(0, ClientHelloInner.random), label,
    transcript hash, 8), with the suite's hash (both sides compute it)."""
    secret = hkdf_extract(suite.hash_name, bytes(suite.hash_length), inner_random)
    return hkdf_expand_label(suite.hash_name, secret, label, transcript_hash,
                             ech.CONFIRMATION_LENGTH)


def zero_extension(raw: bytes, etype: int) -> bytes:
    """A ServerHello-shaped message's bytes with extension `etype`'s body zeroed."""
    pos = 4 + 2 + 32
    pos += 1 + raw[pos] + 2 + 1  # session id, cipher suite, compression method
    end = pos + 2 + int.from_bytes(raw[pos:pos + 2], "big")
    pos += 2
    while pos + 4 <= end:
        t = int.from_bytes(raw[pos:pos + 2], "big")
        n = int.from_bytes(raw[pos + 2:pos + 4], "big")
        if t == etype:
            return raw[:pos + 4] + bytes(n) + raw[pos + 4 + n:]
        pos += 4 + n
    return raw
