"""RFC 7250 raw public keys on the command line: `tlskit connect --pin-key/--raw-key`
against `gnutls-serv --rawpkfile/--rawpkkeyfile` and `tlskit serve`, `gnutls-cli` (its
raw key options) against `tlskit serve --raw-key/--pin-client-key`, what the summary,
--json, --trace and serve's log say, and the one-line errors (a file that is not a key,
a key not pinned, a server without raw keys)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from ..support.peers import Peers
from .helpers import LocalhostPKI
from .test_connect import one_error_line, tlskit
from .test_serve import Serve, serve  # noqa: F401 -- the fixture

VERSIONS = {"tls13": "+VERS-TLS1.3", "tls12": "+VERS-TLS1.2"}
TLS = {"tls13": "TLSv1.3", "tls12": "TLSv1.2"}
BOTH_RAW = "+CTYPE-SRV-RAWPK:+CTYPE-CLI-RAWPK"


def priority(version: str, types: str) -> str:
    return f"NORMAL:-VERS-ALL:{VERSIONS[version]}:{types}"


@dataclass
class KeyFiles:
    """A key pair on disk as GnuTLS and openssl write them: the PKCS #8 PEM private key,
    the public key as PEM and as DER SubjectPublicKeyInfo, and its SHA-256."""

    key: Path
    pub: Path
    der: Path
    sha256: str


def write_key(directory: Path, name: str, private: object) -> KeyFiles:
    key, pub, der = (directory / f"{name}.key", directory / f"{name}.pub",
                     directory / f"{name}.der")
    key.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,  # type: ignore[attr-defined]
                                          NoEncryption()))
    public = private.public_key()  # type: ignore[attr-defined]
    pub.write_bytes(public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    spki = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    der.write_bytes(spki)
    return KeyFiles(key, pub, der, hashlib.sha256(spki).hexdigest())


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyFiles]:
    base = tmp_path_factory.mktemp("rawkeys")
    return {"server": write_key(base, "server", ec.generate_private_key(ec.SECP256R1())),
            "client": write_key(base, "client", ed25519.Ed25519PrivateKey.generate()),
            "stranger": write_key(base, "stranger", ec.generate_private_key(ec.SECP256R1()))}


@pytest.fixture
def peers() -> Iterator[Peers]:
    with Peers() as p:
        yield p


def gnutls_rawpk_serv(peers: Peers, key: KeyFiles, *args: str) -> int:
    _, port = peers.gnutls_serv("--echo", "--rawpkkeyfile", key.key, "--rawpkfile", key.pub,
                                *args)
    return port


def authenticated_by(key: KeyFiles) -> str:
    return f"authenticated by raw public key (SHA-256 of SPKI {key.sha256})"


# --------------------------------------------------------------------------- connect


@pytest.mark.parametrize("version", list(VERSIONS))
def test_connect_pins_the_key_of_gnutls_serv(peers: Peers, keys: dict[str, KeyFiles],
                                             version: str) -> None:
    """The pin as openssl pkey -pubout writes it (PEM) and as DER; the summary and --json
    say the server was authenticated by its raw key, with no chain."""
    server = keys["server"]
    port = gnutls_rawpk_serv(peers, server, "--priority", priority(version, "+CTYPE-SRV-RAWPK"))
    human = tlskit(f"127.0.0.1:{port}", "--pin-key", str(server.der))
    assert human.returncode == 0, human.stderr
    assert TLS[version] in human.stdout
    assert authenticated_by(server) in " ".join(human.stdout.replace("│", " ").split())
    assert "certificate chain" not in human.stdout and "OCSP" not in human.stdout
    proc = tlskit(f"127.0.0.1:{port}", "--pin-key", str(server.pub), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["version"] == TLS[version]
    assert out["peer_raw_public_key"] == {"sha256": server.sha256, "type": "EC secp256r1"}
    assert out["peer_certificates"] == []
    assert out["verification"]["ok"] is True
    assert out["verification"]["detail"] == authenticated_by(server)
    assert out["verification"]["ocsp_staple"] is None
    assert out["client_raw_public_key"] is None


@pytest.mark.parametrize("version", list(VERSIONS))
def test_a_key_not_pinned_is_one_line_naming_it(peers: Peers, keys: dict[str, KeyFiles],
                                                version: str) -> None:
    port = gnutls_rawpk_serv(peers, keys["server"], "--priority",
                             priority(version, "+CTYPE-SRV-RAWPK"))
    proc = tlskit(f"127.0.0.1:{port}", "--pin-key", str(keys["stranger"].pub))
    assert proc.returncode == 1
    assert one_error_line(proc) == (
        f"tlskit connect: the raw public key of 127.0.0.1:{port} (SHA-256 of SPKI "
        f"{keys['server'].sha256}) is not one of the --pin-key keys: if you know it is "
        "that server's key (its admin can run openssl pkey -pubout -outform DER | "
        "sha256sum), pin it with another --pin-key; otherwise this is another server or "
        "its key changed")
    error = json.loads(tlskit(f"127.0.0.1:{port}", "--pin-key", str(keys["stranger"].pub),
                              "--json").stdout)["error"]
    assert keys["server"].sha256 in error["message"] and error["exit_code"] == 1


@pytest.mark.parametrize("version", list(VERSIONS))
def test_connect_presents_a_raw_key_gnutls_serv_requires(
        peers: Peers, keys: dict[str, KeyFiles], version: str) -> None:
    server, client = keys["server"], keys["client"]
    _, port = peers.gnutls_serv("--echo", "--rawpkkeyfile", server.key, "--rawpkfile",
                                server.pub, "--require-client-cert", "--priority",
                                priority(version, BOTH_RAW))
    proc = tlskit(f"127.0.0.1:{port}", "--pin-key", str(server.pub), "--raw-key",
                  str(client.key), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["client_raw_public_key"] == client.sha256
    assert out["client_certificate"] is None
    assert out["verification"]["detail"] == authenticated_by(server)


def test_gnutls_serv_without_raw_keys_is_explained(peers: Peers, tmp_path: Path,
                                                   keys: dict[str, KeyFiles]) -> None:
    """GnuTLS with a certificate and raw keys not enabled answers a ClientHello that
    takes raw keys alone with unsupported_certificate: say what to enable, or --cafile."""
    pki = LocalhostPKI.create(tmp_path, "leaf")
    _, port = peers.gnutls_serv("--echo", "--x509certfile", pki.cert, "--x509keyfile",
                                pki.key)
    proc = tlskit(f"127.0.0.1:{port}", "--pin-key", str(keys["server"].pub))
    line = one_error_line(proc)
    assert proc.returncode == 1
    assert line.startswith(f"tlskit connect: the handshake failed: 127.0.0.1:{port} sent "
                           "alert unsupported_certificate (43); it has no certificate type "
                           "in common with us (RFC 7250 4.2): it serves no raw public key, "
                           "as --pin-key needs. Enable them on the server (gnutls-serv "
                           "--rawpkfile/--rawpkkeyfile with --priority "
                           "NORMAL:+CTYPE-SRV-RAWPK;"), line
    assert line.endswith("or add --cafile to accept a certificate from that CA instead")
    # ... and with --cafile, the certificate is taken (X.509 offered after RawPublicKey)
    ok = tlskit(f"localhost:{port}", "--pin-key", str(keys["server"].pub), "--cafile",
                str(pki.root), "--json")
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["peer_raw_public_key"] is None and out["peer_certificates"]


def test_openssl_server_without_raw_keys_is_explained(peers: Peers, tmp_path: Path,
                                                      keys: dict[str, KeyFiles]) -> None:
    """An OpenSSL server without raw key support (before 3.2, or not enabled) ignores
    server_certificate_type and sends its certificate."""
    pki = LocalhostPKI.create(tmp_path, "leaf")
    _, port = peers.openssl_s_server("-www", "-cert", pki.cert, "-key", pki.key)
    proc = tlskit(f"127.0.0.1:{port}", "--pin-key", str(keys["server"].pub))
    assert proc.returncode == 1
    line = one_error_line(proc)
    assert line.startswith(f"tlskit connect: 127.0.0.1:{port} answered with an X.509 "
                           "certificate: it does not serve raw public keys (RFC 7250). "
                           "Enable them on the server"), line
    assert "openssl s_server -enable_server_rpk" in line and "--cafile" in line


@pytest.mark.parametrize(("option", "name", "words"), [
    ("--pin-key", "cert", "is a certificate, not a key: pin its key (openssl x509 -in "),
    ("--pin-key", "garbage", "is not a public key (a PEM 'PUBLIC KEY', a DER "
                             "SubjectPublicKeyInfo) nor a PEM private key; make one with "
                             "openssl pkey -in KEY.pem -pubout -out pub.pem"),
    ("--pin-key", "missing", "cannot read --pin-key "),
    ("--raw-key", "public", "is a public key; it takes the PEM private key whose public "
                            "half the peer pins (as GnuTLS's --rawpkkeyfile)"),
    ("--raw-key", "encrypted", "is an encrypted private key; give the unencrypted key"),
])
def test_connect_key_file_errors(tmp_path: Path, keys: dict[str, KeyFiles], option: str,
                                 name: str, words: str) -> None:
    pki = LocalhostPKI.create(tmp_path, "leaf")
    (tmp_path / "garbage").write_bytes(b"not a key at all\n")
    private = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption
    (tmp_path / "encrypted").write_bytes(private.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"secret")))
    files = {"cert": pki.cert, "garbage": tmp_path / "garbage",
             "missing": tmp_path / "missing", "public": keys["client"].pub,
             "encrypted": tmp_path / "encrypted"}
    proc = tlskit("127.0.0.1:1", option, str(files[name]))
    assert proc.returncode == 2
    assert words in one_error_line(proc)


# --------------------------------------------------------------------------- serve


def log_has(server: Serve, pattern: str) -> bool:
    return any(re.search(pattern, line) for line in server.stderr_lines)


@pytest.mark.parametrize("version", list(VERSIONS))
def test_gnutls_cli_against_serve_raw_key_and_pinned_client_key(
        serve: Callable[..., Serve], peers: Peers,  # noqa: F811
        keys: dict[str, KeyFiles], version: str) -> None:
    """serve --key --raw-key alone (no certificate) and --pin-client-key: gnutls-cli
    takes the raw key and presents its own; the log names the client's key."""
    server_key, client = keys["server"], keys["client"]
    server = serve("--echo", "--key", str(server_key.key), "--raw-key", "--pin-client-key",
                   str(client.pub), "--tls1.3" if version == "tls13" else "--tls1.2")
    gnutls = peers.start(["gnutls-cli", "-p", str(server.port), "--no-ca-verification",
                          "--rawpkkeyfile", client.key, "--rawpkfile", client.pub,
                          "--priority", priority(version, BOTH_RAW), "127.0.0.1"])
    gnutls.wait_for("Handshake was completed")
    gnutls.write(b"hello raw serve\n")
    gnutls.wait_for("hello raw serve\n")
    gnutls.close_stdin()
    assert gnutls.wait() == 0, gnutls.describe()
    assert re.search(r"Description: \(TLS1\.[23]-Raw Public Key\)-", gnutls.stdout)
    assert server.stop() == 0
    announced = server.rest_of_stdout()
    assert f"raw public key: EC secp256r1, SHA-256 of SPKI {server_key.sha256}" in announced
    assert "client raw public keys required (1 pinned)" in announced
    assert log_has(server, rf" {TLS[version]} .* client-key=SHA-256:{client.sha256}"), \
        server.stderr_lines


