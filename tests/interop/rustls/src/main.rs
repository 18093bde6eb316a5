//! rustls-peer: rustls (0.20, Debian's librust-rustls-dev) as a TLS peer for tlskit's
//! interop tests, on 127.0.0.1 only.
//!
//! Server mode listens on 127.0.0.1 (port chosen by the OS), prints "LISTENING <port>" and
//! serves --n connections one after another: handshake, one JSON line describing the
//! connection (printed, and sent to the client), then an echo of everything the client
//! sends until its close_notify, answered with ours; then "ECHOED <bytes> <sha256>". With
//! --close-first it sends its close_notify right after the line and waits for the
//! client's ("CLOSED"). A failed connection prints "HANDSHAKE ERROR <rustls error>" (or
//! "CONNECTION ERROR ...") on stderr and the server goes on with the next one.
//!
//! Client mode connects --n times with one config (one session cache, so later
//! connections can resume). Each connection sends --send bytes in --rounds pieces, each
//! read back (the server echoes) before the next is sent, or with --send 0 reads until the
//! server's close_notify; then it sends close_notify, reads to the server's, and prints
//! one JSON line. Any failure prints "ERROR <rustls error>" on stderr and exits 1.
//!
//! Flags: --mode client|server; --port P (client); --cert and --key, PEM chain and PKCS#8
//! key (the server's; a client certificate for the client); --ca PEM (client: its roots;
//! server: require a client certificate from them); --name (client: SNI and the name
//! checked, default localhost); --versions 1.2,1.3; --suites and --groups (IANA names, in
//! preference order); --alpn; --n; --send; --rounds; --early N (client: 0-RTT bytes on
//! resumptions; server: accept up to N); --max-fragment N (largest record, 32 and up);
//! --tickets (server: self-encrypted tickets instead of its session cache); --no-tickets
//! (client: TLS 1.2 session IDs only); --close-first (server); --half-rtt (server: a line
//! sent as 0.5-RTT data, right after its Finished, before the JSON line).
//!
//! rustls 0.20 does not say whether a handshake resumed, which group it used, or which
//! signature the peer made, so the peer finds out: the certificate verifiers it installs
//! (wrapping rustls' own) record the peer's signature scheme and are not called on a
//! resumption; a TLS 1.3 server sees its own resumption data come back; a TLS 1.2
//! resumption reuses the master secret, which the key log shows.

use std::collections::HashSet;
use std::convert::TryFrom;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ring::digest::{Context, SHA256};
use rustls::client::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ServerName, WebPkiVerifier};
use rustls::server::{AllowAnyAuthenticatedClient, ClientCertVerified, ClientCertVerifier};
use rustls::{
    Certificate, ClientConfig, ClientConnection, Connection, DigitallySignedStruct,
    DistinguishedNames, Error, KeyLog, PrivateKey, RootCertStore, ServerConfig, ServerConnection,
    SignatureScheme, SupportedCipherSuite, SupportedKxGroup, SupportedProtocolVersion,
};

/// The command line: `--flag value` pairs and bare switches.
#[derive(Default)]
struct Args {
    mode: String,
    port: u16,
    cert: Option<String>,
    key: Option<String>,
    ca: Option<String>,
    name: String,
    versions: Vec<&'static SupportedProtocolVersion>,
    suites: Vec<SupportedCipherSuite>,
    groups: Vec<&'static SupportedKxGroup>,
    alpn: Vec<Vec<u8>>,
    count: usize,
    send: usize,
    rounds: usize,
    max_fragment: Option<usize>,
    early: usize,
    half_rtt: bool,
    tickets: bool,
    no_tickets: bool,
    close_first: bool,
}

