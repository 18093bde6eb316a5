"""RFC 8448 traces reproduced byte-exact by the tlskit client and server.

Randomness and ephemeral keys are injected; the server's RSA-PSS signature (randomised
by nature) is checked against the vector's: the key proxy verifies that the bytes tlskit
asks it to sign are exactly what the vector's signature covers, then returns it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from tlskit import (
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    DataReceived,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    SessionTicketReceived,
)
from tlskit.wire import messages as m

from ..support.records import KeyLog, expand_label

# The RFC 8448 traces, kept in the repo; provenance in tests/vectors/README.md.
# RFC 8448's server certificate is a fixed vector and has expired: the warning a
# server config gives for that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::tlskit.config.CertificateValidityWarning")

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc8448.json"
DATA = json.loads(VECTORS.read_text())
SIMPLE = DATA["traces"]["simple_1rtt"]
HRR = DATA["traces"]["hello_retry_request"]

SIGALGS_8448 = [0x0403, 0x0503, 0x0603, 0x0203, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501,
                0x0601, 0x0201, 0x0402, 0x0502, 0x0602, 0x0202]


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def record(trace: dict[str, Any], name: str) -> bytes:
    return h(trace["records"][name]["record"])


class ScriptedRandom:
    """An rng that hands out the trace's values in the order tlskit asks for them."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def __call__(self, n: int) -> bytes:
        chunk = self.chunks.pop(0)
        assert len(chunk) == n, f"tlskit asked for {n} random bytes, trace has {len(chunk)}"
        return chunk


class RecordingVerifier:
    """Accepts the RFC's (expired, 1024-bit) test certificate; records what it saw."""

    def __init__(self) -> None:
        self.seen: list[x509.Certificate] = []

    def verify(self, leaf: x509.Certificate, intermediates: list[x509.Certificate],
               server_name: str | None = None, at: Any = None, usage: str = "server",
               ocsp_response: bytes | None = None) -> list[x509.Certificate]:
        self.seen = [leaf, *intermediates]
        return self.seen


def rfc_rsa_key() -> rsa.RSAPrivateKey:
    k = DATA["rsa_private_key"]
    pub = rsa.RSAPublicNumbers(int(k["public_exponent"], 16), int(k["modulus"], 16))
    return rsa.RSAPrivateNumbers(
        int(k["prime1"], 16), int(k["prime2"], 16), int(k["private_exponent"], 16),
        int(k["exponent1"], 16), int(k["exponent2"], 16), int(k["coefficient"], 16),
        pub).private_key()


class VectorSigningKey(rsa.RSAPrivateKey):
    """Signs by checking the trace's signature over the requested bytes and returning it."""

    def __init__(self, real: rsa.RSAPrivateKey, signature: bytes) -> None:
        self.real = real
        self.signature = signature
        self.signed: list[bytes] = []

    def sign(self, data: Any, padding: Any, algorithm: Any) -> bytes:
        self.real.public_key().verify(self.signature, data, padding, algorithm)
        self.signed.append(bytes(data))
        return self.signature

    def decrypt(self, ciphertext: bytes, padding: Any) -> bytes:
        return self.real.decrypt(ciphertext, padding)

    @property
    def key_size(self) -> int:
        return self.real.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self.real.public_key()

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        return self.real.private_numbers()

    def private_bytes(self, *args: Any) -> bytes:
        return self.real.private_bytes(*args)

    def __copy__(self) -> VectorSigningKey:
        return self

    def __deepcopy__(self, memo: Any) -> VectorSigningKey:
        return self


def server_certificate(trace: dict[str, Any]) -> x509.Certificate:
    msg = m.Certificate.decode(h(trace["server_certificate"])[4:])
    return x509.load_der_x509_certificate(msg.entries[0].cert_data)


def cv_signature(trace: dict[str, Any]) -> bytes:
    return m.CertificateVerify.decode(h(trace["server_certificate_verify"])[4:]).signature


def p256_scalar(trace: dict[str, Any], side: str) -> bytes:
    return h(trace[f"{side}_p256_private_key"])


# --- Section 3: a simple 1-RTT handshake --------------------------------------------------

def simple_client(**kw: Any) -> tuple[ClientConnection, RecordingVerifier]:
    verifier = RecordingVerifier()
    config = ClientConfig(**kw,
        verifier=verifier,
        groups=["x25519", "secp256r1", "secp384r1", "secp521r1", "ffdhe2048", "ffdhe3072",
                "ffdhe4096", "ffdhe6144", "ffdhe8192"],
        cipher_suites=["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
                       "TLS_AES_256_GCM_SHA384"],
        signature_schemes=SIGALGS_8448, middlebox_compat=False, legacy_session_ticket=True,
        versions=["TLSv1.3"], certificate_compression=(),
        record_size_limit=0x4001,
        rng=ScriptedRandom(h(SIMPLE["client_random"]), h(SIMPLE["client_x25519_private_key"])))
    return ClientConnection(config, server_name="server"), verifier


