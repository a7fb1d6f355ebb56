// Command bench measures what signing in and a signed-in page cost in this
// app, next to the physical limit: the bare page (an HTTPS handler that makes
// the same one Graph call through the app's outbound client and writes the
// body back), the identity provider's and Graph's own throughput, and a bare
// net/http HTTPS server.
//
// It builds the app and the Entra ID emulator, runs them as child processes
// on loopback ports with Entra-sized tokens (the app twice: file sessions and,
// when redis-server is installed, Redis sessions), drives them with a bounded
// workload from 1, 8 and 32 concurrent users, and prints a table with the
// targets (-json FILE writes the numbers too):
//
//	go run ./cmd/bench                 # about a minute and a half
//	go run ./cmd/bench -quick          # a few seconds: CI keeps it working
//	go run ./cmd/bench -pages          # only /graph next to the bare page
//	go run ./cmd/bench -json bench.json
//
// It exits non-zero when something fails, not when a target is missed
// (absolute figures depend on the machine), unless -strict.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"ms-identity-go-webapp/emulator"
)

func main() {
	if os.Getenv(benchEnvPrefix+"ADDR") != "" {
		// This process is the bare baseline server (see bare.go).
		if err := serveBare(); err != nil {
			fmt.Fprintln(os.Stderr, "bare server:", err)
			os.Exit(1)
		}
		return
	}
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runBench(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
	if o.strict && res.missed() > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d target(s) missed (-strict)\n", res.missed())
		stop()
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	quick    bool
	duration time.Duration
	accounts int
	visitors int
	levels   []int
	maxOps   int
	jsonFile string
	strict   bool
	keep     bool
	pages    bool // only the signed-in page next to the bare page
	redis    bool
	stored   int // signed-in sessions to store before reading the apps' memory
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var levels string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./cmd/bench [flags]\n\nMeasures sign-in and signed-in page costs of the app against the local Entra ID emulator.\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.BoolVar(&o.quick, "quick", false, "a tiny run (short phases, few sessions) that checks the benchmark works, for CI")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "how long each measured phase runs (-quick: 200ms)")
	fs.IntVar(&o.accounts, "users", 1000, "how many accounts the emulator has; sign-ins go through them in turn (-quick: 64)")
	fs.IntVar(&o.visitors, "visitors", 10000, "how many anonymous /login requests the app's memory is measured after (-quick: 300)")
	fs.StringVar(&levels, "concurrency", "1,8,32", "the numbers of concurrent users, comma-separated")
	fs.IntVar(&o.maxOps, "max-requests", 500000, "the most operations one phase may start, whatever its duration")
	fs.StringVar(&o.jsonFile, "json", "", "also write the results to this JSON `file`")
	fs.BoolVar(&o.strict, "strict", false, "exit non-zero when a target is missed, not only on errors")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, logs, session files) and print its path")
	fs.BoolVar(&o.pages, "pages", false, "measure only the signed-in page (/graph) next to the bare page, file and Redis sessions")
	fs.IntVar(&o.stored, "stored", 0, "also sign in this many new sessions, each shown /graph once, and read each app's memory after (the 64 MB target is for 10000; -quick: 20)")
	fs.BoolVar(&o.redis, "redis", true, "also measure the app with Redis sessions (needs redis-server in PATH)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["duration"] {
			o.duration = 200 * time.Millisecond
		}
		if !set["users"] {
			o.accounts = 64
		}
		if !set["visitors"] {
			o.visitors = 300
		}
		if !set["stored"] {
			o.stored = 20
		}
	}
	for _, f := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 256 {
			return o, fmt.Errorf("-concurrency: %q is not a number from 1 to 256", f)
		}
		o.levels = append(o.levels, n)
	}
	maxLevel := 0
	for _, n := range o.levels {
		maxLevel = max(maxLevel, n)
	}
	switch {
	case o.duration < 50*time.Millisecond || o.duration > time.Minute:
		return o, errors.New("-duration must be from 50ms to 1m")
	case o.accounts < maxLevel || o.accounts > 100000:
		return o, fmt.Errorf("-users must be from %d (the most concurrent users) to 100000", maxLevel)
	case o.visitors < 1 || o.visitors > 100000:
		return o, errors.New("-visitors must be from 1 to 100000")
	case o.stored < 0 || o.stored > 100000:
		return o, errors.New("-stored must be from 0 to 100000")
	case o.maxOps < 1:
		return o, errors.New("-max-requests must be positive")
	}
	return o, nil
}