def test_serve_names_a_client_key_it_does_not_pin(serve: Callable[..., Serve],  # noqa: F811
                                                  peers: Peers,
                                                  keys: dict[str, KeyFiles]) -> None:
    stranger = keys["stranger"]
    server = serve("--echo", "--raw-key", str(keys["server"].key), "--pin-client-key",
                   str(keys["client"].der))
    gnutls = peers.start(["gnutls-cli", "-p", str(server.port), "--no-ca-verification",
                          "--rawpkkeyfile", stranger.key, "--rawpkfile", stranger.pub,
                          "--priority", priority("tls13", BOTH_RAW), "127.0.0.1"])
    gnutls.close_stdin()
    gnutls.wait()
    server.wait_for_log("handshake failed")  # logged after the alert gnutls-cli exits on
    assert server.stop() == 0
    assert log_has(server, rf"handshake failed: the client's raw public key \(SHA-256 of its "
                           rf"SPKI {stranger.sha256}\) is not pinned: add --pin-client-key "
                           r"with it if you trust this client's key"), server.stderr_lines


def test_connect_against_serve_with_raw_keys_both_ways(serve: Callable[..., Serve],  # noqa: F811
                                                       tmp_path: Path,
                                                       keys: dict[str, KeyFiles]) -> None:
    """serve with a certificate and a raw key (--raw-key: the --key's) and optional pinned
    client keys: a pinning client gets the raw key, a --cafile client the certificate
    (RFC 7250 4.2: each client's first choice); --trace shows the type; a client raw key
    is shown in the summary and logged by its SHA-256."""
    pki = LocalhostPKI.create(tmp_path, "leaf")
    client = keys["client"]
    leaf = write_key(tmp_path, "leaf-pub", _load_private(pki.key))
    server = serve("--echo", "--cert", str(pki.cert), "--key", str(pki.key), "--raw-key",
                   "--pin-client-key", str(client.pub), "--client-auth", "optional")
    where = f"127.0.0.1:{server.port}"
    traced = tlskit(where, "--pin-key", str(pki.key), "--raw-key", str(client.key), "--trace")
    assert traced.returncode == 0, traced.stderr
    text = " ".join(traced.stdout.replace("│", " ").split())
    assert "certificate_type RawPublicKey" in text
    # the offer (ClientHello) and the answer (EncryptedExtensions), by name
    assert text.count("server_certificate_type RawPublicKey") == 2, text
    assert text.count("client_certificate_type RawPublicKey") == 2, text
    assert f"raw_public_key SHA-256 {leaf.sha256}" in text
    assert f"client raw key sent, SHA-256 of SPKI {client.sha256}" in text
    assert authenticated_by(leaf) in text
    x509 = json.loads(tlskit(f"localhost:{server.port}", "--cafile", str(pki.root),
                             "--json").stdout)
    assert x509["peer_raw_public_key"] is None
    assert x509["peer_certificates"][0]["subject"].endswith("localhost")
    assert server.stop() == 0
    assert log_has(server, rf"client-key=SHA-256:{client.sha256}"), server.stderr_lines


