// Test harness for one or more app instances that share one emulator and
// one session store (files, or a real redis-server started by the test),
// served with the production server's settings.

package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/httpsserver"
	"ms-identity-go-webapp/internal/testutil"
	"ms-identity-go-webapp/session"
)

// redisClientLog collects what go-redis reports through its package-wide
// logger (reconnects while Redis is down) in every test of this package; the
// clusters' log checks scan it too.
var redisClientLog = &testutil.SyncBuffer{}

var quietRedisLog = sync.OnceFunc(func() {
	entra.SetRedisLogger(slog.New(slog.NewTextHandler(redisClientLog, nil)))
})

// redisServer is a redis-server started by the test (internal/testutil).
type redisServer = testutil.RedisServer

// startRedis starts redis-server for the test, and stops it when the test
// ends. Without redis-server on PATH the test is skipped, unless
// REQUIRE_REDIS=1 (as in CI), which makes that a failure.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	return startRedisWithPassword(t, "")
}

// startRedisWithPassword starts redis-server with requirepass set, so that
// REDIS_URL carries a password the logs must never show.
func startRedisWithPassword(t testing.TB, password string) *redisServer {
	t.Helper()
	quietRedisLog()
	return testutil.StartRedis(t, password)
}

// cluster is several app instances behind one imaginary load balancer: one
// emulator, one session store, one REDIRECT_URI (the first instance's). Each
// instance is a testEnv, so browsers and checks work on any of them.
type cluster struct {
	t         *testing.T
	emu       *emulator.Emulator
	instances []*testEnv
	logs      *testutil.SyncBuffer
	env       map[string]string
	balancer  *balancer    // nil with one instance
	direct    *http.Client // trusts the test certificate; no balancer
	stopOnce  sync.Once
	stopFuncs []func()
}

// clusterOptions choose the store and timeouts of a cluster.
type clusterOptions struct {
	instances int
	redis     *redisServer // nil: a shared SESSION_DIR
	// identityTimeout bounds each request to the identity provider
	// (app.OutboundClient's 30 s); 0 = 30 s.
	identityTimeout time.Duration
	opts            []envOption
	// extraRoutes adds test-only routes to each instance's router, behind
	// the app's own middleware.
	extraRoutes func(chi.Router)
	// emulatorStarted runs once the emulator serves and before the app
	// starts: it may change the app's settings, or write a file the app
	// reads at start-up with something the emulator issued.
	emulatorStarted func(emu *emulator.Emulator, emuURL string, client *http.Client, appEnv map[string]string)
	// instanceEnv overrides settings of single instances, by index (a
	// rotated SESSION_SECRET on some of them).
	instanceEnv map[int]map[string]string
	// emulatorMiddleware wraps the emulator's handler: an identity
	// provider that misbehaves beyond the emulator's own faults.
	emulatorMiddleware func(http.Handler) http.Handler
	// separateApps makes each of two instances an app registration of its
	// own, as two apps of one tenant are: its own client id and secret,
	// redirect URI, front-channel logout URL, SESSION_SECRET and
	// SESSION_DIR (Redis, when set, stays shared), and no load balancer in
	// front. The second is reached as https://localhost:port: browsers
	// keep cookies by host, not port, so two apps on 127.0.0.1 would
	// overwrite each other's session cookie. Only Chromium (which accepts
	// the test certificate for any name) can reach it there.
	separateApps bool
}

