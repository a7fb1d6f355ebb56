// The command as an External ID tenant: its banner says how to point the
// app at it, and its discovery document names External ID's issuer.

package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/internal/testutil"
)

func TestRunExternalID(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-external-id", "-subdomain", "contoso"}, &stdout, &stderr)
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
	tenant := emulator.DefaultTenant
	issuer := "https://" + tenant + ".ciamlogin.com:" + port + "/" + tenant + "/v2.0"
	banner := stdout.String()
	for _, want := range []string{
		"tenant contoso.onmicrosoft.com, issuer " + issuer,
		"OIDC_AUTHORITY=https://localhost:" + port + "/" + tenant + "/v2.0",
		"AUTHORITY=https://contoso.ciamlogin.com:" + port + "/contoso.onmicrosoft.com",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://localhost:" + port + "/" + tenant + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["issuer"] != issuer || doc["authorization_endpoint"] != "https://localhost:"+port+"/"+tenant+"/oauth2/v2.0/authorize" {
		t.Errorf("discovery: issuer %v, authorize %v", doc["issuer"], doc["authorization_endpoint"])
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestRunRefusesExternalIDSetups(t *testing.T) {
	certFile, keyFile, _ := writeCert(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-subdomain", "contoso"}, "add -external-id"},
		{[]string{"-external-id", "-tenant", "contoso.onmicrosoft.com"}, "GUID"},
		{[]string{"-external-id", "-subdomain", "contoso.com"}, "DNS label"},
	} {
		args := append([]string{"-addr", "127.0.0.1:0", "-cert", certFile, "-key", keyFile}, tc.args...)
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: err = %v, want one line mentioning %q", tc.args, err, tc.want)
		}
	}
}
