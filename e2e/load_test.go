// The load test: virtual users signing in through the emulator across two
// app instances that share Redis sessions, each calling /graph with access
// tokens short-lived enough that every call refreshes, then /admin, then
// signing out. Bounded in users, requests and time; run it with
//
//	go test -run TestLoad -count=1 -v ./e2e -load.users=200 -load.graph=10

package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/identity"
)

var (
	loadUsers     = flag.Int("load.users", 0, "load test: virtual users (0 skips TestLoad)")
	loadGraph     = flag.Int("load.graph", 10, "load test: /graph calls per user")
	loadInstances = flag.Int("load.instances", 2, "load test: app instances sharing the Redis sessions")
	loadTokenTTL  = flag.Duration("load.token-ttl", 2*time.Minute, "load test: access token lifetime (under MSAL's 5-minute margin, every /graph refreshes)")
	loadTimeout   = flag.Duration("load.timeout", 5*time.Minute, "load test: deadline for the whole run")
)

// Steps of a virtual user, in order; the summary has one row per step.
const (
	stepStart    = "GET /graph (starts sign-in)"
	stepSignIn   = "emulator sign-in form (GET, POST)"
	stepCallback = "GET /auth/redirect (other instance)"
	stepGraph    = "GET /graph"
	stepAdmin    = "GET /admin"
	stepLogout   = "POST /logout"
	stepIdPOut   = "GET emulator end-session"
	stepHome     = "GET / (after sign-out)"
	// Not a request: reading the user's stored session from Redis.
	stepSession = "check: session holds only own tokens"
)

var loadSteps = []string{stepStart, stepSignIn, stepCallback, stepGraph, stepAdmin, stepSession, stepLogout, stepIdPOut, stepHome}

type sample struct {
	step string
	took time.Duration
	err  error
}

func TestLoad(t *testing.T) {
	if *loadUsers <= 0 {
		t.Skip("load test: run with -load.users=N (CI runs 40; the documented full run is 200 with -load.graph=10)")
	}
	users, graphCalls, instances := *loadUsers, *loadGraph, *loadInstances
	if instances < 1 || graphCalls < 1 {
		t.Fatal("-load.instances and -load.graph must be at least 1")
	}
	rs := startRedis(t)
	goroutinesBefore := runtime.NumGoroutine()

	accounts := make([]emulator.User, users)
	for i := range accounts {
		accounts[i] = emulator.User{
			Username: fmt.Sprintf("load%03d@demo.test", i), Password: fmt.Sprintf("load-password-%03d", i),
			Name: fmt.Sprintf("Load User %03d", i), GivenName: "Load", Surname: fmt.Sprintf("%03d", i),
		}
		if i%10 == 0 {
			accounts[i].Roles = []string{"admin"}
		}
	}
	c := newCluster(t, clusterOptions{instances: instances, redis: rs, opts: []envOption{
		withUsers(accounts...),
		withEmulator(func(e *emulator.Config) { e.AccessTokenTTL = *loadTokenTTL; e.TokenPadding = true }),
	}})
	oids := map[string]string{} // username -> oid
	for _, u := range c.emu.Users() {
		oids[u.Username] = u.OID
	}
	rdb := rs.Client()

	// One connection pool for every virtual user, as many browsers behind
	// one proxy: cookies stay per user, in each one's jar.
	transport := c.direct.Transport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256

	ctx, cancel := context.WithTimeout(context.Background(), *loadTimeout)
	defer cancel()
	samples := make(chan sample, users*(len(loadSteps)+graphCalls))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vu := &virtualUser{ctx: ctx, c: c, rdb: rdb, user: accounts[i], oid: oids[accounts[i].Username], n: i,
				graphCalls: graphCalls, samples: samples}
			vu.client = &http.Client{Transport: c.balance(transport), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			vu.client.Jar, _ = cookiejar.New(nil)
			vu.run()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(samples)
	if ctx.Err() != nil {
		t.Errorf("the load test hit its %s deadline", *loadTimeout)
	}

	byStep := map[string][]time.Duration{}
	errs := map[string]int{}
	var firstErrors []string
	total, failed := 0, 0
	for s := range samples {
		if s.step != stepSession {
			total++
		}
		byStep[s.step] = append(byStep[s.step], s.took)
		if s.err != nil {
			if s.step != stepSession {
				failed++
			}
			errs[s.step]++
			if len(firstErrors) < 10 {
				firstErrors = append(firstErrors, s.err.Error())
			}
		}
	}
	stats := c.emu.Stats()
	printLoadSummary(os.Stdout, users, graphCalls, instances, elapsed, byStep, errs, stats)

	for _, e := range firstErrors {
		t.Error(e)
	}
	if want := users * (len(loadSteps) - 2 + graphCalls); total != want {
		t.Errorf("%d requests made, want %d: some were lost", total, want)
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed", failed, total)
	}
	if n := errs[stepSession]; n > 0 {
		t.Errorf("%d sessions held tokens that were not their user's, or could not be read", n)
	}
	if got := stats[emulator.StatTokenRefreshToken]; *loadTokenTTL < 5*time.Minute && got < int64(users*graphCalls) {
		t.Errorf("%d refresh grants for %d /graph calls with %s access tokens: refreshes did not happen", got, users*graphCalls, *loadTokenTTL)
	}
	if n, err := rdb.DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Errorf("Redis holds %d sessions (%v) after every user signed out, want 0", n, err)
	}

	// Shut everything down and check that nothing the app started is left
	// running.
	rdb.Close()
	transport.CloseIdleConnections()
	c.stop()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > goroutinesBefore {
		var dump strings.Builder
		pprof.Lookup("goroutine").WriteTo(&dump, 1)
		t.Errorf("%d goroutines before the load, %d ten seconds after shutdown:\n%s", goroutinesBefore, after, dump.String())
	}
}

