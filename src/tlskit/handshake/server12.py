"""The TLS 1.2 server handshake (RFC 5246 7.3, RFC 8422, RFC 7627), taken over from the
TLS 1.3 server when a client cannot speak 1.3.

    ClientHello -> send ServerHello, Certificate, [CertificateStatus], ServerKeyExchange,
      [CertificateRequest], ServerHelloDone
      -> [Certificate] -> ClientKeyExchange -> [CertificateVerify] -> CCS -> Finished
      -> send CCS, Finished -> Traffic
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from .. import crypto
from ..config import CertifiedKey
from ..enums import CipherSuite, ExtensionType, HandshakeType, NamedGroup, SignatureScheme
from ..errors import (
    DecodeError,
    HandshakeFailure,
    IllegalParameter,
    InappropriateFallback,
    NoApplicationProtocol,
)
from ..events import HandshakeComplete
from ..wire import extensions as ext
from ..wire import messages as m
from ..wire import messages12 as m12
from .common import parse_chain, public_key_of
from .common12 import DOWNGRADE_TLS12, Handshake12

_E = ExtensionType
_HT = HandshakeType
SCSV = 0x00FF  # TLS_EMPTY_RENEGOTIATION_INFO_SCSV
FALLBACK_SCSV = 0x5600  # TLS_FALLBACK_SCSV (RFC 7507)
# RFC 8446 4.1.3: a TLS 1.3 server negotiating 1.2 says so in its random.


class ServerHandshake12(Handshake12):
    side = "server"

    def __init__(self, prev: Any) -> None:
        super().__init__(prev)
        self.prev = prev
        self.server_name: str | None = prev.server_name
        self.client_offer: dict[str, object] = prev.client_offer
        self.certified: CertifiedKey | None = None
        self.scheme: SignatureScheme | None = None
        self.group: NamedGroup | None = None
        self.alpn: str | None = None
        self.client_chain: list[x509.Certificate] = []
        self._share: crypto.KeyShare | None = None
        self._client_keys: tuple[bytes, bytes] = (b"", b"")

    # -- ClientHello -> the server's first flight ----------------------------------------

    def on_client_hello(self, ch: m.ClientHello, raw: bytes) -> None:
        cfg = self.config
        exts = ch.extensions
        self.messages += raw
        if ch.compression_methods != b"\x00" and 0 not in ch.compression_methods:
            raise IllegalParameter("the client offers no null compression")
        if FALLBACK_SCSV in ch.cipher_suites and "TLSv1.3" in cfg._versions:
            raise InappropriateFallback("client fell back to TLS 1.2, but this server speaks "
                                        "TLS 1.3 (RFC 7507)")
        if exts.get(_E.extended_master_secret):
            raise DecodeError("extended_master_secret must be empty (RFC 7627 5.1)")
        reneg = exts.get(_E.renegotiation_info)
        if reneg is not None and reneg != b"\x00":
            raise HandshakeFailure("renegotiation_info must be empty on a new connection")
        if _E.extended_master_secret not in exts:
            raise HandshakeFailure("the client does not offer the extended master secret "
                                   "(RFC 7627), which tlskit requires for TLS 1.2")
        if _E.ec_point_formats in exts and 0 not in ext.decode_ec_point_formats(
                exts[_E.ec_point_formats]):
            raise IllegalParameter("the client does not accept uncompressed points")
        schemes = (ext.decode_u16_list(exts[_E.signature_algorithms], "signature_algorithms")
                   if _E.signature_algorithms in exts else [])
        client_groups = (ext.decode_u16_list(exts[_E.supported_groups], "supported_groups")
                         if _E.supported_groups in exts else [int(NamedGroup.secp256r1)])
        self._choose(ch, schemes, client_groups)
        if _E.application_layer_protocol_negotiation in exts and cfg.alpn_protocols:
            offered = ext.decode_alpn(exts[_E.application_layer_protocol_negotiation])
            self.alpn = next((p for p in cfg.alpn_protocols if p in offered), None)
            if self.alpn is None:
                raise NoApplicationProtocol(f"no ALPN protocol in common (client: {offered})")
        self.client_random = ch.random
        # RFC 8446 4.1.3: a server able to speak 1.3 marks a 1.2 answer in its random.
        self.server_random = (cfg.rng(24) + DOWNGRADE_TLS12 if "TLSv1.3" in cfg._versions
                              else cfg.rng(32))
        self._send_flight(ch)

    def _choose(self, ch: m.ClientHello, schemes: list[int], client_groups: list[int]) -> None:
        """Suite, certificate and scheme together: the suite's auth must fit the key."""
        cfg = self.config
        groups = [g for g in cfg._groups if g in client_groups and g in crypto.GROUPS12]
        if not groups:
            raise HandshakeFailure("no elliptic-curve group in common for TLS 1.2")
        self.group = NamedGroup(groups[0])
        certs = list(cfg._certs)
        if self.server_name:
            from .server13 import _dns_match
            named = [c for c in certs
                     if any(_dns_match(p, self.server_name.lower()) for p in c.dns_names())]
            certs = named + [c for c in certs if c not in named]
        for code in cfg._suites12:
            if code not in ch.cipher_suites:
                continue
            suite = crypto.SUITES12[code]
            for ck in certs:
                if crypto.key_auth_kind(ck.private_key) != suite.auth:
                    continue
                curve = crypto.ec_key_group(ck.private_key)
                if curve is not None and curve not in client_groups:
                    continue  # RFC 8422 5.1: the client must support the certificate's curve
                scheme = next((s for s in ck.schemes12 if s in schemes), None)
                if scheme is not None:
                    self.suite12 = self.suite = suite
                    self.certified, self.scheme = ck, SignatureScheme(scheme)
                    return
        raise HandshakeFailure("no TLS 1.2 cipher suite fits the client's offer and our keys")

    def _send_flight(self, ch: m.ClientHello) -> None:
        cfg = self.config
        suite, ck, scheme, group = self.suite12, self.certified, self.scheme, self.group
        assert suite is not None and ck is not None and scheme is not None and group
        exts = ch.extensions
        sh_exts = m.Extensions()
        if _E.renegotiation_info in exts or SCSV in ch.cipher_suites:
            sh_exts[_E.renegotiation_info] = b"\x00"
        sh_exts[_E.extended_master_secret] = b""
        if _E.ec_point_formats in exts:
            sh_exts[_E.ec_point_formats] = b"\x01\x00"
        if self.server_name is not None:
            sh_exts[_E.server_name] = b""
        if self.alpn is not None:
            sh_exts[_E.application_layer_protocol_negotiation] = ext.encode_alpn([self.alpn])
        staple = None
        if _E.status_request in exts and ck.ocsp_response is not None:
            staple = ck.ocsp_response() if callable(ck.ocsp_response) else ck.ocsp_response
            if staple:
                sh_exts[_E.status_request] = b""
        sh = m.ServerHello(self.server_random, b"", suite.code, sh_exts)
        self.transcript.start(suite.hash_name)
        self.send(sh.encode())
        self.send(m12.Certificate12(list(ck.cert_der)).encode())
        if staple:
            self.send(m12.CertificateStatus(staple).encode())
        self._share = crypto.new_key_share(group, cfg.rng)
        ske = m12.ServerKeyExchangeECDHE(group, self._share.public, scheme, b"")
        ske.signature = crypto.sign(ck.private_key, scheme,
                                    self.client_random + self.server_random + ske.params())
        self.send(ske.encode())
        if cfg.client_auth != "none":
            self.send(m12.CertificateRequest12(
                b"\x01\x40", [int(x) for x in (*crypto.HANDSHAKE_SCHEMES,
                                                  *crypto.TLS12_EXTRA_SCHEMES)],
                []).encode())  # rsa_sign, ecdsa_sign
        self.send(m12.ServerHelloDone().encode())
        self.flush()
        self.trace("server_hello", message=sh, version="TLSv1.2", cipher_suite=suite.name,
                   group=group.name, server_share=self._share.public)
        if cfg.client_auth != "none":
            self.expect = {_HT.certificate: self.on_certificate}
        else:
            self.expect = {_HT.client_key_exchange: self.on_client_key_exchange}
        self.state = "waiting for ClientKeyExchange (TLS 1.2)"

    # -- the client's flight -----------------------------------------------------------

    def on_certificate(self, cert: m12.Certificate12, raw: bytes) -> None:
        if not cert.certificates:
            if self.config.client_auth == "required":  # RFC 5246 7.4.6
                raise HandshakeFailure("the client sent no certificate")
        else:
            chain = parse_chain(cert.certificates, "client")
            public_key_of(chain[0])
            at = datetime.fromtimestamp(self.config.clock(), UTC)
            self.config.client_verifier.verify(chain[0], chain[1:], server_name=None, at=at,
                                               usage="client")
            self.client_chain = chain
        self.expect = {_HT.client_key_exchange: self.on_client_key_exchange}

    def on_client_key_exchange(self, cke: m12.ClientKeyExchangeECDHE, raw: bytes) -> None:
        assert self._share is not None
        premaster = self._share.exchange(cke.public)
        self.trace("client_key_exchange", client_share=cke.public, shared_secret=premaster)
        self.derive_master(premaster)
        c_key, s_key, c_iv, s_iv = self.key_block()
        self._client_keys = (c_key, c_iv)
        self._server_keys = (s_key, s_iv)
        self._cv_messages = bytes(self.messages)
        if self.client_chain:
            # RFC 5246 7.4.8: a client certificate must be proven; no CCS until it is.
            self.expect = {_HT.certificate_verify: self.on_certificate_verify}
        else:
            self.pending_read = self._client_keys
            self.expect = {}
        self.state = "waiting for the client's ChangeCipherSpec"

    def on_certificate_verify(self, cv: m12.CertificateVerify12, raw: bytes) -> None:
        if cv.scheme not in crypto.SCHEMES:
            raise IllegalParameter(f"CertificateVerify scheme {cv.scheme:#06x} not offered")
        leaf = self.client_chain[0]
        crypto.verify(public_key_of(leaf), cv.scheme, cv.signature, self._cv_messages,
                      curve_bound=False, key_oid=leaf.public_key_algorithm_oid.dotted_string)
        self.pending_read = self._client_keys
        self.expect = {}

    def ccs_allowed(self) -> bool:
        return self.pending_read is not None

    def on_finished(self, fin: m.Finished, raw: bytes) -> None:
        self.check_finished12(fin, is_client=True)
        s_key, s_iv = self._server_keys
        self.install_write12(s_key, s_iv)
        reply = m.Finished(self.finished_data(False, self.transcript.digest()))
        self.send(reply.encode())
        self.flush()
        self.complete = True
        self.expect = {}
        self.state = "connected (TLS 1.2)"
        assert self.suite12 is not None
        self.trace("server_finished", verify_data=reply.verify_data)
        self.events.append(HandshakeComplete(
            version="TLSv1.2", cipher_suite=CipherSuite(self.suite12.code).name,
            group=self.group.name if self.group else None,
            signature_scheme=self.scheme.name if self.scheme else None,
            alpn_protocol=self.alpn, peer_certificates=list(self.client_chain),
            resumed=False, server_name=self.server_name))