def test_serve_key_option_errors(serve: Callable[..., Serve], tmp_path: Path,  # noqa: F811
                                 keys: dict[str, KeyFiles]) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, TLSKIT_STATE_DIR=str(tmp_path / "state"))
    (tmp_path / "garbage").write_bytes(b"nothing\n")
    cases = {
        ("--raw-key",): "tlskit serve: --raw-key without FILE serves --key's key: give "
                        "--key FILE, or --raw-key FILE",
        ("--raw-key", str(keys["server"].pub)):
            f"tlskit serve: --raw-key {keys['server'].pub} is a public key; it takes the "
            "PEM private key whose public half the peer pins (as GnuTLS's --rawpkkeyfile)",
        ("--pin-client-key", str(tmp_path / "garbage")):
            f"tlskit serve: --pin-client-key {tmp_path / 'garbage'} is not a public key",
        ("--key", str(keys["server"].key)):
            "tlskit serve: --key goes with --cert (or with --raw-key alone, to serve it as "
            "a raw public key)",
    }
    for args, words in cases.items():
        proc = subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0", *args],
                              capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(words), (args, proc.stderr)


def _load_private(path: Path) -> object:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    return load_pem_private_key(path.read_bytes(), None)


def test_the_doc_commands_parse() -> None:
    """docs/raw-public-keys.md's command-line section uses the options as they are."""
    import shlex

    from tlskit.cli.main import build_parser

    doc = (Path(__file__).parents[2] / "docs" / "raw-public-keys.md").read_text()
    section = doc.split("## On the command line", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in section.splitlines()
                if line.strip().startswith("tlskit ")]
    assert len(commands) == 2, commands
    for command in commands:
        args = build_parser().parse_args(shlex.split(command)[1:])
        assert args.raw_key is not None and (getattr(args, "pin_key", None)
                                             or getattr(args, "pin_client_key", None))


