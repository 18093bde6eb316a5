"""Every command's options, with no import beyond argparse: `tlskit <command> --help`
parses them without loading the command (its cryptography, rich and engine imports).
Each command module re-exports its function as ``add_arguments``."""

from __future__ import annotations

import argparse
import os

DEFAULT_PORT = 443

DEFAULT_TIMEOUT = 10.0

# What tlskit offers (connect) or accepts (serve) when --groups / --ciphers are absent,
# shown in --help; spelled out here so help needs no import (a test keeps them equal to
# tlskit.crypto's DEFAULT_GROUPS, SERVER_DEFAULT_GROUPS, DEFAULT_SUITES, DEFAULT_SUITES12).
CLIENT_GROUPS = ("X25519MLKEM768", "x25519", "secp256r1", "secp384r1")
SERVER_GROUPS = (*CLIENT_GROUPS, "secp521r1", "x448", "ffdhe2048", "ffdhe3072", "ffdhe4096",
                 "ffdhe6144", "ffdhe8192")
SUITES13 = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
SUITES12 = ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
# tlskit.io.preamble.STARTTLS_PROTOCOLS, spelled out for the same reason (a test keeps
# them equal).
STARTTLS_PROTOCOLS = ("smtp", "imap", "pop3", "ftp", "postgres", "xmpp")
# The port `tlskit connect HOST --starttls PROTO` dials when HOST has none: each
# protocol's IANA-registered plain-text port, where STARTTLS is offered. SMTP is 25 (RFC
# 3207's relay port, as curl's smtp://, smtplib and swaks default to), not 587
# submission: give :587 to reach a submission server.
STARTTLS_PORTS = {"smtp": 25, "imap": 143, "pop3": 110, "ftp": 21, "postgres": 5432,
                  "xmpp": 5222}
SUITES_HELP = (f"(default: for TLS 1.3 {', '.join(SUITES13)}; for TLS 1.2 "
               f"{', '.join(SUITES12)}; plus the RSA key transport ones with --legacy-rsa-kx)")


def _version_options(parser: argparse.ArgumentParser, verb: str, tls12_note: str = "") -> None:
    """--tls1.3 / --tls1.2, which exclude each other: connect and serve pin versions alike."""
    version = parser.add_mutually_exclusive_group()
    version.add_argument("--tls1.3", dest="tls13", action="store_true",
                         help=f"{verb} TLS 1.3 only (default: TLS 1.3 and 1.2)")
    version.add_argument("--tls1.2", dest="tls12", action="store_true",
                         help=f"{verb} TLS 1.2 only{tls12_note}")


def _psk_options(parser: argparse.ArgumentParser, verb: str) -> None:
    """--psk-identity / --psk, as openssl s_client/s_server's -psk_identity / -psk."""
    parser.add_argument("--psk-identity", dest="psk_identity", metavar="ID",
                        help=f"{verb} the TLS 1.3 external PSK with this identity (with --psk)")
    parser.add_argument("--psk", metavar="HEX",
                        help="the external PSK's key in hex, at least 16 bytes (SHA-256, as "
                             "openssl's -psk and gnutls' --pskkey)")


def connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="HOST[:PORT]",
                        help=f"server to connect to (port {DEFAULT_PORT} by default, or "
                             "with --starttls its protocol's port: "
                             + ", ".join(f"{k} {v}" for k, v in STARTTLS_PORTS.items())
                             + "; IPv6 as [addr]:port)")
    parser.add_argument("--cafile", metavar="FILE",
                        help="trust the CA certificates in FILE (PEM or DER, or a directory "
                             "of .pem/.crt/.cer/.der files) instead of the system's")
    parser.add_argument("--servername", metavar="NAME",
                        help="name to send in SNI and to check the certificate against "
                             "(default: HOST)")
    _version_options(parser, "offer", " (ECDHE with AEAD suites; RSA key transport too with "
                     "--legacy-rsa-kx)")
    parser.add_argument("--groups", metavar="LIST",
                        help="key exchange groups to offer, in preference order, e.g. "
                             f"x25519,secp256r1 (default: {', '.join(CLIENT_GROUPS)}, with key "
                             "shares for the first two)")
    parser.add_argument("--ciphers", metavar="LIST",
                        help="cipher suites to offer (IANA names, comma or colon separated) "
                             + SUITES_HELP)
    parser.add_argument("--alpn", metavar="LIST", help="ALPN protocols to offer, e.g. "
                        "h2,http/1.1 (default: none; no ALPN extension is sent)")
    parser.add_argument("--legacy-rsa-kx", dest="legacy_rsa_kx", action="store_true",
                        help="also offer TLS 1.2 RSA key transport (AES128-GCM-SHA256, "
                             "AES256-GCM-SHA384), for old servers: no forward secrecy")
    parser.add_argument("--cert", metavar="FILE", action="append",
                        help="client certificate chain (PEM); repeat --cert/--key pairs to "
                             "hold several: the first one the server's CertificateRequest "
                             "supports (its key, and an issuer among the CAs it names) is "
                             "presented")
    parser.add_argument("--key", metavar="FILE", action="append",
                        help="private key for --cert (PEM), one per --cert, in order")
    parser.add_argument("--pin-key", dest="pin_key", metavar="FILE", action="append",
                        help="RFC 7250 raw public key: accept the server's key if it is "
                             "this one (repeatable, any one of them). FILE: a public key, "
                             "PEM or DER SubjectPublicKeyInfo (openssl pkey -pubout, "
                             "GnuTLS's --rawpkfile), or a PEM private key, whose public "
                             "half is pinned. Only raw keys are then accepted (add --cafile "
                             "to accept certificates from that CA too); no host name is "
                             "checked, and a key not pinned always fails, --insecure or not")
    parser.add_argument("--raw-key", dest="raw_key", metavar="FILE",
                        help="RFC 7250: present this PEM private key as a raw public key "
                             "to a server that asks for a client certificate and pins "
                             "client keys (GnuTLS's --rawpkkeyfile)")
    parser.add_argument("--ech-config-list", metavar="FILE|BASE64",
                        help="Encrypted Client Hello: the server's ECHConfigList (a file, "
                             "binary or base64, or the base64 itself as in a DNS HTTPS "
                             "record's ech=) to encrypt the ClientHello with; the SNI in "
                             "the clear is then its public name")
    parser.add_argument("--ech-grease", action="store_true",
                        help="without --ech-config-list, send a GREASE (random) Encrypted "
                             "Client Hello extension, as Chrome does")
    _psk_options(parser, "offer")
    parser.add_argument("--starttls", metavar="PROTO", choices=STARTTLS_PROTOCOLS,
                        help="speak PROTO's plain text first and switch to TLS, as openssl "
                             "s_client -starttls: smtp (EHLO, STARTTLS), imap, pop3 (STLS), "
                             "ftp (AUTH TLS), postgres (SSLRequest) or xmpp; without a "
                             "port in HOST, PROTO's port (smtp 25, imap 143, ...); e.g. "
                             "tlskit connect mail.example:587 --starttls smtp")
    parser.add_argument("--request", metavar="TEXT",
                        help=r"send TEXT after the handshake (\r \n \t \\ are unescaped) "
                             "and print the answer until the server closes")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--trace", action="store_true",
                        help="show each handshake message with its fields")
    parser.add_argument("--keylog", metavar="FILE",
                        help="append the session secrets to FILE (NSS key log format, "
                             "for Wireshark)")
    parser.add_argument("--no-ocsp-stapling", dest="ocsp_stapling", action="store_false",
                        help="do not ask the server for a stapled OCSP response (by default "
                             "one is asked for and checked: a missing staple is fine, one "
                             "saying the certificate is revoked fails the connection)")
    parser.add_argument("--must-staple", dest="must_staple", action="store_true",
                        help="honour OCSP Must-Staple (RFC 7633), as Firefox does: a "
                             "certificate that asks for it needs a valid stapled OCSP "
                             "response, else the connection fails")
    parser.add_argument("--scts", action="store_true",
                        help="ask for the server's Certificate Transparency SCTs (RFC 6962 "
                             "signed_certificate_timestamp) and list them, with those "
                             "embedded in its certificate or its OCSP staple")
    parser.add_argument("--ct-log", dest="ct_log", metavar="FILE", action="append",
                        help="a CT log's public key (PEM or DER): SCTs from it are verified "
                             "(implies --scts; repeat for more logs)")
    parser.add_argument("--insecure", action="store_true",
                        help="report a certificate verification failure but carry on")
    parser.add_argument("--compress-cert", metavar="LIST",
                        help="certificate compression to accept (RFC 8879), in preference "
                             "order: zlib, brotli (tlskit[brotli]), zstd (tlskit[zstd]); "
                             "default zlib")
    parser.add_argument("--max-fragment-length", dest="max_fragment_length", type=int,
                        choices=(512, 1024, 2048, 4096), metavar="{512,1024,2048,4096}",
                        help="ask the server for records of at most this many bytes "
                             "(RFC 6066 max_fragment_length, for small devices); the "
                             "summary shows the limit in force")
    parser.add_argument("--diagram", metavar="FILE.svg", type=_diagram_path,
                        help="write an SVG sequence diagram of the handshake")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=DEFAULT_TIMEOUT,
                        help=f"connect, handshake and read timeout (default: "
                             f"{DEFAULT_TIMEOUT:g})")


