// End-to-end tests behind nginx: Debian's nginx with deploy/nginx.conf
// terminates TLS and proxies to two instances of the built app, run as child
// processes on plain HTTP with their sessions in one Redis, as deployed.

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/internal/testutil"
)

// stack is nginx, two app instances, Redis and the emulator.
type stack struct {
	t         *testing.T
	env       *testEnv // the browser's view: the app at nginx's origin
	emu       *emulator.Emulator
	redis     *redisServer
	instances []*appProcess
	nginxPort int    // HTTPS
	httpPort  int    // plain HTTP, which only redirects
	nginxDir  string // nginx's files: access.log, error.log
}

// findNginx returns the nginx binary, or skips the test without one unless
// REQUIRE_NGINX=1 (as in CI), which makes that a failure.
func findNginx(t *testing.T) string {
	t.Helper()
	if bin, err := exec.LookPath("nginx"); err == nil {
		return bin
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx" // not on a non-root user's PATH on Debian
	}
	if os.Getenv("REQUIRE_NGINX") == "1" {
		t.Fatal("nginx is not installed and REQUIRE_NGINX=1: install it with apt-get install nginx")
	}
	t.Skip("nginx is not installed: install it (apt-get install nginx) to run the tests behind a proxy")
	return ""
}

// freeLoopbackPort returns a port that was free a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// buildAppBinary builds the app as users build it, once for the test.
func buildAppBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "app")
	cmd := exec.Command("go", "build", "-o", bin, "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startStack starts Redis, the emulator, two app instances and nginx in
// front of them, all on loopback, with the emulator's users (the demo
// accounts when none are given). When the test ends it stops them and
// checks that every log line of the instances is JSON (LOG_FORMAT=json)
// and that no log holds a secret.
func startStack(t *testing.T, users ...emulator.User) *stack {
	t.Helper()
	nginxBin := findNginx(t)
	rs := startRedis(t)
	bin := buildAppBinary(t)
	// A throw-away certificate for localhost and 127.0.0.1, in files for
	// nginx and for the instances' SSL_CERT_FILE (they trust the emulator
	// with it): the tests need no ssl/localhost.crt.
	c := testutil.SharedCert()
	certFile, keyFile := c.WriteFiles(t)
	cert, pool := c.TLS, c.Pool

	st := &stack{t: t, redis: rs, nginxPort: freeLoopbackPort(t)}
	origin := fmt.Sprintf("https://127.0.0.1:%d", st.nginxPort)

	emuLogs := &testutil.SyncBuffer{}
	if len(users) == 0 {
		users = emulator.DefaultUsers()
	}
	emu, err := emulator.New(emulator.Config{
		Users:                 users,
		RedirectURIs:          []string{origin + "/auth/redirect"},
		FrontChannelLogoutURL: origin + entra.DefaultFrontChannelLogoutPath,
		SigningKey:            testutil.SigningKey(),
		Logger:                slog.New(slog.NewTextHandler(emuLogs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	emuSrv := httptest.NewUnstartedServer(emu.Handler())
	emuSrv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	emuSrv.StartTLS()
	t.Cleanup(emuSrv.Close)
	st.emu = emu

	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 128}
	t.Cleanup(transport.CloseIdleConnections)
	st.env = &testEnv{t: t, emu: emu, emuURL: emuSrv.URL, appURL: origin, client: &http.Client{Transport: transport, Timeout: 30 * time.Second}}

	const sessionSecret = "nginx-test-session-secret-0123456789abcdef"
	ports := []int{freeLoopbackPort(t), freeLoopbackPort(t)}
	for i, port := range ports {
		env := map[string]string{
			"CLIENT_ID":       emulator.DemoClientID,
			"CLIENT_SECRET":   emulator.DemoClientSecret,
			"AUTHORITY":       emu.Authority(emuSrv.URL),
			"GRAPH_ENDPOINT":  emuSrv.URL + "/v1.0/me",
			"REDIRECT_URI":    origin + "/auth/redirect",
			"SESSION_SECRET":  sessionSecret,
			"SESSION_TYPE":    "redis",
			"REDIS_URL":       rs.URL(),
			"HOST":            "127.0.0.1",
			"PORT":            strconv.Itoa(port),
			"TLS":             "off",
			"TRUSTED_PROXIES": "127.0.0.1",
			"LOG_FORMAT":      "json",
			"DRAIN_PERIOD":    "3s",
			"SSL_CERT_FILE":   certFile, // the emulator's certificate
		}
		p := &appProcess{t: t, name: string(rune('A' + i)), bin: bin, dir: t.TempDir(), port: port,
			stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}}
		for k, v := range env {
			p.env = append(p.env, k+"="+v)
		}
		p.start()
		t.Cleanup(p.kill)
		st.instances = append(st.instances, p)
	}

	st.httpPort, st.nginxDir = startNginx(t, nginxBin, st.nginxPort, ports, certFile, keyFile)

	t.Cleanup(func() {
		for _, p := range st.instances {
			p.kill()
		}
		secrets := append(emu.IssuedValues(), emulator.DemoClientSecret, sessionSecret)
		for _, u := range emu.Users() {
			secrets = append(secrets, u.Password)
		}
		var all strings.Builder
		for _, p := range st.instances {
			lines := 0
			for _, line := range strings.Split(p.stderr.String(), "\n") {
				if line == "" {
					continue
				}
				lines++
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] == nil || rec["level"] == nil || rec["time"] == nil {
					t.Errorf("instance %s: a log line is not a JSON record with time, level and msg: %q", p.name, line)
				}
			}
			if lines == 0 {
				t.Errorf("instance %s logged nothing", p.name)
			}
			all.WriteString(p.stderr.String() + p.stdout.String())
		}
		all.WriteString(emuLogs.String())
		if n := secretsIn(all.String(), secrets); n > 0 {
			t.Errorf("the logs hold %d secret values (codes, tokens, passwords or secrets) of the %d issued or known", n, len(secrets))
		}
	})
	return st
}

// startNginx runs nginx with deploy/nginx.conf, its ports, certificate and
// log file replaced, until the test ends. It returns the plain HTTP port and
// the directory of nginx's files (access.log, error.log).
func startNginx(t *testing.T, bin string, port int, upstreams []int, certFile, keyFile string) (httpPort int, dir string) {
	t.Helper()
	example, err := os.ReadFile("../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(example)
	dir = t.TempDir()
	httpPort = freeLoopbackPort(t)
	for _, r := range []struct {
		old, new string
		n        int
	}{
		{"server 127.0.0.1:8001 ", fmt.Sprintf("server 127.0.0.1:%d ", upstreams[0]), 1},
		{"server 127.0.0.1:8002 ", fmt.Sprintf("server 127.0.0.1:%d ", upstreams[1]), 1},
		{"listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", port), 1},
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort), 1},
		{"/etc/ssl/certs/app.example.com.pem", certFile, 1},
		{"/etc/ssl/private/app.example.com.key", keyFile, 1},
		{"/var/log/nginx/webapp.access.log", filepath.Join(dir, "access.log"), 2},
	} {
		if strings.Count(conf, r.old) != r.n {
			t.Fatalf("deploy/nginx.conf no longer has %d %q for the test to replace", r.n, r.old)
		}
		conf = strings.ReplaceAll(conf, r.old, r.new)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// The main file a distribution ships, reduced to what a test needs: one
	// process in the foreground, every file in the test's directory.
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/app.conf;
}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &testutil.SyncBuffer{}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			conn.Close()
			return httpPort, dir
		}
		select {
		case <-done:
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited at start:\n%s%s", out, errLog)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx did not listen within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// appProcess is one instance of the built app, as a child process that can
// be stopped and started again on the same port. Its output accumulates
// across runs.
type appProcess struct {
	t      *testing.T
	name   string
	bin    string
	dir    string
	env    []string
	port   int
	stdout *testutil.SyncBuffer
	stderr *testutil.SyncBuffer

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

func (p *appProcess) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", p.port, path)
}

// start runs the app and waits until it answers /healthz (20 s at most).
func (p *appProcess) start() {
	p.t.Helper()
	p.mu.Lock()
	cmd := exec.Command(p.bin)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.dir, p.env, p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		p.t.Fatalf("starting instance %s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
	p.mu.Unlock()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := client.Get(p.url("/healthz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			p.t.Fatalf("instance %s exited at start: %v\n%s%s", p.name, p.waitErr, p.stdout, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("instance %s did not answer /healthz within 20 s:\n%s", p.name, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// terminate sends SIGTERM, as a platform does before replacing an instance.
func (p *appProcess) terminate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cmd.Process.Signal(syscall.SIGTERM)
}

// waitExit waits for the process to end and returns its error (nil for a
// clean exit).
func (p *appProcess) waitExit(limit time.Duration) error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.waitErr
	case <-time.After(limit):
		return fmt.Errorf("instance %s still runs after %s", p.name, limit)
	}
}

// kill ends the process if it still runs.
func (p *appProcess) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
	default:
		cmd.Process.Kill()
		<-done
	}
}

