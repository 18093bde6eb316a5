"""The TLS 1.3 server handshake (RFC 8446 2, 4), one method per step.

    ExpectClientHello (-> HelloRetryRequest -> ExpectClientHello)
      -> send ServerHello, EncryptedExtensions, [CertificateRequest], Certificate,
         CertificateVerify, Finished as one flight
      -> [ExpectCertificate -> ExpectCertificateVerify] -> ExpectFinished -> Traffic
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .. import crypto
from ..config import CertifiedKey, ServerConfig
from ..enums import (
    CipherSuite,
    ExtensionType,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
    SignatureScheme,
)
from ..errors import (
    CertificateRequired,
    DecodeError,
    DecryptError,
    HandshakeFailure,
    IllegalParameter,
    MissingExtension,
    NoApplicationProtocol,
    ProtocolVersionError,
    TLSError,
)
from ..events import Event, HandshakeComplete
from ..keyschedule import EarlySecret, resumption_psk
from ..record import RecordLayer
from ..session import TicketState
from ..wire import certcompress
from ..wire import extensions as ext
from ..wire import messages as m
from .common import CV_CLIENT, CV_SERVER, Handshake13, parse_chain

_E = ExtensionType
_HT = HandshakeType
EARLY_DATA_SKIP_LIMIT = 1 << 16  # bytes of declined 0-RTT data we are willing to discard


class ServerHandshake13(Handshake13):
    side = "server"
    config: ServerConfig

    def __init__(self, config: ServerConfig, records: RecordLayer, events: list[Event]) -> None:
        super().__init__(config, records, events)
        self.expect = {_HT.client_hello: self.on_client_hello}
        self.state = "waiting for ClientHello"
        self.hrr_sent = False
        self.first_hello: m.ClientHello | None = None
        self.group: NamedGroup | None = None
        self.scheme: SignatureScheme | None = None
        self.certified: CertifiedKey | None = None
        self.server_name: str | None = None
        self.alpn: str | None = None
        self.cookie = b""
        self.client_chain: list[x509.Certificate] = []
        self.client_offer: dict[str, object] = {}
        self._client_hs = b""
        self._client_ap = b""
        self._ccs_sent = False
        self.resumption_master = b""
        self.exporter_master = b""
        self._client_scheme: SignatureScheme | None = None
        self._psk: bytes | None = None
        self._compression: int | None = None
        self._psk_index = 0

    def ccs_allowed(self) -> bool:
        return self.first_hello is not None

    # -- ClientHello (4.1.2) -------------------------------------------------------------

    def on_client_hello(self, ch: m.ClientHello, raw: bytes) -> None:
        exts = ch.extensions
        if self.hrr_sent:
            self._check_second_hello(ch)
        if _E.server_name in exts:
            self.server_name = ext.decode_server_name(exts[_E.server_name])
        self.client_offer = self._describe_offer(ch)
        if self._wants_tls12(ch):
            from .server12 import ServerHandshake12
            successor = ServerHandshake12(self)
            self.successor = successor
            successor.on_client_hello(ch, raw)
            return
        self._check_version(ch)
        if ch.compression_methods != b"\x00":
            raise IllegalParameter("legacy_compression_methods must be exactly [null]")
        if _E.pre_shared_key in exts and list(exts)[-1] != _E.pre_shared_key:
            raise IllegalParameter("pre_shared_key must be the last extension (4.2.11)")
        cfg = self.config
        common_suites = [s for s in cfg._suites if s in ch.cipher_suites]
        if not common_suites:
            raise HandshakeFailure("no cipher suite in common with the client")
        self.suite = crypto.SUITES[common_suites[0]]
        if _E.pre_shared_key in exts and _E.key_share not in exts:
            # 9.2 lets a PSK-only hello omit these; tlskit only resumes with (EC)DHE.
            raise HandshakeFailure("PSK-only key exchange (psk_ke) is not supported")
        for required in (_E.signature_algorithms, _E.supported_groups, _E.key_share):
            if required not in exts:
                raise MissingExtension(f"ClientHello lacks {ExtensionType(required).name}")
        client_groups = ext.decode_u16_list(exts[_E.supported_groups], "supported_groups")
        shares = ext.decode_key_share_client(exts[_E.key_share])
        # B.3.1.4: obsolete groups MUST NOT be offered with TLS 1.3. A key share for one is
        # refused; merely listing one is tolerated, since real multi-version clients (e.g.
        # tlslite-ng with brainpool curves) still list them for TLS 1.2.
        obsolete = [g for g, _ in shares if crypto.is_obsolete_group(g)]
        if obsolete:
            raise IllegalParameter(f"key share for obsolete group {obsolete[0]:#06x} in a "
                                   "TLS 1.3 ClientHello")
        for group, _ in shares:
            if group not in client_groups:
                raise IllegalParameter(f"key share for {NamedGroup(group).name}, which is "
                                       "not in supported_groups")
        schemes = ext.decode_u16_list(exts[_E.signature_algorithms], "signature_algorithms")
        if _E.record_size_limit in exts:  # checked now, before anything is sent
            ext.decode_record_size_limit(exts[_E.record_size_limit])
        self.client_random = ch.random
        common_groups = [g for g in cfg._groups if g in client_groups]
        if not common_groups:
            raise HandshakeFailure("no key exchange group in common with the client")
        self.group = NamedGroup(common_groups[0])
        self._psk = self._accept_ticket(ch, raw)
        if self._psk is None:
            cert_schemes = (ext.decode_u16_list(exts[_E.signature_algorithms_cert],
                                                "signature_algorithms_cert")
                            if _E.signature_algorithms_cert in exts else schemes)
            self._choose_certificate(schemes, cert_schemes)
        self._choose_alpn(exts)
        self._compression = None
        if cfg._cert_compression and _E.compress_certificate in exts and self._psk is None:
            try:
                offered = certcompress.decode_extension(exts[_E.compress_certificate])
            except DecodeError:
                offered = []  # an optional optimisation: a malformed offer is just ignored
            self._compression = next(
                (a for a in cfg._cert_compression if a in offered), None)
        self.trace("client_hello", message=ch, raw=raw, offer=self.client_offer)
        if _E.early_data in exts:
            # 4.2.10: 0-RTT is declined (no tickets carry early_data); skip what was sent.
            self.records.early_data_skip = EARLY_DATA_SKIP_LIMIT
        client_share = dict(shares).get(self.group)
        if client_share is None:
            self._send_hello_retry_request(ch)
            return
        if self.first_hello is None:
            self.first_hello = ch
        self._respond(ch, client_share)

    def _accept_ticket(self, ch: m.ClientHello, raw: bytes) -> bytes | None:
        """4.2.11: resume from the first ticket we sealed that is fresh and whose suite
        fits; a ticket we cannot open just means a full handshake."""
        exts = ch.extensions
        cfg = self.config
        if _E.pre_shared_key not in exts or cfg.session_tickets <= 0:
            return None
        identities, binders = ext.decode_pre_shared_key_client(exts[_E.pre_shared_key])
        if _E.psk_key_exchange_modes not in exts:
            raise MissingExtension("pre_shared_key without psk_key_exchange_modes (4.2.9)")
        modes = ext.decode_psk_modes(exts[_E.psk_key_exchange_modes])
        if PskKeyExchangeMode.psk_dhe_ke not in modes:
            return None  # psk_ke alone (no forward secrecy) is not offered by tlskit
        now_ms = int(cfg.clock() * 1000)
        sealer = cfg.get_ticket_sealer()
        for index, (identity, _age) in enumerate(identities):
            state = sealer.open(identity)
            if state is None or not 0 <= now_ms - state.issued_ms < state.lifetime * 1000:
                continue
            if state.suite.code not in ch.cipher_suites or state.suite.code not in cfg._suites:
                continue
            if state.server_name != self.server_name:
                continue
            client_chain = self._resumable_client(state)
            if client_chain is None:
                continue
            self.suite = state.suite
            assert self.before_hello is not None
            cut = len(raw) - ext.binders_length(binders)
            expected = self.psk_binder(state.suite, state.psk, self.before_hello, raw[:cut])
            if not hmac.compare_digest(expected, binders[index]):
                raise DecryptError("PSK binder does not verify (4.2.11.2)")
            self._psk_index = index
            self.client_chain = client_chain
            self.trace("psk_accepted", identity_index=index)
            return state.psk
        return None

    def _resumable_client(self, state: TicketState) -> list[x509.Certificate] | None:
        """The client chain a ticket resumes with, or None if the current policy would
        not accept it: a ticket from another session context (client-auth policy, trust)
        or without the certificate `client_auth="required"` asks for, or whose
        certificate no longer validates (expired, revoked), means a full handshake."""
        cfg = self.config
        if not hmac.compare_digest(state.context, cfg._session_context):
            self.trace("psk_declined", reason="issued under another session context")
            return None
        if not state.client_chain:
            if cfg.client_auth == "required":
                self.trace("psk_declined", reason="no client certificate in the ticket")
                return None
            return []
        try:
            chain = [x509.load_der_x509_certificate(der) for der in state.client_chain]
            verifier = cfg.client_verifier
            assert verifier is not None  # the context says client_auth is on
            at = datetime.fromtimestamp(cfg.clock(), UTC)
            verifier.verify(chain[0], chain[1:], server_name=None, at=at, usage="client")
        except (TLSError, ValueError) as exc:
            self.trace("psk_declined", reason=f"client certificate no longer valid: {exc}")
            return None
        return chain

    def _describe_offer(self, ch: m.ClientHello) -> dict[str, object]:
        """What the client offered, by IANA name (for logs and `tlskit serve`'s page)."""
        exts = ch.extensions

        def u16s(etype: int, what: str) -> list[int]:
            return ext.decode_u16_list(exts[etype], what) if etype in exts else []

        versions = (ext.decode_versions_client(exts[_E.supported_versions])
                    if _E.supported_versions in exts else [ch.legacy_version])
        return {
            "versions": [ProtocolVersion(v).label for v in versions],
            "cipher_suites": [CipherSuite(s).name for s in ch.cipher_suites],
            "groups": [NamedGroup(g).name for g in u16s(_E.supported_groups, "supported_groups")],
            "key_shares": [NamedGroup(g).name for g, _ in (
                ext.decode_key_share_client(exts[_E.key_share]) if _E.key_share in exts else [])],
            "signature_schemes": [SignatureScheme(s).name for s in
                                  u16s(_E.signature_algorithms, "signature_algorithms")],
            "extensions": [ExtensionType(e).name for e in exts],
            "server_name": self.server_name,
            "alpn": (ext.decode_alpn(exts[_E.application_layer_protocol_negotiation])
                     if _E.application_layer_protocol_negotiation in exts else []),
        }

    def _wants_tls12(self, ch: m.ClientHello) -> bool:
        """4.2.1: without supported_versions (or without 1.3 in it) a client speaks <= 1.2."""
        cfg = self.config
        if "TLSv1.2" not in cfg._versions or self.hrr_sent:
            return False
        exts = ch.extensions
        if _E.supported_versions in exts:
            versions = ext.decode_versions_client(exts[_E.supported_versions])
            if ProtocolVersion.TLSv1_3 in versions and "TLSv1.3" in cfg._versions:
                return False
            return ProtocolVersion.TLSv1_2 in versions
        return ch.legacy_version >= ProtocolVersion.TLSv1_2

    def _check_version(self, ch: m.ClientHello) -> None:
        exts = ch.extensions
        if _E.supported_versions not in exts:
            raise ProtocolVersionError(
                f"client offers only {ProtocolVersion(ch.legacy_version).label}; "
                "this server needs TLS 1.3")
        versions = ext.decode_versions_client(exts[_E.supported_versions])
        if ProtocolVersion.TLSv1_3 not in versions:
            raise ProtocolVersionError("client does not offer TLS 1.3")
        # 4.2.1: supported_versions decides, but a legacy_version below TLS 1.0 is no TLS
        # client at all (SSL 3.0 or garbage; RFC 7568, 8446 D.5).
        if ch.legacy_version < ProtocolVersion.TLSv1:
            raise ProtocolVersionError(f"legacy_version {ch.legacy_version:#06x} is not TLS")

    def _choose_certificate(self, schemes: list[int], cert_schemes: list[int]) -> None:
        """Pick the chain for the SNI name and the scheme the client can verify,
        preferring one whose certificate signatures the client accepts (4.2.3; else any
        signable chain, as the RFC lets the server do)."""
        candidates = self.config._certs
        if self.server_name:
            wanted = self.server_name.lower()
            named = [c for c in candidates if any(_dns_match(p, wanted) for p in c.dns_names())]
            candidates = named + [c for c in candidates if c not in named]
        signable = [(ck, s) for ck in candidates
                    for s in [next((s for s in ck.schemes if s in schemes), None)]
                    if s is not None]
        if not signable:
            raise HandshakeFailure(
                "no certificate can be signed with a scheme the client accepts")
        accepted = set(cert_schemes)
        for ck, scheme in signable:
            if all(sigs & accepted for sigs in ck.chain_signatures):
                self.certified, self.scheme = ck, SignatureScheme(scheme)
                return
        self.certified, self.scheme = signable[0][0], SignatureScheme(signable[0][1])

    def _choose_alpn(self, exts: m.Extensions) -> None:
        body = exts.get(_E.application_layer_protocol_negotiation)
        if body is None or not self.config.alpn_protocols:
            return
        offered = ext.decode_alpn(body)
        self.alpn = next((p for p in self.config.alpn_protocols if p in offered), None)
        if self.alpn is None:
            raise NoApplicationProtocol(f"no ALPN protocol in common (client: {offered})")

    # -- HelloRetryRequest (4.1.4) --------------------------------------------------------

    def _send_hello_retry_request(self, ch: m.ClientHello) -> None:
        if self.hrr_sent:
            raise IllegalParameter("second ClientHello still lacks the requested key share")
        assert self.suite is not None and self.group is not None
        self.hrr_sent = True
        self.first_hello = ch
        self.transcript.restart_after_hrr(self.suite.hash_name)
        self.cookie = self._make_cookie()
        hrr = m.ServerHello(m.HRR_RANDOM, ch.session_id, self.suite.code, m.Extensions({
            _E.key_share: ext.encode_key_share_hrr(self.group),
            _E.cookie: ext.encode_cookie(self.cookie),
            _E.supported_versions: ProtocolVersion.TLSv1_3.to_bytes(2, "big"),
        }))
        raw = hrr.encode()
        self.send(raw)
        self.flush()
        if ch.session_id:
            self.records.write_unprotected(20, b"\x01")
            self._ccs_sent = True
        self.trace("hello_retry_request", message=hrr, raw=raw, group=self.group.name,
                   cookie=self.cookie)

    def _make_cookie(self) -> bytes:
        """An opaque cookie binding the retry to this connection's first ClientHello."""
        digest = self.transcript.digest()  # message_hash(ClientHello1)
        if self.config.hrr_cookie is not None:
            return self.config.hrr_cookie(digest)
        return hmac.digest(self.config.get_cookie_key(), digest, "sha256")

    def _check_second_hello(self, ch: m.ClientHello) -> None:
        """4.1.2: the second ClientHello repeats the first but for the listed changes."""
        first = self.first_hello
        assert first is not None and self.group is not None
        if ch.random != first.random or ch.session_id != first.session_id:
            raise IllegalParameter("second ClientHello changed random or legacy_session_id")
        if ch.cipher_suites != first.cipher_suites:
            raise IllegalParameter("second ClientHello changed the cipher suites")
        exts = ch.extensions
        if _E.cookie not in exts or not hmac.compare_digest(
                ext.decode_cookie(exts[_E.cookie]), self.cookie):
            raise IllegalParameter("second ClientHello does not return the cookie")
        if _E.key_share not in exts:
            raise MissingExtension("second ClientHello has no key_share")
        shares = ext.decode_key_share_client(exts[_E.key_share])
        if len(shares) != 1 or shares[0][0] != self.group:
            raise IllegalParameter("second ClientHello must carry exactly the requested share")
        if _E.early_data in exts:
            raise IllegalParameter("early_data after a HelloRetryRequest")
        may_change = {_E.key_share, _E.cookie, _E.early_data, _E.padding, _E.pre_shared_key}
        before = [(t, b) for t, b in first.extensions.items() if t not in may_change]
        after = [(t, b) for t, b in exts.items() if t not in may_change]
        if before != after:
            raise IllegalParameter("second ClientHello changed extensions other than those "
                                   "a HelloRetryRequest allows (4.1.2)")
        self.records.early_data_skip = 0  # 4.2.10: no early data follows a second hello

    # -- ServerHello and the server flight (4.1.3, 4.3, 4.4) ----------------------------

    def _respond(self, ch: m.ClientHello, client_share: bytes) -> None:
        cfg = self.config
        suite, group = self.suite, self.group
        assert suite is not None and group is not None
        if not self.hrr_sent:
            self.transcript.start(suite.hash_name)
        server_random = cfg.rng(32)
        server_share, shared = crypto.server_key_exchange(group, client_share, cfg.rng)
        sh_exts = m.Extensions({_E.key_share: ext.encode_key_share_server(group, server_share)})
        if self._psk is not None:
            sh_exts[_E.pre_shared_key] = self._psk_index.to_bytes(2, "big")
        sh_exts[_E.supported_versions] = ProtocolVersion.TLSv1_3.to_bytes(2, "big")
        sh = m.ServerHello(server_random, ch.session_id, suite.code, sh_exts)
        raw = sh.encode()
        self.send(raw)
        self.flush()
        if ch.session_id and not self._ccs_sent:
            self.records.write_unprotected(20, b"\x01")
            self._ccs_sent = True
        hs = EarlySecret.start(suite, self._psk).handshake(shared)
        th = self.transcript.digest()
        c_hs, s_hs = hs.client_traffic(th), hs.server_traffic(th)
        self.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", c_hs)
        self.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", s_hs)
        self.trace("server_hello", message=sh, raw=raw, group=group.name,
                   client_share=client_share, server_share=server_share, shared_secret=shared,
                   cipher_suite=suite.name, client_handshake_traffic_secret=c_hs,
                   server_handshake_traffic_secret=s_hs)
        self.set_write(s_hs)
        self.set_read(c_hs)
        self._client_hs = c_hs
        self._send_encrypted_extensions(ch)
        if cfg.client_auth != "none" and self._psk is None:
            cr = m.CertificateRequest(b"", m.Extensions({
                _E.signature_algorithms: ext.encode_u16_list(list(crypto.HANDSHAKE_SCHEMES))}))
            self.send(cr.encode())
            self.trace("certificate_request", message=cr)
        if self._psk is None:
            self._send_certificate(ch)
        fin = m.Finished(self.finished_for(s_hs, self.transcript.digest()))
        self.send(fin.encode())
        self.flush()
        master = hs.master()
        th = self.transcript.digest()
        c_ap, s_ap = master.client_traffic(th), master.server_traffic(th)
        self.trace("server_finished", message=fin, raw=fin.encode(), verify_data=fin.verify_data,
                   client_application_traffic_secret=c_ap,
                   server_application_traffic_secret=s_ap)
        self.exporter_master = master.exporter(th)
        self.keylog("CLIENT_TRAFFIC_SECRET_0", c_ap)
        self.keylog("SERVER_TRAFFIC_SECRET_0", s_ap)
        self.keylog("EXPORTER_SECRET", self.exporter_master)
        self._master = master
        self.set_write(s_ap)
        self._client_ap = c_ap
        if cfg.client_auth != "none" and self._psk is None:
            self.expect = {_HT.certificate: self.on_certificate}
            self.state = "waiting for the client's Certificate"
        else:
            self.expect = {_HT.finished: self.on_finished}
            self.state = "waiting for the client's Finished"

    def _send_encrypted_extensions(self, ch: m.ClientHello) -> None:
        cfg = self.config
        exts = m.Extensions()
        if cfg.send_supported_groups:
            exts[_E.supported_groups] = ext.encode_u16_list(cfg._groups)
        if _E.record_size_limit in ch.extensions:
            peer_limit = ext.decode_record_size_limit(ch.extensions[_E.record_size_limit])
            self.records.send_limit = min(peer_limit - 1, 1 << 14)
            if cfg.record_size_limit is not None:
                exts[_E.record_size_limit] = ext.encode_record_size_limit(cfg.record_size_limit)
                self.records.receive_limit = cfg.record_size_limit - 1
        if self.server_name is not None:
            exts[_E.server_name] = b""
        if self.alpn is not None:
            exts[_E.application_layer_protocol_negotiation] = ext.encode_alpn([self.alpn])
        ee = m.EncryptedExtensions(exts)
        raw = ee.encode()
        self.send(raw)
        self.trace("encrypted_extensions", message=ee, raw=raw, alpn=self.alpn)

    def _send_certificate(self, ch: m.ClientHello) -> None:
        ck, scheme = self.certified, self.scheme
        assert ck is not None and scheme is not None
        entries = [m.CertificateEntry(d) for d in ck.cert_der]
        staple = None
        if _E.status_request in ch.extensions and ck.ocsp_response is not None:
            staple = ck.ocsp_response() if callable(ck.ocsp_response) else ck.ocsp_response
            if staple:
                entries[0].extensions[_E.status_request] = ext.encode_ocsp_status(staple)
        cert = m.Certificate(b"", entries)
        raw = cert.encode()
        if self._compression is not None:  # RFC 8879: the same message, compressed
            key = (self._compression, staple)
            packed = ck._compressed.get(key)
            if packed is None:
                if len(ck._compressed) >= 8:  # staples change over time: keep it small
                    ck._compressed.clear()
                packed = ck._compressed[key] = certcompress.compress(
                    self._compression, raw[4:]).encode()
            self.send(packed)
        else:
            self.send(raw)
        self.trace("certificate", message=cert, raw=raw, chain=ck.chain, ocsp_response=staple,
                   compressed=self._compression)
        signature = crypto.sign(ck.private_key, scheme, CV_SERVER + self.transcript.digest())
        cv = m.CertificateVerify(scheme, signature)
        raw = cv.encode()
        self.send(raw)
        self.trace("certificate_verify", message=cv, raw=raw, scheme=scheme.name)

    # -- client authentication (4.4.2, 4.4.3) ----------------------------------------

    def on_certificate(self, cert: m.Certificate, raw: bytes) -> None:
        if cert.request_context:
            raise IllegalParameter("client Certificate context must be empty")
        if not cert.entries:
            if self.config.client_auth == "required":
                raise CertificateRequired("the client sent no certificate")
            self.expect = {_HT.finished: self.on_finished}
            return
        chain = parse_chain([e.cert_data for e in cert.entries], "client")
        verifier = self.config.client_verifier
        assert verifier is not None
        at = datetime.fromtimestamp(self.config.clock(), UTC)
        verifier.verify(chain[0], chain[1:], server_name=None, at=at, usage="client")
        self.client_chain = chain
        self.trace("client_certificate", chain=chain)
        self.expect = {_HT.certificate_verify: self.on_certificate_verify}

    def on_certificate_verify(self, cv: m.CertificateVerify, raw: bytes) -> None:
        self.check_certificate_verify(cv, self.client_chain[0],
                                      list(crypto.HANDSHAKE_SCHEMES), CV_CLIENT,
                                      self.hash_before)
        self._client_scheme = SignatureScheme(cv.algorithm)
        self.expect = {_HT.finished: self.on_finished}

    def on_finished(self, fin: m.Finished, raw: bytes) -> None:
        self.check_finished(fin, self.finished_for(self._client_hs, self.hash_before))
        self.set_read(self._client_ap)
        self.resumption_master = self._master.resumption(self.transcript.digest())
        self.trace("client_finished", message=fin, raw=raw, verify_data=fin.verify_data)
        self.complete = True
        self.expect = {_HT.key_update: self.post_handshake_key_update}
        self.state = "connected"
        assert self.suite is not None
        self._send_tickets()
        resumed = self._psk is not None
        self.events.append(HandshakeComplete(
            version="TLSv1.3", cipher_suite=self.suite.name,
            group=self.group.name if self.group else None,
            signature_scheme=None if resumed or self.scheme is None else self.scheme.name,
            alpn_protocol=self.alpn, peer_certificates=list(self.client_chain),
            resumed=resumed, server_name=self.server_name))

    def _send_tickets(self) -> None:
        """4.6.1: tickets to resume with, each sealing its own PSK."""
        cfg = self.config
        assert self.suite is not None
        if cfg.session_tickets <= 0:
            return
        sealer = cfg.get_ticket_sealer()
        # The client's identity travels in the ticket, so a resumed session reports (and
        # re-validates) the certificate the full handshake verified.
        client_chain = [c.public_bytes(Encoding.DER) for c in self.client_chain]
        issued_ms = int(cfg.clock() * 1000)
        for i in range(cfg.session_tickets):
            nonce = bytes((i,))
            psk = resumption_psk(self.suite, self.resumption_master, nonce)
            state = TicketState(self.suite, psk, issued_ms, cfg.ticket_lifetime, self.alpn,
                                self.server_name, cfg._session_context, client_chain)
            ticket = sealer.seal(state, cfg.rng(12))
            age_add = int.from_bytes(cfg.rng(4), "big")
            nst = m.NewSessionTicket(cfg.ticket_lifetime, age_add, nonce, ticket, m.Extensions())
            self.send(nst.encode(), transcript=False)
            self.trace("new_session_ticket", message=nst)
        self.flush()


def _dns_match(pattern: str, name: str) -> bool:
    """Certificate selection only: exact, or one leftmost wildcard label."""
    pattern = pattern.rstrip(".")
    name = name.rstrip(".")
    if pattern == name:
        return True
    if pattern.startswith("*.") and "." in name:
        return name.split(".", 1)[1] == pattern[2:]
    return False


__all__ = ["ServerHandshake13"]