// virtualUser is one person: sign in (starting on one instance, coming back
// on the next), /graph several times round the instances, /admin, sign out.
type virtualUser struct {
	ctx        context.Context
	c          *cluster
	rdb        *redis.Client
	client     *http.Client
	user       emulator.User
	oid        string
	n          int
	graphCalls int
	samples    chan<- sample
}

// instance returns the app URL of the k-th instance after this user's own.
func (vu *virtualUser) instance(k int) string {
	return vu.c.instances[(vu.n+k)%len(vu.c.instances)].appURL
}

// do makes one request and records it; check judges the answer.
func (vu *virtualUser) do(step, method, target string, form url.Values, check func(*http.Response, string) error) (*http.Response, bool) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(vu.ctx, method, target, body)
	if err != nil {
		vu.samples <- sample{step: step, err: err}
		return nil, false
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	start := time.Now()
	resp, err := vu.client.Do(req)
	var page []byte
	if err == nil {
		page, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	took := time.Since(start)
	if err == nil {
		err = check(resp, string(page))
	}
	if err != nil {
		err = fmt.Errorf("%s: %s: %w", vu.user.Username, step, err)
	}
	vu.samples <- sample{step: step, took: took, err: err}
	return resp, err == nil
}

// signIn walks the emulator's sign-in form at authorizeURL and records it as
// one step; it returns where the emulator sends the browser back.
func (vu *virtualUser) signIn(authorizeURL string) (string, bool) {
	start := time.Now()
	p, err := emulatortest.SignIn(vu.ctx, vu.client, authorizeURL, vu.user.Username, vu.user.Password)
	if err == nil && p.Status != http.StatusFound {
		err = fmt.Errorf("status %d, want %d", p.Status, http.StatusFound)
	}
	if err != nil {
		err = fmt.Errorf("%s: %s: %w", vu.user.Username, stepSignIn, err)
		vu.samples <- sample{step: stepSignIn, took: time.Since(start), err: err}
		return "", false
	}
	vu.samples <- sample{step: stepSignIn, took: time.Since(start)}
	return p.Location, true
}

func status(want int) func(*http.Response, string) error {
	return func(resp *http.Response, _ string) error {
		if resp.StatusCode != want {
			return fmt.Errorf("status %d, want %d", resp.StatusCode, want)
		}
		return nil
	}
}

func (vu *virtualUser) run() {
	u := vu.user
	resp, ok := vu.do(stepStart, http.MethodGet, vu.instance(0)+"/graph", nil, status(http.StatusFound))
	if !ok {
		return
	}
	back, ok := vu.signIn(resp.Header.Get("Location"))
	if !ok {
		return
	}
	// The identity provider sends the browser to the one registered
	// redirect URI; the load balancer picks the next instance.
	callback := vu.c.onInstance((vu.n+1)%len(vu.c.instances), back)
	if _, ok := vu.do(stepCallback, http.MethodGet, callback, nil, status(http.StatusSeeOther)); !ok {
		return
	}

	hello := "Hello " + u.Name + "!"
	upn := `&#34;userPrincipalName&#34;: &#34;` + u.Username + `&#34;`
	for k := range vu.graphCalls {
		if _, ok := vu.do(stepGraph, http.MethodGet, vu.instance(k)+"/graph", nil, func(resp *http.Response, page string) error {
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			if !strings.Contains(page, hello) || !strings.Contains(page, upn) {
				return fmt.Errorf("the page does not show this user")
			}
			return nil
		}); !ok {
			return
		}
	}
	admin := slices.Contains(u.Roles, "admin")
	vu.do(stepAdmin, http.MethodGet, vu.instance(1)+"/admin", nil, func(resp *http.Response, page string) error {
		switch {
		case admin && resp.StatusCode != http.StatusOK, !admin && resp.StatusCode != http.StatusForbidden:
			return fmt.Errorf("status %d for a user with roles %v", resp.StatusCode, u.Roles)
		case !strings.Contains(page, hello):
			return fmt.Errorf("the page does not show this user")
		case admin && !strings.Contains(page, u.Username):
			return fmt.Errorf("the claims shown are not this user's")
		}
		return nil
	})
	vu.checkStoredSession()

	resp, ok = vu.do(stepLogout, http.MethodPost, vu.instance(0)+"/logout", url.Values{}, status(http.StatusSeeOther))
	if !ok {
		return
	}
	vu.do(stepIdPOut, http.MethodGet, resp.Header.Get("Location"), nil, status(http.StatusFound))
	vu.do(stepHome, http.MethodGet, vu.instance(1)+"/", nil, func(resp *http.Response, page string) error {
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "You're not signed in.") {
			return fmt.Errorf("status %d; still signed in after signing out on the other instance", resp.StatusCode)
		}
		return nil
	})
}