def _diagram_path(text: str) -> str:
    """An SVG path whose folder exists and is writable, checked before the handshake (or
    the whole demo) runs, not found out after it: a usage error (exit 2)."""
    path = os.path.expanduser(text)
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text} is a directory; give a file name, e.g. "
                                         f"{os.path.join(text, 'handshake.svg')}")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"cannot write {text}: the folder {folder} does not "
                                         "exist; create it or pick another path")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: the folder {folder} is not "
                                         "writable; pick another path")
    return text


def positive_days(text: str) -> int:
    """A number of days for argparse: zero or less is a usage error (exit 2) named at the
    option, not a run-time failure."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"{days}: give at least 1 day")
    return days


def port_number(text: str) -> int:
    """A TCP port to listen on, for argparse: a bad one is a usage error (exit 2) naming
    the option and the valid range, not a bind failure."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a port number: {text!r} (give 0-65535; 0: any free port)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"port {port} is out of range (0-65535; 0: any free port)")
    return port


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on "
                        "(default: 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=8443,
                        help="port (default: 8443; 0: any free port, printed on the first line)")
    parser.add_argument("--cert", metavar="FILE",
                        help="certificate chain (PEM, leaf first, then intermediates)")
    parser.add_argument("--key", metavar="FILE", help="private key for --cert (PEM); alone, "
                        "with --raw-key, the raw public key's")
    parser.add_argument("--chain", metavar="FILE", help="more intermediates to send (PEM)")
    parser.add_argument("--raw-key", dest="raw_key", metavar="FILE", nargs="?", const="",
                        help="RFC 7250: also serve a raw public key to clients that prefer "
                             "one: FILE's PEM private key, or --key's without FILE. With "
                             "--cert too, each client gets what it asks for first "
                             "(RFC 7250 4.2); without --cert, raw-key clients only")
    parser.add_argument("--pin-client-key", dest="pin_client_key", metavar="FILE",
                        action="append",
                        help="RFC 7250: ask clients for a raw public key and accept this "
                             "one (repeatable); FILE as connect --pin-key takes it (PEM or "
                             "DER public key, or a PEM private key); clients must present one "
                             "unless --client-auth optional")
    parser.add_argument("--alpn", metavar="LIST",
                        help="ALPN protocols to accept, in preference order "
                             "(default: http/1.1; none with --echo)")
    _psk_options(parser, "accept")
    parser.add_argument("--echo", action="store_true",
                        help="echo what the client sends instead of answering HTTP")
    parser.add_argument("--starttls", metavar="PROTO", choices=STARTTLS_PROTOCOLS,
                        help="serve PROTO's plain text first (greeting, capabilities) and "
                             "switch to TLS on its STARTTLS command, to test clients such "
                             "as openssl s_client -starttls: smtp, imap, pop3, ftp, "
                             "postgres or xmpp; after the handshake NOOP and QUIT/LOGOUT "
                             "are answered (postgres, xmpp: the connection is closed)")
    parser.add_argument("--client-ca", metavar="FILE",
                        help="require a client certificate issued by a CA in FILE (PEM or "
                             "DER, or a directory of .pem/.crt/.cer/.der files, as connect "
                             "--cafile)")
    parser.add_argument("--client-auth", choices=["required", "optional"], default=None,
                        help="with --client-ca or --pin-client-key: refuse clients "
                             "without a certificate or pinned key "
                             "(required, the default) or let them in unauthenticated "
                             "(optional; a certificate sent is still checked)")
    parser.add_argument("--groups", metavar="LIST", help="key exchange groups to accept, in "
                        f"preference order, e.g. x25519,secp256r1 (default: "
                        f"{', '.join(SERVER_GROUPS)})")
    parser.add_argument("--ciphers", metavar="LIST",
                        help="cipher suites to accept, in preference order (IANA names) "
                             + SUITES_HELP)
    parser.add_argument("--legacy-rsa-kx", dest="legacy_rsa_kx", action="store_true",
                        help="also accept TLS 1.2 RSA key transport (AES128-GCM-SHA256, "
                             "AES256-GCM-SHA384) from clients that offer nothing better; "
                             "needs an RSA certificate; no forward secrecy")
    _version_options(parser, "accept")
    parser.add_argument("--ocsp-response", metavar="FILE",
                        help="staple this DER OCSP response (re-read when it is refreshed "
                             "on disk) to clients that ask for one")
    parser.add_argument("--sct", metavar="FILE", action="append",
                        help="a Certificate Transparency SCT for the certificate (one binary "
                             "serialized SCT per file, repeat for more), sent to clients "
                             "that ask (RFC 6962 signed_certificate_timestamp)")
    parser.add_argument("--compress-cert", metavar="LIST",
                        help="compress the certificate for clients that accept it "
                             "(RFC 8879), in preference order: zlib, brotli (what Chromium "
                             "takes; tlskit[brotli]), zstd (tlskit[zstd])")
    parser.add_argument("--tickets", metavar="N", type=int, default=2,
                        help="session tickets sent after each handshake (default 2; 0 turns "
                        "resumption off)")
    parser.add_argument("--keylog", metavar="FILE",
                        help="append session secrets to FILE (NSS key log format)")
    parser.add_argument("--ech", metavar="PUBLIC_NAME",
                        help="Encrypted Client Hello with serve's own key for PUBLIC_NAME, "
                             "made on first use and kept beside the local CA, so the "
                             "ECHConfigList printed in base64 for clients stays the same "
                             "across restarts (PUBLIC_NAME is a DNS name the certificate "
                             "covers: without --cert it is added to the local CA's "
                             "certificate)")
    parser.add_argument("--ech-new-key", action="store_true",
                        help="with --ech: make a new key for PUBLIC_NAME and keep it in "
                             "place of the old one (clients then need the new list)")
    parser.add_argument("--ech-key", metavar="FILE",
                        help="Encrypted Client Hello with an existing key: its raw 32-byte "
                             "X25519 private key (bssl-tool generate-ech -out-private-key), "
                             "with --ech-config")
    parser.add_argument("--ech-config", metavar="FILE",
                        help="the one ECHConfig of --ech-key (bssl-tool generate-ech "
                             "-out-ech-config)")
    parser.add_argument("--ech-config-list-out", metavar="FILE",
                        help="with --ech or --ech-key: also write the ECHConfigList to FILE "
                             "(binary, for tlskit connect --ech-config-list or bssl-tool "
                             "client -ech-config-list)")
    parser.add_argument("--session-store", metavar="URL",
                        help="where ticket keys, TLS 1.2 session IDs and replay tokens live, "
                             "shared by every server using it: redis://HOST:PORT/DB "
                             "(default: this process's memory)")


def verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cert", metavar="CERT",
                        help="leaf certificate (PEM or DER); a PEM file may also hold the "
                             "intermediates (leaf first; a bundle with one end-entity "
                             "certificate is reordered, with a note)")
    parser.add_argument("--chain", metavar="FILE", action="append", default=[],
                        help="more intermediates (PEM or DER), in any order; repeatable")
    parser.add_argument("--cafile", metavar="FILE",
                        help="trust anchors: a PEM or DER file, or a directory of "
                             ".pem/.crt/.cer/.der files; default: the system store")
    parser.add_argument("--host", metavar="NAME",
                        help="check the certificate is valid for this host name or IP")
    parser.add_argument("--at", metavar="ISO-TIME",
                        help="validate at this moment, e.g. 2026-01-31T12:00:00Z "
                             "(default: now; no zone means UTC)")
    parser.add_argument("--client", action="store_true",
                        help="check for TLS client authentication instead of server")
    parser.add_argument("--crl", metavar="FILE", action="append", default=[],
                        help="a CRL (PEM or DER) to check revocation against; repeatable "
                             "(alone: soft-fail, only the given CRLs)")
    parser.add_argument("--ocsp", action="store_true",
                        help="check revocation online (OCSP, then CRL distribution points); "
                             "an unknown status fails (hard-fail)")
    parser.add_argument("--lint", action="store_true",
                        help="also list where the certificates depart from the CA/Browser "
                             "Forum issuance profile (warnings: the verdict and the exit "
                             "status do not change)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with every step and value")
    parser.add_argument("--diagram", metavar="FILE.svg", type=_diagram_path,
                        help="write an SVG sequence diagram of the first session")
    parser.add_argument("--full", action="store_true",
                        help="show long values (key shares, signatures, records) in full "
                             "instead of their first and last bytes and length (--json "
                             "always has them in full)")
    parser.add_argument("--classic", action="store_true",
                        help="the handshake most explanations of SSL describe (TLS 1.2 RSA "
                             "key transport), what it costs (its recording decrypted later "
                             "with the server's private key), and ECDHE beside it")