def test_client_hello_is_byte_exact() -> None:
    client, _ = simple_client()
    assert client.data_to_send() == record(SIMPLE, "client_hello")


def test_client_full_trace() -> None:
    client, verifier = simple_client()
    client.data_to_send()
    events = client.receive_data(record(SIMPLE, "server_hello"))
    assert events == []
    events = client.receive_data(record(SIMPLE, "server_flight_encrypted"))
    assert len(events) == 1 and isinstance(events[0], HandshakeComplete)
    done = events[0]
    assert (done.version, done.cipher_suite.name, done.group.name, done.signature_scheme.name) == (
        "TLSv1.3", "TLS_AES_128_GCM_SHA256", "x25519", "rsa_pss_rsae_sha256")
    assert verifier.seen == [server_certificate(SIMPLE)]
    assert client.data_to_send() == record(SIMPLE, "client_finished_encrypted")

    events = client.receive_data(record(SIMPLE, "new_session_ticket_encrypted"))
    assert isinstance(events[0], SessionTicketReceived)
    assert events[0].ticket == h(SIMPLE["ticket"]) and events[0].lifetime == 30

    payload = h(SIMPLE["records"]["client_application_data_encrypted"]["payload"])
    client.send_data(payload)
    assert client.data_to_send() == record(SIMPLE, "client_application_data_encrypted")
    events = client.receive_data(record(SIMPLE, "server_application_data_encrypted"))
    assert events == [DataReceived(payload)]
    client.close()
    assert client.data_to_send() == record(SIMPLE, "client_alert_encrypted")
    assert client.receive_data(record(SIMPLE, "server_alert_encrypted")) == [
        ConnectionClosed(None)]


def vector_server(trace: dict[str, Any]) -> tuple[ServerConnection, VectorSigningKey]:
    """The RFC 8448 server of ``trace``: its certificate, signature, groups and randoms."""
    key = VectorSigningKey(rfc_rsa_key(), cv_signature(trace))
    config = ServerConfig(
        certificate_chain=[server_certificate(trace)], private_key=key,
        groups=["x25519", "secp256r1", "secp384r1", "secp521r1", "ffdhe2048", "ffdhe3072",
                "ffdhe4096", "ffdhe6144", "ffdhe8192"],
        send_supported_groups=True, record_size_limit=0x4001, session_tickets=0,
        rng=ScriptedRandom(h(trace["server_random"]), h(trace["server_x25519_private_key"])))
    return ServerConnection(config), key


def simple_server() -> tuple[ServerConnection, VectorSigningKey]:
    return vector_server(SIMPLE)


def test_server_full_trace() -> None:
    server, key = simple_server()
    assert server.receive_data(record(SIMPLE, "client_hello")) == []
    assert server.data_to_send() == record(SIMPLE, "server_hello") + record(
        SIMPLE, "server_flight_encrypted")
    assert len(key.signed) == 1  # the CertificateVerify content matched the trace's
    events = server.receive_data(record(SIMPLE, "client_finished_encrypted"))
    assert len(events) == 1 and isinstance(events[0], HandshakeComplete)
    assert events[0].server_name == "server"
    payload = h(SIMPLE["records"]["client_application_data_encrypted"]["payload"])
    assert server.receive_data(record(SIMPLE, "client_application_data_encrypted")) == [
        DataReceived(payload)]


def test_exporter_and_resumption_secrets_match() -> None:
    """Seen from outside: the exporter master secret is what the key log reports
    (EXPORTER_SECRET); the resumption master secret is behind the ticket's PSK
    (HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce), 4.6.1)."""
    log = KeyLog()
    client, _ = simple_client(keylog=log)
    client.data_to_send()
    client.receive_data(record(SIMPLE, "server_hello") + record(SIMPLE, "server_flight_encrypted"))
    assert log.secret("EXPORTER_SECRET") == h(SIMPLE["exporter_master_secret"])
    events = client.receive_data(record(SIMPLE, "new_session_ticket_encrypted"))
    psk = events[0].session.psk  # type: ignore[attr-defined]
    assert psk == expand_label("sha256", h(SIMPLE["resumption_master_secret"]),
                               b"resumption", h(SIMPLE["ticket_nonce"]), 32)
    assert psk == h(SIMPLE["resumption_psk"])


# --- Section 5: HelloRetryRequest -----------------------------------------------------------

