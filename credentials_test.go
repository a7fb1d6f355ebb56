// End-to-end tests of the production credentials: a certificate in each file format and a federated token file, through MSAL Go against the emulator.

package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/internal/testutil"
)

// shortAccessTokens makes every /graph page after sign-in redeem the refresh
// token: the access tokens live less than MSAL's five-minute margin.
func shortAccessTokens(c *emulator.Config) { c.AccessTokenTTL = 2 * time.Minute }

// withCertificate configures the app with a certificate file instead of
// the client secret.
func withCertificate(path, password string) envOption {
	return func(_ *emulator.Config, env map[string]string) {
		delete(env, "CLIENT_SECRET")
		env["CLIENT_CERTIFICATE_PATH"] = path
		env["CLIENT_CERTIFICATE_PASSWORD"] = password
	}
}

// signInAndRefresh signs alice in, then opens /graph, which refreshes her
// access token; it returns the assertions the emulator received meanwhile.
func signInAndRefresh(t *testing.T, env *testEnv) []emulator.ClientAssertion {
	t.Helper()
	b := env.newBrowser()
	landed := b.signIn("alice@demo.test", "alice-password")
	if landed.location != env.appURL+"/" {
		t.Fatalf("after sign-in went to %s", landed.location)
	}
	graph := b.get("/graph")
	assertStatus(t, graph, http.StatusOK)
	assertContains(t, graph, `&#34;displayName&#34;: &#34;Alice Smith&#34;`)
	stats := env.emu.Stats()
	if stats[emulator.StatTokenAuthorizationCode] != 1 || stats[emulator.StatTokenRefreshToken] != 1 {
		t.Fatalf("token grants: %v", stats)
	}
	return env.emu.ClientAssertions()
}

func TestSignInWithCertificate(t *testing.T) {
	cert := testutil.NewClientCert(t, nil, "ms-identity-go-webapp", time.Now().Add(90*24*time.Hour))
	sum := sha256.Sum256(cert.Cert.Raw)
	thumbprint := strings.ToUpper(hex.EncodeToString(sum[:]))
	const password = "correct horse battery staple"
	tests := []struct {
		name     string
		file     string
		data     []byte
		password string
		sendX5C  bool
	}{
		{"PEM", "app.pem", cert.PEM(), "", false},
		{"encrypted PEM", "app.pem", cert.EncryptedPEM(password), password, false},
		{"PFX", "app.pfx", cert.PFX(password), password, false},
		{"PEM, sending x5c", "app.pem", cert.PEM(), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testutil.WriteFile(t, tt.file, tt.data)
			opts := []envOption{
				withEmulator(func(c *emulator.Config) { c.ClientCertificates = []*x509.Certificate{cert.Cert} }),
				withEmulator(shortAccessTokens),
				withCertificate(path, tt.password),
			}
			if tt.sendX5C {
				opts = append(opts, withAppEnv("CLIENT_CERTIFICATE_SEND_X5C", "true"))
			}
			env := newTestEnv(t, opts...)
			got := signInAndRefresh(t, env)
			if len(got) != 2 {
				t.Fatalf("the emulator received %d client assertions, want one for the code and one for the refresh: %+v", len(got), got)
			}
			wantX5C := 0
			if tt.sendX5C {
				wantX5C = 1
			}
			for _, a := range got {
				if a.Kind != "certificate" || a.Alg != "PS256" || a.ThumbprintHeader != "x5t#S256" ||
					a.Thumbprint != thumbprint || a.X5C != wantX5C || a.Error != 0 {
					t.Errorf("assertion received: %+v", a)
				}
			}
			if got[0].TokenID == got[1].TokenID {
				t.Error("MSAL sent the same assertion twice")
			}
			if !strings.Contains(env.logs.String(), "client credential") || !strings.Contains(env.logs.String(), "certificate ") {
				t.Error("the start-up log does not say which credential the app uses")
			}
		})
	}
}

// workloadToken gets a token from the emulator's external issuer, as the
// platform would project it into the pod.
func workloadToken(t *testing.T, client *http.Client, emuURL string, form url.Values) string {
	t.Helper()
	resp, err := client.PostForm(emuURL+"/emulator/workload-token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("workload token: %d %v", resp.StatusCode, err)
	}
	return body.Token
}

