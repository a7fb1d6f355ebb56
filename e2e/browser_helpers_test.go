// Browser test harness: Debian's headless Chromium, driven over the DevTools
// protocol with chromedp, looks at each page as a person would, and checks
// its console, its accessibility (axe-core) and its layout at phone width.
// With -screenshots it also saves every page to docs/images/.

package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var screenshots = flag.Bool("screenshots", false,
	"save each page the browser tests visit to docs/images/<page>-desktop.png and <page>-phone.png")

const (
	desktopWidth, desktopHeight = 1280, 800
	phoneWidth, phoneHeight     = 375, 812
	phoneScale                  = 2 // phone screenshots at 2x, as a phone shows them

	// Every step (a click and the pages it loads, one check) must finish
	// within browserStepTimeout, and Chromium must start within
	// browserStartTimeout, so a hung browser fails the test instead of
	// holding it until go test's own timeout.
	browserStepTimeout  = 20 * time.Second
	browserStartTimeout = 30 * time.Second

	screenshotDir = "../docs/images"

	// signOutButton is the navigation bar's "Sign out": a form's button,
	// POST /logout.
	signOutButton = `nav form[action="/logout"] button`
	axeScript     = "../node_modules/axe-core/axe.min.js"
)

// browserRequired reports whether a missing browser or axe-core fails the
// test instead of skipping it: in CI (.ci/run sets REQUIRE_BROWSER=1), and
// when screenshots are asked for.
func browserRequired() bool {
	return os.Getenv("REQUIRE_BROWSER") == "1" || *screenshots
}

// browserUnavailable skips the test on a laptop without Chromium, and fails
// it where the browser tests must run.
func browserUnavailable(t *testing.T, why string) {
	t.Helper()
	if browserRequired() {
		t.Fatalf("%s (REQUIRE_BROWSER=1 or -screenshots: the browser tests must run)", why)
	}
	t.Skipf("browser tests skipped: %s. Set REQUIRE_BROWSER=1 to make this a failure.", why)
}

// chromiumPath finds Debian's Chromium, or the browser CHROMIUM_PATH names.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		p, _ = exec.LookPath(p) // "" unless it is an executable file
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// consoleEntry is one thing the page wrote to the DevTools console.
type consoleEntry struct {
	kind   string // "console.<type>", "exception" or "log"
	source string // for log entries: network, security, javascript, ...
	level  string
	text   string
	url    string
}

func (e consoleEntry) String() string {
	s := e.kind
	if e.source != "" {
		s += " " + e.source + "/" + e.level
	}
	s += ": " + e.text
	if e.url != "" {
		s += " (" + e.url + ")"
	}
	return s
}

// chromeTab is one tab of a fresh headless Chromium with its own profile.
type chromeTab struct {
	t   *testing.T
	ctx context.Context
	axe string

	mu      sync.Mutex
	console []consoleEntry // since the last checkConsole

	shots map[string]bool // screenshots already saved by this run
}

// newChromeTab starts Chromium for one test, trusting the certificate the
// test servers present (env's), and no other invalid certificate.
func newChromeTab(t *testing.T, env *testEnv) *chromeTab {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		browserUnavailable(t, "Chromium not found (apt-get install chromium, or set CHROMIUM_PATH to a Chromium or Chrome)")
	}
	axe, err := os.ReadFile(axeScript)
	if err != nil {
		browserUnavailable(t, fmt.Sprintf("%s is missing: run `npm ci` for axe-core", axeScript))
	}

	// The test servers use httptest's self-signed certificate for
	// 127.0.0.1. Rather than --ignore-certificate-errors, Chromium is told
	// to accept that one public key: any other certificate error still
	// fails, and the pages are a secure context, so Secure cookies behave
	// as they do with a trusted certificate.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("ignore-certificate-errors-spki-list", serverKeyHash(t, env)),
		chromedp.WindowSize(desktopWidth, desktopHeight),
		chromedp.UserDataDir(t.TempDir()),
	}
	// Cleanups run last-in first-out: the tab closes, then Chromium exits
	// (the allocator's cancel waits for it), then its profile is removed.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)

	tab := &chromeTab{t: t, ctx: ctx, axe: string(axe), shots: map[string]bool{}}
	// The first call starts the browser. Its context must not carry a
	// timeout (that would end the browser with it), so it is bounded here.
	started := make(chan error, 1)
	go func() { started <- chromedp.Listen(ctx, tab.record) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting Chromium (%s): %v", path, err)
		}
	case <-time.After(browserStartTimeout):
		cancel()
		t.Fatalf("Chromium (%s) did not start within %s", path, browserStartTimeout)
	}
	tab.viewport(desktopWidth, desktopHeight, 1, false)
	return tab
}

