// MSAL Python against the emulator with a certificate credential, so the emulator serves more than MSAL Go.

package emulator

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"
)

// msalPython finds a python3 that can import msal (Debian's python3-msal
// installs it for /usr/bin/python3, which a pyenv or venv python3 earlier
// on PATH cannot see). Without one the test is skipped, unless
// REQUIRE_MSAL_PYTHON=1 (as in CI), which makes that a failure.
func msalPython(t *testing.T) string {
	t.Helper()
	for _, candidate := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(candidate)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import msal, requests").Run() == nil {
			return path
		}
	}
	if os.Getenv("REQUIRE_MSAL_PYTHON") == "1" {
		t.Fatal("no python3 with msal and REQUIRE_MSAL_PYTHON=1: install it with apt-get install python3-msal")
	}
	t.Skip("no python3 with msal: install it (apt-get install python3-msal) to run the MSAL Python test")
	return ""
}

// MSAL Python's ConfidentialClientApplication with
// client_credential={"private_key", "thumbprint"}, the way the Python
// samples configure a certificate: it signs in with the auth code flow,
// refreshes, and calls Graph.
func TestMSALPythonSignsInWithCertificate(t *testing.T) {
	python := msalPython(t)
	cert := testutil.NewClientCert(t, nil, "msal-python", time.Now().Add(24*time.Hour))
	env := newEnv(t, func(c *Config) { c.ClientCertificates = []*x509.Certificate{cert.Cert} })

	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := testutil.WriteFile(t, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	caFile := testutil.WriteFile(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: env.srv.Certificate().Raw}))
	sum := sha1.Sum(cert.Cert.Raw)
	input, _ := json.Marshal(map[string]any{
		"authority":        env.em.Authority(env.srv.URL),
		"client_id":        DemoClientID,
		"redirect_uri":     DemoRedirectURIs[0],
		"scope":            []string{"User.Read"},
		"private_key_file": keyFile,
		"thumbprint":       hex.EncodeToString(sum[:]),
		"ca_file":          caFile,
		"username":         "alice@demo.test",
		"password":         "alice-password",
		"graph":            env.url("/v1.0/me"),
	})

	cmd := exec.Command(python, "testdata/msal_python_signin.py")
	cmd.Stdin = bytes.NewReader(input)
	// requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE override the CA
	// file MSAL Python sets on its session, so keep them out.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REQUESTS_CA_BUNDLE=") && !strings.HasPrefix(kv, "CURL_CA_BUNDLE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var got struct {
		MSALVersion           string `json:"msal_version"`
		Username              string
		RefreshedTokenDiffers bool   `json:"refreshed_token_differs"`
		DisplayName           string `json:"display_name"`
		Failed                string
		Detail                any
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || runErr != nil {
		t.Fatalf("MSAL Python: %v; stdout %s; stderr %s", runErr, stdout.String(), stderr.String())
	}
	t.Logf("MSAL Python %s", got.MSALVersion)
	if got.Username != "alice@demo.test" || got.DisplayName != "Alice Smith" || !got.RefreshedTokenDiffers {
		t.Errorf("MSAL Python reported %+v", got)
	}

	// What the emulator received: one assertion for the code and one for
	// the refresh, both naming the registered certificate as MSAL Python
	// does (the SHA-1 x5t, or x5t#S256 in newer versions).
	stats := env.em.Stats()
	if stats[StatTokenAuthorizationCode] != 1 || stats[StatTokenRefreshToken] != 1 {
		t.Errorf("token grants: %v", stats)
	}
	assertions := env.em.ClientAssertions()
	if len(assertions) != 2 {
		t.Fatalf("%d client assertions: %+v", len(assertions), assertions)
	}
	for _, a := range assertions {
		if a.Kind != "certificate" || a.Error != 0 || (a.Alg != "RS256" && a.Alg != "PS256") ||
			(a.ThumbprintHeader != "x5t" && a.ThumbprintHeader != "x5t#S256") {
			t.Errorf("assertion received: %+v", a)
		}
	}
	t.Logf("MSAL Python sent %s with %s", assertions[0].ThumbprintHeader, assertions[0].Alg)
}