// bench is one run: the servers it started and where they are.
type bench struct {
	o        options
	out      io.Writer
	dir      string
	t        *target
	app      *child
	emu      *child
	bare     *child
	bareURL  string
	secret   string
	accounts []emulator.User

	// The bare Graph page, and the app with Redis sessions (nil without
	// redis-server) with its Redis server.
	bareGraphURL string
	tokenFile    string
	redisApp     *child
	redisTarget  *target
	redis        *child
}

// runBench builds and starts everything, runs every phase and reports.
func runBench(ctx context.Context, o options, out io.Writer) (*Results, error) {
	start := time.Now()
	// A safety net: no phase can hang the run, whatever happens.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()

	b := &bench{o: o, out: out}
	if err := b.setUp(ctx); err != nil {
		b.tearDown()
		return nil, err
	}
	res, err := b.phases(ctx)
	if err != nil {
		err = fmt.Errorf("%w\napp log:\n%s\nemulator log:\n%s", err, b.app.logTail(8), b.emu.logTail(8))
	}
	b.tearDown()
	if err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.evaluate()
	res.print(out)
	fmt.Fprintf(out, "\nDone in %.0f s.\n", res.Seconds)
	if o.jsonFile != "" {
		if err := res.writeJSON(o.jsonFile); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "Wrote %s.\n", o.jsonFile)
	}
	return res, nil
}

func (b *bench) printf(format string, args ...any) { fmt.Fprintf(b.out, format, args...) }

