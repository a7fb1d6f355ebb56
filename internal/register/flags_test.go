// The command line: a mistake is named, with exit status 2, before anything
// signs in.

package register

import (
	"errors"
	"strings"
	"testing"
)

func TestBadCommandLines(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-auth", "password"}, "-auth must be auto, browser, device or azcli"},
		{[]string{"-credential", "pfx"}, "-credential must be secret or certificate"},
		{[]string{"-redirect-uri", "http://example.com/auth/redirect"}, "must use https (http only on localhost)"},
		{[]string{"-redirect-uri", "/auth/redirect"}, "is not an absolute URL"},
		{[]string{"-authority-host", "http://login.microsoftonline.com"}, "-authority-host must be an https URL"},
		{[]string{"-graph-endpoint", "https://graph.microsoft.com/beta"}, "-graph-endpoint must be an https URL without a path"},
		{[]string{"-unique-name", "has spaces"}, "-unique-name"},
		{[]string{"-tenant", "a/b"}, "-tenant"},
		{[]string{"-name", " "}, "-name is empty"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-no-such-flag"}, "flag provided but not defined"},
	} {
		var stderr strings.Builder
		err := Main(t.Context(), tt.args, Env{Stdout: &strings.Builder{}, Stderr: &stderr})
		if !errors.Is(err, ErrUsage) || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("register %v: %v, stderr %q; want ErrUsage and %q", tt.args, err, stderr.String(), tt.want)
		}
	}
	// The defaults are what the sample needs, and what the state and
	// certificate files are named beside the .env file.
	o, err := parseFlags([]string{"cleanup", "-env-file", "/tmp/x/.env", "-graph-endpoint", "https://graph.microsoft.com/v1.0/"}, &strings.Builder{})
	if err != nil || !o.cleanup || o.stateFile != "/tmp/x/.app-registration.json" || o.certFile != "/tmp/x/ssl/client-cert.pem" ||
		o.graphEndpoint != "https://graph.microsoft.com" || o.redirectURIs[0] != "https://localhost:5000/auth/redirect" || o.clientID != AzureCLIClientID {
		t.Errorf("defaults: %+v, %v", o, err)
	}
}