// replaceFile swaps in a new file as Kubernetes does for a projected
// token: written beside it, then renamed over it.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".new-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func tokenID(t *testing.T, token string) string {
	t.Helper()
	var c struct{ Jti string }
	if err := json.Unmarshal(decodeSegment(t, strings.Split(token, ".")[1]), &c); err != nil {
		t.Fatal(err)
	}
	return c.Jti
}

const workloadSubject = "system:serviceaccount:web:ms-identity-go-webapp"

// newFederatedEnv starts the app with a federated token file that holds a
// token of subject from the emulator's issuer (with the emulator's clock
// moved by issuedAt when the token is made), and the emulator trusting
// workloadSubject. The file's path is in env.cfg.ClientAssertionFile.
func newFederatedEnv(t *testing.T, variable, subject string, issuedAt time.Duration) *testEnv {
	t.Helper()
	var offset atomic.Int64
	return newCluster(t, clusterOptions{instances: 1,
		opts: []envOption{
			withEmulator(func(c *emulator.Config) {
				c.FederatedSubjects = []string{workloadSubject}
				c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
				shortAccessTokens(c)
			}),
			func(_ *emulator.Config, env map[string]string) { delete(env, "CLIENT_SECRET") },
		},
		emulatorStarted: func(_ *emulator.Emulator, emuURL string, client *http.Client, env map[string]string) {
			offset.Store(int64(issuedAt))
			token := workloadToken(t, client, emuURL, url.Values{"subject": {subject}})
			offset.Store(0)
			env[variable] = testutil.WriteFile(t, "azure-identity-token", []byte(token))
		},
	}).instances[0]
}

func TestSignInWithFederatedToken(t *testing.T) {
	for _, variable := range []string{"AZURE_FEDERATED_TOKEN_FILE", "CLIENT_ASSERTION_FILE"} {
		t.Run(variable, func(t *testing.T) {
			env := newFederatedEnv(t, variable, workloadSubject, 0)
			got := signInAndRefresh(t, env)
			data, _ := os.ReadFile(env.cfg.ClientAssertionFile)
			want := tokenID(t, string(data))
			if len(got) != 2 {
				t.Fatalf("the emulator received %d client assertions: %+v", len(got), got)
			}
			for _, a := range got {
				if a.Kind != "federated" || a.Subject != workloadSubject || a.TokenID != want || a.Error != 0 {
					t.Errorf("assertion received: %+v, want the file's token %s", a, want)
				}
			}
		})
	}
}

// The platform rotates the token while the app runs: the next token
// request carries the new one.
func TestFederatedTokenFileReplacedWhileRunning(t *testing.T) {
	env := newFederatedEnv(t, "AZURE_FEDERATED_TOKEN_FILE", workloadSubject, 0)
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	first := env.emu.ClientAssertions()
	if len(first) != 1 {
		t.Fatalf("%d assertions for the sign-in", len(first))
	}

	next := workloadToken(t, env.client, env.emuURL, url.Values{"subject": {workloadSubject}})
	replaceFile(t, env.cfg.ClientAssertionFile, next)
	assertStatus(t, b.get("/graph"), http.StatusOK) // a refresh: the access token is short-lived
	got := env.emu.ClientAssertions()
	if len(got) != 2 || env.emu.Stats()[emulator.StatTokenRefreshToken] != 1 {
		t.Fatalf("assertions %+v, stats %v", got, env.emu.Stats())
	}
	if got[1].TokenID != tokenID(t, next) || got[1].TokenID == first[0].TokenID || got[1].Error != 0 {
		t.Fatalf("the refresh sent token %s, want the new file's %s (the old one was %s)", got[1].TokenID, tokenID(t, next), first[0].TokenID)
	}
}

