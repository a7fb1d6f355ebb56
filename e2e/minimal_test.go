// The smallest app on package entra (examples/minimal): built as a module
// of its own, outside this one, and signed in against the emulator.

package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/internal/testutil"
)

// The program of examples/minimal, built with its own go.mod (which
// replaces this module with the checkout), signs a user in with nothing but
// net/http and entra: the home page greets them, /me shows Graph's JSON for
// them, /admin answers 403 without the admin role and 200 with it, and the
// sign-out ends the session.
func TestMinimalExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program of its own")
	}
	bin := filepath.Join(t.TempDir(), "minimal")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = "../examples/minimal"
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building examples/minimal as a module of its own: %v\n%s", err, out)
	}

	// The program's port stays taken until it starts, so that the emulator
	// cannot be given it.
	held := listen(t)
	addr := held.Addr().String()
	origin := "https://" + addr
	emu := emulatortest.NewServer(t, emulator.Config{RedirectURIs: []string{origin + "/auth/redirect"}})
	held.Close()
	// One certificate for both: the program and its outbound clients trust
	// it through SSL_CERT_FILE, as they would a corporate root.
	certFile, keyFile := emu.Cert.WriteFiles(t)
	logs := &testutil.SyncBuffer{}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ADDR="+addr, "TLS_CERT="+certFile, "TLS_KEY="+keyFile, "SSL_CERT_FILE="+certFile,
		"AUTHORITY="+emu.Authority(), "CLIENT_ID="+emulator.DemoClientID, "CLIENT_SECRET="+emulator.DemoClientSecret,
		"REDIRECT_URI="+origin+"/auth/redirect", "SESSION_SECRET="+strings.Repeat("m", 32), "SESSION_DIR="+t.TempDir(),
		"GRAPH_ENDPOINT="+emu.URL+"/v1.0/me")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	ctx := t.Context()
	waitFor(t, 10*time.Second, "the program answering", func() bool {
		_, err := emulatortest.Get(ctx, emu.Client(), origin+"/login")
		return err == nil
	})
	signIn := func(username, password string) *http.Client {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := *emu.Client()
		c.Jar = jar
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		start, err := emulatortest.Get(ctx, &c, origin+"/")
		if err != nil || start.Status != http.StatusFound {
			t.Fatalf("GET / signed out: %v %+v; want the sign-in's redirect", err, start)
		}
		back, err := emulatortest.SignIn(ctx, &c, start.Location, username, password)
		if err != nil || !strings.HasPrefix(back.Location, origin+"/auth/redirect?") {
			t.Fatalf("signing in: %v; the emulator answered %d %s", err, back.Status, back.Location)
		}
		done, err := emulatortest.Get(ctx, &c, back.Location)
		if err != nil || done.Status != http.StatusSeeOther || done.Location != origin+"/" {
			t.Fatalf("the callback: %v %d %q; want 303 to /", err, done.Status, done.Location)
		}
		return &c
	}
	get := func(c *http.Client, path string) *emulatortest.Page {
		t.Helper()
		p, err := emulatortest.Get(ctx, c, origin+path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return p
	}

	alice := signIn("alice@demo.test", "alice-password")
	if home := get(alice, "/"); home.Status != http.StatusOK || home.Body != "Hello, Alice Smith!" {
		t.Errorf("home page: %d %q", home.Status, home.Body)
	}
	me := get(alice, "/me")
	var graph struct {
		UserPrincipalName string `json:"userPrincipalName"`
	}
	if err := json.Unmarshal([]byte(me.Body), &graph); me.Status != http.StatusOK || err != nil || graph.UserPrincipalName != "alice@demo.test" {
		t.Errorf("/me: %d %q; want Graph's JSON for alice", me.Status, me.Body)
	}
	if p := get(alice, "/admin"); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "User is missing a required role.") {
		t.Errorf("/admin without the role: %d", p.Status)
	}

	admin := signIn("admin@demo.test", "admin-password")
	if p := get(admin, "/admin"); p.Status != http.StatusOK || !strings.Contains(p.Body, "Only for the admin app role.") {
		t.Errorf("/admin with the role: %d %q", p.Status, p.Body)
	}
	form, _ := http.NewRequestWithContext(ctx, http.MethodPost, origin+"/logout", nil)
	form.Header.Set("Origin", origin)
	out, err := emulatortest.Do(admin, form)
	if err != nil || out.Status != http.StatusSeeOther || !strings.HasPrefix(out.Location, emu.URL) {
		t.Fatalf("POST /logout: %v %+v; want 303 to the end-session endpoint", err, out)
	}
	if p := get(admin, "/"); p.Status != http.StatusFound {
		t.Errorf("home page after sign-out: %d; want the sign-in's redirect", p.Status)
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("the program's log:\n%s", logs)
	}
}