// checkStoredSession reads this user's session from Redis, as an instance
// would, and checks that it and its token cache hold this user and nobody
// else. It is recorded as a step of its own, not as a request.
func (vu *virtualUser) checkStoredSession() {
	start := time.Now()
	err := func() error {
		base, _ := url.Parse(vu.instance(0))
		var cookie string
		for _, ck := range vu.client.Jar.Cookies(base) {
			if ck.Name == "__Host-session" {
				cookie = ck.Value
			}
		}
		s, ok, err := vu.c.storedSession(vu.rdb, cookie)
		if err != nil || !ok {
			return fmt.Errorf("stored session: found %v, %v", ok, err)
		}
		return checkTokenCache(s, vu.user.Username, vu.oid)
	}()
	if err != nil {
		err = fmt.Errorf("%s: %w", vu.user.Username, err)
	}
	vu.samples <- sample{step: stepSession, took: time.Since(start), err: err}
}

// checkTokenCache checks that a session holds only its own user's tokens:
// every entry of the MSAL cache belongs to the user's home account, and
// every account is the user's.
func checkTokenCache(s *identity.UserSession, username, oid string) error {
	if s.Claims.String("preferred_username") != username || s.Claims.String("oid") != oid {
		return fmt.Errorf("the session's claims are %s's", s.Claims.String("preferred_username"))
	}
	if !strings.HasPrefix(s.HomeAccountID, oid+".") {
		return fmt.Errorf("home account %q is not %s's", s.HomeAccountID, username)
	}
	var cache map[string]map[string]map[string]any
	if err := json.Unmarshal(s.TokenCache, &cache); err != nil {
		return fmt.Errorf("token cache: %v", err)
	}
	for kind, items := range cache {
		if kind == "AppMetadata" {
			continue // about the app (client id, environment), no user's
		}
		for key, item := range items {
			if home, _ := item["home_account_id"].(string); home != s.HomeAccountID {
				return fmt.Errorf("token cache %s entry %s belongs to %q, not %q", kind, key, home, s.HomeAccountID)
			}
			if name, ok := item["username"].(string); ok && !strings.EqualFold(name, username) {
				return fmt.Errorf("token cache account %q in %s's session", name, username)
			}
		}
	}
	if len(cache["Account"]) != 1 || len(cache["RefreshToken"]) != 1 {
		return fmt.Errorf("token cache holds %d accounts and %d refresh tokens, want one of each", len(cache["Account"]), len(cache["RefreshToken"]))
	}
	return nil
}

