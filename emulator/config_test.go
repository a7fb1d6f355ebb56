// Users files, configuration validation, token padding, the request log,
// memory bounds and concurrency.

package emulator

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"
)

func TestDefaultUsers(t *testing.T) {
	users := DefaultUsers()
	if len(users) != 2 {
		t.Fatalf("%d default users", len(users))
	}
	alice, admin := users[0], users[1]
	if alice.Username != "alice@demo.test" || alice.Password != "alice-password" || alice.Name != "Alice Smith" || len(alice.Roles) != 0 {
		t.Errorf("alice = %+v", alice)
	}
	if admin.Username != "admin@demo.test" || admin.Password != "admin-password" || admin.Name != "Ada Admin" || strings.Join(admin.Roles, ",") != "admin" {
		t.Errorf("admin = %+v", admin)
	}
	if alice.OID != DeriveOID("alice@demo.test") || !guidPattern.MatchString(alice.OID) || alice.OID == admin.OID {
		t.Errorf("OIDs %s, %s", alice.OID, admin.OID)
	}
	if DeriveOID("Alice@Demo.Test") != alice.OID {
		t.Error("DeriveOID depends on the username's case")
	}
}

func TestLoadUsers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	good := write("good.json", `[
		{"username":"bob@x.test","password":"pw1","name":"Bob","given_name":"Bob","surname":"B","roles":["admin","reader"],"job_title":"Boss",
		 "otc":"24680","events":[{"subject":"Review","start":"2030-01-01T09:00:00Z","end":"2030-01-01T10:00:00Z","location":"Room 1"}]},
		{"username":"carol@x.test","password":"pw2","oid":"AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"}
	]`)
	users, err := LoadUsers(good)
	if err != nil {
		t.Fatalf("LoadUsers: %v", err)
	}
	if len(users) != 2 || users[0].OID != DeriveOID("bob@x.test") || users[1].OID != "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" ||
		users[0].JobTitle != "Boss" || len(users[0].Roles) != 2 || users[1].Name != "carol@x.test" ||
		users[0].OTC != "24680" || users[1].OTC != DefaultOTC || len(users[0].Events) != 1 || users[0].Events[0].Location != "Room 1" || users[1].Events != nil {
		t.Errorf("users = %+v", users)
	}

	tests := []struct {
		name, content, wantErr string
	}{
		{"bad JSON", `[{"username":`, "not a JSON list"},
		{"not a list", `{"username":"a","password":"b"}`, "not a JSON list"},
		{"unknown field", `[{"username":"a","password":"b","pasword":"c"}]`, "unknown field"},
		{"empty list", `[]`, "empty"},
		{"empty username", `[{"username":" ","password":"b"}]`, "empty username"},
		{"empty password", `[{"username":"a@x","password":""}]`, "empty password"},
		{"duplicate username", `[{"username":"a@x","password":"b"},{"username":"A@X","password":"c"}]`, "duplicate username"},
		{"bad oid", `[{"username":"a@x","password":"b","oid":"123"}]`, "not a GUID"},
		{"trailing data", `[] []`, "after the JSON list"},
		{"otc not digits", `[{"username":"a@x","password":"b","otc":"abc123"}]`, "otc must be 4 to 10 digits"},
		{"event without subject", `[{"username":"a@x","password":"b","events":[{"start":"2030-01-01T09:00:00Z","end":"2030-01-01T10:00:00Z"}]}]`, "event #1 has an empty subject"},
		{"event without end", `[{"username":"a@x","password":"b","events":[{"subject":"x","start":"2030-01-01T09:00:00Z"}]}]`, "needs start and end"},
		{"event ending before it starts", `[{"username":"a@x","password":"b","events":[{"subject":"x","start":"2030-01-01T09:00:00Z","end":"2030-01-01T08:00:00Z"}]}]`, "ends before it starts"},
		{"event time not RFC 3339", `[{"username":"a@x","password":"b","events":[{"subject":"x","start":"tomorrow","end":"2030-01-01T08:00:00Z"}]}]`, "not a JSON list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tc.name, " ", "_")+".json", tc.content)
			_, err := LoadUsers(p)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want one naming %s and saying %q", err, p, tc.wantErr)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadUsers(filepath.Join(dir, "nope.json"))
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"empty users list", Config{Users: []User{}}, "empty"},
		{"user without password", Config{Users: []User{{Username: "a"}}}, "empty password"},
		{"relative redirect URI", Config{RedirectURIs: []string{"/auth/redirect"}}, "absolute"},
		{"plain http on a public host", Config{RedirectURIs: []string{"http://example.com/cb"}}, "http"},
		{"fragment", Config{RedirectURIs: []string{"https://localhost/cb#x"}}, "fragment"},
		{"custom scheme", Config{RedirectURIs: []string{"myapp://cb"}}, "https"},
		{"bad tenant", Config{Tenant: "a/b"}, "tenant"},
		{"sub-second TTL", Config{CodeTTL: time.Millisecond}, "CodeTTL"},
		{"client ID with a space", Config{ClientID: "bad id"}, "client ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.SigningKey == nil {
				tc.cfg.SigningKey = testutil.SigningKey()
			}
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}

	e, err := New(Config{SigningKey: testutil.SigningKey(), Tenant: "C0FFEE00-0000-4000-A000-0000000000AA",
		RedirectURIs: []string{"http://localhost:8080/cb", "http://[::1]:8080/cb", "https://app.example/cb"}})
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if e.Tenant() != "c0ffee00-0000-4000-a000-0000000000aa" {
		t.Errorf("Tenant() = %s, want lower case", e.Tenant())
	}
	if got := e.Authority("https://localhost:5001/"); got != "https://localhost:5001/c0ffee00-0000-4000-a000-0000000000aa" {
		t.Errorf("Authority = %s", got)
	}
	if e.ClientID() != DemoClientID || len(e.RedirectURIs()) != 3 || len(e.Users()) != 2 {
		t.Errorf("defaults not applied")
	}
}

