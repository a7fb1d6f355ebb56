// Tests for the entra-emulator command: start-up, banner, shutdown and refusals.

package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/internal/testutil"
)

// writeCert writes a self-signed certificate for localhost and 127.0.0.1.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	c := testutil.NewCert(t)
	certFile, keyFile = c.WriteFiles(t)
	return certFile, keyFile, c.Pool
}

func TestRunServesAndShutsDown(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	clientCert := testutil.NewClientCert(t, nil, "uploaded app certificate", time.Now().Add(48*time.Hour))
	clientCertFile := testutil.WriteFile(t, "app.crt", clientCert.CertPEM())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile,
			"-redirect-uri", "https://localhost:7000/cb", "-redirect-uri", "https://localhost:7000/other",
			"-client-cert", clientCertFile, "-federated-subject", "system:serviceaccount:web:app"}, &stdout, &stderr)
	}()

	listening := regexp.MustCompile(`listening on 127\.0\.0\.1:(\d+)`)
	var port string
	for deadline := time.Now().Add(5 * time.Second); port == ""; {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			port = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no banner; stdout %q, stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	banner := stdout.String()
	for _, want := range []string{
		"NOT Microsoft",
		"https://localhost:" + port + "/" + emulator.DefaultTenant,
		emulator.DemoClientID,
		emulator.DemoClientSecret,
		"https://localhost:7000/cb",
		"https://localhost:7000/other",
		"alice@demo.test", "alice-password", "admin@demo.test", "app roles: admin",
		fmt.Sprintf("%X (uploaded app certificate", sha1.Sum(clientCert.Cert.Raw)),
		"issuer https://localhost:" + port + "/workload-identity", "system:serviceaccount:web:app",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if strings.Contains(banner, emulator.DemoRedirectURIs[0]) {
		t.Error("-redirect-uri did not replace the default redirect URIs")
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://localhost:" + port + "/" + emulator.DefaultTenant + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["issuer"] != "https://localhost:"+port+"/"+emulator.DefaultTenant+"/v2.0" {
		t.Errorf("issuer = %v", doc["issuer"])
	}
	resp, err = client.PostForm("https://localhost:"+port+"/emulator/workload-token", url.Values{"subject": {"system:serviceaccount:web:app"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]string
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Count(tok["token"], ".") != 2 {
		t.Errorf("workload token: %d %v", resp.StatusCode, tok)
	}

	// A 20 KB path makes a log line of about a kilobyte.
	resp, err = client.Get("https://localhost:" + port + "/" + strings.Repeat("p", 20_000))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after the context ended")
	}
	if !strings.Contains(stderr.String(), "path=/"+emulator.DefaultTenant+"/v2.0/.well-known/openid-configuration status=200") {
		t.Errorf("request not logged: %s", stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if len(line) > 1500 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
	if !strings.Contains(stderr.String(), "…[cut 18977 bytes]") {
		t.Errorf("the long path's line does not say what was cut:\n%s", stderr.String())
	}
}

func TestRunRefusesBadSetups(t *testing.T) {
	certFile, keyFile, _ := writeCert(t)
	usersFile := filepath.Join(t.TempDir(), "users.json")
	os.WriteFile(usersFile, []byte(`[{"username":"a@x"}]`), 0o600)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing certificate", []string{"-addr", "127.0.0.1:0", "-cert", "nope.crt", "-key", "nope.key"}, "ssl/generate-local-cert.sh"},
		{"unusable certificate", []string{"-addr", "127.0.0.1:0", "-cert", usersFile, "-key", usersFile}, "ssl/generate-local-cert.sh"},
		{"all interfaces", []string{"-addr", ":5001", "-cert", certFile, "-key", keyFile}, "-allow-remote"},
		{"remote address", []string{"-addr", "192.0.2.1:5001", "-cert", certFile, "-key", keyFile}, "not a loopback"},
		{"bad users file", []string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-users", usersFile}, "empty password"},
		{"bad redirect URI", []string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-redirect-uri", "http://example.com/cb"}, "redirect URI"},
		{"bad admin-consented permission", []string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-admin-consented", "User.Read,api://other/read"}, "api://other/read"},
		{"stray argument", []string{"serve"}, "unexpected argument"},
		{"missing client certificate", []string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-client-cert", "nope.crt"}, "-client-cert"},
		{"client certificate that is not one", []string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-client-cert", usersFile}, "no PEM or DER certificate"},
		{"EC client certificate", []string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-client-cert", certFile}, "RSA certificates only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
	var usage bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, io.Discard, &usage); !errors.Is(err, flag.ErrHelp) || !strings.Contains(usage.String(), "-redirect-uri") {
		t.Errorf("-h: err %v, usage %q", err, usage.String())
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string]string{"User.Read": "User.Read", "User.Read,Calendars.Read": "User.Read|Calendars.Read", " User.Read , Mail.Read ": "User.Read|Mail.Read", "": ""} {
		got := splitList(in)
		if got == nil || strings.Join(got, "|") != want {
			t.Errorf("splitList(%q) = %#v, want %q (and never nil, which would mean the default)", in, got, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5001": true, "localhost:5001": true, "[::1]:5001": true, "127.0.0.2:1": true,
		":5001": false, "0.0.0.0:5001": false, "192.168.1.2:5001": false, "example.com:443": false, "garbage": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