// printLoadSummary writes the table of requests, errors and latencies.
func printLoadSummary(w io.Writer, users, graphCalls, instances int, elapsed time.Duration,
	byStep map[string][]time.Duration, errs map[string]int, stats map[string]int64) {
	fmt.Fprintf(w, "\nLoad test: %d users x %d /graph calls, %d app instances sharing Redis sessions, %s access tokens, GOMAXPROCS %d\n",
		users, graphCalls, instances, *loadTokenTTL, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "%-38s %9s %7s %9s %9s %9s\n", "step", "requests", "errors", "p50", "p99", "max")
	var all []time.Duration
	totalErrs := 0
	for _, step := range loadSteps {
		d := byStep[step]
		if step != stepSession {
			all = append(all, d...)
			totalErrs += errs[step]
		}
		fmt.Fprintf(w, "%-38s %9d %7d %9s %9s %9s\n", step, len(d), errs[step], quantile(d, 0.50), quantile(d, 0.99), quantile(d, 1))
	}
	fmt.Fprintf(w, "%-38s %9d %7d %9s %9s %9s\n", "all requests", len(all), totalErrs, quantile(all, 0.50), quantile(all, 0.99), quantile(all, 1))
	fmt.Fprintf(w, "wall time %s, %.0f requests/s; emulator: %d sign-ins, %d code redemptions, %d refresh grants, %d Graph calls\n\n",
		elapsed.Round(time.Millisecond), float64(len(all))/elapsed.Seconds(),
		stats[emulator.StatSignIns], stats[emulator.StatTokenAuthorizationCode], stats[emulator.StatTokenRefreshToken], stats[emulator.StatGraphMe])
}

// quantile returns the q-quantile (nearest rank) of d, rounded for the table.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	i = min(max(i, 0), len(s)-1)
	return s[i].Round(100 * time.Microsecond)
}

// Fifty users sign in and call /graph at once: every page shows its own
// user, and nothing fails.
func TestConcurrentUsers(t *testing.T) {
	const n = 50
	users := make([]emulator.User, n)
	for i := range users {
		users[i] = emulator.User{
			Username: fmt.Sprintf("user%02d@demo.test", i), Password: fmt.Sprintf("password-%02d", i),
			Name: fmt.Sprintf("User Number %02d", i), GivenName: "User", Surname: fmt.Sprintf("%02d", i),
		}
	}
	env := newTestEnv(t, withUsers(users...), withEmulator(func(c *emulator.Config) { c.AccessTokenTTL = 2 * time.Minute }))

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- concurrentUser(env, users[i])
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := env.emu.Stats()[emulator.StatOpenIDConfiguration]; got != 1 {
		t.Errorf("openid-configuration fetched %d times by %d concurrent users, want 1", got, n)
	}
}

// concurrentUser signs one user in and loads /graph three times, reporting
// the first thing that goes wrong (t.Fatal cannot be called off the test's
// goroutine).
func concurrentUser(env *testEnv, u emulator.User) error {
	ctx := env.t.Context()
	b := env.newBrowser()
	p, err := emulatortest.Get(ctx, b.client, env.appURL+"/graph")
	if err != nil || p.Status != http.StatusFound {
		return fmt.Errorf("%s: /graph before sign-in: %v %v", u.Username, err, p)
	}
	if p, err = emulatortest.SignIn(ctx, b.client, p.Location, u.Username, u.Password); err != nil || p.Status != http.StatusFound {
		return fmt.Errorf("%s: sign-in form: %v %v", u.Username, err, p)
	}
	if p, err = emulatortest.Get(ctx, b.client, p.Location); err != nil || p.Status != http.StatusSeeOther {
		return fmt.Errorf("%s: callback: %v %v", u.Username, err, p)
	}
	for range 3 {
		p, err := emulatortest.Get(ctx, b.client, env.appURL+"/graph")
		if err != nil || p.Status != http.StatusOK {
			return fmt.Errorf("%s: /graph: %v %v", u.Username, err, p)
		}
		if !strings.Contains(p.Body, "Hello "+u.Name+"!") || !strings.Contains(p.Body, u.Username) {
			return fmt.Errorf("%s: /graph shows another user", u.Username)
		}
	}
	return nil
}