// setUp builds the app and the emulator and starts them, with the bare
// server, on loopback.
func (b *bench) setUp(ctx context.Context) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(root, "ssl", "localhost.crt"), filepath.Join(root, "ssl", "localhost.key")
	pem, err := os.ReadFile(certFile)
	if err != nil {
		return fmt.Errorf("no local certificate (%v): run ssl/generate-local-cert.sh first", err)
	}
	if b.dir, err = os.MkdirTemp("", "ms-identity-go-webapp-bench-"); err != nil {
		return err
	}

	t0 := time.Now()
	b.printf("Building the app and the emulator... ")
	appBin, emuBin, err := build(ctx, root, b.dir)
	if err != nil {
		return err
	}
	b.printf("%.1f s\n", time.Since(t0).Seconds())

	b.accounts = makeAccounts(b.o.accounts)
	usersFile := filepath.Join(b.dir, "users.json")
	data, _ := json.Marshal(b.accounts)
	if err := os.WriteFile(usersFile, data, 0o600); err != nil {
		return err
	}

	// One client for every measurement: it trusts the local certificate,
	// speaks HTTP/1.1 (one connection per concurrent user, as separate
	// browsers have) and keeps enough connections alive for every user.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no PEM certificate", certFile)
	}
	maxLevel := 0
	for _, n := range b.o.levels {
		maxLevel = max(maxLevel, n)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		Protocols:           protocols,
		MaxIdleConns:        4 * (maxLevel + 8),
		MaxIdleConnsPerHost: maxLevel + 8,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: transport, CheckRedirect: noRedirects, Timeout: 30 * time.Second}

	secret := make([]byte, 32)
	rand.Read(secret)
	b.secret = hex.EncodeToString(secret)
	sessionDir := filepath.Join(b.dir, "sessions")

	redisURL := ""
	if b.o.redis {
		if redisURL, err = b.startRedis(ctx); err != nil {
			return err
		}
	}

	// The redirect URIs name the apps' ports, so every port is chosen
	// first; if one was taken meanwhile, every server starts again.
	for attempt := 0; ; attempt++ {
		appPort, err1 := freePort()
		emuPort, err2 := freePort()
		redisAppPort, err3 := freePort()
		if err := errors.Join(err1, err2, err3); err != nil {
			return err
		}
		b.t = &target{
			appURL:      fmt.Sprintf("https://127.0.0.1:%d", appPort),
			emuURL:      fmt.Sprintf("https://127.0.0.1:%d", emuPort),
			redirectURI: fmt.Sprintf("https://127.0.0.1:%d/auth/redirect", appPort),
			transport:   transport,
			client:      client,
		}
		rt := *b.t
		rt.appURL = fmt.Sprintf("https://127.0.0.1:%d", redisAppPort)
		rt.redirectURI = rt.appURL + "/auth/redirect"
		b.emu, err = startChild(ctx, "emulator", emuBin, b.dir, filepath.Join(b.dir, "emulator.log"), childEnv(nil),
			[]string{"-addr", fmt.Sprintf("127.0.0.1:%d", emuPort), "-cert", certFile, "-key", keyFile,
				"-redirect-uri", b.t.redirectURI, "-redirect-uri", rt.redirectURI, "-users", usersFile, "-token-padding"},
			answers(client, b.t.emuURL+"/emulator/stats"))
		appEnv := func(t *target, sessions map[string]string) map[string]string {
			env := map[string]string{
				"AUTHORITY":      t.emuURL + "/" + emulator.DefaultTenant,
				"CLIENT_ID":      emulator.DemoClientID,
				"CLIENT_SECRET":  emulator.DemoClientSecret,
				"REDIRECT_URI":   t.redirectURI,
				"GRAPH_ENDPOINT": t.emuURL + "/v1.0/me",
				"SCOPE":          "User.Read",
				"SESSION_SECRET": b.secret,
				"PORT":           strings.TrimPrefix(t.appURL, "https://127.0.0.1:"),
				"TLS_CERT":       certFile,
				"TLS_KEY":        keyFile,
				"SSL_CERT_FILE":  certFile,
				// Stop at once on SIGTERM: no load balancer to drain from.
				"DRAIN_PERIOD": "0s",
				// The sign-ins cycle through the accounts: -stored keeps
				// thousands of sessions for each app, a few per account,
				// and none may end for the per-user limit.
				"SESSION_MAX_PER_USER": "100000",
			}
			for k, v := range sessions {
				env[k] = v
			}
			return env
		}
		if err == nil {
			// The app runs in the work directory, where there is no .env.
			b.app, err = startChild(ctx, "app", appBin, b.dir, filepath.Join(b.dir, "app.log"),
				childEnv(appEnv(b.t, map[string]string{"SESSION_TYPE": "filesystem", "SESSION_DIR": sessionDir})),
				nil, answers(client, b.t.appURL+"/static/style.css"))
		}
		if err == nil && redisURL != "" {
			b.redisTarget = &rt
			b.redisApp, err = startChild(ctx, "app (Redis sessions)", appBin, b.dir, filepath.Join(b.dir, "app-redis.log"),
				childEnv(appEnv(&rt, map[string]string{"SESSION_TYPE": "redis", "REDIS_URL": redisURL})),
				nil, answers(client, rt.appURL+"/static/style.css"))
		}
		if err == nil {
			break
		}
		b.app.stop()
		b.emu.stop()
		if attempt == 2 || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
	}

	// The bare server serves exactly the bytes of the app's static page.
	page, err := get(ctx, client, b.t.appURL+"/static/style.css", http.StatusOK)
	if err != nil {
		return err
	}
	bodyFile := filepath.Join(b.dir, "static.css")
	if err := os.WriteFile(bodyFile, []byte(page.body), 0o600); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b.tokenFile = filepath.Join(b.dir, "bare-token")
	b.bare, _, err = startOnFreePort(func(port int) (*child, error) {
		b.bareURL = fmt.Sprintf("https://127.0.0.1:%d/static/style.css", port)
		b.bareGraphURL = fmt.Sprintf("https://127.0.0.1:%d%s", port, bareGraphPath)
		env := bareServerEnv(fmt.Sprintf("127.0.0.1:%d", port), certFile, keyFile, bodyFile, b.t.emuURL+"/v1.0/me", b.tokenFile)
		env["SSL_CERT_FILE"] = certFile // the app's outbound client trusts the emulator so
		return startChild(ctx, "bare server", self, b.dir, filepath.Join(b.dir, "bare.log"),
			append(childEnv(nil), envList(env)...), nil, answers(client, b.bareURL))
	})
	return err
}