fn fail(message: String) -> ! {
    eprintln!("ERROR {}", message);
    exit(1)
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// IANA's name for a suite (rustls spells the TLS 1.3 ones "TLS13_...").
fn suite_name(suite: SupportedCipherSuite) -> String {
    format!("{:?}", suite.suite()).replacen("TLS13_", "TLS_", 1)
}

fn parse_args() -> Args {
    let mut args = Args {
        name: "localhost".into(),
        versions: rustls::ALL_VERSIONS.to_vec(),
        suites: rustls::ALL_CIPHER_SUITES.to_vec(),
        groups: rustls::ALL_KX_GROUPS.to_vec(),
        count: 1,
        rounds: 1,
        ..Args::default()
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let flag = argv[i].as_str();
        match flag {
            "--tickets" => args.tickets = true,
            "--no-tickets" => args.no_tickets = true,
            "--close-first" => args.close_first = true,
            "--half-rtt" => args.half_rtt = true,
            _ => {
                let value = argv
                    .get(i + 1)
                    .unwrap_or_else(|| fail(format!("{} needs a value", flag)));
                i += 1;
                set_option(&mut args, flag, value);
            }
        }
        i += 1;
    }
    args
}

fn set_option(args: &mut Args, flag: &str, value: &str) {
    let number = |v: &str| {
        v.parse::<usize>()
            .unwrap_or_else(|_| fail(format!("{} {}", flag, v)))
    };
    match flag {
        "--mode" => args.mode = value.into(),
        "--port" => args.port = number(value) as u16,
        "--cert" => args.cert = Some(value.into()),
        "--key" => args.key = Some(value.into()),
        "--ca" => args.ca = Some(value.into()),
        "--name" => args.name = value.into(),
        "--n" => args.count = number(value),
        "--send" => args.send = number(value),
        "--rounds" => args.rounds = number(value).max(1),
        "--max-fragment" => args.max_fragment = Some(number(value)),
        "--early" => args.early = number(value),
        "--alpn" => args.alpn = list(value).into_iter().map(String::into_bytes).collect(),
        "--versions" => {
            args.versions = list(value)
                .iter()
                .map(|v| match v.as_str() {
                    "1.2" => &rustls::version::TLS12,
                    "1.3" => &rustls::version::TLS13,
                    _ => fail(format!("unknown version {}", v)),
                })
                .collect()
        }
        "--suites" => {
            args.suites = list(value)
                .iter()
                .map(|name| {
                    *rustls::ALL_CIPHER_SUITES
                        .iter()
                        .find(|s| &suite_name(**s) == name)
                        .unwrap_or_else(|| fail(format!("unknown suite {}", name)))
                })
                .collect()
        }
        "--groups" => {
            args.groups = list(value)
                .iter()
                .map(|name| match name.as_str() {
                    "x25519" => &rustls::kx_group::X25519,
                    "secp256r1" => &rustls::kx_group::SECP256R1,
                    "secp384r1" => &rustls::kx_group::SECP384R1,
                    _ => fail(format!("unknown group {}", name)),
                })
                .collect()
        }
        _ => fail(format!("unknown flag {}", flag)),
    }
}

// ------------------------------------------------------------------ PEM files

fn reader(path: &str) -> BufReader<File> {
    BufReader::new(File::open(path).unwrap_or_else(|e| fail(format!("reading {}: {}", path, e))))
}

fn certs(path: &str) -> Vec<Certificate> {
    let ders = rustls_pemfile::certs(&mut reader(path)).unwrap_or_else(|e| fail(e.to_string()));
    if ders.is_empty() {
        fail(format!("no certificate in {}", path));
    }
    ders.into_iter().map(Certificate).collect()
}

fn private_key(path: &str) -> PrivateKey {
    let keys = rustls_pemfile::pkcs8_private_keys(&mut reader(path))
        .unwrap_or_else(|e| fail(e.to_string()));
    PrivateKey(
        keys.into_iter()
            .next()
            .unwrap_or_else(|| fail(format!("no PKCS#8 key in {}", path))),
    )
}

fn roots(path: &str) -> RootCertStore {
    let mut store = RootCertStore::empty();
    for cert in certs(path) {
        store
            .add(&cert)
            .unwrap_or_else(|e| fail(format!("root in {}: {:?}", path, e)));
    }
    store
}

fn chain_and_key(args: &Args) -> Option<(Vec<Certificate>, PrivateKey)> {
    let cert = args.cert.as_ref()?;
    let key = args
        .key
        .as_ref()
        .unwrap_or_else(|| fail("--cert needs --key".into()));
    Some((certs(cert), private_key(key)))
}

// ------------------------------------------------------------------ what rustls does not tell

/// What the verifiers saw: how often a peer's chain was verified (never on a resumption)
/// and the scheme of the peer's last handshake signature.
#[derive(Default)]
struct Seen {
    chains_verified: AtomicUsize,
    scheme: Mutex<Option<SignatureScheme>>,
}

impl Seen {
    fn signed(&self, dss: &DigitallySignedStruct) {
        *self.scheme.lock().unwrap() = Some(dss.scheme);
    }

    fn take_scheme(&self) -> Option<u16> {
        self.scheme.lock().unwrap().take().map(|s| s.get_u16())
    }
}

/// A signature check of a verifier below (`verify_tls12_signature` or
/// `verify_tls13_signature`): note the scheme, then let rustls' own verifier
/// (`self.inner`) check the signature.
macro_rules! noting_signature {
    ($method:ident) => {
        fn $method(
            &self,
            message: &[u8],
            cert: &Certificate,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.seen.signed(dss);
            self.inner.$method(message, cert, dss)
        }
    };
}

/// rustls' WebPKI server verifier, noting what it is asked.
struct ServerVerifier {
    inner: WebPkiVerifier,
    seen: Arc<Seen>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &Certificate,
        intermediates: &[Certificate],
        server_name: &ServerName,
        scts: &mut dyn Iterator<Item = &[u8]>,
        ocsp_response: &[u8],
        now: SystemTime,
    ) -> Result<ServerCertVerified, Error> {
        self.seen.chains_verified.fetch_add(1, Ordering::SeqCst);
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            scts,
            ocsp_response,
            now,
        )
    }

    noting_signature!(verify_tls12_signature);
    noting_signature!(verify_tls13_signature);
}

