// The container image, tested here: the Dockerfile built with podman, and the
// image run as Azure Container Apps or App Service would run it.
//
// podman cannot start containers on the machines this runs on (its runtime
// cannot set rlimits) and no image registry is reachable, so the test builds
// the Dockerfile with `podman build --isolation=chroot` from a stand-in for
// the official Go image, made from this machine's Go toolchain, and runs
// the image as a platform does from the image's own configuration: its
// root file system read-only, its entrypoint, user, working directory and
// environment, under chroot, with the platform's settings and secrets in the
// environment, behind an HTTPS ingress that adds forwarded headers, with
// the Entra ID emulator and a redis-server on loopback.

package deploy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/internal/testutil"
)

// The paths the image promises (docs/11-deploy-a-container.md): where its CA
// bundle is, and where a volume for file sessions is mounted.
const (
	caBundle      = "/etc/ssl/certs/ca-certificates.crt"
	sessionVolume = "/sessions"
	// maxImageSize: a static Go app like this one fits in about 25 MB.
	maxImageSize = 30 << 20
)

func TestContainerImage(t *testing.T) {
	podman := findPodman(t)
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}

	// The build context: a copy of the repository with a developer's
	// secrets and local state planted in it, which .dockerignore must keep
	// out of the build (az acr build uploads the context).
	buildContext := t.TempDir()
	copyContext(t, repo, buildContext)
	planted := []string{".env", ".env.local", ".sessions/session_planted", "ssl/localhost.key", "ssl/localhost.crt",
		"ssl/client-cert.pfx", "client.pem", ".git/HEAD"}
	for _, p := range planted {
		path := filepath.Join(buildContext, p)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte("CLIENT_SECRET=planted-by-the-container-test\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("the build context leaves out secrets and local state", func(t *testing.T) {
		checkBuildContext(t, podman, buildContext, planted)
	})

	// The platform: the emulator, Redis with a password, and an HTTPS
	// ingress in front of the app's port. Everything on loopback.
	cert := testutil.SharedCert()
	appPort := freePort(t)
	ingress := startIngress(t, cert, appPort)
	redirectURI := ingress + "/auth/redirect"
	emu := emulatortest.NewServer(t, emulator.Config{RedirectURIs: []string{redirectURI}})
	redisPassword := randomHex(16)
	rs := testutil.StartRedis(t, redisPassword)

	// The stand-in Go image trusts the test's certificate authority, which
	// signs the emulator's certificate: the app in the image trusts the
	// emulator only through the CA bundle the image carries.
	started := time.Now()
	goImage := standInGoImage(t, podman, repo, cert.CertPEM)
	t.Logf("stand-in Go image made in %s", time.Since(started).Round(time.Second))

	image := uniqueName("app")
	started = time.Now()
	run(t, nil, podman, "build", "--isolation=chroot", "--format=docker", "--layers=false", "--pull=never",
		"--build-arg", "GO_IMAGE="+goImage, "-t", image, buildContext)
	buildTime := time.Since(started)
	removeImage(t, podman, image)
	info := inspectImage(t, podman, image)
	t.Logf("image built in %s; size %.1f MB", buildTime.Round(time.Second), float64(info.Size)/1e6)
	imageRoot := mountImage(t, podman, image)

	t.Run("the image holds the binary and the CA bundle, and nothing else", func(t *testing.T) {
		checkContents(t, info, imageRoot)
	})
	t.Run("the image's configuration", func(t *testing.T) {
		checkConfig(t, info)
	})

	sessionSecret := randomHex(32)
	platform := func(more ...string) map[string]string {
		s := map[string]string{
			"CLIENT_ID":       emulator.DemoClientID,
			"AUTHORITY":       emu.Authority(),
			"GRAPH_ENDPOINT":  emu.URL + "/v1.0/me",
			"REDIRECT_URI":    redirectURI,
			"TRUSTED_PROXIES": "127.0.0.1",
			"PORT":            strconv.Itoa(appPort),
			"DRAIN_PERIOD":    "2s",
			"LOG_FORMAT":      "json",
			// Loopback only on this shared machine; the image's own
			// HOST=0.0.0.0 is checked in its configuration above.
			"HOST": "127.0.0.1",
			// Secrets, as the platform's secret references put them in
			// the environment.
			"CLIENT_SECRET":  emulator.DemoClientSecret,
			"SESSION_SECRET": sessionSecret,
		}
		for i := 0; i+1 < len(more); i += 2 {
			s[more[i]] = more[i+1]
		}
		return s
	}
	appURL := fmt.Sprintf("http://127.0.0.1:%d", appPort)
	user := emu.Users()[0]

	t.Run("Redis sessions on a read-only root file system", func(t *testing.T) {
		root := rootFS(t, imageRoot, false)
		settings := platform("SESSION_TYPE", "redis", "REDIS_URL", rs.URL())
		app := info.start(t, root, settings)
		app.waitHealthy(appURL+"/healthz", 20*time.Second)

		uid, gid := info.user(t)
		uids, gids := app.ids()
		if got, want := strings.Join(append(uids, gids...), " "), fmt.Sprintf("%d %[1]d %d %[2]d", uid, gid); got != want || uid == 0 {
			t.Errorf("the app runs as uid, euid, gid, egid %s; want the image's non-root user %q", got, info.Config.User)
		}
		waitReady(t, appURL, app)
		if status, out := healthCheck(t, info, root, settings); status != 0 {
			t.Errorf("the image's HEALTHCHECK exited %d while the app serves: %s", status, out)
		}

		b := newBrowser(t, cert, ingress)
		b.signInAndShowGraph(emu, user)

		// A rolling restart: SIGTERM drains (/readyz 503, pages still
		// served), then the app exits 0.
		app.cmd.Process.Signal(syscall.SIGTERM)
		termAt := time.Now()
		waitFor(t, 5*time.Second, "/readyz answering 503 after SIGTERM", func() bool {
			status, body := get(t, appURL+"/readyz")
			return status == http.StatusServiceUnavailable && body == "not ready: shutting down\n"
		})
		if status, _ := get(t, appURL+"/healthz"); status != http.StatusOK {
			t.Errorf("/healthz while draining: %d", status)
		}
		if p := b.get("/graph"); p.Status != http.StatusOK {
			t.Errorf("/graph while draining: %d", p.Status)
		}
		status, err := app.wait(2*time.Second + 10*time.Second)
		if err != nil || status != 0 {
			t.Errorf("after SIGTERM the app exited with status %d (%v), want 0 after the drain period:\n%s", status, err, tail(app.output(), 10))
		}
		t.Logf("SIGTERM to exit: %s (DRAIN_PERIOD 2s)", time.Since(termAt).Round(10*time.Millisecond))
		if status, _ := healthCheck(t, info, root, settings); status != 1 {
			t.Errorf("the image's HEALTHCHECK exited %d once the app had stopped, want 1", status)
		}

		secrets := append(emu.IssuedValues(), emulator.DemoClientSecret, sessionSecret, redisPassword, user.Password)
		for _, s := range secrets {
			if len(s) >= 8 && strings.Contains(app.output(), s) {
				t.Errorf("the app's output holds a secret (%d characters)", len(s))
			}
		}
	})

	t.Run("the health check fails on an app that answers 503", func(t *testing.T) {
		sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		defer sick.Close()
		u, _ := url.Parse(sick.URL)
		root := rootFS(t, imageRoot, false)
		if status, out := healthCheck(t, info, root, map[string]string{"HOST": "127.0.0.1", "PORT": u.Port()}); status != 1 || !strings.Contains(out, "503") {
			t.Errorf("the image's HEALTHCHECK against a 503: exit %d, %q; want 1 and the status", status, out)
		}
	})

	t.Run("file sessions on a read-only root file system without a volume stop start-up in one line", func(t *testing.T) {
		root := rootFS(t, imageRoot, false)
		app := info.start(t, root, platform())
		status, err := app.wait(20 * time.Second)
		if err != nil || status != 1 {
			t.Fatalf("the app exited with status %d (%v), want 1:\n%s", status, err, tail(app.output(), 10))
		}
		var lines []string
		for _, line := range strings.Split(app.stderr.String(), "\n") {
			if strings.Contains(line, "SESSION_DIR") {
				lines = append(lines, line)
			}
		}
		if len(lines) != 1 || !strings.Contains(lines[0], "read-only file system") || !strings.Contains(lines[0], "volume") ||
			!strings.Contains(lines[0], "SESSION_TYPE=redis") {
			t.Errorf("start-up said, about SESSION_DIR:\n%s\nwant one line naming the read-only file system, a volume and SESSION_TYPE=redis", strings.Join(lines, "\n"))
		}
	})

	t.Run("file sessions on a volume at "+sessionVolume+" and a read-only root file system", func(t *testing.T) {
		root := rootFS(t, imageRoot, false, sessionVolume)
		volume := t.TempDir()
		uid, gid := info.user(t)
		if err := os.Chown(volume, int(uid), int(gid)); err != nil {
			t.Fatal(err)
		}
		bindVolume(t, root, sessionVolume, volume)
		app := info.start(t, root, platform())
		app.waitHealthy(appURL+"/healthz", 20*time.Second)
		waitReady(t, appURL, app)
		newBrowser(t, cert, ingress).signInAndShowGraph(emu, user)
		if files, _ := filepath.Glob(filepath.Join(volume, "session_*")); len(files) != 1 {
			t.Errorf("the volume holds %d session files after one sign-in, want 1", len(files))
		}
		app.cmd.Process.Signal(syscall.SIGTERM)
		if status, err := app.wait(15 * time.Second); err != nil || status != 0 {
			t.Errorf("after SIGTERM: status %d (%v)", status, err)
		}
	})

	t.Run("file sessions on a writable root file system without a volume", func(t *testing.T) {
		root := rootFS(t, imageRoot, true)
		app := info.start(t, root, platform())
		app.waitHealthy(appURL+"/healthz", 20*time.Second)
		waitReady(t, appURL, app)
		app.cmd.Process.Signal(syscall.SIGTERM)
		if status, err := app.wait(15 * time.Second); err != nil || status != 0 {
			t.Errorf("after SIGTERM: status %d (%v)", status, err)
		}
	})
}