// serverKeyHash is the base64 SHA-256 of the test servers' public key, the
// form --ignore-certificate-errors-spki-list takes. The connection that reads
// it verifies the certificate against the test client's roots.
func serverKeyHash(t *testing.T, env *testEnv) string {
	t.Helper()
	u, err := url.Parse(env.appURL)
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := env.client.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("test client transport is %T", env.client.Transport)
	}
	conn, err := tls.Dial("tcp", u.Host, tr.TLSClientConfig)
	if err != nil {
		t.Fatalf("reading the test servers' certificate: %v", err)
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// record keeps what the page writes to the console. It runs in the tab's
// event loop, in the order the browser sent the events, so a command's reply
// arrives after every event the browser sent before it.
func (tab *chromeTab) record(ev any) {
	var e consoleEntry
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		e = consoleEntry{kind: "console." + string(ev.Type), text: strings.Join(args, " ")}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		e = consoleEntry{kind: "exception", text: d.Text, url: d.URL}
		if d.Exception != nil {
			e.text += " " + d.Exception.Description
		}
	case *log.EventEntryAdded:
		en := ev.Entry
		e = consoleEntry{kind: "log", source: string(en.Source), level: string(en.Level), text: en.Text, url: en.URL}
	default:
		return
	}
	tab.mu.Lock()
	tab.console = append(tab.console, e)
	tab.mu.Unlock()
}

// step bounds one browser action in time.
func (tab *chromeTab) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(tab.ctx, browserStepTimeout)
}

// open types a URL into the address bar: the loaded document's response.
func (tab *chromeTab) open(target string) *network.Response {
	tab.t.Helper()
	ctx, cancel := tab.step()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(target))
	if err != nil {
		tab.t.Fatalf("opening %s: %v", target, err)
	}
	return resp
}

// click clicks the element and waits for the page it leads to, through any
// redirects: the final document's response.
func (tab *chromeTab) click(selector string) *network.Response {
	tab.t.Helper()
	ctx, cancel := tab.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
	if err != nil {
		tab.t.Fatalf("clicking %s on %s: %v", selector, tab.location(), err)
	}
	return resp
}

// fill types text into a form field, as a person would.
func (tab *chromeTab) fill(selector, text string) {
	tab.t.Helper()
	ctx, cancel := tab.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(selector), text)); err != nil {
		tab.t.Fatalf("typing into %s on %s: %v", selector, tab.location(), err)
	}
}

// eval runs a script in the page and returns its JSON value as T. DevTools'
// Runtime.evaluate is not subject to the page's Content-Security-Policy, so
// the test can run script on pages that allow none.
func eval[T any](tab *chromeTab, expr string, opts ...chromedp.EvaluateOption) T {
	tab.t.Helper()
	ctx, cancel := tab.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		tab.t.Fatalf("evaluating %.60q: %v", expr, err)
	}
	return v
}

func (tab *chromeTab) location() string {
	ctx, cancel := tab.step()
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unknown page: " + err.Error() + ")"
	}
	return loc
}

// viewport emulates a screen of width x height CSS pixels; mobile applies
// the page's viewport meta tag, as a phone does.
func (tab *chromeTab) viewport(width, height int64, scale float64, mobile bool) {
	tab.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(scale)}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	ctx, cancel := tab.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height, opts...)); err != nil {
		tab.t.Fatalf("setting the viewport to %dx%d: %v", width, height, err)
	}
}