/// rustls' verifier requiring a client certificate from the given roots, noting the
/// client's signature scheme.
struct ClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    seen: Arc<Seen>,
}

impl ClientCertVerifier for ClientVerifier {
    fn client_auth_root_subjects(&self) -> Option<DistinguishedNames> {
        self.inner.client_auth_root_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &Certificate,
        intermediates: &[Certificate],
        now: SystemTime,
    ) -> Result<ClientCertVerified, Error> {
        self.seen.chains_verified.fetch_add(1, Ordering::SeqCst);
        self.inner
            .verify_client_cert(end_entity, intermediates, now)
    }

    noting_signature!(verify_tls12_signature);
    noting_signature!(verify_tls13_signature);
}

/// A key log that remembers TLS 1.2 master secrets: an abbreviated (resumed) handshake
/// reuses its session's (RFC 5246 7.3), a full one never repeats one.
#[derive(Default)]
struct MasterSecrets {
    seen: Mutex<HashSet<Vec<u8>>>,
    last_repeated: AtomicBool,
}

impl KeyLog for MasterSecrets {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        if label == "CLIENT_RANDOM" {
            let fresh = self.seen.lock().unwrap().insert(secret.to_vec());
            self.last_repeated.store(!fresh, Ordering::SeqCst);
        }
    }

    fn will_log(&self, label: &str) -> bool {
        label == "CLIENT_RANDOM"
    }
}

// ------------------------------------------------------------------ reporting

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

fn sha256(data: &[u8]) -> String {
    hex(ring::digest::digest(&SHA256, data).as_ref())
}

fn json_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt(value: Option<String>) -> String {
    value
        .map(|v| json_string(&v))
        .unwrap_or_else(|| "null".into())
}