def test_connect_hints_against_a_raw_key_only_serve(serve: Callable[..., Serve],  # noqa: F811
                                                    keys: dict[str, KeyFiles]) -> None:
    """serve --raw-key FILE (no certificate) requiring a pinned client key, in its page
    mode: each thing a client can get wrong is one line saying what to pass; a client
    that gets everything right gets the page."""
    server_key, client, stranger = keys["server"], keys["client"], keys["stranger"]
    server = serve("--raw-key", str(server_key.key), "--pin-client-key", str(client.der))
    where = f"127.0.0.1:{server.port}"
    refused = tlskit(where, "--pin-key", str(server_key.pub), "--raw-key", str(stranger.key))
    assert f"it refused our raw public key (--raw-key, SHA-256 of SPKI {stranger.sha256}): " \
           "the server must pin it (e.g. tlskit serve --pin-client-key PUB.pem)" \
        in one_error_line(refused)
    missing = tlskit(where, "--pin-key", str(server_key.pub))
    assert one_error_line(missing).endswith(
        "sent alert certificate_required (116); the server requires a client certificate: "
        "pass --raw-key FILE if it pins client keys, else --cert FILE --key FILE")
    unpinned = tlskit(where)
    assert "a server with only a raw public key needs --pin-key" in one_error_line(unpinned)
    page = tlskit(where, "--pin-key", str(server_key.pub), "--raw-key", str(client.key),
                  "--request", r"GET /json HTTP/1.0\r\n\r\n", "--json")
    assert page.returncode == 0, page.stderr
    answer = json.loads(page.stdout)["response"]
    assert answer.startswith("HTTP/1.1 200 OK")
    visit = json.loads(answer.split("\r\n\r\n", 1)[1])
    assert visit["certificate_chain"]["certificates"] == []
    assert visit["negotiated"]["client_certificate"] == \
        f"raw public key, SHA-256 of SPKI {client.sha256}"
    assert server.stop() == 0
    announced = server.rest_of_stdout()
    assert "(no certificate: clients must take raw public keys)" in announced
    assert not announced.startswith("certificate:")