// startRedis starts a redis-server without persistence on a free loopback
// port for the app's Redis sessions, and returns its URL; "" when
// redis-server is not installed (the Redis rows are then left out).
func (b *bench) startRedis(ctx context.Context) (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		b.printf("redis-server not found: measuring file sessions only\n")
		return "", nil
	}
	var url string
	b.redis, _, err = startOnFreePort(func(port int) (*child, error) {
		url = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
		return startChild(ctx, "redis-server", bin, b.dir, filepath.Join(b.dir, "redis.log"), childEnv(nil),
			[]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"},
			redisAnswers(port))
	})
	return url, err
}

func envList(m map[string]string) []string {
	var l []string
	for k, v := range m {
		l = append(l, k+"="+v)
	}
	return l
}

// tearDown stops the servers and removes the work directory.
func (b *bench) tearDown() {
	b.bare.stop()
	b.app.stop()
	b.redisApp.stop()
	b.redis.stop()
	b.emu.stop()
	if b.dir == "" {
		return
	}
	if b.o.keep {
		b.printf("Kept the work directory %s\n", b.dir)
		return
	}
	os.RemoveAll(b.dir)
}

// makeAccounts makes n distinct accounts, so that concurrent sign-ins are
// different users.
func makeAccounts(n int) []emulator.User {
	users := make([]emulator.User, n)
	for i := range users {
		users[i] = emulator.User{
			Username:  fmt.Sprintf("user%05d@bench.test", i),
			Password:  fmt.Sprintf("password-%05d", i),
			Name:      fmt.Sprintf("Bench User %05d", i),
			GivenName: "Bench",
			Surname:   fmt.Sprintf("User %05d", i),
			JobTitle:  "Benchmark",
		}
	}
	return users
}

