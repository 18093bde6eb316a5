// tlspeer: Go's crypto/tls as a TLS peer for tlskit's interop tests (loopback only).
//
// Server mode listens on 127.0.0.1 (port chosen by the OS), prints "LISTENING <port>",
// and serves -n connections one after another: handshake, one JSON line describing the
// connection, then an echo of everything the client sends until it closes.
//
// Client mode connects -n times (one shared session cache, so later connections can
// resume), prints one JSON line per connection, sends -send bytes and reads them back
// (the server echoes), and closes. Any failure prints "ERROR <message>" and exits 1.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

type state struct {
	Version      string   `json:"version"`
	CipherSuite  string   `json:"cipher_suite"`
	DidResume    bool     `json:"did_resume"`
	ALPN         string   `json:"alpn"`
	ServerName   string   `json:"server_name"`
	PeerSubjects []string `json:"peer_subjects"`
	SCTs         []string `json:"scts"` // base64, the SCTs the server delivered in TLS
}

var versions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

var curves = map[string]tls.CurveID{
	"x25519": tls.X25519, "secp256r1": tls.CurveP256, "secp384r1": tls.CurveP384,
	"secp521r1": tls.CurveP521,
}

func fail(format string, args ...any) {
	fmt.Printf("ERROR "+format+"\n", args...)
	os.Exit(1)
}

func describe(cs tls.ConnectionState) state {
	s := state{
		Version:     map[uint16]string{tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}[cs.Version],
		CipherSuite: tls.CipherSuiteName(cs.CipherSuite),
		DidResume:   cs.DidResume,
		ALPN:        cs.NegotiatedProtocol,
		ServerName:  cs.ServerName,
	}
	for _, c := range cs.PeerCertificates {
		s.PeerSubjects = append(s.PeerSubjects, c.Subject.String())
	}
	for _, sct := range cs.SignedCertificateTimestamps {
		s.SCTs = append(s.SCTs, base64.StdEncoding.EncodeToString(sct))
	}
	return s
}

// printState prints the connection's JSON line and returns it.
func printState(cs tls.ConnectionState) []byte {
	line, _ := json.Marshal(describe(cs))
	fmt.Println(string(line))
	return line
}

func pool(file string) *x509.CertPool {
	pem, err := os.ReadFile(file)
	if err != nil {
		fail("reading %s: %v", file, err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		fail("no certificate in %s", file)
	}
	return p
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func main() {
	mode := flag.String("mode", "", "client or server")
	addr := flag.String("addr", "", "client: host:port to dial")
	certFile := flag.String("cert", "", "certificate chain (PEM, leaf first)")
	keyFile := flag.String("key", "", "private key (PEM)")
	caFile := flag.String("ca", "", "client: trusted roots; server: client CA (requires a client certificate)")
	name := flag.String("name", "localhost", "client: server name to send and verify")
	minV := flag.String("min", "1.2", "lowest version: 1.2 or 1.3")
	maxV := flag.String("max", "1.3", "highest version: 1.2 or 1.3")
	curveList := flag.String("curves", "", "groups in preference order (default: Go's)")
	alpn := flag.String("alpn", "", "ALPN protocols, comma separated")
	count := flag.Int("n", 1, "connections to make or serve")
	send := flag.Int("send", 0, "client: bytes to send and read back per connection")
	noTickets := flag.Bool("no-tickets", false, "server: issue no session tickets")
	scts := flag.String("scts", "", "server: SCTs for the certificate, base64, comma separated")
	flag.Parse()

	cfg := &tls.Config{
		MinVersion:             versions[*minV],
		MaxVersion:             versions[*maxV],
		NextProtos:             list(*alpn),
		SessionTicketsDisabled: *noTickets,
	}
	for _, c := range list(*curveList) {
		id, ok := curves[c]
		if !ok {
			fail("unknown group %s", c)
		}
		cfg.CurvePreferences = append(cfg.CurvePreferences, id)
	}
	if *certFile != "" {
		pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fail("loading %s: %v", *certFile, err)
		}
		for _, b64 := range list(*scts) {
			sct, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				fail("-scts: %v", err)
			}
			pair.SignedCertificateTimestamps = append(pair.SignedCertificateTimestamps, sct)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	switch *mode {
	case "server":
		if *caFile != "" {
			cfg.ClientCAs = pool(*caFile)
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
		serve(cfg, *count)
	case "client":
		cfg.RootCAs = pool(*caFile)
		cfg.ServerName = *name
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
		for i := 0; i < *count; i++ {
			dial(cfg, *addr, *send)
		}
	default:
		fail("-mode must be client or server")
	}
}

func serve(cfg *tls.Config, count int) {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
	for i := 0; i < count; i++ {
		raw, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		conn := raw.(*tls.Conn)
		if err := conn.Handshake(); err != nil {
			fmt.Printf("HANDSHAKE ERROR %v\n", err)
			conn.Close()
			continue
		}
		line := printState(conn.ConnectionState())
		if _, err := conn.Write(append(line, '\n')); err != nil {
			fail("write: %v", err)
		}
		n, err := io.Copy(conn, conn) // echo until the client's close_notify (EOF)
		fmt.Printf("ECHOED %d %v\n", n, err)
		conn.Close()
	}
}

func dial(cfg *tls.Config, addr string, send int) {
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		fail("handshake: %v", err)
	}
	defer conn.Close()
	printState(conn.ConnectionState())
	if send == 0 {
		return
	}
	payload := bytes.Repeat([]byte("tlskit-go "), send/10+1)[:send]
	go func() {
		if _, err := conn.Write(payload); err != nil {
			fail("write: %v", err)
		}
	}()
	back := make([]byte, send)
	if _, err := io.ReadFull(conn, back); err != nil {
		fail("read: %v", err)
	}
	if !bytes.Equal(back, payload) {
		fail("echo differs")
	}
	fmt.Printf("ECHO OK %d\n", send)
	if err := conn.CloseWrite(); err != nil {
		fail("close_notify: %v", err)
	}
}
