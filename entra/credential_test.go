package entra

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"
)

// startApp loads the configuration from set (over a valid one without a
// credential) and builds the app, as start-up does: a malformed setting
// stops it with the errors naming each (app_config.go), and entra.New, with
// the package's own pages, reads the credential.
func startApp(t *testing.T, set map[string]string) (logs string, err error) {
	t.Helper()
	e := validEnv()
	delete(e, "CLIENT_SECRET")
	e["SESSION_DIR"] = t.TempDir()
	for k, v := range set {
		e[k] = v
	}
	cfg, err := ConfigFromLookup(lookupEnv(e))
	var cerr *ConfigError
	if errors.As(err, &cerr) && len(cerr.Invalid) > 0 {
		return "", errors.Join(cerr.Invalid...)
	}
	if err != nil {
		return "", err
	}
	var buf testutil.SyncBuffer
	cfg.Logger, cfg.HTTPClient = slog.New(slog.NewTextHandler(&buf, nil)), http.DefaultClient
	a, err := New(cfg)
	if err == nil {
		err = a.Close()
	}
	return buf.String(), err
}

// Exactly one credential: two are a start-up error naming both.
func TestOneCredentialOnly(t *testing.T) {
	token := testutil.WriteFile(t, "token", []byte("eyJ.eyJ.sig"))
	cert := testutil.WriteFile(t, "app.pem", testutil.NewClientCert(t, nil, "app", time.Now().Add(90*24*time.Hour)).PEM())
	conflicts := []struct {
		set  map[string]string
		want []string
	}{
		{map[string]string{"CLIENT_SECRET": "s3cret-value", "CLIENT_CERTIFICATE_PATH": cert}, []string{"CLIENT_SECRET and CLIENT_CERTIFICATE_PATH are both set"}},
		{map[string]string{"CLIENT_SECRET": "s3cret-value", "AZURE_FEDERATED_TOKEN_FILE": token}, []string{"CLIENT_SECRET and AZURE_FEDERATED_TOKEN_FILE are both set"}},
		{map[string]string{"CLIENT_CERTIFICATE_PATH": cert, "CLIENT_ASSERTION_FILE": token}, []string{"CLIENT_CERTIFICATE_PATH and CLIENT_ASSERTION_FILE are both set"}},
		{map[string]string{"CLIENT_SECRET": "s3cret-value", "CLIENT_CERTIFICATE_PATH": cert, "CLIENT_ASSERTION_FILE": token}, []string{"CLIENT_SECRET and CLIENT_CERTIFICATE_PATH and CLIENT_ASSERTION_FILE are all set"}},
	}
	for _, c := range conflicts {
		_, err := startApp(t, c.set)
		if err == nil {
			t.Errorf("%v: started", c.set)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if strings.Contains(err.Error(), "s3cret-value") {
			t.Errorf("error repeats the secret: %q", err)
		}
	}

	// What is not a conflict: the .env.sample placeholder beside a real
	// credential, and Azure's variable beside the app's own, which wins.
	if _, err := startApp(t, map[string]string{"CLIENT_SECRET": "<client secret>", "CLIENT_CERTIFICATE_PATH": cert}); err != nil {
		t.Errorf("placeholder secret and a certificate: %v", err)
	}
	e := validEnv()
	delete(e, "CLIENT_SECRET")
	e["CLIENT_ASSERTION_FILE"], e["AZURE_FEDERATED_TOKEN_FILE"] = token, "/var/run/secrets/azure/tokens/azure-identity-token"
	cfg, err := ConfigFromLookup(lookupEnv(e))
	if err != nil || cfg.ClientAssertionFile != token || cfg.ClientAssertionVar != "CLIENT_ASSERTION_FILE" {
		t.Errorf("CLIENT_ASSERTION_FILE and AZURE_FEDERATED_TOKEN_FILE: %v, file %q from %s", err, cfg.ClientAssertionFile, cfg.ClientAssertionVar)
	}

	// None at all: missing, not malformed (the configuration page says
	// so), and named with all three.
	e = validEnv()
	delete(e, "CLIENT_SECRET")
	_, err = ConfigFromLookup(lookupEnv(e))
	var cerr *ConfigError
	if !errors.As(err, &cerr) || len(cerr.Invalid) != 0 || len(cerr.Missing) != 1 ||
		!strings.Contains(cerr.Missing[0], "CLIENT_CERTIFICATE_PATH") || !strings.Contains(cerr.Missing[0], "CLIENT_ASSERTION_FILE") {
		t.Errorf("no credential: %v", err)
	}
}

// Every bad credential file stops start-up with one line that names the
// variable and the reason, and repeats no password.
func TestCredentialStartUpErrors(t *testing.T) {
	const password = "Pa55-w0rd-for-the-key"
	valid := testutil.NewClientCert(t, nil, "app", time.Now().Add(90*24*time.Hour))
	other := testutil.NewClientCert(t, testutil.SigningKey(), "other", time.Now().Add(90*24*time.Hour))
	expired := testutil.NewClientCert(t, nil, "expired", time.Now().Add(-time.Minute))
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPEM := append(valid.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})...)
	file := func(name string, data []byte) string { return testutil.WriteFile(t, name, data) }
	dir := t.TempDir()

	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"missing certificate file", map[string]string{"CLIENT_CERTIFICATE_PATH": filepath.Join(dir, "nope.pem")}, "no such file"},
		{"certificate path is a directory", map[string]string{"CLIENT_CERTIFICATE_PATH": dir}, "cannot be read"},
		{"encrypted key without password", map[string]string{"CLIENT_CERTIFICATE_PATH": file("k.pem", valid.EncryptedPEM(password))}, "set CLIENT_CERTIFICATE_PASSWORD"},
		{"encrypted key, wrong password", map[string]string{"CLIENT_CERTIFICATE_PATH": file("k.pem", valid.EncryptedPEM(password)), "CLIENT_CERTIFICATE_PASSWORD": password + "x"}, "wrong password"},
		{"PFX, wrong password", map[string]string{"CLIENT_CERTIFICATE_PATH": file("k.pfx", valid.PFX(password)), "CLIENT_CERTIFICATE_PASSWORD": "not-" + password}, "wrong password"},
		{"PFX without password", map[string]string{"CLIENT_CERTIFICATE_PATH": file("k.pfx", valid.PFX(password))}, "set CLIENT_CERTIFICATE_PASSWORD"},
		{"certificate without key", map[string]string{"CLIENT_CERTIFICATE_PATH": file("app.crt", valid.CertPEM())}, "no private key"},
		{"EC key", map[string]string{"CLIENT_CERTIFICATE_PATH": file("ec.pem", ecPEM)}, "not an RSA key"},
		{"key of another certificate", map[string]string{"CLIENT_CERTIFICATE_PATH": file("mix.pem", append(other.CertPEM(), valid.PEM()[len(valid.CertPEM()):]...))}, "does not match the certificate"},
		{"expired certificate", map[string]string{"CLIENT_CERTIFICATE_PATH": file("old.pem", expired.PEM())}, "expired on"},
		{"not a certificate", map[string]string{"CLIENT_CERTIFICATE_PATH": file("notes.txt", []byte("hello"))}, "neither PEM nor"},
		{"password without certificate", map[string]string{"CLIENT_SECRET": "s", "CLIENT_CERTIFICATE_PASSWORD": password}, "CLIENT_CERTIFICATE_PASSWORD is set but CLIENT_CERTIFICATE_PATH is not"},
		{"x5c without certificate", map[string]string{"CLIENT_SECRET": "s", "CLIENT_CERTIFICATE_SEND_X5C": "true"}, "CLIENT_CERTIFICATE_SEND_X5C is set but"},
		{"x5c not a boolean", map[string]string{"CLIENT_CERTIFICATE_PATH": file("a.pem", valid.PEM()), "CLIENT_CERTIFICATE_SEND_X5C": "sometimes"}, "CLIENT_CERTIFICATE_SEND_X5C must be true or false"},
		{"missing token file", map[string]string{"AZURE_FEDERATED_TOKEN_FILE": filepath.Join(dir, "token")}, "AZURE_FEDERATED_TOKEN_FILE=" + filepath.Join(dir, "token") + ": no such file"},
		{"empty token file", map[string]string{"CLIENT_ASSERTION_FILE": file("empty", []byte("\n"))}, "is empty"},
		{"token path is a directory", map[string]string{"CLIENT_ASSERTION_FILE": dir}, "cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := startApp(t, tt.set)
			if err == nil {
				t.Fatal("started")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
			named := false
			for k := range tt.set {
				named = named || strings.HasPrefix(msg, k)
			}
			if !named {
				t.Errorf("error %q does not start with the variable's name", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			if strings.Contains(msg, password) {
				t.Errorf("error repeats the password: %q", msg)
			}
		})
	}
}

// A certificate that expires within 30 days starts the app, with a warning.
func TestCertificateExpiringSoonWarns(t *testing.T) {
	soon := testutil.NewClientCert(t, nil, "soon", time.Now().Add(10*24*time.Hour))
	logs, err := startApp(t, map[string]string{"CLIENT_CERTIFICATE_PATH": testutil.WriteFile(t, "app.pem", soon.PEM())})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "expires on") || !strings.Contains(logs, "in 10 days") {
		t.Errorf("no warning in the start-up log:\n%s", logs)
	}
	later := testutil.NewClientCert(t, nil, "later", time.Now().Add(40*24*time.Hour))
	logs, err = startApp(t, map[string]string{"CLIENT_CERTIFICATE_PATH": testutil.WriteFile(t, "app.pem", later.PEM())})
	if err != nil || strings.Contains(logs, "level=WARN") {
		t.Errorf("a certificate valid for 40 days: %v\n%s", err, logs)
	}
}