// phases runs the measurements in turn.
func (b *bench) phases(ctx context.Context) (*Results, error) {
	o := b.o
	res := &Results{
		GoVersion:   runtime.Version(),
		Platform:    runtime.GOOS + "/" + runtime.GOARCH,
		CPUs:        runtime.NumCPU(),
		Quick:       o.quick,
		PagesOnly:   o.pages,
		PhaseSecond: o.duration.Seconds(),
		Accounts:    len(b.accounts),
		IdP:         IdPRequests{PerSignIn: map[string]float64{}, PerGraphPage: map[string]float64{}},
	}
	b.printf("%s %s, %d CPUs; app and emulator on loopback; %v per phase; %d accounts\n",
		res.GoVersion, res.Platform, res.CPUs, o.duration, len(b.accounts))
	var err error
	res.Memory.StartBytes, _, _ = b.app.memory() // zero where /proc is missing
	warm := max(o.duration/5, 50*time.Millisecond)
	// The app's CPU is both instances': only one serves at a time, and the
	// other idles.
	meter := func() cpuTimes {
		return cpuTimes{selfCPU(), b.app.cpu() + b.redisApp.cpu(), b.emu.cpu(), b.bare.cpu(), b.redis.cpu()}
	}

	if !o.pages {
		if err := b.signIns(ctx, res, warm, meter); err != nil {
			return nil, err
		}
	}

	// Signed-in browsers, and access tokens of the same users for calling
	// Graph directly: one per concurrent user.
	maxLevel := 0
	for _, n := range o.levels {
		maxLevel = max(maxLevel, n)
	}
	browsers := make([]*http.Client, maxLevel)
	redisBrowsers := make([]*http.Client, maxLevel)
	tokens := make([]string, maxLevel)
	for i := range maxLevel {
		u := b.accounts[i%len(b.accounts)]
		if browsers[i], err = b.t.signIn(ctx, u); err != nil {
			return nil, err
		}
		if b.redisTarget != nil {
			if redisBrowsers[i], err = b.redisTarget.signIn(ctx, u); err != nil {
				return nil, fmt.Errorf("Redis sessions: %w", err)
			}
		}
		if tokens[i], err = b.t.directToken(ctx, u); err != nil {
			return nil, err
		}
	}
	// The bare page calls Graph with one fixed token, as a page that needs
	// no session would; asked for ?user=N, with user N's own token, as the
	// app's /graph does for each signed-in user (see bare.go).
	if err := os.WriteFile(b.tokenFile, []byte(strings.Join(tokens, "\n")), 0o600); err != nil {
		return nil, err
	}

	// Every stored session is now a signed-in user's.
	dump := ""
	if o.keep {
		dump = filepath.Join(b.dir, "session-largest.json")
	}
	if res.Session, err = measureSessions(filepath.Join(b.dir, "sessions"), b.secret, dump); err != nil {
		return nil, err
	}
	res.Session.CookieBytes = cookieBytes(browsers[0], b.t.appURL)

	// Each page and its baseline are measured in alternating rounds, so that
	// a change in the machine's load during the run (these machines are
	// shared) affects both sides of a ratio alike.
	rounds := 3
	if o.quick {
		rounds = 1
	}
	graphCalls := map[string]int64{}
	graphPages := 0
	for _, n := range o.levels {
		b.printf("throughput, %d users... ", n)
		const (
			bareStatic = iota
			appStatic
			graphDirect
			appGraph
			bareGraph
			appGraphRedis
			bareGraphEach
		)
		type phase struct {
			sample
			graph bool // an app /graph page: count the identity provider's requests
			fn    op
		}
		phases := make([]phase, bareGraphEach+1)
		phases[appGraph] = phase{graph: true, fn: func(ctx context.Context, w int) error {
			return graphPage(ctx, browsers[w], b.t.appURL+"/graph")
		}}
		phases[bareGraph] = phase{fn: func(ctx context.Context, _ int) error { return graphPage(ctx, b.t.client, b.bareGraphURL) }}
		// The same bare page with each user's own token, as the app sends.
		// Over HTTP/2 a header sent before on the connection goes as an
		// index into the HPACK table, so one token for everyone cost less
		// than a token per user; the outbound client speaks HTTP/1.1 (see
		// httpsserver.NewClient), and this row shows the two now cost alike.
		phases[bareGraphEach] = phase{fn: func(ctx context.Context, w int) error {
			return graphPage(ctx, b.t.client, fmt.Sprintf("%s?user=%d", b.bareGraphURL, w))
		}}
		if b.redisTarget != nil {
			phases[appGraphRedis] = phase{graph: true, fn: func(ctx context.Context, w int) error {
				return graphPage(ctx, redisBrowsers[w], b.redisTarget.appURL+"/graph")
			}}
		}
		if !o.pages {
			phases[bareStatic].fn = func(ctx context.Context, _ int) error {
				_, err := get(ctx, b.t.client, b.bareURL, http.StatusOK)
				return err
			}
			phases[appStatic].fn = func(ctx context.Context, _ int) error {
				_, err := get(ctx, b.t.client, b.t.appURL+"/static/style.css", http.StatusOK)
				return err
			}
			phases[graphDirect].fn = func(ctx context.Context, w int) error { return b.t.graphMe(ctx, tokens[w]) }
		}
		for _, p := range phases {
			if p.fn == nil {
				continue
			}
			if _, err := measure(ctx, n, warm, o.maxOps, meter, p.fn); err != nil {
				return nil, fmt.Errorf("throughput warm-up: %w", err)
			}
		}
		for round := range rounds {
			for i := range phases {
				p := &phases[(i+round)%len(phases)]
				if p.fn == nil {
					continue
				}
				before, err := b.t.stats(ctx)
				if err != nil {
					return nil, err
				}
				s, err := measure(ctx, n, o.duration/time.Duration(rounds), o.maxOps, meter, p.fn)
				if err != nil {
					return nil, fmt.Errorf("throughput: %w", err)
				}
				after, err := b.t.stats(ctx)
				if err != nil {
					return nil, err
				}
				p.add(s)
				if p.graph {
					for k, v := range delta(before, after) {
						graphCalls[k] += v
					}
					graphPages += len(s.latencies)
				}
			}
		}
		row := ThroughputRow{Users: n, Bare: phases[bareStatic].rate(), Static: phases[appStatic].rate(),
			GraphDirect: phases[graphDirect].rate(), Graph: phases[appGraph].rate(),
			BareGraph: phases[bareGraph].rate(), GraphRedis: phases[appGraphRedis].rate(),
			BareGraphEachToken: phases[bareGraphEach].rate()}
		row.ratios()
		res.Throughput = append(res.Throughput, row)
		b.printf("/graph %.0f/s (Redis %.0f/s), bare page %.0f/s", row.Graph.PerSecond, row.GraphRedis.PerSecond, row.BareGraph.PerSecond)
		if !o.pages {
			b.printf(", Graph /me %.0f/s, static %.0f/s, bare %.0f/s", row.GraphDirect.PerSecond, row.Static.PerSecond, row.Bare.PerSecond)
		}
		b.printf("\n")
	}
	for k, v := range graphCalls {
		res.IdP.PerGraphPage[k] = float64(v) / float64(graphPages)
	}

	if !o.pages {
		if res.Memory, err = b.visit(ctx, res.Memory); err != nil {
			return nil, err
		}
	}
	if o.stored > 0 {
		if err := b.storeSessions(ctx, res); err != nil {
			return nil, err
		}
	}
	if res.IdP.Run, err = b.t.stats(ctx); err != nil {
		return nil, err
	}
	if b.app.exited() || (b.redisApp != nil && b.redisApp.exited()) {
		return nil, errors.New("the app exited during the run")
	}
	return res, nil
}