func TestCredentialErrorsEndOnSignInFailed(t *testing.T) {
	uploaded := testutil.NewClientCert(t, nil, "uploaded", time.Now().Add(90*24*time.Hour))
	local := testutil.NewClientCert(t, nil, "never uploaded", time.Now().Add(90*24*time.Hour))
	localSum := sha256.Sum256(local.Cert.Raw)

	check := func(t *testing.T, env *testEnv, code string, mentions ...string) {
		t.Helper()
		b := env.newBrowser()
		back := b.submitSignIn(authURLFrom(t, b.get("/login")), "alice@demo.test", "alice-password", "signin")
		p := b.follow(back)
		assertStatus(t, p, http.StatusBadRequest)
		assertContains(t, p, "Sign-in failed")
		assertContains(t, p, "invalid_client")
		assertContains(t, p, code)
		assertContains(t, p, `class="hint"`)
		for _, m := range mentions {
			assertContains(t, p, m)
		}
		assertStatus(t, b.get("/token_details"), http.StatusFound) // not signed in
	}

	t.Run("certificate not uploaded", func(t *testing.T) {
		env := newTestEnv(t,
			withEmulator(func(c *emulator.Config) { c.ClientCertificates = []*x509.Certificate{uploaded.Cert} }),
			withCertificate(testutil.WriteFile(t, "app.pem", local.PEM()), ""))
		check(t, env, "AADSTS700027", strings.ToUpper(hex.EncodeToString(localSum[:])),
			"upload the certificate of CLIENT_CERTIFICATE_PATH")
	})

	t.Run("assertion expired: this machine's clock is slow", func(t *testing.T) {
		// The emulator's clock runs 20 minutes ahead: MSAL's assertion,
		// valid for 10 minutes, has expired by the time it arrives.
		env := newTestEnv(t,
			withEmulator(func(c *emulator.Config) {
				c.ClientCertificates = []*x509.Certificate{uploaded.Cert}
				c.Now = func() time.Time { return time.Now().Add(20 * time.Minute) }
			}),
			withCertificate(testutil.WriteFile(t, "app.pem", uploaded.PEM()), ""))
		check(t, env, "AADSTS700024", "check this machine&#39;s clock")
	})

	t.Run("federated token expired: the platform stopped renewing it", func(t *testing.T) {
		env := newFederatedEnv(t, "AZURE_FEDERATED_TOKEN_FILE", workloadSubject, -2*time.Hour)
		check(t, env, "AADSTS700024", "keeps renewing the file in CLIENT_ASSERTION_FILE or AZURE_FEDERATED_TOKEN_FILE")
	})

	t.Run("federated subject does not match", func(t *testing.T) {
		env := newFederatedEnv(t, "AZURE_FEDERATED_TOKEN_FILE", "system:serviceaccount:other:app", 0)
		check(t, env, "AADSTS700213", "system:serviceaccount:other:app", "check the app registration&#39;s federated credential")
	})
}

func decodeSegment(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ssl/generate-client-cert.sh makes a certificate the app signs in with
// once its .crt is uploaded, valid for the days asked, in every form.
func TestGenerateClientCertScript(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	const password = "generated-key-password"
	out := t.TempDir()
	cmd := exec.Command("ssl/generate-client-cert.sh", "--days", "45", "--out", out, "--encrypt", "--pfx")
	cmd.Env = append(os.Environ(), "CLIENT_CERTIFICATE_PASSWORD="+password)
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, output)
	}
	if strings.Contains(string(output), password) {
		t.Error("the script prints the password")
	}
	uploaded, err := emulator.LoadCertificates(filepath.Join(out, "client-cert.crt"))
	if err != nil || len(uploaded) != 1 {
		t.Fatalf("client-cert.crt: %v, %d certificates", err, len(uploaded))
	}
	if left := time.Until(uploaded[0].NotAfter); left < 44*24*time.Hour || left > 46*24*time.Hour {
		t.Errorf("the certificate is valid for %v, want 45 days", left.Round(time.Hour))
	}
	if crt, _ := os.ReadFile(filepath.Join(out, "client-cert.crt")); strings.Contains(string(crt), "PRIVATE KEY") {
		t.Error("the .crt to upload holds the private key")
	}
	for _, file := range []string{"client-cert.pem", "client-cert.pfx"} {
		t.Run(file, func(t *testing.T) {
			info, err := os.Stat(filepath.Join(out, file))
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %v, mode %v", file, err, info.Mode())
			}
			env := newTestEnv(t,
				withEmulator(func(c *emulator.Config) { c.ClientCertificates = uploaded }),
				withCertificate(filepath.Join(out, file), password))
			b := env.newBrowser()
			b.signIn("alice@demo.test", "alice-password")
			assertStatus(t, b.get("/graph"), http.StatusOK)
		})
	}
}
