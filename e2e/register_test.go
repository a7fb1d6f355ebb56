// End to end: cmd/register registers the sample in the emulator's tenant
// (signing in with a device code, as over SSH), the sample started with the
// .env it wrote signs that user in with the admin role, a second run
// changes nothing, and cleanup makes the sign-in fail.

package e2e

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joho/godotenv"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/internal/httpsserver"
	"ms-identity-go-webapp/internal/register"
	"ms-identity-go-webapp/internal/testutil"
)

// startSampleWithEnvFile starts the sample as ./run.dev.sh does with the
// .env file at envFile: its settings as godotenv reads them, the app built
// and served as main builds it, on ln, trusting the emulator's certificate.
// The test adds only a session directory of its own. It returns a function
// that stops the app.
//
// This is the one place this file builds the app.
func startSampleWithEnvFile(t *testing.T, ln net.Listener, envFile string, emu *emulatortest.Server, logger *slog.Logger) (stop func()) {
	t.Helper()
	settings, err := godotenv.Read(envFile)
	if err != nil {
		t.Fatal(err)
	}
	settings["SESSION_DIR"] = t.TempDir()
	cfg, err := loadAppConfig(func(k string) (string, bool) { v, ok := settings[k]; return v, ok })
	if err != nil {
		t.Fatalf("the app refuses the .env register wrote: %v", err)
	}
	if len(cfg.Missing) > 0 {
		t.Fatalf("the app needs more configuration than register wrote: %v", cfg.Missing)
	}
	outbound, err := httpsserver.NewClient(emu.Cert.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	_, stopApp := serveApp(t, ln, cfg, appOptions{Logger: logger, Outbound: outbound})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stopApp()
			outbound.CloseIdleConnections()
		})
	}
	t.Cleanup(stop)
	return stop
}

// deviceUser reads the command's output as a person at the terminal does,
// and when the device code message appears, enters the code on the
// verification page and signs in.
type deviceUser struct {
	t                  *testing.T
	emu                *emulatortest.Server
	username, password string

	mu   sync.Mutex
	out  strings.Builder
	seen bool
	wg   sync.WaitGroup
}

func (d *deviceUser) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.out.Write(p)
	if uri, code, ok := emulatortest.ParseDeviceCodeMessage(d.out.String()); ok && !d.seen {
		d.seen = true
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			browser := d.emu.Client()
			browser.Jar, _ = cookiejar.New(nil)
			p, err := emulatortest.DeviceSignIn(d.t.Context(), browser, uri, code, d.username, d.password)
			if err != nil || !strings.Contains(p.Body, "You have signed in to") {
				d.t.Errorf("signing in on the verification page: %v", err)
			}
		}()
	}
	return len(p), nil
}