// storeSessions signs in -stored new browsers into each app, each a new
// session of the next account that is then shown /graph once, as returning
// users would be: their records, tokens and pages pass through every cache
// the app has. It reads each app's memory after, when the caches are full.
func (b *bench) storeSessions(ctx context.Context, res *Results) error {
	type app struct {
		name string
		t    *target
		app  *child
	}
	targets := []app{{"file", b.t, b.app}}
	if b.redisTarget != nil {
		targets = append(targets, app{"Redis", b.redisTarget, b.redisApp})
	}
	for _, tg := range targets {
		b.printf("%d new signed-in sessions, %s... ", b.o.stored, tg.name)
		var next atomic.Int64
		s, err := measure(ctx, 16, 10*time.Minute, b.o.stored, func() cpuTimes { return cpuTimes{} },
			func(ctx context.Context, _ int) error {
				u := b.accounts[int(next.Add(1)-1)%len(b.accounts)]
				browser, err := tg.t.signIn(ctx, u)
				if err != nil {
					return err
				}
				return graphPage(ctx, browser, tg.t.appURL+"/graph")
			})
		if err != nil {
			return fmt.Errorf("storing sessions (%s): %w", tg.name, err)
		}
		m := StoredMemory{Sessions: tg.name, SignIns: len(s.latencies), Seconds: s.elapsed.Seconds()}
		m.RSSBytes, m.PeakBytes, _ = tg.app.memory()
		if tg.name == "file" {
			files, err := sessionFiles(filepath.Join(b.dir, "sessions"))
			if err != nil {
				return err
			}
			m.Stored = len(files)
		}
		res.Stored = append(res.Stored, m)
		b.printf("%.0f/s, %.1f MB (peak %.1f MB)\n", float64(m.SignIns)/m.Seconds, mb(m.RSSBytes), mb(m.PeakBytes))
	}
	return nil
}