// records returns the JSON log records the instance wrote from byte offset
// from on.
func (p *appProcess) records(from int) []map[string]any {
	var recs []map[string]any
	for _, line := range strings.Split(p.stderr.String()[from:], "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			recs = append(recs, rec)
		}
	}
	return recs
}

// servedPages counts the page requests (not probes) the instance logged
// from byte offset from on.
func (p *appProcess) servedPages(from int) int {
	n := 0
	for _, rec := range p.records(from) {
		if path, _ := rec["path"].(string); rec["msg"] == "request" && path != "/healthz" && path != "/readyz" {
			n++
		}
	}
	return n
}

// waitFor polls cond every 20 ms until it holds, at most limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The whole walk through nginx: the one-origin redirect, sign-in, /graph,
// /admin, sign-out and the identity provider's front-channel logout, served
// by both instances in turn. nginx's access log then holds none of the
// callback's or the front-channel logout's query strings.
func TestNginxSignInGraphAdminSignOut(t *testing.T) {
	st := startStack(t)
	b := st.env.newBrowser()
	origin := st.env.appURL

	// Plain HTTP leads to HTTPS on the configured host, whatever Host the
	// request names.
	plain := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	for _, host := range []string{"app.example.com", "evil.example", fmt.Sprintf("127.0.0.1:%d", st.httpPort)} {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/graph?x=1", st.httpPort), nil)
		req.Host = host
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://app.example.com/graph?x=1" {
			t.Errorf("plain HTTP for Host %s: %d to %q, want 308 to https://app.example.com/graph?x=1", host, resp.StatusCode, resp.Header.Get("Location"))
		}
	}

	// The other name of the same host leads to REDIRECT_URI's origin.
	other := b.get(fmt.Sprintf("https://localhost:%d/graph?x=1", st.nginxPort))
	assertStatus(t, other, http.StatusPermanentRedirect)
	if other.location != origin+"/graph?x=1" {
		t.Fatalf("Location %q", other.location)
	}

	start := b.get("/admin")
	assertStatus(t, start, http.StatusFound)
	back := b.submitSignIn(start.location, "admin@demo.test", "admin-password", "signin")
	assertStatus(t, back, http.StatusFound)
	if !strings.HasPrefix(back.location, origin+"/auth/redirect?") {
		t.Fatalf("the emulator sent the browser to %s", back.location)
	}
	landed := b.follow(back)
	assertStatus(t, landed, http.StatusSeeOther)
	if landed.location != "/admin" && landed.location != origin+"/admin" {
		t.Fatalf("after sign-in: %s", landed.location)
	}
	admin := b.follow(landed)
	assertStatus(t, admin, http.StatusOK)
	assertContains(t, admin, "You have the admin app role.")
	// The binary users build knows MSAL Go's version (a test binary does
	// not: consent_test.go's TestFooterShowsVersions).
	if !regexp.MustCompile(`App [^<·]+ · MSAL Go v1\.\d+\.\d+<`).MatchString(admin.body) {
		t.Errorf("the footer does not show MSAL Go's version:\n%s", admin.body[strings.Index(admin.body, "<footer"):])
	}
	for range 3 { // round robin: each instance serves some
		graph := b.get("/graph")
		assertStatus(t, graph, http.StatusOK)
		assertContains(t, graph, "Hello Ada Admin!")
		assertContains(t, graph, "admin@demo.test")
	}
	if c := b.sessionCookie(); c == nil {
		t.Fatal("no session cookie for nginx's origin")
	}

	out := b.signOut()
	assertStatus(t, out, http.StatusSeeOther)
	if !strings.Contains(out.location, "post_logout_redirect_uri="+url.QueryEscape(origin+"/")) {
		t.Fatalf("sign-out went to %s", out.location)
	}
	// The identity provider's signed-out page frames the app's
	// front-channel logout URL, with iss and sid, which the browser loads
	// through nginx.
	signedOutPage := b.follow(out)
	assertStatus(t, signedOutPage, http.StatusOK)
	frames := frameSrc.FindAllStringSubmatch(signedOutPage.body, -1)
	if len(frames) != 1 {
		t.Fatalf("the signed-out page frames %d front-channel logout URLs, want 1:\n%s", len(frames), excerpt(signedOutPage.body))
	}
	frame := html.UnescapeString(frames[0][1])
	if !strings.HasPrefix(frame, origin+entra.DefaultFrontChannelLogoutPath+"?") || !strings.Contains(frame, "sid=") {
		t.Fatalf("front-channel logout URL %s", frame)
	}
	assertStatus(t, b.get(frame), http.StatusOK)
	assertContains(t, b.get("/"), "You're not signed in.")

	// nginx logged the callback and the front-channel logout by their
	// paths alone.
	accessLog, err := os.ReadFile(filepath.Join(st.nginxDir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{`"GET /auth/redirect HTTP/1.1" 303`, `"GET ` + entra.DefaultFrontChannelLogoutPath + ` HTTP/1.1" 200`, `"GET /admin HTTP/1.1" 200`} {
		if !strings.Contains(string(accessLog), path) {
			t.Errorf("nginx's access log lacks %s:\n%s", path, accessLog)
		}
	}
	for _, param := range []string{"code=", "state=", "session_state=", "sid=", "iss="} {
		if strings.Contains(string(accessLog), param) {
			t.Errorf("nginx's access log holds %q:\n%s", param, accessLog)
		}
	}

	for _, p := range st.instances {
		if p.servedPages(0) == 0 {
			t.Errorf("instance %s served no page through nginx", p.name)
		}
		for _, rec := range p.records(0) {
			if rec["msg"] == "request" && rec["path"] != "/healthz" && rec["client"] != "127.0.0.1" {
				t.Errorf("instance %s logged client %v for a request through nginx", p.name, rec["client"])
			}
		}
	}
}

// Straight to an instance, not through nginx: forged forwarding headers
// change nothing. The instance answers plain HTTP on its own address, which
// is not the public origin, so a page redirects to REDIRECT_URI's origin,
// never to the forged host, and the log shows the real peer.
func TestNginxInstanceIgnoresForgedHeadersFromOthers(t *testing.T) {
	st := startStack(t)
	a := st.instances[0]
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	client := &http.Client{
		Transport:     &http.Transport{DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	from := len(a.stderr.String())
	for _, headers := range [][]string{
		{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "X-Forwarded-For", "6.6.6.6"},
		{"X-Forwarded-Proto", "http", "X-Forwarded-Host", fmt.Sprintf("127.0.0.1:%d", st.nginxPort)},
		{"Forwarded", fmt.Sprintf(`for=6.6.6.6;proto=https;host="127.0.0.1:%d"`, st.nginxPort)},
	} {
		req, _ := http.NewRequest(http.MethodGet, a.url("/login"), nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != st.env.appURL+"/login" {
			t.Errorf("%v: %d %q, want 308 to %s/login", headers, resp.StatusCode, resp.Header.Get("Location"), st.env.appURL)
		}
		if c := resp.Header.Get("Set-Cookie"); c != "" {
			t.Errorf("%v: Set-Cookie %q", headers, c)
		}
	}
	waitFor(t, 5*time.Second, "the requests in the log", func() bool { return a.servedPages(from) >= 3 })
	warned := 0
	for _, rec := range a.records(from) {
		if rec["msg"] == "request" && rec["client"] != "127.0.0.2" {
			t.Errorf("logged client %v, want the real peer 127.0.0.2", rec["client"])
		}
		if rec["msg"] == "forwarding headers ignored: the peer is not in TRUSTED_PROXIES" && rec["client"] == "127.0.0.2" {
			warned++
		}
	}
	if warned != 3 {
		t.Errorf("%d warnings about ignored forwarding headers, want 3", warned)
	}
}

// A rolling restart while 50 users keep loading pages through nginx:
// SIGTERM instance A, start it again, then the same for B. No request
// fails and no user loses the session.
func TestNginxRollingRestart(t *testing.T) {
	const users = 50
	accounts := make([]emulator.User, users)
	for i := range accounts {
		accounts[i] = emulator.User{
			Username: fmt.Sprintf("user%02d@demo.test", i), Password: fmt.Sprintf("password-%02d-x", i),
			Name: fmt.Sprintf("User %02d", i),
		}
	}
	st := startStack(t, accounts...)
	clients := make([]*http.Client, users)
	for i, u := range accounts {
		b := st.env.newBrowser()
		b.signIn(u.Username, u.Password)
		clients[i] = b.client
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	var requests, failed, lost atomic.Int64
	var firstErrs sync.Map
	var wg sync.WaitGroup
	paths := []string{"/", "/token_details", "/graph"}
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hello := "Hello " + accounts[i].Name + "!"
			pace := time.NewTicker(200 * time.Millisecond) // a person reading, not a benchmark
			defer pace.Stop()
			for k := 0; ; k++ {
				path := paths[(i+k)%len(paths)]
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.env.appURL+path, nil)
				resp, err := clients[i].Do(req)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				requests.Add(1)
				switch {
				case err != nil && ctx.Err() != nil:
					return
				case err != nil:
					failed.Add(1)
					firstErrs.LoadOrStore(path+": "+err.Error(), true)
				case resp.StatusCode == http.StatusFound:
					lost.Add(1) // sent to sign in again
					firstErrs.LoadOrStore(path+": sent to sign in again", true)
				case resp.StatusCode != http.StatusOK:
					failed.Add(1)
					firstErrs.LoadOrStore(fmt.Sprintf("%s: status %d", path, resp.StatusCode), true)
				case !strings.Contains(string(body), hello):
					lost.Add(1)
					firstErrs.LoadOrStore(path+": the page does not show this user", true)
				}
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				case <-pace.C:
				}
			}
		}()
	}

	probe := &http.Client{Timeout: 5 * time.Second}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := probe.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, p := range st.instances {
		before := len(p.stderr.String())
		p.terminate()
		waitFor(t, 10*time.Second, "instance "+p.name+" starting its drain", func() bool {
			for _, rec := range p.records(before) {
				if rec["msg"] == "draining before shutdown" {
					return true
				}
			}
			return false
		})
		// During the drain: not ready, but still serving.
		if status, body := get(p.url("/readyz")); status != http.StatusServiceUnavailable || body != "not ready: shutting down\n" {
			t.Errorf("instance %s draining: /readyz %d %q", p.name, status, body)
		}
		if status, _ := get(p.url("/healthz")); status != http.StatusOK {
			t.Errorf("instance %s draining: /healthz %d", p.name, status)
		}
		if err := p.waitExit(20 * time.Second); err != nil {
			t.Fatalf("instance %s after SIGTERM: %v\n%s", p.name, err, p.stderr.String()[before:])
		}
		if p.servedPages(before) == 0 {
			t.Errorf("instance %s served no page between SIGTERM and its exit", p.name)
		}

		restarted := len(p.stderr.String())
		p.start()
		waitFor(t, 10*time.Second, "instance "+p.name+" ready again", func() bool {
			status, _ := get(p.url("/readyz"))
			return status == http.StatusOK
		})
		// nginx tries the instance again after fail_timeout; only once it
		// serves pages again may the other instance go.
		waitFor(t, 30*time.Second, "nginx sending pages to the restarted instance "+p.name, func() bool {
			return p.servedPages(restarted) > 0
		})
	}
	close(stop)
	wg.Wait()
	if ctx.Err() != nil {
		t.Error("the rolling restart hit its 2-minute deadline")
	}

	var errs []string
	firstErrs.Range(func(k, _ any) bool { errs = append(errs, k.(string)); return len(errs) < 10 })
	t.Logf("%d page loads by %d users during the rolling restart: %d failed, %d lost sessions", requests.Load(), users, failed.Load(), lost.Load())
	if failed.Load() != 0 || lost.Load() != 0 {
		t.Errorf("%d failed requests and %d lost sessions, want none: %s", failed.Load(), lost.Load(), strings.Join(errs, "; "))
	}
	// Everyone is still signed in, on the restarted instances.
	for i, u := range accounts {
		req, _ := http.NewRequest(http.MethodGet, st.env.appURL+"/token_details", nil)
		resp, err := clients[i].Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), u.Username) {
			t.Errorf("%s after the restart: status %d", u.Username, resp.StatusCode)
		}
	}
}