// newCluster starts the emulator and the app instances on loopback, each
// built and served as main does it (newSampleApp, e2e/app_test.go),
// over HTTPS with the test certificate.
func newCluster(t *testing.T, co clusterOptions) *cluster {
	t.Helper()
	if co.instances == 0 {
		co.instances = 2
	}
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	c := &cluster{t: t, logs: logs}
	// Stopping runs in reverse order: the emulator (which ends requests
	// the apps still wait on), then the app servers and their session
	// stores. It runs when the test ends, or earlier when the test calls
	// c.stop.
	t.Cleanup(c.stop)

	listeners := make([]net.Listener, co.instances)
	for i := range listeners {
		listeners[i] = listen(t)
		c.stopFuncs = append(c.stopFuncs, func() { listeners[i].Close() }) // if the test fails before it serves
	}
	origin := "https://" + listeners[0].Addr().String()

	emuCfg := emulator.Config{
		RedirectURIs: []string{origin + "/auth/redirect"},
		Logger:       logger.With("component", "emulator"),
	}
	appEnv := map[string]string{
		"CLIENT_ID":      emulator.DemoClientID,
		"CLIENT_SECRET":  emulator.DemoClientSecret,
		"REDIRECT_URI":   origin + "/auth/redirect",
		"SESSION_SECRET": "test-session-secret-0123456789abcdef",
		"SESSION_DIR":    t.TempDir(),
	}
	if co.redis != nil {
		appEnv["SESSION_TYPE"] = "redis"
		appEnv["REDIS_URL"] = co.redis.URL()
	}
	appOrigins := make([]string, len(listeners))
	if co.separateApps {
		if len(listeners) != 2 {
			t.Fatal("separateApps makes two apps")
		}
		emuCfg.RedirectURIs = nil
		if co.instanceEnv == nil {
			co.instanceEnv = map[int]map[string]string{}
		}
		for i, ln := range listeners {
			origin := "https://" + ln.Addr().String()
			if i == 1 {
				origin = "https://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
			}
			appOrigins[i] = origin
			reg := emulator.App{
				ClientID:              fmt.Sprintf("c0ffee00-0000-4000-a000-%012x", 0xa0+i),
				ClientSecret:          fmt.Sprintf("secret-of-app-%d-0123456789", i),
				RedirectURIs:          []string{origin + "/auth/redirect"},
				FrontChannelLogoutURL: origin + entra.DefaultFrontChannelLogoutPath,
			}
			emuCfg.Apps = append(emuCfg.Apps, reg)
			env := map[string]string{"CLIENT_ID": reg.ClientID, "CLIENT_SECRET": reg.ClientSecret, "REDIRECT_URI": reg.RedirectURIs[0]}
			if i > 0 {
				env["SESSION_SECRET"] = fmt.Sprintf("session-secret-of-app-%d-0123456789abcdef", i)
				env["SESSION_DIR"] = t.TempDir()
			}
			if i == 0 {
				maps.Copy(appEnv, env)
				continue
			}
			if co.instanceEnv[i] == nil {
				co.instanceEnv[i] = map[string]string{}
			}
			maps.Copy(co.instanceEnv[i], env)
		}
	}
	for _, o := range co.opts {
		o(&emuCfg, appEnv)
	}
	var middleware []func(http.Handler) http.Handler
	if co.emulatorMiddleware != nil {
		middleware = append(middleware, co.emulatorMiddleware)
	}
	emuSrv := emulatortest.NewServer(t, emuCfg, middleware...)
	emu := emuSrv.Emulator
	c.emu, c.env = emu, appEnv
	if _, ok := appEnv["AUTHORITY"]; !ok {
		appEnv["AUTHORITY"] = emuSrv.Authority()
	}
	// One setting points every Graph page at the emulator's Graph.
	if _, ok := appEnv["GRAPH_BASE_URL"]; !ok {
		appEnv["GRAPH_BASE_URL"] = emuSrv.URL + "/v1.0"
	}
	if co.emulatorStarted != nil {
		co.emulatorStarted(emu, emuSrv.URL, emuSrv.Client(), appEnv)
	}
	// A setting the test set to "" is set but empty (CLIENT_CAPABILITIES=).
	cfg, err := loadAppConfig(func(k string) (string, bool) { v, ok := appEnv[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	// The app's outbound client as main makes it, trusting the test
	// certificate as the demo trusts the local one.
	outbound, err := httpsserver.NewClient(emuSrv.Cert.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if co.identityTimeout > 0 {
		outbound.Timeout = co.identityTimeout
	}
	// An External ID emulator is reached under its host names: the app's
	// outbound client dials them on loopback, as the test client does.
	if len(emuSrv.Names) > 0 {
		outbound.Transport.(*http.Transport).DialContext = emuSrv.DialContext
	}
	c.stopFuncs = append(c.stopFuncs, outbound.CloseIdleConnections)

	// The test client: it trusts the test certificate and, with several
	// instances, reaches each as the load balancer in front of them would.
	client := emuSrv.Client()
	c.direct = client
	if len(listeners) > 1 && !co.separateApps {
		lb := &balancer{next: client.Transport, public: listeners[0].Addr().String(), instances: map[string]bool{}}
		for _, ln := range listeners {
			lb.instances[ln.Addr().String()] = true
		}
		client = &http.Client{Transport: lb}
		c.balancer = lb
	}
	t.Cleanup(func() {
		c.stop()
		secrets := append(emu.IssuedValues(), cfg.ClientSecret, cfg.SessionSecret)
		secrets = append(secrets, credentialSecrets(t, cfg)...)
		for _, override := range co.instanceEnv {
			for k, v := range override {
				if strings.Contains(k, "SECRET") {
					secrets = append(secrets, v)
				}
			}
		}
		for _, u := range emu.Users() {
			secrets = append(secrets, u.Password)
		}
		if co.redis != nil && co.redis.Password() != "" {
			secrets = append(secrets, co.redis.Password())
		}
		if n := secretsIn(logs.String()+redisClientLog.String(), secrets); n > 0 {
			t.Errorf("the log holds %d secret values (codes, tokens, passwords or secrets) of the %d issued or known", n, len(secrets))
		}
	})
	for i, ln := range listeners {
		cfg := cfg
		if override := co.instanceEnv[i]; override != nil {
			var err error
			cfg, err = loadAppConfig(func(k string) (string, bool) {
				if v, ok := override[k]; ok {
					return v, true
				}
				v, ok := appEnv[k]
				return v, ok
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		_, stop := serveApp(t, ln, cfg, appOptions{Logger: logger.With("instance", i), Outbound: outbound}, func(a *sampleApp) {
			if co.extraRoutes != nil {
				co.extraRoutes(a.extra)
			}
		})
		c.stopFuncs = append(c.stopFuncs, stop)
		appURL := "https://" + ln.Addr().String()
		if appOrigins[i] != "" {
			appURL = appOrigins[i]
		}
		c.instances = append(c.instances, &testEnv{
			t: t, emu: emu, emuURL: emuSrv.URL, appURL: appURL, cfg: cfg, logs: logs, client: client,
		})
	}
	c.stopFuncs = append(c.stopFuncs, emuSrv.Close)
	return c
}

// balancer stands for the load balancer in front of a cluster: a request to
// any instance's address carries the public host, the first instance's,
// which REDIRECT_URI names, in its Host header, as a proxy that preserves the
// Host header sends it. Without it, every instance but the first would
// redirect to the one origin.
type balancer struct {
	next      http.RoundTripper
	public    string
	instances map[string]bool
}

func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	if b.instances[req.URL.Host] && (req.Host == "" || req.Host == req.URL.Host) {
		req = req.Clone(req.Context())
		req.Host = b.public
	}
	return b.next.RoundTrip(req)
}

// balance puts the cluster's balancer in front of rt, for clients of the
// test's own (with one instance there is nothing to balance).
func (c *cluster) balance(rt http.RoundTripper) http.RoundTripper {
	if c.balancer == nil {
		return rt
	}
	return &balancer{next: rt, public: c.balancer.public, instances: c.balancer.instances}
}

// stop shuts everything down once; tests that count goroutines call it
// themselves before counting.
func (c *cluster) stop() {
	c.stopOnce.Do(func() {
		for i := len(c.stopFuncs) - 1; i >= 0; i-- {
			c.stopFuncs[i]()
		}
	})
}

// on returns the URL of path on instance i.
func (c *cluster) on(i int, path string) string { return c.instances[i].appURL + path }

// onInstance rewrites an absolute URL of any instance to instance i, as a
// load balancer choosing another instance would.
func (c *cluster) onInstance(i int, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		c.t.Fatal(err)
	}
	target, _ := url.Parse(c.instances[i].appURL)
	u.Host = target.Host
	return u.String()
}

// storedSession reads the identity of the session a cookie names straight
// from Redis, opening it with the app's keys: what an instance would load.
// ok is false when Redis holds no such session.
func (c *cluster) storedSession(rdb *redis.Client, cookie string) (s *identity.UserSession, ok bool, err error) {
	keys, err := session.NewKeys(c.env["SESSION_SECRET"], "")
	if err != nil {
		return nil, false, err
	}
	store := session.NewStore(session.NewRedisBackendFromClient(rdb), keys)
	_, values, _, err := store.Load(context.Background(), cookie)
	if errors.Is(err, session.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	s, err = storedUser(values)
	return s, true, err
}

// credentialSecrets are the app's certificate password and private key (in
// the forms a log could show it) and the federated token its file holds
// now; earlier tokens are among the emulator's issued values.
func credentialSecrets(t *testing.T, cfg appConfig) []string {
	secrets := []string{cfg.ClientCertificatePassword}
	if cfg.ClientCertificatePath != "" {
		data, err := os.ReadFile(cfg.ClientCertificatePath)
		if err != nil {
			t.Errorf("reading the client certificate for the log check: %v", err)
		} else if cert, err := identity.ParseCertificate(data, cfg.ClientCertificatePassword); err == nil {
			secrets = append(secrets, testutil.ClientCert{Cert: cert.Leaf(), Key: cert.Key}.KeySecrets()...)
		}
	}
	if cfg.ClientAssertionFile != "" {
		if data, err := os.ReadFile(cfg.ClientAssertionFile); err == nil {
			secrets = append(secrets, strings.TrimSpace(string(data)))
		}
	}
	return secrets
}

// secretsIn counts the secrets (8 characters or more) that occur in logs. It
// indexes the secrets by their first 16 bytes and slides over the log once,
// so that scanning the log of a load test for thousands of tokens stays fast.
func secretsIn(logs string, secrets []string) int {
	const prefix = 16
	byPrefix := map[string][]string{}
	found := map[string]bool{}
	for _, s := range secrets {
		switch {
		case len(s) < 8:
		case len(s) < prefix:
			if strings.Contains(logs, s) {
				found[s] = true
			}
		default:
			byPrefix[s[:prefix]] = append(byPrefix[s[:prefix]], s)
		}
	}
	for i := 0; i+prefix <= len(logs); i++ {
		for _, s := range byPrefix[logs[i:i+prefix]] {
			if strings.HasPrefix(logs[i:], s) {
				found[s] = true
			}
		}
	}
	return len(found)
}

// The log check itself: a secret is found wherever it sits in a line.
func TestSecretsInFindsEveryPlacement(t *testing.T) {
	token := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	logs := "level=INFO msg=request path=/auth/redirect\nlevel=WARN err=\"Bearer " + token + "x\" pw=hunter2pass\n"
	if n := secretsIn(logs, []string{token, "hunter2pass", "short", "not-in-the-log-at-all-0123456789"}); n != 2 {
		t.Errorf("found %d secrets, want the token and the password", n)
	}
	if n := secretsIn(logs[:len(logs)/2], []string{token}); n != 0 {
		t.Errorf("found %d secrets in a log without them", n)
	}
}
