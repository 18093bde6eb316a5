// A load generator for bench_servers.py that shares no TLS code with either server:
// Go's crypto/tls, not OpenSSL. The stdlib `ssl` clients run on the same libcrypto as
// asyncio + `ssl`'s server, which keeps that server's code and tables warm in the
// caches the two processes share; this client favours neither.
//
// Usage: goload PORT HANDSHAKES WORKERS ROOT_PEM
// Each handshake: connect to 127.0.0.1:PORT, TLS 1.3 with the chain verified for
// "localhost", read the 2-byte answer, close. Prints one JSON line: handshakes per
// second (measured here, without the process start), failures and the suites used.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Rate   float64        `json:"rate"`
	Failed int64          `json:"failed"`
	Suites map[string]int `json:"suites"`
	Error  string         `json:"error,omitempty"`
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: goload PORT HANDSHAKES WORKERS ROOT_PEM")
		os.Exit(2)
	}
	port := os.Args[1]
	total, _ := strconv.Atoi(os.Args[2])
	workers, _ := strconv.Atoi(os.Args[3])
	pem, err := os.ReadFile(os.Args[4])
	pool := x509.NewCertPool()
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		fmt.Fprintln(os.Stderr, "goload: cannot read the root certificate", os.Args[4])
		os.Exit(2)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13}
	var next, failed int64
	var mu sync.Mutex
	var lastErr string
	suites := map[string]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answer := make([]byte, 2)
			for atomic.AddInt64(&next, 1) <= int64(total) {
				suite, err := one(port, cfg, answer)
				mu.Lock()
				if err != nil {
					failed++
					lastErr = err.Error()
				} else {
					suites[suite]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	out, _ := json.Marshal(result{float64(total) / elapsed, failed, suites, lastErr})
	fmt.Println(string(out))
}

// one handshake: the negotiated suite's name.
func one(port string, cfg *tls.Config, answer []byte) (string, error) {
	raw, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 30*time.Second)
	if err != nil {
		return "", err
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(conn, answer); err != nil {
		return "", err
	}
	if string(answer) != "ok" {
		return "", fmt.Errorf("unexpected answer %q", answer)
	}
	return tls.CipherSuiteName(conn.ConnectionState().CipherSuite), nil
}