func TestTokenPadding(t *testing.T) {
	for _, padded := range []bool{false, true} {
		env := newEnv(t, func(c *Config) { c.TokenPadding = padded })
		for _, u := range env.em.Users() {
			body := env.tokens(u.Username, u.Password)
			for _, k := range []string{"access_token", "id_token"} {
				n := len(str(body, k))
				if padded && (n < 1500 || n > 2500) {
					t.Errorf("padded %s for %s is %d bytes, want 1.5-2.5 KB", k, u.Username, n)
				}
				if _, has := jwtClaims(t, str(body, k))["xms_pad"]; has && !padded {
					t.Errorf("%s has xms_pad without TokenPadding", k)
				}
			}
			if rt := len(str(body, "refresh_token")); padded && (rt < 900 || rt > 1500) {
				t.Errorf("padded refresh token is %d bytes, want about 1.1 KB", rt)
			}
			// Padded tokens still work.
			if status, _ := env.graphMe(str(body, "access_token")); status != 200 {
				t.Errorf("padded=%v: /me = %d", padded, status)
			}
			if status, _ := env.token(refreshForm(str(body, "refresh_token"))); status != 200 {
				t.Errorf("padded=%v: refresh = %d", padded, status)
			}
			if padded {
				if c := jwtClaims(t, str(body, "access_token")); c["xms_tcdt"] == nil || c["wids"] == nil {
					t.Errorf("padded access token lacks Entra-like claims: %v", c)
				}
			}
		}
	}
}

func TestRequestLogHasNoSecrets(t *testing.T) {
	env := newEnv(t, nil)
	for _, u := range env.em.Users() {
		body := env.tokens(u.Username, u.Password)
		env.graphMe(str(body, "access_token"))
		env.token(refreshForm(str(body, "refresh_token")))
	}
	env.signIn(env.authorizeURL(nil), "alice@demo.test", "wrong-password-789").Body.Close()
	env.token(codeForm("1.AQcode-that-does-not-exist", "verifier-value-that-is-secret"))
	env.srv.Close() // waits for every handler, so the log is complete

	logs := env.logs.String()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) < 10 {
		t.Fatalf("only %d log lines:\n%s", len(lines), logs)
	}
	for _, l := range lines {
		for _, f := range []string{"method=", "path=", "status=", "duration="} {
			if !strings.Contains(l, f) {
				t.Errorf("log line lacks %s: %s", f, l)
			}
		}
		if strings.Contains(l, "?") {
			t.Errorf("log line has a query string: %s", l)
		}
	}
	issued := env.em.IssuedValues()
	if len(issued) < 12 {
		t.Fatalf("IssuedValues has %d values", len(issued))
	}
	secrets := append(issued, "alice-password", "admin-password", "wrong-password-789", DemoClientSecret,
		"1.AQcode-that-does-not-exist", "verifier-value-that-is-secret", testVerifier, "nonce-456", "state-123")
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("log contains a secret: %.40s…", s)
		}
	}
	// Only the token segment would identify a token; check those too.
	for _, s := range issued {
		for _, part := range strings.Split(s, ".") {
			if len(part) > 20 && strings.Contains(logs, part) {
				t.Errorf("log contains part of a token: %.30s…", part)
			}
		}
	}
}