/// One connection as JSON: what rustls negotiated and what the peer found out besides.
fn describe(
    conn: &Connection,
    resumed: bool,
    scheme: Option<u16>,
    extra: &[(&str, String)],
) -> String {
    let version = conn.protocol_version().map(|v| match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{:?}", other),
    });
    let peer_certs: Vec<String> = conn
        .peer_certificates()
        .unwrap_or(&[])
        .iter()
        .map(|c| json_string(&sha256(&c.0)))
        .collect();
    let mut fields = vec![
        ("version", json_opt(version)),
        (
            "cipher_suite",
            json_opt(conn.negotiated_cipher_suite().map(suite_name)),
        ),
        (
            "alpn",
            json_opt(
                conn.alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
            ),
        ),
        ("resumed", resumed.to_string()),
        (
            "signature_scheme",
            scheme
                .map(|s| s.to_string())
                .unwrap_or_else(|| "null".into()),
        ),
        (
            "peer_certificates_sha256",
            format!("[{}]", peer_certs.join(",")),
        ),
    ];
    if let Connection::Server(server) = conn {
        fields.push((
            "server_name",
            json_opt(server.sni_hostname().map(String::from)),
        ));
    }
    fields.extend(extra.iter().cloned());
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", json_string(k), v))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// rustls' own error inside an I/O error, in rustls' words (e.g. `AlertReceived(UnknownCA)`).
fn explain(err: &io::Error) -> String {
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
    {
        Some(tls) => format!("{:?}", tls),
        None => format!("io: {:?}: {}", err.kind(), err),
    }
}

fn say(line: &str) {
    println!("{}", line);
    io::stdout().flush().unwrap();
}

/// A rustls connection over its socket, read and written like a stream (rustls'
/// `StreamOwned` takes one side's connection type only).
struct Stream {
    conn: Connection,
    sock: TcpStream,
}

impl Read for Stream {
    /// Plaintext as rustls' reader gives it: Ok(0) after the peer's close_notify, an
    /// UnexpectedEof error for a TCP EOF without one.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.conn.complete_io(&mut self.sock)?;
                }
                other => return other,
            }
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let taken = self.conn.writer().write(buf)?;
        self.flush()?;
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        Ok(())
    }
}

fn handshake(stream: &mut Stream) -> io::Result<()> {
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(())
}

/// Send close_notify and read to the peer's (plaintext after ours is an error).
fn close(stream: &mut Stream) -> io::Result<()> {
    stream.conn.send_close_notify();
    stream.flush()?;
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::Other,
            "data after our close_notify",
        ));
    }
    Ok(())
}

/// Read until the peer's close_notify (Ok(0)); a TCP EOF without it is an error.
fn echo_until_close(stream: &mut Stream) -> io::Result<(usize, String)> {
    let mut buf = vec![0u8; 1 << 16];
    let mut hash = Context::new(&SHA256);
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            stream.conn.send_close_notify();
            stream.flush()?;
            return Ok((total, hex(hash.finish().as_ref())));
        }
        hash.update(&buf[..n]);
        total += n;
        stream.write_all(&buf[..n])?;
    }
}

// ------------------------------------------------------------------ server

fn server_config(args: &Args, seen: &Arc<Seen>, secrets: &Arc<MasterSecrets>) -> ServerConfig {
    let builder = ServerConfig::builder()
        .with_cipher_suites(&args.suites)
        .with_kx_groups(&args.groups)
        .with_protocol_versions(&args.versions)
        .unwrap_or_else(|e| fail(format!("config: {:?}", e)));
    let builder = match &args.ca {
        Some(ca) => builder.with_client_cert_verifier(Arc::new(ClientVerifier {
            inner: AllowAnyAuthenticatedClient::new(roots(ca)),
            seen: seen.clone(),
        })),
        None => builder.with_no_client_auth(),
    };
    let (chain, key) = chain_and_key(args).unwrap_or_else(|| fail("server needs --cert".into()));
    let mut config = builder
        .with_single_cert(chain, key)
        .unwrap_or_else(|e| fail(format!("{:?}", e)));
    config.alpn_protocols = args.alpn.clone();
    config.max_fragment_size = args.max_fragment;
    config.max_early_data_size = args.early as u32;
    config.send_half_rtt_data = args.half_rtt;
    config.key_log = secrets.clone();
    if args.tickets {
        config.ticketer = rustls::Ticketer::new().unwrap_or_else(|e| fail(format!("{:?}", e)));
    }
    config
}

