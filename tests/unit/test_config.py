"""Configs: algorithm names read one way everywhere, validated once, then immutable."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tlskit import (
    CipherSuite,
    ClientConfig,
    NamedGroup,
    ServerConfig,
    SignatureScheme,
    parse_cipher_suite,
    parse_group,
    parse_signature_scheme,
)
from tlskit.ca import LocalCA
from tlskit.config import CertifiedKey, generate_ech_key


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA.create(None)


@pytest.fixture(scope="module")
def server_kwargs(ca: LocalCA) -> dict[str, Any]:
    issued = ca.issue_server(["localhost"])
    return {"certificate_chain": issued.chain, "private_key": issued.private_key}


@pytest.mark.parametrize(("name", "group"), [
    ("p-256", NamedGroup.secp256r1), ("P-256", NamedGroup.secp256r1),
    ("secp256r1", NamedGroup.secp256r1), ("prime256v1", NamedGroup.secp256r1),
    ("SECP384R1", NamedGroup.secp384r1), ("P-521", NamedGroup.secp521r1),
    ("x25519mlkem768", NamedGroup.X25519MLKEM768), ("X25519", NamedGroup.x25519),
    (0x001D, NamedGroup.x25519), (NamedGroup.x448, NamedGroup.x448),
])
def test_group_names_mean_the_same_to_both_configs(
        name: str | int, group: NamedGroup, server_kwargs: dict[str, Any]) -> None:
    assert parse_group(name) is group
    client = ClientConfig(groups=[name], key_share_groups=[name])
    server = ServerConfig(groups=[name], **server_kwargs)
    assert client.groups == (group,) and client._groups == [group]
    assert client._share_groups == [group]
    assert server.groups == (group,) and server._groups == [group]


def test_key_shares_follow_the_order_of_supported_groups() -> None:
    # RFC 8446 4.2.8: each KeyShareEntry in the same order as supported_groups.
    from tlskit import ClientConnection
    from tlskit.enums import ExtensionType
    from tlskit.wire import extensions as ext
    from tlskit.wire import messages as m
    cfg = ClientConfig(groups=["x25519", "secp384r1", "secp256r1"],
                       key_share_groups=["secp256r1", "x25519"])
    hello = ClientConnection(cfg, "localhost").data_to_send()
    exts = m.ClientHello.decode(memoryview(hello)[9:]).extensions
    groups = ext.decode_u16_list(exts[ExtensionType.supported_groups], "supported_groups")
    shares = [g for g, _ in ext.decode_key_share_client(exts[ExtensionType.key_share])]
    assert groups == [0x001D, 0x0018, 0x0017] and shares == [0x001D, 0x0017]


def test_suite_and_scheme_names() -> None:
    assert parse_cipher_suite("tls_aes_128_gcm_sha256") is CipherSuite.TLS_AES_128_GCM_SHA256
    assert (parse_cipher_suite("ECDHE-RSA-AES128-GCM-SHA256")
            is CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
    assert parse_signature_scheme("ED25519") is SignatureScheme.ed25519
    cfg = ClientConfig(cipher_suites=["TLS_CHACHA20_POLY1305_SHA256"],
                       signature_schemes=["Ecdsa_Secp256r1_Sha256"])
    assert cfg._suites == [CipherSuite.TLS_CHACHA20_POLY1305_SHA256] and cfg._suites12 == []
    assert cfg._versions == ["TLSv1.3"]
    assert cfg._schemes == [SignatureScheme.ecdsa_secp256r1_sha256]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"groups": ["p-255"]}, "unknown group 'p-255' (known: secp256r1"),
    ({"groups": []}, "at least one group is required"),
    ({"groups": [0x1234]}, "group UNKNOWN_0x1234 is not supported by tlskit"),
    ({"cipher_suites": ["TLS_RSA_WITH_AES_128_CBC_SHA"]}, "unknown cipher suite"),
    ({"cipher_suites": ["TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]},
     "TLS_EMPTY_RENEGOTIATION_INFO_SCSV is a signalling value, not a cipher suite"),
    ({"signature_schemes": ["rsa_sha1"]}, "unknown signature scheme 'rsa_sha1'"),
    ({"key_share_groups": ["x448"], "groups": ["x25519"]},
     "key share group x448 is not in groups"),
])
def test_bad_names_fail_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        ClientConfig(**kwargs)


def test_the_names_suggested_for_an_unknown_suite_are_suites() -> None:
    with pytest.raises(ValueError, match="unknown cipher suite") as caught:
        ClientConfig(cipher_suites=["AES-128"])
    assert "TLS_AES_128_GCM_SHA256" in str(caught.value) and "SCSV" not in str(caught.value)


def test_one_string_is_not_a_list_of_names() -> None:
    with pytest.raises(TypeError, match="groups must be a list"):
        ClientConfig(groups="x25519")  # type: ignore[arg-type]


def test_assignment_after_construction_is_refused(server_kwargs: dict[str, Any]) -> None:
    for cfg in (ClientConfig(), ServerConfig(**server_kwargs)):
        with pytest.raises(dataclasses.FrozenInstanceError,
                           match=r"immutable .* config\.replace\(groups=\.\.\.\)"):
            cfg.groups = ["x25519"]  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            del cfg.alpn_protocols
        assert cfg.groups is None  # untouched: still the default list


def test_lists_are_copied_so_the_caller_cannot_change_them_later() -> None:
    groups = ["x25519"]
    cfg = ClientConfig(groups=groups)
    groups.append("secp256r1")
    assert cfg.groups == (NamedGroup.x25519,) and cfg._groups == [NamedGroup.x25519]


def test_replace_makes_a_validated_copy() -> None:
    cfg = ClientConfig(groups=["x25519"], alpn_protocols=["h2"])
    changed = cfg.replace(groups=["P-384"])
    assert changed is not cfg and changed._groups == [NamedGroup.secp384r1]
    assert changed.alpn_protocols == ("h2",)
    assert cfg._groups == [NamedGroup.x25519]
    assert dataclasses.replace(cfg, groups=["p-521"])._groups == [NamedGroup.secp521r1]
    with pytest.raises(ValueError, match="unknown group"):
        cfg.replace(groups=["nope"])


def test_replace_rebuilds_the_client_verifier(ca: LocalCA,
                                               server_kwargs: dict[str, Any]) -> None:
    cfg = ServerConfig(client_auth="required", client_trust_anchors=[ca.root],
                       **server_kwargs)
    changed = cfg.replace(client_trust_anchors=[LocalCA.create(None).root])
    first, second = cfg.get_client_verifier(), changed.get_client_verifier()
    assert first is not None and second is not None and first is not second


# -- certificate arguments: objects, not file names ---------------------------------------

@pytest.mark.parametrize("given", ["ca/root.pem", ["ca/root.pem"], [Path("ca/root.pem")]])
def test_trust_anchors_given_a_file_name_refuse_at_construction_and_say_how(given: object) -> None:
    with pytest.raises(TypeError, match=r"trust_anchors takes cryptography x509.Certificate "
                                        r"objects, not (str|PosixPath) \(load a PEM file with "
                                        r"tlskit.load_pem_chain\('ca/root.pem'\)\)"):
        ClientConfig(trust_anchors=given)  # type: ignore[arg-type]


def test_trust_anchors_given_pem_bytes_refuse_and_name_the_parser() -> None:
    with pytest.raises(TypeError, match=r"not bytes \(parse PEM bytes with cryptography"):
        ClientConfig(trust_anchors=[b"-----BEGIN CERTIFICATE-----"])  # type: ignore[list-item]


def test_server_certificate_arguments_refuse_file_names(server_kwargs: dict[str, Any]) -> None:
    chain, key = server_kwargs["certificate_chain"], server_kwargs["private_key"]
    with pytest.raises(TypeError, match="certificate_chain takes cryptography"):
        ServerConfig(certificate_chain=["leaf.pem"], private_key=key)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="client_trust_anchors takes cryptography"):
        ServerConfig(certificate_chain=chain, private_key=key,
                     client_trust_anchors="ca.pem")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a certificate chain takes cryptography"):
        CertifiedKey(["leaf.pem"], key)  # type: ignore[list-item]
    # certificate objects (any sequence of them) are taken as before
    config = ServerConfig(certificate_chain=tuple(chain), private_key=key,
                          client_trust_anchors=chain[-1:])
    assert config.certificate_chain == tuple(chain)
    assert config.client_trust_anchors == tuple(chain[-1:])


def _entry_points(server_cfg: ServerConfig) -> dict[str, tuple[type, Any]]:
    """Every public way to start a connection, each with the config kind it needs; each
    call gets a wrong config (port 1 would refuse a connection: never reached)."""
    import asyncio
    import socket

    import tlskit
    from tlskit.connection import ClientConnection, ServerConnection
    from tlskit.io.server import TLSListener, TLSServer

    def listener(cfg: Any) -> None:
        with socket.socket() as sock:
            TLSListener(sock, cfg)

    def aio(call: Any) -> Any:
        return lambda cfg: asyncio.run(call(cfg))

    return {
        "ServerConnection": (ServerConfig, ServerConnection),
        "TLSListener": (ServerConfig, listener),
        "TLSServer": (ServerConfig, lambda cfg: TLSServer(("127.0.0.1", 0), object, cfg)),
        "tlskit.aio.start_server": (ServerConfig, aio(
            lambda cfg: tlskit.aio.start_server(lambda r, w: None, "127.0.0.1", 0, cfg))),
        "ClientConnection": (ClientConfig, lambda cfg: ClientConnection(cfg, "localhost")),
        "tlskit.connect": (ClientConfig, lambda cfg: tlskit.connect("127.0.0.1", 1, cfg)),
        "tlskit.aio.open_connection": (ClientConfig, aio(
            lambda cfg: tlskit.aio.open_connection("127.0.0.1", 1, cfg))),
    }


@pytest.mark.parametrize("user", ["ServerConnection", "TLSListener", "TLSServer",
                                  "tlskit.aio.start_server", "ClientConnection",
                                  "tlskit.connect", "tlskit.aio.open_connection"])
def test_a_wrong_config_is_a_type_error_saying_how_to_build_one(
        user: str, server_kwargs: dict[str, Any]) -> None:
    """None, the other side's config or a file name where a config belongs: a TypeError
    at the call, naming the call and how to build the right config (it was an
    AttributeError from inside the adapter or the handshake)."""
    kind, call = _entry_points(ServerConfig(**server_kwargs))[user]
    wrong = [ClientConfig() if kind is ServerConfig else ServerConfig(**server_kwargs),
             "config.pem"]
    if kind is ServerConfig:
        wrong.append(None)  # (a client's None means the default config)
    for value in wrong:
        with pytest.raises(TypeError) as info:
            call(value)
        assert str(info.value).startswith(
            f"{user} needs a {kind.__name__}, not {type(value).__name__}: build one with "
            f"{kind.__name__}("), str(info.value)


@pytest.mark.parametrize(("side", "kwargs", "error", "message"), [
    ("client", {"versions": ["TLSv1.1"]}, ValueError,
     "versions must be TLSv1.3 and/or TLSv1.2, not ['TLSv1.1']"),
    ("client", {"versions": []}, ValueError, "versions must be TLSv1.3 and/or TLSv1.2"),
    ("client", {"versions": "TLSv1.3"}, TypeError, "versions must be a list, not one string"),
    ("client", {"versions": ["TLSv1.2"], "cipher_suites": ["TLS_AES_128_GCM_SHA256"]},
     ValueError, "no cipher suite for the enabled versions"),
    ("client", {"alpn_protocols": [""]}, ValueError, "ALPN protocol '' must be 1..255 bytes"),
    ("client", {"alpn_protocols": ["x" * 256]}, ValueError, "must be 1..255 bytes"),
    ("client", {"record_size_limit": 63}, ValueError, "record_size_limit must be within"),
    ("client", {"record_size_limit": 16386}, ValueError, "record_size_limit must be within"),
    ("client", {"psk_modes": "psk_ke"}, TypeError, "psk_modes must be a list"),
    ("client", {"max_handshake_message": "65536"}, TypeError,
     "max_handshake_message must be an int, not str"),
    ("server", {"max_handshake_message": None}, TypeError,
     "max_handshake_message must be an int, not NoneType"),
    ("server", {"max_handshake_message": True}, TypeError,
     "max_handshake_message must be an int, not bool"),
    ("server", {"max_handshake_message": 0}, ValueError,
     "max_handshake_message must be at least 1, not 0"),
    ("server", {"max_early_data_size": -1}, ValueError, "max_early_data_size must be within"),
    ("server", {"max_early_data_size": 1 << 32}, ValueError, "max_early_data_size must be"),
    ("server", {"replay_cache": object()}, ValueError,
     "replay_cache needs a check_replay(token, ttl) method"),
    ("server", {"certificate_chain": None, "private_key": None}, ValueError,
     "a server needs at least one certificate and key"),
    ("server", {"client_auth": "required"}, ValueError,
     "client_auth needs client_trust_anchors or client_verifier"),
    ("server", {"ticket_lifetime": 0}, ValueError, "ticket_lifetime must be within 1..604800"),
    ("server", {"ticket_lifetime": 604801}, ValueError, "ticket_lifetime must be within"),
    ("server", {"session_tickets": 257}, ValueError, "session_tickets must be within 0..256"),
    ("server", {"session_tickets": -1}, ValueError, "session_tickets must be within 0..256"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None)
def test_settings_out_of_range_fail_at_construction(
        side: str, kwargs: dict[str, Any], error: type[Exception], message: str,
        server_kwargs: dict[str, Any]) -> None:
    """Each setting is checked when the config is built, with a message that names it
    and the allowed values, never later in a handshake."""
    with pytest.raises(error) as info:
        if side == "client":
            ClientConfig(**kwargs)
        else:
            ServerConfig(**{**server_kwargs, **kwargs})
    assert message in str(info.value), str(info.value)


def test_certified_key_refuses_what_cannot_serve(ca: LocalCA, tmp_path: Path) -> None:
    """A chain without a leaf, a key that cannot sign TLS 1.3 handshakes, a PEM file
    without a certificate and an encrypted key without its password: each refused when
    loaded, naming the file where there is one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    from tlskit import load_pem_chain
    from tlskit.config import load_pem_private_key

    issued = ca.issue_server(["localhost"])
    with pytest.raises(ValueError, match=r"^a certificate chain needs at least the leaf$"):
        CertifiedKey([], issued.private_key)
    with pytest.raises(ValueError, match=r"cannot sign TLS 1\.3 handshakes"):
        CertifiedKey(issued.chain, x25519.X25519PrivateKey.generate())
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello\n")
    with pytest.raises(ValueError, match=f"^{not_pem} holds no readable PEM certificate: "):
        load_pem_chain(not_pem)
    locked = tmp_path / "locked.pem"
    locked.write_bytes(issued.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    with pytest.raises(TypeError, match=f"^{locked}: .*encrypted"):
        load_pem_private_key(locked)
    assert load_pem_private_key(locked, b"secret").public_key() == issued.private_key.public_key()


@pytest.mark.parametrize("groups", [["ffdhe2048"], ["X25519MLKEM768", "ffdhe3072"]])
def test_tls12_only_with_no_ecdhe_group_is_refused(groups: list[str]) -> None:
    """TLS 1.2 here is ECDHE (or RSA key transport): with only FFDHE or hybrid groups the
    ClientHello would carry an empty supported_groups, which servers reject as malformed
    (decode_error); the config says so instead."""
    with pytest.raises(ValueError, match=r"no group usable with TLS 1\.2"):
        ClientConfig(versions=["TLSv1.2"], groups=groups)
    with pytest.raises(ValueError, match=r"no group usable with TLS 1\.2"):  # 1.2 suites only
        ClientConfig(groups=groups, cipher_suites=["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    ClientConfig(versions=["TLSv1.2"], groups=[*groups, "x25519"])
    ClientConfig(groups=groups)  # TLS 1.3 can use them


@pytest.mark.parametrize("versions", [["TLSv1.2"], ("TLSv1.2",)])
def test_ech_grease_without_tls13_is_refused(versions: Sequence[str]) -> None:
    """TLS 1.2 has no encrypted_client_hello to GREASE: a config that asks for it with
    TLS 1.2 only would silently send none (the CLI refuses --ech-grease --tls1.2 too)."""
    with pytest.raises(ValueError, match=r'^ech_grease needs TLS 1\.3 \(RFC 9849 6\.2: .*\): '
                       r'add "TLSv1\.3" to versions or drop ech_grease$'):
        ClientConfig(ech_grease=True, versions=versions)
    assert ClientConfig(ech_grease=True).ech_grease
    assert ClientConfig(ech_grease=True, versions=["TLSv1.3"]).ech_grease
    assert not ClientConfig(versions=versions).ech_grease


def test_ech_config_list_without_tls13_is_refused() -> None:
    config_list = generate_ech_key("public.example").config_list
    with pytest.raises(ValueError, match=r'^ech_config_list needs TLS 1\.3 \(RFC 9849: .*\): '
                       r'add "TLSv1\.3" to versions or drop ech_config_list$'):
        ClientConfig(ech_config_list=config_list, versions=["TLSv1.2"])
    assert ClientConfig(ech_config_list=config_list, versions=["TLSv1.3"])._ech is not None


def test_a_certificate_that_is_not_a_certified_key_is_refused_when_built() -> None:
    """The local CA's `Issued` has a chain and a key but is not a `CertifiedKey`: given as
    a client certificate it used to be accepted and then fail mid-handshake with
    internal_error. Now the config says what to pass."""
    ca = LocalCA.create(directory=None)
    issued = ca.issue_server(["localhost"])
    with pytest.raises(TypeError, match=r"certificate must be a tlskit.CertifiedKey, not "
                                        r"Issued: CertifiedKey\(chain, private_key\)"):
        ClientConfig(trust_anchors=[ca.root], certificate=issued)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"each of certificates must be a tlskit\.CertifiedKey"):
        ServerConfig(certificates=[issued])  # type: ignore[list-item]
    good = CertifiedKey(list(issued.chain), issued.private_key)
    assert ClientConfig(trust_anchors=[ca.root], certificate=good).certificate is good
    assert ServerConfig(certificates=[good]).certificates == (good,)