def hrr_client() -> ClientConnection:
    config = ClientConfig(
        verifier=RecordingVerifier(), groups=["x25519", "secp256r1", "secp384r1"],
        cipher_suites=["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
                       "TLS_AES_256_GCM_SHA384"],
        signature_schemes=SIGALGS_8448, middlebox_compat=False, record_size_limit=0x4001,
        versions=["TLSv1.3"], certificate_compression=(),
        rng=ScriptedRandom(h(HRR["client_random"]), h(HRR["client_x25519_private_key"]),
                           p256_scalar(HRR, "client")))
    return ClientConnection(config, server_name="server")


def test_hrr_client_trace() -> None:
    client = hrr_client()
    assert client.data_to_send() == record(HRR, "client_hello_1")
    assert client.receive_data(record(HRR, "hello_retry_request")) == []
    assert client.data_to_send() == record(HRR, "client_hello_2")
    client.receive_data(record(HRR, "server_hello"))
    events = client.receive_data(record(HRR, "server_flight_encrypted"))
    assert isinstance(events[0], HandshakeComplete) and events[0].group.name == "secp256r1"
    assert client.data_to_send() == record(HRR, "client_finished_encrypted")
    client.close()
    assert client.data_to_send() == record(HRR, "client_alert_encrypted")


def hrr_cookie() -> bytes:
    hrr = m.ServerHello.decode(h(HRR["hello_retry_request"])[4:])
    body = hrr.extensions[44]
    return body[2:]


def test_hrr_server_trace() -> None:
    key = VectorSigningKey(rfc_rsa_key(), cv_signature(HRR))
    config = ServerConfig(
        certificate_chain=[server_certificate(HRR)], private_key=key,
        groups=["secp256r1", "secp384r1", "x25519"], send_supported_groups=True,
        record_size_limit=0x4001, hrr_cookie=lambda _digest: hrr_cookie(), session_tickets=0,
        rng=ScriptedRandom(h(HRR["server_random"]), p256_scalar(HRR, "server")))
    server = ServerConnection(config)
    server.receive_data(record(HRR, "client_hello_1"))
    assert server.data_to_send() == record(HRR, "hello_retry_request")
    server.receive_data(record(HRR, "client_hello_2"))
    assert server.data_to_send() == record(HRR, "server_hello") + record(
        HRR, "server_flight_encrypted")
    events = server.receive_data(record(HRR, "client_finished_encrypted"))
    assert isinstance(events[0], HandshakeComplete) and events[0].group.name == "secp256r1"
    server.close()
    assert server.data_to_send() == record(HRR, "server_alert_encrypted")


@pytest.fixture(autouse=True)
def _vectors_present() -> Iterator[None]:
    assert VECTORS.exists(), f"RFC 8448 vectors missing at {VECTORS}"
    yield


# --- Section 7: middlebox compatibility mode -----------------------------------------------

COMPAT = DATA["traces"]["compatibility_mode"]


def compat_session_id() -> bytes:
    return m.ClientHello.decode(h(COMPAT["client_hello"])[4:]).session_id


def test_compatibility_mode_client_trace() -> None:
    """D.4: a 32-byte legacy_session_id, and a change_cipher_spec before the Finished."""
    config = ClientConfig(
        verifier=RecordingVerifier(),
        groups=["x25519", "secp256r1", "secp384r1", "secp521r1", "ffdhe2048", "ffdhe3072",
                "ffdhe4096", "ffdhe6144", "ffdhe8192"],
        cipher_suites=["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
                       "TLS_AES_256_GCM_SHA384"],
        signature_schemes=SIGALGS_8448, middlebox_compat=True, record_size_limit=0x4001,
        versions=["TLSv1.3"], certificate_compression=(),
        rng=ScriptedRandom(h(COMPAT["client_random"]), compat_session_id(),
                           h(COMPAT["client_x25519_private_key"])))
    client = ClientConnection(config, server_name="server")
    assert client.data_to_send() == record(COMPAT, "client_hello")
    events = client.receive_data(record(COMPAT, "server_hello")
                                 + record(COMPAT, "server_change_cipher_spec")
                                 + record(COMPAT, "server_flight_encrypted"))
    assert isinstance(events[0], HandshakeComplete)
    assert client.data_to_send() == record(COMPAT, "client_change_cipher_spec") + record(
        COMPAT, "client_finished_encrypted")
    client.close()
    assert client.data_to_send() == record(COMPAT, "client_alert_encrypted")


def test_compatibility_mode_server_trace() -> None:
    server, _key = vector_server(COMPAT)
    assert server.receive_data(record(COMPAT, "client_hello")) == []
    assert server.data_to_send() == (record(COMPAT, "server_hello")
                                     + record(COMPAT, "server_change_cipher_spec")
                                     + record(COMPAT, "server_flight_encrypted"))
    events = server.receive_data(record(COMPAT, "client_change_cipher_spec")
                                 + record(COMPAT, "client_finished_encrypted"))
    assert isinstance(events[0], HandshakeComplete)
    server.close()
    assert server.data_to_send() == record(COMPAT, "server_alert_encrypted")