// checkBuildContext builds an image of the whole build context, as the
// Dockerfile's COPY . sees it, and looks for the planted files in it.
func checkBuildContext(t *testing.T, podman, dir string, planted []string) {
	probe := filepath.Join(t.TempDir(), "Containerfile")
	if err := os.WriteFile(probe, []byte("FROM scratch\nCOPY . /context/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := uniqueName("context")
	run(t, nil, podman, "build", "--isolation=chroot", "--layers=false", "--pull=never", "-f", probe, "-t", name, dir)
	removeImage(t, podman, name)
	root := filepath.Join(mountImage(t, podman, name), "context")
	for _, p := range planted {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("the build context holds %s: .dockerignore must leave it out", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "main.go", "templates", "static"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("the build context lacks %s, which the build needs", p)
		}
	}
}

// checkContents walks the image's files: the entrypoint, a static binary,
// and the CA bundle; no shell, no .env, nothing else.
func checkContents(t *testing.T, info imageInfo, root string) {
	if info.Size > maxImageSize {
		t.Errorf("the image is %.1f MB, more than %d MB", float64(info.Size)/1e6, maxImageSize>>20)
	}
	if len(info.Config.Entrypoint) == 0 {
		t.Fatal("the image has no ENTRYPOINT")
	}
	binary := info.Config.Entrypoint[0]
	want := map[string]bool{binary: true, caBundle: true}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := "/" + strings.TrimPrefix(strings.TrimPrefix(path, root), "/")
		switch {
		case d.IsDir():
		case strings.HasPrefix(d.Name(), ".env"):
			t.Errorf("the image holds %s", name)
		case d.Name() == "sh" || d.Name() == "bash" || d.Name() == "ash" || d.Name() == "dash" || d.Name() == "busybox":
			t.Errorf("the image holds a shell: %s", name)
		case !want[name]:
			t.Errorf("the image holds %s, beyond the binary and the CA bundle", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if static, err := isStatic(filepath.Join(root, binary)); err != nil || !static {
		t.Errorf("the entrypoint %s is not a static binary (%v): an image without a C library cannot run it", binary, err)
	}
	data, err := os.ReadFile(filepath.Join(root, caBundle))
	if err != nil {
		t.Errorf("the image has no CA bundle at %s: the app could not verify Entra ID's and Graph's certificates", caBundle)
		return
	}
	n := 0
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if _, err := x509.ParseCertificate(block.Bytes); err == nil {
			n++
		}
	}
	if n == 0 {
		t.Errorf("the CA bundle %s holds no certificate", caBundle)
	}
}

// checkConfig checks what the platform reads from the image: a non-root
// user, plain HTTP on every interface, and a health check that needs no
// shell.
func checkConfig(t *testing.T, info imageInfo) {
	if uid, _ := info.user(t); uid == 0 {
		t.Errorf("the image runs as root (USER %q): it must name a non-root user", info.Config.User)
	}
	for name, want := range map[string]string{"HOST": "0.0.0.0", "TLS": "off"} {
		if v, _ := info.env(name); v != want {
			t.Errorf("the image sets %s=%q, want %q: plain HTTP on every interface, for the platform's ingress", name, v, want)
		}
	}
	if hc := info.Healthcheck; hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" || hc.Test[1] != info.Config.Entrypoint[0] {
		t.Errorf("the image's HEALTHCHECK is %+v, want CMD (no shell) running the app's binary", hc)
	}
}

// healthCheck runs the image's HEALTHCHECK command as a runtime does, in
// the container: its root, user and environment.
func healthCheck(t *testing.T, info imageInfo, root string, settings map[string]string) (int, string) {
	t.Helper()
	if info.Healthcheck == nil || len(info.Healthcheck.Test) < 2 || info.Healthcheck.Test[0] != "CMD" {
		t.Fatalf("the image has no HEALTHCHECK CMD: %+v", info.Healthcheck)
	}
	exe := info
	exe.Config.Entrypoint, exe.Config.Cmd = info.Healthcheck.Test[1:2], nil
	cmd := exe.command(t, root, settings, info.Healthcheck.Test[2:]...)
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("running the HEALTHCHECK: %v", err)
	}
	return 0, string(out)
}

// waitReady waits until /readyz answers 200: Redis or the session volume
// answers and the emulator's metadata was fetched through the image's CA
// bundle.
func waitReady(t *testing.T, appURL string, app *container) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := get(t, appURL+"/readyz")
		if status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %q after 10 s:\n%s", status, body, tail(app.output(), 10))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// get requests url as a platform's probe does, straight to the app.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitFor polls cond until it holds, at most limit.
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

// startIngress serves HTTPS with cert on loopback and passes every request
// to the app's port as Container Apps' ingress does: the Host header as the
// browser sent it, with X-Forwarded-For and X-Forwarded-Proto added.
func startIngress(t *testing.T, cert testutil.Cert, appPort int) string {
	t.Helper()
	target, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", appPort))
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
		r.SetXForwarded()
	}}
	srv := httptest.NewUnstartedServer(proxy)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// browser is a cookie-jar client at the ingress's origin that follows no