@pytest.mark.parametrize("version", list(VERSIONS))
def test_serve_raw_key_from_a_gnutls_rsa_pss_key(serve: Callable[..., Serve],  # noqa: F811
                                                 peers: Peers, tmp_path: Path,
                                                 version: str) -> None:
    """serve --raw-key with certtool's RSASSA-PSS key restricted to SHA-384 serves that
    key's own SPKI (its RFC 4055 parameters kept; before: rewritten as rsaEncryption,
    which no pin of it matches) and signs with rsa_pss_pss_sha384, as gnutls-cli
    reports."""
    from ..interop.test_gnutls_rawpk import certtool_pss_key
    private, _public, der = certtool_pss_key(tmp_path, "sha384")
    server = serve("--echo", "--key", str(private), "--raw-key",
                   "--tls1.3" if version == "tls13" else "--tls1.2")
    gnutls = peers.start(["gnutls-cli", "-p", str(server.port), "--no-ca-verification",
                          "--priority", priority(version, "+CTYPE-SRV-RAWPK"), "127.0.0.1"])
    gnutls.wait_for("Handshake was completed")
    gnutls.close_stdin()
    assert gnutls.wait() == 0, gnutls.describe()
    assert "-(RSA-PSS-SHA384)-" in gnutls.stdout, gnutls.stdout
    assert server.stop() == 0
    assert f"SHA-256 of SPKI {hashlib.sha256(der).hexdigest()}" in server.rest_of_stdout()
