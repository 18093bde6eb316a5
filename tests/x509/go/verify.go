// verify: Go's crypto/x509 path validation as an oracle for tlskit's differential test.
//
// It reads one JSON object per line on stdin:
//
//	{"roots": [base64 DER...], "intermediates": [...], "leaf": base64 DER,
//	 "name": "www.example.com", "time": "2026-06-01T12:00:00Z"}
//
// and writes one JSON line per case, in order: {"ok": true}, or {"ok": false, "error":
// "<Go's error text>"}. The options are those of Go's TLS client: the reference name
// and the serverAuth EKU. A malformed request line is a bug in the caller: exit 1. Go parses certificates when they are loaded, so a certificate
// it cannot parse (any of them) is a rejection carrying the parse error.
package main

import (
	"bufio"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

type request struct {
	Roots         []string `json:"roots"`
	Intermediates []string `json:"intermediates"`
	Leaf          string   `json:"leaf"`
	Name          string   `json:"name"`
	Time          string   `json:"time"`
}

type verdict struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func parse(b64 string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pool(list []string) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	for _, b64 := range list {
		cert, err := parse(b64)
		if err != nil {
			return nil, err
		}
		p.AddCert(cert)
	}
	return p, nil
}

func judge(req request, at time.Time) error {
	roots, err := pool(req.Roots)
	if err != nil {
		return err
	}
	inters, err := pool(req.Intermediates)
	if err != nil {
		return err
	}
	leaf, err := parse(req.Leaf)
	if err != nil {
		return err
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		DNSName: req.Name, Roots: roots, Intermediates: inters, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// die reports a broken request or stream (a bug in the test, not a verdict) and exits 1.
func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "verify: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			die("bad request: %v", err)
		}
		at, err := time.Parse(time.RFC3339Nano, req.Time)
		if err != nil {
			die("bad time: %v", err)
		}
		var v verdict
		if err := judge(req, at); err != nil {
			v.Error = err.Error()
		} else {
			v.OK = true
		}
		if err := enc.Encode(v); err != nil {
			die("%v", err)
		}
	}
	if err := in.Err(); err != nil {
		die("%v", err)
	}
}