// cookie returns the browser's cookie of that name for the URL, or nil.
func (tab *chromeTab) cookie(rawURL, name string) *network.Cookie {
	tab.t.Helper()
	ctx, cancel := tab.step()
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	if err != nil {
		tab.t.Fatalf("reading cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// pageWant is what a person should see on a page.
type pageWant struct {
	name      string   // names the screenshots: docs/images/<name>-desktop.png, -phone.png
	url       string   // the address bar, exactly
	urlPrefix string   // or its beginning, when it carries random values
	status    int64    // the document's HTTP status
	heading   string   // the page's <h1>
	texts     []string // text that must be visible on the page
	hidden    []string // text that must not be

	skipScreenshot bool // a state the docs do not show
}

// see checks the page the browser shows against want, its console, its
// accessibility at desktop and phone width, and that it fits a 375 px wide
// screen; with -screenshots it saves both widths.
func (tab *chromeTab) see(resp *network.Response, want pageWant) {
	tab.t.Helper()
	loc := tab.location()
	switch {
	case want.url != "" && loc != want.url:
		tab.t.Fatalf("%s: the address bar shows %s, want %s", want.name, loc, want.url)
	case want.urlPrefix != "" && !strings.HasPrefix(loc, want.urlPrefix):
		tab.t.Fatalf("%s: the address bar shows %s, want %s...", want.name, loc, want.urlPrefix)
	}
	if resp == nil {
		tab.t.Fatalf("%s: no document response for %s", want.name, loc)
	}
	if resp.Status != want.status {
		tab.t.Fatalf("%s: %s answered %d %s, want %d", want.name, loc, resp.Status, resp.StatusText, want.status)
	}

	text := eval[string](tab, `document.body.innerText`)
	if h1 := eval[string](tab, `(document.querySelector("h1") || {innerText: ""}).innerText`); h1 != want.heading {
		tab.t.Errorf("%s: the page's heading is %q, want %q", want.name, h1, want.heading)
	}
	for _, s := range want.texts {
		if !strings.Contains(text, s) {
			tab.t.Errorf("%s: the page does not show %q; it shows:\n%s", want.name, s, text)
		}
	}
	for _, s := range want.hidden {
		if strings.Contains(text, s) {
			tab.t.Errorf("%s: the page shows %q", want.name, s)
		}
	}
	tab.checkConsole(want.name, loc, want.status)

	tab.checkAccessibility(want.name + " at desktop width")
	if !want.skipScreenshot {
		tab.screenshot(want.name + "-desktop")
	}

	tab.viewport(phoneWidth, phoneHeight, phoneScale, true)
	tab.checkFits(want.name)
	tab.checkAccessibility(want.name + " at 375 px")
	if !want.skipScreenshot {
		tab.screenshot(want.name + "-phone")
	}
	tab.viewport(desktopWidth, desktopHeight, 1, false)

	// Injecting and running axe must not have tripped anything either.
	tab.checkConsole(want.name+" (after the checks)", loc, want.status)
	if tab.t.Failed() {
		tab.t.FailNow()
	}
}

// checkConsole fails the test for anything in the console since the last
// check: a Content-Security-Policy violation, a script error, a resource
// that failed to load. The one entry allowed is Chromium's note that the
// page itself answered with the error status the test expects.
func (tab *chromeTab) checkConsole(name, loc string, status int64) {
	tab.t.Helper()
	tab.mu.Lock()
	entries := tab.console
	tab.console = nil
	tab.mu.Unlock()
	for _, e := range entries {
		expected := status >= 400 && e.kind == "log" && e.source == "network" && e.url == loc &&
			strings.Contains(e.text, fmt.Sprintf("status of %d", status))
		if !expected {
			tab.t.Errorf("%s: the console shows %s", name, e)
		}
	}
}

// axeViolation is one failed axe-core rule, with the elements that fail it.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	HelpURL string   `json:"helpUrl"`
	Targets []string `json:"targets"`
}

// checkAccessibility runs axe-core on the page: serious and critical
// violations fail the test, lesser ones are logged.
func (tab *chromeTab) checkAccessibility(name string) {
	tab.t.Helper()
	if !eval[bool](tab, `typeof window.axe === "object"`) {
		eval[chromedp.Void](tab, tab.axe)
	}
	violations := eval[[]axeViolation](tab, `axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
			targets: v.nodes.map(n => n.target.join(" "))})))`, chromedp.EvalAwaitPromise)
	for _, v := range violations {
		msg := fmt.Sprintf("%s: axe %s violation %s: %s, on %s (%s)",
			name, v.Impact, v.ID, v.Help, strings.Join(v.Targets, ", "), v.HelpURL)
		if v.Impact == "serious" || v.Impact == "critical" {
			tab.t.Error(msg)
		} else {
			tab.t.Log(msg)
		}
	}
}

// checkFits fails the test if the page is wider than the phone's screen,
// naming the elements that stick out.
func (tab *chromeTab) checkFits(name string) {
	tab.t.Helper()
	width := eval[int64](tab, `document.documentElement.scrollWidth`)
	if width <= phoneWidth {
		return
	}
	wide := eval[[]string](tab, fmt.Sprintf(`[...document.body.querySelectorAll("*")]
		.filter(e => e.getBoundingClientRect().right > %d)
		.map(e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).split(" ").join(".") : ""))
		.slice(0, 10)`, phoneWidth))
	tab.t.Errorf("%s: at %d px wide the page is %d px wide and scrolls sideways; too wide: %s",
		name, phoneWidth, width, strings.Join(wide, ", "))
}

// screenshot saves the whole page to docs/images/<name>.png when the run
// asked for screenshots, once per name.
func (tab *chromeTab) screenshot(name string) {
	tab.t.Helper()
	if !*screenshots || tab.shots[name] {
		return
	}
	tab.shots[name] = true
	ctx, cancel := tab.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tab.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		tab.t.Fatal(err)
	}
	file := filepath.Join(screenshotDir, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tab.t.Fatal(err)
	}
	tab.t.Logf("saved %s", file)
}
