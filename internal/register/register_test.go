// The command against the emulator: what it creates, that a second run
// changes nothing it should not, and each way it can go wrong, with the
// message a developer sees.

package register

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
)

func wantOK(t *testing.T, r result) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("the command failed: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
}

func wantError(t *testing.T, r result, parts ...string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("the command succeeded, want an error\nstdout:\n%s", r.stdout)
	}
	for _, p := range parts {
		if !strings.Contains(r.err.Error(), p) {
			t.Errorf("the error does not say %q:\n%v", p, r.err)
		}
	}
}

// The first run registers what the sample needs and writes .env, keeping
// the lines it does not own; the second finds the same registration,
// adds a redirect URI without removing one, keeps the secret, and writes
// nothing new.
func TestRegisterThenAgain(t *testing.T) {
	h := newHarness(t, emulator.Config{})
	before := "# my settings\nPORT=5000\nCLIENT_ID=<client id>\nSESSION_SECRET=\nLOG_FORMAT=json # trailing comment\n"
	if err := os.WriteFile(h.envFile, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.run(runOptions{}, h.tenantFlag()...)
	wantOK(t, r)

	regs := h.srv.Registrations()
	if len(regs) != 1 {
		t.Fatalf("registrations: %+v", regs)
	}
	reg := regs[0]
	want := emulator.Registration{
		DisplayName: defaultName, SignInAudience: "AzureADMyOrg",
		RedirectURIs:          []string{defaultRedirectURI},
		FrontChannelLogoutURL: "https://localhost:5000/auth/frontchannel-logout",
		AppRoles:              []string{"admin"},
		GraphPermissions:      []string{"User.Read", "Calendars.Read"},
		Owners:                []string{"alice@demo.test"},
		Secrets:               1,
		RoleAssignments:       []emulator.RoleAssignment{{Username: "alice@demo.test", Role: "admin"}},
	}
	switch {
	case reg.DisplayName != want.DisplayName, reg.SignInAudience != want.SignInAudience,
		!slices.Equal(reg.RedirectURIs, want.RedirectURIs), reg.FrontChannelLogoutURL != want.FrontChannelLogoutURL,
		reg.IDTokenIssuance, reg.AccessTokenIssuance,
		!slices.Equal(reg.AppRoles, want.AppRoles), !slices.Equal(reg.GraphPermissions, want.GraphPermissions),
		!slices.Equal(reg.Owners, want.Owners), reg.Secrets != 1, reg.ServicePrincipalID == "",
		!slices.Equal(reg.RoleAssignments, want.RoleAssignments),
		!strings.HasPrefix(reg.UniqueName, "ms-identity-go-webapp-"):
		t.Errorf("the registration:\n got %+v\nwant %+v", reg, want)
	}

	env := h.readEnv()
	if env["CLIENT_ID"] != reg.AppID || len(env["CLIENT_SECRET"]) < 32 || env["AUTHORITY"] != h.srv.Authority() ||
		env["REDIRECT_URI"] != defaultRedirectURI || len(env["SESSION_SECRET"]) != 64 ||
		env["GRAPH_ENDPOINT"] != h.srv.URL+"/v1.0/me" || env["PORT"] != "5000" || env["LOG_FORMAT"] != "json" {
		t.Errorf(".env after the first run: %v", keysOf(env))
	}
	data, _ := os.ReadFile(h.envFile)
	if !strings.HasPrefix(string(data), "# my settings\nPORT=5000\nCLIENT_ID="+reg.AppID+"\nSESSION_SECRET=") ||
		!strings.Contains(string(data), "LOG_FORMAT=json # trailing comment\n") {
		t.Errorf("the lines the command does not own moved or changed:\n%s", data)
	}
	wantMode(t, h.envFile, 0o600)
	if strings.Contains(r.stdout, env["CLIENT_SECRET"]) || !strings.Contains(r.stdout, "not shown here") {
		t.Errorf("the summary:\n%s", r.stdout)
	}
	var st state
	raw, _ := os.ReadFile(h.stateFile)
	if json.Unmarshal(raw, &st); st.ClientID != reg.AppID || st.ApplicationID != reg.ObjectID || st.ServicePrincipalID != reg.ServicePrincipalID || st.Tenant != h.srv.Tenant() {
		t.Errorf("state file: %s", raw)
	}

	// Again, with a second redirect URI and without -tenant: the state
	// file's tenant is used.
	second := "https://127.0.0.1:5000/auth/redirect"
	r = h.run(runOptions{}, "-redirect-uri", defaultRedirectURI, "-redirect-uri", second)
	wantOK(t, r)
	regs = h.srv.Registrations()
	if len(regs) != 1 || regs[0].AppID != reg.AppID || regs[0].Secrets != 1 || len(regs[0].RoleAssignments) != 1 ||
		!slices.Equal(regs[0].RedirectURIs, []string{defaultRedirectURI, second}) || !slices.Equal(regs[0].AppRoles, []string{"admin"}) {
		t.Fatalf("after the second run: %+v", regs)
	}
	again := h.readEnv()
	if again["CLIENT_ID"] != env["CLIENT_ID"] || again["CLIENT_SECRET"] != env["CLIENT_SECRET"] || again["SESSION_SECRET"] != env["SESSION_SECRET"] {
		t.Errorf("the second run changed the app's settings")
	}
	if !strings.Contains(r.stdout, "updated") || !strings.Contains(r.stdout, "kept") {
		t.Errorf("the second summary:\n%s", r.stdout)
	}

	// A third run without the second URI keeps it: URIs are never removed.
	wantOK(t, h.run(runOptions{}))
	if regs := h.srv.Registrations(); !slices.Equal(regs[0].RedirectURIs, []string{defaultRedirectURI, second}) {
		t.Errorf("redirect URIs after a run without the second: %v", regs[0].RedirectURIs)
	}

	// -rotate-secret replaces the secret: a new one in .env, the old one
	// removed from the registration.
	wantOK(t, h.run(runOptions{}, "-rotate-secret"))
	if rotated := h.readEnv(); rotated["CLIENT_SECRET"] == env["CLIENT_SECRET"] || h.srv.Registrations()[0].Secrets != 1 {
		t.Errorf("after -rotate-secret: %d secrets", h.srv.Registrations()[0].Secrets)
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k, v := range m {
		if strings.Contains(k, "SECRET") {
			v = "(" + string(rune('0'+len(v)/10)) + "x characters)"
		}
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func wantMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s has mode %v, want %v", filepath.Base(path), fi.Mode().Perm(), mode)
	}
}

// With -credential certificate the key and certificate are written in one
// PEM file, mode 0600, uploaded to the registration and named in .env
// instead of a secret; a second run keeps them.
func TestRegisterWithCertificate(t *testing.T) {
	h := newHarness(t, emulator.Config{})
	certFile := filepath.Join(h.dir, "ssl", "client-cert.pem")
	wantOK(t, h.run(runOptions{}, append(h.tenantFlag(), "-credential", "certificate")...))
	wantMode(t, certFile, 0o600)
	cert, err := loadClientCert(certFile, time.Now())
	if err != nil {
		t.Fatalf("the certificate file: %v", err)
	}
	reg := h.srv.Registrations()[0]
	if len(reg.Certificates) != 1 || thumbprint(reg.Certificates[0]) != thumbprint(cert) || reg.Secrets != 0 {
		t.Fatalf("the registration's credentials: %d certificates, %d secrets", len(reg.Certificates), reg.Secrets)
	}
	env := h.readEnv()
	if _, hasSecret := env["CLIENT_SECRET"]; env["CLIENT_CERTIFICATE_PATH"] != certFile || hasSecret {
		t.Errorf(".env: %v", keysOf(env))
	}
	before, _ := os.ReadFile(certFile)
	r := h.run(runOptions{}, "-credential", "certificate")
	wantOK(t, r)
	after, _ := os.ReadFile(certFile)
	if string(before) != string(after) || len(h.srv.Registrations()[0].Certificates) != 1 || !strings.Contains(r.stdout, "kept") {
		t.Errorf("the second run did not keep the certificate:\n%s", r.stdout)
	}
}

// Failure: "Users can register applications" is off. The command says so
// and what to ask an administrator, and writes nothing.
func TestRegistrationTurnedOff(t *testing.T) {
	h := newHarness(t, emulator.Config{DirectoryFaults: emulator.DirectoryFaults{AppRegistrationDisabled: true}})
	r := h.run(runOptions{}, h.tenantFlag()...)
	wantError(t, r, "refused to create the app registration", "Users can register applications", "Application Developer")
	if h.readEnv() != nil || len(h.srv.Registrations()) != 0 {
		t.Errorf("something was written or created")
	}
}

// Failure: the role cannot be assigned. The command warns with the admin
// center's steps, and finishes: .env is written, exit status 0.
func TestRoleAssignmentDenied(t *testing.T) {
	h := newHarness(t, emulator.Config{DirectoryFaults: emulator.DirectoryFaults{RoleAssignmentDenied: true}})
	r := h.run(runOptions{}, h.tenantFlag()...)
	wantOK(t, r)
	for _, want := range []string{"refused to assign you the app role \"admin\"", "Enterprise applications", "Users and groups", "alice@demo.test"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the warning does not say %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "not assigned") || h.readEnv()["CLIENT_ID"] == "" || len(h.srv.Registrations()[0].RoleAssignments) != 0 {
		t.Errorf("after the warning:\n%s", r.stdout)
	}
}

// Failure: Graph's replication delay. Each new object is invisible for a
// few requests; the command waits along its backoff and finishes.
func TestReplicationDelay(t *testing.T) {
	h := newHarness(t, emulator.Config{DirectoryFaults: emulator.DirectoryFaults{ReplicationLag: 3}})
	backoff := []time.Duration{1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond}
	r := h.run(runOptions{backoff: backoff}, h.tenantFlag()...)
	wantOK(t, r)
	reg := h.srv.Registrations()
	if len(reg) != 1 || reg[0].Secrets != 1 || len(reg[0].RoleAssignments) != 1 {
		t.Fatalf("after the delay: %+v", reg)
	}
	if len(r.sleeps) == 0 || !strings.Contains(r.stdout, "has not replicated the new") {
		t.Errorf("the command did not wait for replication: sleeps %v\n%s", r.sleeps, r.stdout)
	}
	for _, d := range r.sleeps {
		if !slices.Contains(backoff[:3], d) {
			t.Errorf("waited %v, which is not one of the first three steps of the backoff %v", d, backoff)
		}
	}
}

// Failure: the delay outlasts the backoff (about three minutes by
// default). The command stops with a clear error and says to run again.
func TestReplicationDelayGivesUp(t *testing.T) {
	h := newHarness(t, emulator.Config{DirectoryFaults: emulator.DirectoryFaults{ReplicationLag: 1000}})
	r := h.run(runOptions{backoff: []time.Duration{time.Millisecond, time.Millisecond}}, h.tenantFlag()...)
	wantError(t, r, "still does not show the new app registration", "replication delay", "Run the command again")
	var rerr *ReplicationError
	if !errors.As(r.err, &rerr) || len(r.sleeps) != 2 {
		t.Errorf("error %T (%v) after %d waits", r.err, r.err, len(r.sleeps))
	}
	// The state file names what was made, so the next run continues.
	if st, _ := loadState(h.stateFile); st == nil || st.ApplicationID == "" {
		t.Errorf("no state file after the partial run")
	}
}

// Failure: Graph throttles (429 with Retry-After). The command waits what
// Graph asks, not its own backoff, and finishes.
func TestThrottled(t *testing.T) {
	h := newHarness(t, emulator.Config{})
	if err := h.srv.InjectFault(emulator.Fault{Endpoint: emulator.EndpointGraph, Status: 429, Times: 2}); err != nil {
		t.Fatal(err)
	}
	r := h.run(runOptions{}, h.tenantFlag()...)
	wantOK(t, r)
	if !slices.Equal(r.sleeps, []time.Duration{time.Second, time.Second}) || !strings.Contains(r.stdout, "asks to slow down (429") {
		t.Errorf("waits %v, want the emulator's Retry-After of 1s twice\n%s", r.sleeps, r.stdout)
	}
	if len(h.srv.Registrations()) != 1 {
		t.Errorf("registrations: %d", len(h.srv.Registrations()))
	}
}

// Failure: the person declines on the verification page. The command
// says so and what to do, and changes nothing.
func TestDeviceCodeDeclined(t *testing.T) {
	h := newHarness(t, emulator.Config{})
	r := h.run(runOptions{device: true, decline: true}, h.tenantFlag()...)
	wantError(t, r, "declined", "run the command again", "Continue")
	if !strings.Contains(r.stdout, "To sign in, use a web browser to open the page https://127.0.0.1:") {
		t.Errorf("the device code message:\n%s", r.stdout)
	}
	if h.readEnv() != nil || len(h.srv.Registrations()) != 0 {
		t.Errorf("something was written or created")
	}
}

// Failure: the code expires before anyone enters it. The command says to
// run again and enter the new code in time.
func TestDeviceCodeExpired(t *testing.T) {
	clock := &offsetClock{}
	h := newHarness(t, emulator.Config{Now: clock.Now})
	r := h.run(runOptions{device: true, onCode: func(string, string) { clock.Advance(16 * time.Minute) }}, h.tenantFlag()...)
	wantError(t, r, "expired", "run the command again", "within 15 minutes")
	if h.readEnv() != nil {
		t.Errorf(".env was written")
	}
}

// Failure: the state file is another tenant's. With -tenant naming a
// tenant ID the command stops before signing in; with a domain, right
// after. Either way it changes nothing.
func TestStateFileOfAnotherTenant(t *testing.T) {
	other := `{"tenant_id": "11111111-2222-4333-8444-555555555555", "unique_name": "x", "application_object_id": "0b7a6c02-0000-4000-8000-000000000001"}`
	t.Run("tenant ID", func(t *testing.T) {
		h := newHarness(t, emulator.Config{})
		os.WriteFile(h.stateFile, []byte(other), 0o600)
		r := h.run(runOptions{}, h.tenantFlag()...)
		wantError(t, r, "belongs to tenant 11111111-2222-4333-8444-555555555555", "you signed in to tenant "+h.srv.Tenant(), "-state-file")
		if n := h.srv.Stats()[emulator.StatAuthorize]; n != 0 {
			t.Errorf("the command signed in first (%d authorize requests)", n)
		}
		if len(h.srv.Registrations()) != 0 || h.readEnv() != nil {
			t.Errorf("something was written or created")
		}
	})
	t.Run("domain", func(t *testing.T) {
		h := newHarness(t, emulator.Config{Tenant: "contoso.example"})
		os.WriteFile(h.stateFile, []byte(other), 0o600)
		r := h.run(runOptions{}, "-tenant", "contoso.example")
		wantError(t, r, "belongs to tenant 11111111-2222-4333-8444-555555555555", "you signed in to tenant contoso.example")
		if len(h.srv.Registrations()) != 0 || h.readEnv() != nil {
			t.Errorf("something was written or created")
		}
	})
}

// -auth azcli takes the token of an existing az login.
func TestAzureCLIToken(t *testing.T) {
	h := newHarness(t, emulator.Config{})
	// What `az account get-access-token` would print after az login.
	token := h.cliToken("alice@demo.test", "alice-password")
	var gotArgs []string
	r := h.runWith(func(env *Env) {
		env.AzCLI = func(_ context.Context, args ...string) ([]byte, error) {
			gotArgs = args
			return json.Marshal(map[string]string{"accessToken": token, "tenant": h.srv.Tenant(), "tokenType": "Bearer"})
		}
	}, "-auth", "azcli", "-tenant", h.srv.Tenant())
	wantOK(t, r)
	if want := []string{"account", "get-access-token", "--resource", "https://graph.microsoft.com", "--output", "json", "--tenant", h.srv.Tenant()}; !slices.Equal(gotArgs, want) {
		t.Errorf("az %v, want az %v", gotArgs, want)
	}
	if len(h.srv.Registrations()) != 1 {
		t.Errorf("registrations: %d", len(h.srv.Registrations()))
	}

	r = h.runWith(func(env *Env) {
		env.AzCLI = func(context.Context, ...string) ([]byte, error) {
			return nil, &exec.Error{Name: "az", Err: exec.ErrNotFound}
		}
	}, "-auth", "azcli")
	wantError(t, r, "needs the Azure CLI (az) on PATH")
}

// -auth auto signs in with a code over SSH, and falls back to one when no
// browser opens.
func TestAutoSignIn(t *testing.T) {
	h := newHarness(t, emulator.Config{})
	r := h.runWith(func(env *Env) {
		env.Getenv = func(k string) string { return map[string]string{"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"}[k] }
	}, "-auth", "auto", "-tenant", h.srv.Tenant())
	wantOK(t, r)
	if strings.Contains(r.stdout, "Opening your browser") || !strings.Contains(r.stdout, "To sign in, use a web browser to open the page") {
		t.Errorf("over SSH:\n%s", r.stdout)
	}
	r = h.runWith(func(env *Env) {
		env.Getenv = func(k string) string { return map[string]string{"DISPLAY": ":0"}[k] }
		env.OpenURL = func(string) error { return errors.New("xdg-open: no method available for opening the URL") }
	}, "-auth", "auto")
	wantOK(t, r)
	if !strings.Contains(r.stdout, "Could not open a browser here: signing in with a code instead") || !strings.Contains(r.stdout, "To sign in, use a web browser to open the page") {
		t.Errorf("without a browser:\n%s", r.stdout)
	}
}