// runRegister runs the command (`go run ./cmd/register [cleanup] ...`) with
// -auth device, alice signing in on the verification page, and returns
// what it printed.
func runRegister(t *testing.T, emu *emulatortest.Server, caFile string, args ...string) string {
	t.Helper()
	user := &deviceUser{t: t, emu: emu, username: "alice@demo.test", password: "alice-password"}
	var stderr testutil.SyncBuffer
	common := []string{"-auth", "device", "-authority-host", emu.URL, "-graph-endpoint", emu.URL, "-ca-cert", caFile}
	if len(args) > 0 && args[0] == "cleanup" {
		args = append(append([]string{"cleanup"}, common...), args[1:]...)
	} else {
		args = append(common, args...)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := register.Main(ctx, args, register.Env{Stdout: user, Stderr: &stderr, Getenv: func(string) string { return "" }})
	user.wg.Wait()
	if err != nil {
		t.Fatalf("register %v: %v\n%s%s", args, err, user.out.String(), stderr.String())
	}
	if !strings.Contains(user.out.String(), "To sign in, use a web browser to open the page "+emu.URL+"/devicelogin and enter the code ") {
		t.Errorf("register printed no device code message:\n%s", user.out.String())
	}
	return user.out.String() + stderr.String()
}

func TestRegisterEndToEnd(t *testing.T) {
	began := time.Now()
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	emu := emulatortest.NewServer(t, emulator.Config{Logger: logger.With("component", "emulator")})
	ln := listen(t) // the app's address, known before it starts: the redirect URI names it
	appURL := "https://" + ln.Addr().String()
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	caFile := testutil.WriteFile(t, "emulator.crt", emu.Cert.CertPEM)
	if err := os.WriteFile(envFile, []byte("# my own settings stay\nGRAPH_TIMEOUT=20s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-tenant", emu.Tenant(), "-redirect-uri", appURL + "/auth/redirect", "-env-file", envFile}

	// 1. register writes .env.
	out := runRegister(t, emu, caFile, flags...)
	settings, err := godotenv.Read(envFile)
	if err != nil {
		t.Fatal(err)
	}
	clientID, secret := settings["CLIENT_ID"], settings["CLIENT_SECRET"]
	if clientID == "" || secret == "" || settings["AUTHORITY"] != emu.Authority() || settings["REDIRECT_URI"] != appURL+"/auth/redirect" ||
		settings["GRAPH_TIMEOUT"] != "20s" {
		t.Fatalf(".env after register: CLIENT_ID %q, AUTHORITY %q, REDIRECT_URI %q, GRAPH_TIMEOUT %q, a secret: %v",
			clientID, settings["AUTHORITY"], settings["REDIRECT_URI"], settings["GRAPH_TIMEOUT"], secret != "")
	}
	if fi, _ := os.Stat(envFile); fi.Mode().Perm() != 0o600 {
		t.Errorf(".env has mode %v, want 0600", fi.Mode().Perm())
	}
	if strings.Contains(out, secret) {
		t.Error("register printed the client secret")
	}

	// 2. The sample, started with that .env, signs alice in: the consent
	// page names the registration and its permissions, /graph works, and
	// /admin too, with the role register assigned her.
	stop := startSampleWithEnvFile(t, ln, envFile, emu, logger.With("component", "app"))
	env := &testEnv{t: t, emu: emu.Emulator, emuURL: emu.URL, appURL: appURL, logs: logs, client: emu.Client()}
	b := env.newBrowser()
	login := b.get("/login")
	assertStatus(t, login, http.StatusOK)
	authorize := authURLFrom(t, login)
	if !strings.Contains(authorize, "client_id="+clientID) {
		t.Fatalf("the app signs in with another client ID: %s", authorize)
	}
	form := b.get(authorize)
	assertContains(t, form, `name="passwd"`)
	consent := b.postSignInForm(authorize, map[string][]string{"loginfmt": {"alice@demo.test"}, "passwd": {"alice-password"}, "action": {"signin"}})
	for _, want := range []string{"Go Entra ID sign-in sample", clientID, "Sign you in and read your profile", "User.Read"} {
		assertContains(t, consent, want)
	}
	b.backToApp(b.answerConsent(consent, "accept"))
	assertStatus(t, b.get("/graph"), http.StatusOK)
	admin := b.get("/admin")
	assertStatus(t, admin, http.StatusOK)

	// 3. register again: the same registration and settings, and the app,
	// still running, still signs people in.
	runRegister(t, emu, caFile, flags...)
	again, _ := godotenv.Read(envFile)
	if regs := emu.Registrations(); len(regs) != 1 || again["CLIENT_ID"] != clientID || again["CLIENT_SECRET"] != secret {
		t.Fatalf("after the second run: %d registrations, CLIENT_ID %q (was %q), same secret: %v", len(regs), again["CLIENT_ID"], clientID, again["CLIENT_SECRET"] == secret)
	}
	b2 := env.newBrowser()
	b2.signIn("alice@demo.test", "alice-password")
	assertStatus(t, b2.get("/admin"), http.StatusOK)

	// 4. cleanup: the registration is gone, so the app's sign-in is
	// refused (AADSTS700016), and .env no longer holds its keys.
	runRegister(t, emu, caFile, "cleanup", "-env-file", envFile)
	b3 := env.newBrowser()
	refused := b3.get(authURLFrom(t, b3.get("/login")))
	assertStatus(t, refused, http.StatusBadRequest)
	assertContains(t, refused, "AADSTS700016")
	after, _ := godotenv.Read(envFile)
	for _, k := range []string{"CLIENT_ID", "CLIENT_SECRET", "AUTHORITY"} {
		if _, ok := after[k]; ok {
			t.Errorf(".env still holds %s after cleanup", k)
		}
	}
	if after["GRAPH_TIMEOUT"] != "20s" || len(emu.Registrations()) != 0 {
		t.Errorf("after cleanup: GRAPH_TIMEOUT %q, %d registrations", after["GRAPH_TIMEOUT"], len(emu.Registrations()))
	}
	if _, err := os.Stat(filepath.Join(dir, ".app-registration.json")); !os.IsNotExist(err) {
		t.Errorf("the state file is still there: %v", err)
	}

	stop()
	if n := secretsIn(logs.String(), append(emu.IssuedValues(), secret)); n > 0 {
		t.Errorf("the logs hold %d secrets", n)
	}
	t.Logf("register, sign in, register again, sign in, cleanup: %v", time.Since(began).Round(time.Millisecond))
}

// With -credential certificate, the sample signs in with the certificate
// and key register wrote, in the format CLIENT_CERTIFICATE_PATH reads.
func TestRegisterWithCertificateEndToEnd(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	emu := emulatortest.NewServer(t, emulator.Config{})
	ln := listen(t)
	appURL := "https://" + ln.Addr().String()
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	caFile := testutil.WriteFile(t, "emulator.crt", emu.Cert.CertPEM)
	runRegister(t, emu, caFile, "-tenant", emu.Tenant(), "-redirect-uri", appURL+"/auth/redirect", "-env-file", envFile, "-credential", "certificate")
	settings, _ := godotenv.Read(envFile)
	certFile := settings["CLIENT_CERTIFICATE_PATH"]
	if _, hasSecret := settings["CLIENT_SECRET"]; certFile != filepath.Join(dir, "ssl", "client-cert.pem") || hasSecret {
		t.Fatalf(".env: CLIENT_CERTIFICATE_PATH %q, a CLIENT_SECRET: %v", certFile, hasSecret)
	}
	if fi, err := os.Stat(certFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the certificate file: %v %v", err, fi.Mode())
	}
	startSampleWithEnvFile(t, ln, envFile, emu, logger)
	env := &testEnv{t: t, emu: emu.Emulator, emuURL: emu.URL, appURL: appURL, logs: logs, client: emu.Client()}
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	assertStatus(t, b.get("/admin"), http.StatusOK)
	if got := emu.ClientAssertions(); len(got) == 0 || got[0].Kind != "certificate" || got[0].Error != 0 {
		t.Errorf("client assertions: %+v", got)
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Error("the log holds the private key")
	}
}