// signIns measures full sign-ins: each one a new browser and the next
// account, against the app with file sessions.
func (b *bench) signIns(ctx context.Context, res *Results, warm time.Duration, meter cpuMeter) error {
	var next atomic.Int64
	signIn := func(ctx context.Context, _ int) error {
		u := b.accounts[int(next.Add(1)-1)%len(b.accounts)]
		_, err := b.t.signIn(ctx, u)
		return err
	}
	signInCalls := map[string]int64{}
	signIns := 0
	for _, n := range b.o.levels {
		b.printf("sign-in, %d users... ", n)
		if _, err := measure(ctx, n, warm, b.o.maxOps, meter, signIn); err != nil {
			return fmt.Errorf("sign-in warm-up: %w", err)
		}
		before, err := b.t.stats(ctx)
		if err != nil {
			return err
		}
		s, err := measure(ctx, n, b.o.duration, b.o.maxOps, meter, signIn)
		if err != nil {
			return fmt.Errorf("sign-in: %w", err)
		}
		after, err := b.t.stats(ctx)
		if err != nil {
			return err
		}
		for k, v := range delta(before, after) {
			signInCalls[k] += v
		}
		r := s.rate()
		signIns += r.Count
		res.SignIn = append(res.SignIn, r)
		b.printf("%.1f/s\n", r.PerSecond)
	}
	for k, v := range signInCalls {
		res.IdP.PerSignIn[k] = float64(v) / float64(signIns)
	}
	return nil
}

// cookieBytes is the size of the Cookie header a signed-in browser sends.
func cookieBytes(c *http.Client, appURL string) int {
	req, _ := http.NewRequest(http.MethodGet, appURL+"/", nil)
	n := 0
	for i, ck := range c.Jar.Cookies(req.URL) {
		if i > 0 {
			n += 2
		}
		n += len(ck.Name) + 1 + len(ck.Value)
	}
	return n
}

// visit sends -visitors anonymous /login requests, as bots or people who
// never finish signing in would, and reads the app's memory after. Each one
// starts a sign-in, which lives in the browser's cookie: the app must store
// no session for any of them.
func (b *bench) visit(ctx context.Context, m Memory) (Memory, error) {
	dir := filepath.Join(b.dir, "sessions")
	files, err := sessionFiles(dir)
	if err != nil {
		return m, err
	}
	m.SignedInSessions = len(files)
	m.Visitors = b.o.visitors
	b.printf("%d anonymous /login requests... ", m.Visitors)
	s, err := measure(ctx, 8, 2*time.Minute, m.Visitors, func() cpuTimes { return cpuTimes{} },
		func(ctx context.Context, _ int) error {
			_, err := get(ctx, b.t.client, b.t.appURL+"/login", http.StatusOK)
			return err
		})
	if err != nil {
		return m, fmt.Errorf("/login: %w", err)
	}
	r := s.rate()
	m.LoginsPerSecond = r.PerSecond
	b.printf("%.0f/s\n", r.PerSecond)
	if files, err = sessionFiles(dir); err != nil {
		return m, err
	}
	m.StoredByVisitors = len(files) - m.SignedInSessions
	for _, size := range files {
		m.DiskBytes += size
	}
	m.RSSBytes, m.PeakBytes, _ = b.app.memory()
	return m, nil
}
