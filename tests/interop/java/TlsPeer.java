// TlsPeer: Java's JSSE (OpenJDK's SunJSSE provider) as a TLS peer for tlskit's interop
// tests (loopback only). Plain javax.net.ssl, no dependencies: compiled by the tests with
// javac into a temporary directory and run with `java -cp DIR TlsPeer --mode ...`.
//
// Options (all "--name value"): --mode server|client; --pkcs12 FILE and --password PW,
// this side's certificate chain and key; --ca FILE, trusted roots (PEM) for a client, and
// for a server the client CA (it then requires a client certificate); --protocols and
// --suites, comma-separated JSSE names; --alpn, comma-separated; --n, connections to make
// (client) or serve (server, default: until killed). Client only: --port, --name (the
// server name to send and verify, default localhost), --send (bytes to echo). Named
// groups are a JVM-wide setting: -Djdk.tls.namedGroups=... on the java command line.
//
// Server mode listens on 127.0.0.1 (port chosen by the OS), prints "LISTENING <port>",
// and serves connections one after another: handshake, one JSON line describing it (also
// sent to the client, newline-terminated), then an echo until the client's close_notify.
// A failed handshake prints "HANDSHAKE ERROR <exception>" and the server goes on.
// Client mode connects --n times with one SSLContext (so its session cache lets later
// connections resume), prints one JSON line per connection, sends --send bytes and reads
// them back, then closes. Any client failure prints "ERROR <exception>" and exits 1.

