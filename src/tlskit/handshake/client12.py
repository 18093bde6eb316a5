"""The TLS 1.2 client handshake (RFC 5246 7.3, RFC 8422, RFC 7627), taken over from the
TLS 1.3 client when the server answers with a TLS 1.2 ServerHello.

    ServerHello -> Certificate -> [CertificateStatus] -> ServerKeyExchange
      -> [CertificateRequest] -> ServerHelloDone
      -> send [Certificate] ClientKeyExchange [CertificateVerify] CCS Finished
      -> CCS -> Finished -> Traffic
"""

from __future__ import annotations

from typing import Any

from cryptography import x509

from .. import crypto
from ..enums import ExtensionType, HandshakeType, NamedGroup, SignatureScheme
from ..errors import (
    DecodeError,
    HandshakeFailure,
    IllegalParameter,
    ProtocolVersionError,
    UnexpectedMessage,
    UnsupportedExtension,
)
from ..events import HandshakeComplete
from ..wire import extensions as ext
from ..wire import messages as m
from ..wire import messages12 as m12
from .common import parse_chain, public_key_of
from .common12 import DOWNGRADE_TLS11, DOWNGRADE_TLS12, Handshake12

_E = ExtensionType
_HT = HandshakeType
ALLOWED_IN_SH12 = frozenset({
    _E.renegotiation_info, _E.extended_master_secret, _E.ec_point_formats,
    _E.application_layer_protocol_negotiation, _E.server_name, _E.status_request,
    _E.session_ticket, _E.record_size_limit})