/// What --half-rtt sends before the handshake completes.
const HALF_RTT_LINE: &[u8] = b"sent before your Finished\n";

fn serve(args: &Args) {
    let seen = Arc::new(Seen::default());
    let secrets = Arc::new(MasterSecrets::default());
    let config = Arc::new(server_config(args, &seen, &secrets));
    let listener =
        TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| fail(format!("listen: {}", e)));
    say(&format!(
        "LISTENING {}",
        listener.local_addr().unwrap().port()
    ));
    for _ in 0..args.count {
        let (sock, _) = listener
            .accept()
            .unwrap_or_else(|e| fail(format!("accept: {}", e)));
        sock.set_nodelay(true).ok();
        let mut server =
            ServerConnection::new(config.clone()).unwrap_or_else(|e| fail(format!("{:?}", e)));
        server.set_resumption_data(b"issued by rustls-peer");
        if args.half_rtt {
            // Queued before the handshake: sent right after our Finished (0.5-RTT data).
            server
                .writer()
                .write_all(HALF_RTT_LINE)
                .unwrap_or_else(|e| fail(format!("half-RTT data: {}", e)));
        }
        secrets.last_repeated.store(false, Ordering::SeqCst);
        let mut stream = Stream {
            conn: Connection::Server(server),
            sock,
        };
        let early = match handshake_reading_early_data(&mut stream) {
            Ok(early) => early,
            Err(err) => {
                eprintln!("HANDSHAKE ERROR {}", explain(&err));
                continue;
            }
        };
        let resumed = match &stream.conn {
            Connection::Server(s)
                if s.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) =>
            {
                s.received_resumption_data().is_some()
            }
            _ => secrets.last_repeated.load(Ordering::SeqCst),
        };
        let extra = [("early_data", early.len().to_string())];
        let line = describe(&stream.conn, resumed, seen.take_scheme(), &extra);
        say(&line);
        if let Err(err) = answer(&mut stream, &line, &early, args.close_first) {
            eprintln!("CONNECTION ERROR {}", explain(&err));
        }
    }
}

/// The server's handshake; the early data (0-RTT) it accepted, if any.
fn handshake_reading_early_data(stream: &mut Stream) -> io::Result<Vec<u8>> {
    let mut early = Vec::new();
    loop {
        if let Connection::Server(server) = &mut stream.conn {
            if let Some(mut reader) = server.early_data() {
                reader.read_to_end(&mut early)?;
            }
        }
        if !stream.conn.is_handshaking() {
            return Ok(early);
        }
        stream.conn.complete_io(&mut stream.sock)?;
    }
}

/// The JSON line to the client and the echo of its early data, then the echo of the
/// rest (or, with close_first, our close_notify).
fn answer(stream: &mut Stream, line: &str, early: &[u8], close_first: bool) -> io::Result<()> {
    stream.write_all(format!("{}\n", line).as_bytes())?;
    stream.write_all(early)?;
    if close_first {
        close(stream)?;
        say("CLOSED");
        return Ok(());
    }
    let (total, digest) = echo_until_close(stream)?;
    say(&format!("ECHOED {} {}", total, digest));
    Ok(())
}

// ------------------------------------------------------------------ client