import java.io.ByteArrayInputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public final class TlsPeer {
    private final Map<String, String> opt;

    private TlsPeer(Map<String, String> opt) {
        this.opt = opt;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                fail("options are --name value pairs, not " + args[i]);
            }
            opt.put(args[i].substring(2), args[i + 1]);
        }
        TlsPeer peer = new TlsPeer(opt);
        SSLContext ctx = peer.context();
        switch (opt.getOrDefault("mode", "")) {
            case "server" -> peer.serve(ctx);
            case "client" -> {
                int n = Integer.parseInt(opt.getOrDefault("n", "1"));
                for (int i = 0; i < n; i++) {
                    peer.dial(ctx);
                }
            }
            default -> fail("--mode must be client or server");
        }
    }

    private static void fail(String message) {
        System.out.println("ERROR " + message);
        System.out.flush();
        System.exit(1);
    }

    private SSLContext context() throws Exception {
        KeyManagerFactory kmf = null;
        if (opt.containsKey("pkcs12")) {
            char[] password = opt.getOrDefault("password", "").toCharArray();
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try (InputStream in = new FileInputStream(opt.get("pkcs12"))) {
                ks.load(in, password);
            }
            kmf = KeyManagerFactory.getInstance("PKIX");
            kmf.init(ks, password);
        }
        TrustManagerFactory tmf = null;
        if (opt.containsKey("ca")) {
            KeyStore ts = KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            byte[] pem = Files.readAllBytes(Path.of(opt.get("ca")));
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(pem))) {
                ts.setCertificateEntry("root" + i++, c);
            }
            tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(ts);
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : kmf.getKeyManagers(),
                 tmf == null ? null : tmf.getTrustManagers(), null);
        return ctx;
    }

    private List<String> list(String name) {
        String value = opt.getOrDefault(name, "");
        return value.isEmpty() ? List.of() : Arrays.asList(value.split(","));
    }

    /** The options' protocols, suites and ALPN on top of the socket's defaults. */
    private SSLParameters parameters(SSLSocket socket) {
        SSLParameters p = socket.getSSLParameters();
        if (!list("protocols").isEmpty()) {
            p.setProtocols(list("protocols").toArray(new String[0]));
        }
        if (!list("suites").isEmpty()) {
            p.setCipherSuites(list("suites").toArray(new String[0]));
        }
        if (!list("alpn").isEmpty()) {
            p.setApplicationProtocols(list("alpn").toArray(new String[0]));
        }
        return p;
    }

    private void serve(SSLContext ctx) throws Exception {
        int n = Integer.parseInt(opt.getOrDefault("n", "-1"));
        try (SSLServerSocket listener = (SSLServerSocket) ctx.getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            System.out.println("LISTENING " + listener.getLocalPort());
            System.out.flush();
            for (int i = 0; n < 0 || i < n; i++) {
                try (SSLSocket socket = (SSLSocket) listener.accept()) {
                    serveOne(socket);
                } catch (IOException e) {
                    System.out.println("HANDSHAKE ERROR " + e);
                    System.out.flush();
                }
            }
        }
    }

    private void serveOne(SSLSocket socket) throws IOException {
        SSLParameters p = parameters(socket);
        if (opt.containsKey("ca")) {
            p.setNeedClientAuth(true);
        }
        socket.setSSLParameters(p);
        socket.setTcpNoDelay(true);
        long started = System.currentTimeMillis();
        socket.startHandshake();
        String line = describe(socket, started);
        System.out.println(line);
        System.out.flush();
        OutputStream out = socket.getOutputStream();
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        InputStream in = socket.getInputStream();
        byte[] buf = new byte[65536];
        long echoed = 0;
        for (int got; (got = in.read(buf)) >= 0; echoed += got) {
            out.write(buf, 0, got);
            out.flush();
        }
        System.out.println("ECHOED " + echoed);
        System.out.flush();
    }

    private void dial(SSLContext ctx) throws Exception {
        String name = opt.getOrDefault("name", "localhost");
        int port = Integer.parseInt(opt.get("port"));
        int send = Integer.parseInt(opt.getOrDefault("send", "0"));
        Socket raw = new Socket("127.0.0.1", port);
        raw.setTcpNoDelay(true);
        // Layered on a connected socket so the peer host (SNI, the name verified, the
        // session cache's key) is ``name`` while the address stays 127.0.0.1.
        try (SSLSocket socket = (SSLSocket) ctx.getSocketFactory()
                .createSocket(raw, name, port, true)) {
            SSLParameters p = parameters(socket);
            p.setEndpointIdentificationAlgorithm("HTTPS");
            p.setServerNames(List.<SNIServerName>of(new SNIHostName(name)));
            socket.setSSLParameters(p);
            long started = System.currentTimeMillis();
            socket.startHandshake();
            System.out.println(describe(socket, started));
            System.out.flush();
            echo(socket, send);
        } catch (IOException e) {
            fail(e.toString());
        }
    }

    /** Sends ``send`` bytes from a thread while reading them back, then closes. */
    private static void echo(SSLSocket socket, int send) throws Exception {
        byte[] payload = new byte[send];
        for (int i = 0; i < send; i++) {
            payload[i] = (byte) "tlskit-jsse ".charAt(i % 12);
        }
        OutputStream out = socket.getOutputStream();
        Thread writer = new Thread(() -> {
            try {
                out.write(payload);
                out.flush();
            } catch (IOException e) {
                fail("write: " + e);
            }
        });
        writer.start();
        byte[] back = socket.getInputStream().readNBytes(send);
        writer.join();
        if (!Arrays.equals(back, payload)) {
            fail("the echo differs (" + back.length + " of " + send + " bytes)");
        }
        System.out.println("ECHO OK " + send);
        System.out.flush();
    }

    /**
     * The connection as one JSON line. JSSE has no public "resumed" flag: a session that
     * was created before this handshake started is one taken from the session cache or a
     * ticket, so the handshake resumed it.
     */
    private static String describe(SSLSocket socket, long started) {
        SSLSession s = socket.getSession();
        List<String> subjects = new ArrayList<>();
        try {
            for (Certificate c : s.getPeerCertificates()) {
                subjects.add(json(((X509Certificate) c).getSubjectX500Principal().getName()));
            }
        } catch (SSLPeerUnverifiedException e) {
            // no peer certificate (a server that did not ask for one)
        }
        String serverName = "";
        if (s instanceof ExtendedSSLSession ext) {
            for (SNIServerName sni : ext.getRequestedServerNames()) {
                if (sni instanceof SNIHostName host) {
                    serverName = host.getAsciiName();
                }
            }
        }
        String alpn = socket.getApplicationProtocol();
        return "{\"protocol\":" + json(s.getProtocol())
            + ",\"cipher_suite\":" + json(s.getCipherSuite())
            + ",\"alpn\":" + json(alpn == null ? "" : alpn)
            + ",\"resumed\":" + (s.getCreationTime() < started)
            + ",\"server_name\":" + json(serverName)
            + ",\"peer_subjects\":[" + String.join(",", subjects) + "]}";
    }

    private static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