class ClientHandshake12(Handshake12):
    side = "client"

    def __init__(self, prev: Any) -> None:
        super().__init__(prev)
        self.prev = prev
        self.server_name: str | None = prev.server_name
        self.offered: set[int] = prev.offered_extensions
        self.peer_chain: list[x509.Certificate] = []
        self.ocsp_response: bytes | None = None
        self.group: NamedGroup | None = None
        self.peer_scheme: SignatureScheme | None = None
        self.alpn: str | None = None
        self.cert_request: m12.CertificateRequest12 | None = None
        self.premaster = b""
        self._server_keys: tuple[bytes, bytes] = (b"", b"")
        self.messages += b"".join(prev.transcript._pending)
        self.verification_error = None
        self.resumed = False
        self._hello_requests = 0

    # -- ServerHello (RFC 5246 7.4.1.3) ----------------------------------------------

    def on_server_hello(self, sh: m.ServerHello, raw: bytes) -> None:
        cfg = self.config
        if sh.legacy_version != 0x0303:
            raise ProtocolVersionError(f"server chose version {sh.legacy_version:#06x}; "
                                       "tlskit speaks TLS 1.3 and 1.2")
        if "TLSv1.3" in cfg._versions and sh.random[-8:] in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
            raise IllegalParameter("downgrade sentinel in ServerHello.random (RFC 8446 4.1.3)")
        suite = crypto.SUITES12.get(sh.cipher_suite)
        if suite is None or sh.cipher_suite not in cfg._suites12:
            raise IllegalParameter(f"server chose cipher suite {sh.cipher_suite:#06x}, "
                                   "not offered for TLS 1.2")
        if sh.compression_method != 0:
            raise IllegalParameter("compression is not allowed")
        exts = sh.extensions
        for etype in exts:
            if etype not in ALLOWED_IN_SH12 or etype not in self.offered:
                raise UnsupportedExtension(f"unrequested extension {etype} in ServerHello")
        if exts.get(_E.renegotiation_info) != b"\x00":
            raise HandshakeFailure("server does not support secure renegotiation (RFC 5746)")
        if _E.extended_master_secret not in exts:
            raise HandshakeFailure("server does not support the extended master secret "
                                   "(RFC 7627), which tlskit requires for TLS 1.2")
        if exts[_E.extended_master_secret]:
            raise DecodeError("extended_master_secret must be empty")
        if exts.get(_E.server_name):
            raise DecodeError("server_name in ServerHello must be empty (RFC 6066 3)")
        alpn = exts.get(_E.application_layer_protocol_negotiation)
        if alpn is not None:
            chosen = ext.decode_alpn(alpn)
            if len(chosen) != 1 or chosen[0] not in cfg.alpn_protocols:
                raise IllegalParameter(f"server selected ALPN {chosen!r}, not one offered")
            self.alpn = chosen[0]
        if _E.record_size_limit in exts:
            limit = ext.decode_record_size_limit(exts[_E.record_size_limit])
            self.records.send_limit = min(limit, 1 << 14)  # RFC 8449 4: no type byte in 1.2
            if cfg.record_size_limit is not None:
                self.records.receive_limit = min(cfg.record_size_limit, 1 << 14)
        self.suite12 = suite
        self.suite = suite
        self.server_random = sh.random
        self.transcript.start(suite.hash_name)
        self.transcript.update(raw)
        self.messages += raw
        self._stapling = _E.status_request in exts
        self.trace("server_hello", message=sh, raw=raw, version="TLSv1.2",
                   cipher_suite=suite.name)
        self.expect = {_HT.certificate: self.on_certificate}
        self.state = "waiting for Certificate (TLS 1.2)"

    def on_certificate(self, cert: m12.Certificate12, raw: bytes) -> None:
        if not cert.certificates:
            raise HandshakeFailure("server sent no certificate")
        self.peer_chain = parse_chain(cert.certificates, "server")
        self.trace("certificate", raw=raw, chain=self.peer_chain)
        self.expect = {_HT.server_key_exchange: self.on_server_key_exchange}
        if self._stapling:
            self.expect[_HT.certificate_status] = self.on_certificate_status

    def on_certificate_status(self, msg: m12.CertificateStatus, raw: bytes) -> None:
        self.ocsp_response = msg.response
        self.expect = {_HT.server_key_exchange: self.on_server_key_exchange}

    def on_server_key_exchange(self, ske: m12.ServerKeyExchangeECDHE, raw: bytes) -> None:
        self._verify_chain()
        cfg = self.config
        if ske.group not in cfg._groups or ske.group not in crypto.GROUPS12:
            raise IllegalParameter(f"server chose group {ske.group:#06x}, not offered")
        if ske.scheme not in cfg._schemes or ske.scheme not in crypto.SCHEMES:
            raise IllegalParameter(f"ServerKeyExchange scheme {ske.scheme:#06x} not offered")
        leaf_key = public_key_of(self.peer_chain[0])
        assert self.suite12 is not None
        if crypto.public_key_auth_kind(leaf_key) != self.suite12.auth:
            raise IllegalParameter(f"{self.suite12.name} needs an {self.suite12.auth} "
                                   "certificate (RFC 8422 5.3)")
        signed = self.client_random + self.server_random + ske.params()
        crypto.verify(leaf_key, ske.scheme, ske.signature, signed, curve_bound=False,
                      key_oid=self.peer_chain[0].public_key_algorithm_oid.dotted_string)
        share = crypto.new_key_share(ske.group, cfg.rng)
        self.premaster = share.exchange(ske.public)
        self.group = NamedGroup(ske.group)
        self.peer_scheme = SignatureScheme(ske.scheme)
        self._client_public = share.public
        self.trace("server_key_exchange", raw=raw, group=self.group.name,
                   server_share=ske.public, client_share=share.public,
                   shared_secret=self.premaster, scheme=self.peer_scheme.name)
        self.expect = {_HT.certificate_request: self.on_certificate_request,
                       _HT.server_hello_done: self.on_server_hello_done}

    def _verify_chain(self) -> None:
        self.prev.peer_chain = self.peer_chain
        self.prev.ocsp_response = self.ocsp_response
        self.prev._verify_chain()
        self.verification_error = self.prev.verification_error

    def on_certificate_request(self, msg: m12.CertificateRequest12, raw: bytes) -> None:
        self.cert_request = msg
        self.expect = {_HT.server_hello_done: self.on_server_hello_done}

    # -- the client's flight ---------------------------------------------------------

    def on_server_hello_done(self, msg: m12.ServerHelloDone, raw: bytes) -> None:
        signer = None
        if self.cert_request is not None:
            signer = self._send_certificate()
        self.send(m12.ClientKeyExchangeECDHE(self._client_public).encode())
        self.derive_master(self.premaster)
        self.premaster = b""
        if signer is not None:
            key, scheme = signer
            sig = crypto.sign(key, scheme, bytes(self.messages))
            self.send(m12.CertificateVerify12(scheme, sig).encode())
        c_key, s_key, c_iv, s_iv = self.key_block()
        self.install_write12(c_key, c_iv)
        fin = m.Finished(self.finished_data(True, self.transcript.digest()))
        self.send(fin.encode())
        self.flush()
        self.pending_read = (s_key, s_iv)
        self.trace("client_finished", verify_data=fin.verify_data,
                   master_secret=self.master_secret)
        self.expect = {}
        if _E.session_ticket in self.offered:
            self.expect[_HT.new_session_ticket] = self.on_ticket12
        self.state = "waiting for the server's ChangeCipherSpec"

    def _send_certificate(self) -> tuple[Any, int] | None:
        req = self.cert_request
        assert req is not None
        ck = self.config.certificate
        scheme = None
        if ck is not None:
            scheme = next((s for s in ck.schemes12 if s in req.schemes), None)
        if ck is None or scheme is None:
            self.send(m12.Certificate12([]).encode())
            return None
        self.send(m12.Certificate12(list(ck.cert_der)).encode())
        return ck.private_key, scheme

    def on_ticket12(self, msg: m12.NewSessionTicket12, raw: bytes) -> None:
        """RFC 5077 tickets are accepted (they are in the transcript) but not used; one."""
        self.expect.pop(_HT.new_session_ticket, None)

    def on_finished(self, fin: m.Finished, raw: bytes) -> None:
        self.check_finished12(fin, is_client=False)
        self.complete = True
        self.expect = {_HT.hello_request: self.on_hello_request}
        self.state = "connected (TLS 1.2)"
        self.trace("server_finished", verify_data=fin.verify_data)
        assert self.suite12 is not None
        self.events.append(HandshakeComplete(
            version="TLSv1.2", cipher_suite=self.suite12.name,
            group=self.group.name if self.group else None,
            signature_scheme=self.peer_scheme.name if self.peer_scheme else None,
            alpn_protocol=self.alpn, peer_certificates=list(self.peer_chain),
            resumed=False, server_name=self.server_name, ocsp_response=self.ocsp_response))

    def _received(self, raw: bytes) -> None:
        if raw[0] == _HT.hello_request and not self.complete:
            # RFC 5246 7.4.1.1: ignored while negotiating, and never part of the transcript
            m12.HelloRequest.decode(memoryview(raw)[4:])
            return
        super()._received(raw)

    def on_hello_request(self, msg: Any, raw: bytes) -> None:
        """Renegotiation is refused with a warning (RFC 5746 4.5), a bounded number of times."""
        from ..enums import AlertDescription
        self._hello_requests += 1
        if self._hello_requests > 16:
            raise UnexpectedMessage("too many HelloRequests")
        self.records.write(21, bytes((1, AlertDescription.no_renegotiation)))