// redirect by itself.
type browser struct {
	t      *testing.T
	origin string
	client *http.Client
}

func newBrowser(t *testing.T, cert testutil.Cert, origin string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, origin: origin, client: &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}},
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

func (b *browser) get(target string) *emulatortest.Page {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.origin + target
	}
	p, err := emulatortest.Get(context.Background(), b.client, target)
	if err != nil {
		b.t.Fatalf("GET %s: %v", target, err)
	}
	return p
}

var displayName = regexp.MustCompile(`&#34;displayName&#34;: &#34;([^&]*)&#34;`)

// signInAndShowGraph opens /graph, signs in at the emulator, and checks
// that /graph shows the user's profile from Graph.
func (b *browser) signInAndShowGraph(emu *emulatortest.Server, user emulator.User) {
	b.t.Helper()
	start := b.get("/graph")
	if start.Status != http.StatusFound || !strings.HasPrefix(start.Location, emu.URL+"/") {
		b.t.Fatalf("/graph: %d to %q, want the sign-in at the emulator", start.Status, start.Location)
	}
	back, err := emulatortest.SignIn(context.Background(), b.client, start.Location, user.Username, user.Password)
	if err != nil {
		b.t.Fatal(err)
	}
	if !strings.HasPrefix(back.Location, b.origin+"/auth/redirect?") {
		b.t.Fatalf("the emulator answered %d to %q, want the redirect URI:\n%s", back.Status, back.Location, html.UnescapeString(back.Body))
	}
	landed := b.get(back.Location)
	if landed.Status != http.StatusSeeOther || landed.Location != b.origin+"/graph" {
		b.t.Fatalf("the redirect URI answered %d to %q, want /graph:\n%s", landed.Status, landed.Location, landed.Body)
	}
	graph := b.get("/graph")
	m := displayName.FindStringSubmatch(graph.Body)
	if graph.Status != http.StatusOK || m == nil || m[1] != user.Name {
		b.t.Fatalf("/graph: %d, want %s's profile from Graph:\n%s", graph.Status, user.Name, graph.Body)
	}
}