fn client_config(args: &Args, seen: &Arc<Seen>, secrets: &Arc<MasterSecrets>) -> ClientConfig {
    let ca = args
        .ca
        .as_ref()
        .unwrap_or_else(|| fail("client needs --ca".into()));
    let verifier = ServerVerifier {
        inner: WebPkiVerifier::new(roots(ca), None),
        seen: seen.clone(),
    };
    let builder = ClientConfig::builder()
        .with_cipher_suites(&args.suites)
        .with_kx_groups(&args.groups)
        .with_protocol_versions(&args.versions)
        .unwrap_or_else(|e| fail(format!("config: {:?}", e)))
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match chain_and_key(args) {
        Some((chain, key)) => builder
            .with_single_cert(chain, key)
            .unwrap_or_else(|e| fail(format!("{:?}", e))),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = args.alpn.clone();
    config.max_fragment_size = args.max_fragment;
    config.enable_early_data = args.early > 0;
    config.enable_tickets = !args.no_tickets;
    config.key_log = secrets.clone();
    config
}

fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

fn dial(args: &Args, config: &Arc<ClientConfig>, seen: &Seen) -> io::Result<String> {
    let name = ServerName::try_from(args.name.as_str())
        .unwrap_or_else(|_| fail(format!("bad name {}", args.name)));
    let mut client = ClientConnection::new(config.clone(), name)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let early = pattern(args.early);
    let early_written = match client.early_data() {
        Some(mut writer) if !early.is_empty() => writer.write(&early)?,
        _ => 0,
    };
    let sock = TcpStream::connect(("127.0.0.1", args.port))?;
    sock.set_nodelay(true).ok();
    let mut stream = Stream {
        conn: Connection::Client(client),
        sock,
    };
    let verified_before = seen.chains_verified.load(Ordering::SeqCst);
    handshake(&mut stream)?;
    let resumed = seen.chains_verified.load(Ordering::SeqCst) == verified_before;
    let scheme = seen.take_scheme();
    let early_accepted =
        matches!(&stream.conn, Connection::Client(c) if c.is_early_data_accepted());
    if early_accepted {
        let mut echoed = vec![0u8; early_written];
        stream.read_exact(&mut echoed)?;
        if echoed != early[..early_written] {
            return Err(io::Error::new(
                io::ErrorKind::Other,
                "early data echoed wrong",
            ));
        }
    }
    let mut extra = vec![
        ("early_written", early_written.to_string()),
        ("early_accepted", early_accepted.to_string()),
    ];
    extra.extend(if args.send > 0 {
        let payload = pattern(args.send);
        let mut echoed = vec![0u8; payload.len()];
        let piece = (payload.len() + args.rounds - 1) / args.rounds;
        for (out, back) in payload.chunks(piece).zip(echoed.chunks_mut(piece)) {
            stream.write_all(out)?;
            stream.read_exact(back)?;
        }
        close(&mut stream)?;
        vec![
            ("sent_sha256", json_string(&sha256(&payload))),
            ("received_sha256", json_string(&sha256(&echoed))),
        ]
    } else {
        let mut received = Vec::new();
        stream.read_to_end(&mut received)?;
        stream.conn.send_close_notify();
        stream.flush()?;
        vec![
            ("received_sha256", json_string(&sha256(&received))),
            ("received", received.len().to_string()),
        ]
    });
    Ok(describe(&stream.conn, resumed, scheme, &extra))
}

fn connect(args: &Args) {
    let seen = Arc::new(Seen::default());
    let secrets = Arc::new(MasterSecrets::default());
    let config = Arc::new(client_config(args, &seen, &secrets));
    for _ in 0..args.count {
        match dial(args, &config, &seen) {
            Ok(line) => say(&line),
            Err(err) => fail(explain(&err)),
        }
    }
}

fn main() {
    let args = parse_args();
    match args.mode.as_str() {
        "server" => serve(&args),
        "client" => connect(&args),
        _ => fail("--mode must be client or server".into()),
    }
}