func TestExpiredStatePurged(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.CodeTTL = time.Minute; c.RefreshTokenTTL = time.Hour })
	for range 20 {
		env.code(nil, "alice@demo.test", "alice-password")
	}
	env.em.mu.Lock()
	codes, sessions := len(env.em.codes), len(env.em.sessions)
	env.em.mu.Unlock()
	// One browser signing in 20 times holds one session.
	if codes != 20 || sessions != 1 {
		t.Fatalf("%d codes, %d sessions stored, want 20 and 1", codes, sessions)
	}
	for range 5 {
		env.browser = env.newBrowser()
		env.code(nil, "alice@demo.test", "alice-password")
	}
	env.em.mu.Lock()
	sessions = len(env.em.sessions)
	env.em.mu.Unlock()
	if sessions != 6 {
		t.Fatalf("%d sessions for 6 browsers", sessions)
	}
	env.clock.Advance(2 * time.Hour)
	env.code(nil, "alice@demo.test", "alice-password") // triggers the purge
	env.em.mu.Lock()
	codes, sessions = len(env.em.codes), len(env.em.sessions)
	env.em.mu.Unlock()
	if codes != 1 || sessions != 1 {
		t.Errorf("after expiry: %d codes, %d sessions, want 1 and 1", codes, sessions)
	}
}

func TestConcurrentSignIns(t *testing.T) {
	env := newEnv(t, nil)
	users := env.em.Users()
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := users[i%2]
			b := env.newBrowser()
			resp, err := b.PostForm(env.authorizeURL(nil), map[string][]string{"loginfmt": {u.Username}, "passwd": {u.Password}})
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			code := parseCode(resp.Header.Get("Location"))
			// Two redemptions race: exactly one may win.
			var wins sync.WaitGroup
			results := make(chan int, 2)
			for range 2 {
				wins.Add(1)
				go func() {
					defer wins.Done()
					r, err := env.srv.Client().PostForm(env.tenantPath("/oauth2/v2.0/token"), codeForm(code, testVerifier))
					if err != nil {
						errs <- err.Error()
						return
					}
					r.Body.Close()
					results <- r.StatusCode
				}()
			}
			wins.Wait()
			close(results)
			ok := 0
			for s := range results {
				if s == 200 {
					ok++
				}
			}
			if ok != 1 {
				errs <- "a code was redeemed " + string(rune('0'+ok)) + " times"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := env.em.Stats()[StatTokenAuthorizationCode]; n != 80 {
		t.Errorf("%d code redemptions counted, want 80", n)
	}
}

func parseCode(location string) string {
	_, q, _ := strings.Cut(location, "?")
	for _, kv := range strings.Split(q, "&") {
		if v, ok := strings.CutPrefix(kv, "code="); ok {
			return v
		}
	}
	return ""
}

// BenchmarkSignInAndRedeem measures one browser sign-in plus a code
// redemption over TLS, the emulator's share of a web app sign-in.
func BenchmarkSignInAndRedeem(b *testing.B) {
	env := newEnv(b, func(c *Config) { c.Now = nil })
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		browser := env.newBrowser()
		client := env.srv.Client()
		for pb.Next() {
			resp, err := browser.PostForm(env.authorizeURL(nil), map[string][]string{"loginfmt": {"alice@demo.test"}, "passwd": {"alice-password"}})
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			r, err := client.PostForm(env.tenantPath("/oauth2/v2.0/token"), codeForm(parseCode(resp.Header.Get("Location")), testVerifier))
			if err != nil {
				b.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != 200 {
				b.Fatalf("token status %d", r.StatusCode)
			}
		}
	})
}
