// Tests for the -apps flag: several app registrations from a JSON file.

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/internal/testutil"
)

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const twoApps = `[
  {"client_id": "c0ffee00-0000-4000-a000-0000000000a1", "client_secret": "secret-a",
   "redirect_uris": ["https://localhost:5000/auth/redirect"],
   "front_channel_logout_url": "https://localhost:5000/auth/frontchannel-logout"},
  {"client_id": "c0ffee00-0000-4000-a000-0000000000b2", "client_secret": "secret-b",
   "redirect_uris": ["https://localhost:5002/auth/redirect", "https://127.0.0.1:5002/auth/redirect"],
   "front_channel_logout_url": "https://localhost:5002/auth/frontchannel-logout",
   "federated_subjects": ["system:serviceaccount:web:app-b"]}
]`

func TestRunWithAppsFile(t *testing.T) {
	certFile, keyFile, _ := writeCert(t)
	appsFile := writeFile(t, "apps.json", twoApps)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-apps", appsFile}, &stdout, &stderr)
	}()
	listening := regexp.MustCompile(`listening on 127\.0\.0\.1:\d+`)
	for deadline := time.Now().Add(5 * time.Second); !listening.MatchString(stdout.String()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no banner; stdout %q, stderr %q", stdout.String(), stderr.String())
		}
	}
	banner := stdout.String()
	for _, want := range []string{
		"c0ffee00-0000-4000-a000-0000000000a1", "https://localhost:5000/auth/redirect", "https://localhost:5000/auth/frontchannel-logout",
		"c0ffee00-0000-4000-a000-0000000000b2", "https://127.0.0.1:5002/auth/redirect", "https://localhost:5002/auth/frontchannel-logout",
		"(the one in " + appsFile + ")", "subjects system:serviceaccount:web:app-b",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	for _, leak := range []string{"secret-a", "secret-b", emulator.DemoClientID} {
		if strings.Contains(banner, leak) {
			t.Errorf("banner shows %q:\n%s", leak, banner)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after the context ended")
	}
}

func TestRunRefusesBadAppsFiles(t *testing.T) {
	certFile, keyFile, _ := writeCert(t)
	good := writeFile(t, "apps.json", twoApps)
	noSecret := writeFile(t, "no-secret.json", `[{"client_id": "app-a", "redirect_uris": ["https://localhost:5000/cb"]}]`)
	badLogout := writeFile(t, "bad-logout.json", `[{"client_id": "app-a", "client_secret": "s", "redirect_uris": ["https://localhost:5000/cb"], "front_channel_logout_url": "http://example.com/logout"}]`)
	typo := writeFile(t, "typo.json", `[{"client_id": "app-a", "client_secret": "s", "redirect_uri": ["https://localhost:5000/cb"]}]`)
	noCert := writeFile(t, "no-cert.json", `[{"client_id": "app-a", "redirect_uris": ["https://localhost:5000/cb"], "client_certificates": ["missing.crt"]}]`)
	missing := filepath.Join(t.TempDir(), "nope.json")
	base := []string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile}
	tests := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"missing file", []string{"-apps", missing}, []string{missing, "does not exist"}},
		{"no client secret", []string{"-apps", noSecret}, []string{noSecret, "app #1", "client_secret"}},
		{"plain-http logout URL", []string{"-apps", badLogout}, []string{badLogout, "front_channel_logout_url of app-a"}},
		{"misspelt field", []string{"-apps", typo}, []string{typo, `"redirect_uri"`}},
		{"missing certificate", []string{"-apps", noCert}, []string{noCert, "app #1", "client_certificates", "missing.crt"}},
		{"with -federated-subject", []string{"-apps", good, "-federated-subject", "s"}, []string{"-apps", "-federated-subject"}},
		{"with -client-id", []string{"-apps", good, "-client-id", "x"}, []string{"-apps", "-client-id"}},
		{"with -redirect-uri", []string{"-apps", good, "-redirect-uri", "https://localhost/cb"}, []string{"-apps", "-redirect-uri"}},
		{"bad single-app logout URL", []string{"-front-channel-logout-url", "ftp://localhost/x"}, []string{"front-channel logout URL"}},
	}
	// A context that has already ended: a setup the checks wrongly let
	// through starts and stops at once, and the test fails instead of hanging.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(ended, append(append([]string{}, base...), tc.args...), io.Discard, io.Discard)
			for _, want := range tc.wants {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want one mentioning %q", err, want)
				}
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}
