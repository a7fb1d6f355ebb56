// Report: the results, the targets they are held to, and the table and JSON they are printed as.

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// Results is everything one run measured; -json writes it.
type Results struct {
	GoVersion   string  `json:"go_version"`
	Platform    string  `json:"platform"`
	CPUs        int     `json:"cpus"`
	Quick       bool    `json:"quick"`
	PagesOnly   bool    `json:"pages_only"` // -pages: only the signed-in page rows
	PhaseSecond float64 `json:"phase_seconds"`
	Accounts    int     `json:"accounts"`

	SignIn     []Rate          `json:"sign_in"`
	Throughput []ThroughputRow `json:"throughput"`
	IdP        IdPRequests     `json:"idp_requests"`
	Session    SessionSize     `json:"session"`
	Memory     Memory          `json:"memory"`
	Stored     []StoredMemory  `json:"stored_sessions,omitempty"` // -stored
	Targets    []Target        `json:"targets"`
	Seconds    float64         `json:"seconds"`
}

// ThroughputRow compares, at one number of concurrent users, the app's
// Graph page (file and Redis sessions) with the bare page that makes the same
// Graph call and with that call alone, and the app's static page with a bare
// net/http server.
type ThroughputRow struct {
	Users      int  `json:"users"`
	Graph      Rate `json:"app_graph"`
	GraphRedis Rate `json:"app_graph_redis"` // zero without redis-server
	BareGraph  Rate `json:"bare_graph_page"`
	// BareGraphEachToken is the bare page sending each user's own access
	// token to Graph, as the app does, instead of one token for all.
	BareGraphEachToken Rate `json:"bare_graph_page_each_token"`
	GraphDirect        Rate `json:"emulator_graph_me"`
	Static             Rate `json:"app_static"`
	Bare               Rate `json:"bare_tls"`

	// The headline: the app's /graph ÷ the bare page, in requests per
	// second and in CPU per page (the bare page's CPU ÷ the app's, so that 1
	// is the physical limit for both): the CPU of every process involved
	// (client, server, emulator, redis-server), which is what the machine
	// spends on a page, and the server's alone (the bare server; the app,
	// with redis-server for Redis sessions), the stricter figure.
	PageRatio           float64 `json:"page_ratio"`
	PageCPURatio        float64 `json:"page_cpu_ratio"`
	PageServerCPURatio  float64 `json:"page_server_cpu_ratio"`
	RedisRatio          float64 `json:"redis_page_ratio"`
	RedisCPURatio       float64 `json:"redis_page_cpu_ratio"`
	RedisServerCPURatio float64 `json:"redis_page_server_cpu_ratio"`
	GraphRatio          float64 `json:"graph_ratio"`  // Graph.PerSecond / GraphDirect.PerSecond
	StaticRatio         float64 `json:"static_ratio"` // Static.PerSecond / Bare.PerSecond
}

// ratios fills the row's ratios from its rates; a ratio whose two sides
// were not both measured stays zero.
func (t *ThroughputRow) ratios() {
	div := func(a, b float64) float64 {
		if a == 0 || b == 0 {
			return 0
		}
		return a / b
	}
	t.PageRatio = div(t.Graph.PerSecond, t.BareGraph.PerSecond)
	t.PageCPURatio = div(t.BareGraph.CPU.Total(), t.Graph.CPU.Total())
	t.PageServerCPURatio = div(t.BareGraph.CPU.Bare, t.Graph.CPU.App)
	t.RedisRatio = div(t.GraphRedis.PerSecond, t.BareGraph.PerSecond)
	t.RedisCPURatio = div(t.BareGraph.CPU.Total(), t.GraphRedis.CPU.Total())
	t.RedisServerCPURatio = div(t.BareGraph.CPU.Bare, t.GraphRedis.CPU.App+t.GraphRedis.CPU.Redis)
	t.GraphRatio = div(t.Graph.PerSecond, t.GraphDirect.PerSecond)
	t.StaticRatio = div(t.Static.PerSecond, t.Bare.PerSecond)
}

// IdPRequests are the identity provider's request counts, per operation.
type IdPRequests struct {
	PerSignIn    map[string]float64 `json:"per_sign_in"`
	PerGraphPage map[string]float64 `json:"per_graph_page"`
	// Run holds the counts for the whole run. The benchmark itself never
	// fetches the openid-configuration, so its count is the app's.
	Run map[string]int64 `json:"run"`
}

// Memory is the app's resident memory.
type Memory struct {
	StartBytes       int64   `json:"start_rss_bytes"`
	Visitors         int     `json:"visitors"` // anonymous /login requests before RSSBytes
	StoredByVisitors int     `json:"stored_by_visitors"`
	SignedInSessions int     `json:"signed_in_sessions"`
	RSSBytes         int64   `json:"rss_bytes"`      // after the visitors
	PeakBytes        int64   `json:"peak_rss_bytes"` // the most over the whole run
	DiskBytes        int64   `json:"session_disk_bytes"`
	LoginsPerSecond  float64 `json:"logins_per_second"` // the visitors' /login rate
}

// StoredMemory is an app's memory after -stored new signed-in sessions,
// each shown /graph once.
type StoredMemory struct {
	Sessions  string  `json:"sessions"` // file or Redis
	SignIns   int     `json:"sign_ins"`
	Stored    int     `json:"stored"` // session files in the directory after (file sessions only)
	Seconds   float64 `json:"seconds"`
	RSSBytes  int64   `json:"rss_bytes"`
	PeakBytes int64   `json:"peak_rss_bytes"`
}

// Target is one goal of the benchmark and how this run did.
type Target struct {
	Name     string  `json:"name"`
	Goal     string  `json:"goal"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Pass     bool    `json:"pass"`
	Skipped  bool    `json:"skipped,omitempty"` // not measurable here (no /proc)
}

// evaluate holds the results to the targets of the benchmark's issue.
func (r *Results) evaluate() {
	last := r.Throughput[len(r.Throughput)-1]
	add := func(name, goal, measured string, value float64, pass bool) {
		r.Targets = append(r.Targets, Target{Name: name, Goal: goal, Measured: measured, Value: value, Pass: pass})
	}
	ratio := func(name string, goal, rps, cpu float64) {
		v := min(rps, cpu)
		add(fmt.Sprintf("%s, %d users (requests/s, CPU per page of all processes)", name, last.Users), fmt.Sprintf("≥ %.2f", goal),
			fmt.Sprintf("%.2f, %.2f", rps, cpu), v, v >= goal)
	}
	ratio("/graph ÷ bare page, file sessions", 0.80, last.PageRatio, last.PageCPURatio)
	if last.GraphRedis.Count > 0 {
		ratio("/graph ÷ bare page, Redis sessions", 0.70, last.RedisRatio, last.RedisCPURatio)
	}
	perPage := r.IdP.PerGraphPage["token"] + r.IdP.PerGraphPage["openid_configuration"] + r.IdP.PerGraphPage["keys"] + r.IdP.PerGraphPage["authorize"]
	add("identity-provider requests per /graph page", "= 0", fmt.Sprintf("%.2f", perPage), perPage, perPage == 0)
	gm := r.IdP.PerGraphPage["graph_me"]
	add("Graph calls per /graph page", "= 1", fmt.Sprintf("%.2f", gm), gm, gm == 1)
	oc := float64(r.IdP.Run["openid_configuration"])
	instances := 1.0
	if last.GraphRedis.Count > 0 {
		instances = 2
	}
	add("openid-configuration fetches, whole run", fmt.Sprintf("= %.0f (once per app process)", instances), fmt.Sprintf("%.0f", oc), oc, oc == instances)
	for _, m := range r.Stored {
		name := fmt.Sprintf("app memory with %d new signed-in sessions, %s", m.SignIns, m.Sessions)
		if m.RSSBytes == 0 {
			r.Targets = append(r.Targets, Target{Name: name, Goal: "≤ 64 MB", Measured: "n/a (needs Linux /proc)", Skipped: true})
			continue
		}
		add(name, "≤ 64 MB", fmt.Sprintf("%.1f MB (peak %.1f MB)", mb(m.RSSBytes), mb(m.PeakBytes)), float64(m.PeakBytes), m.PeakBytes <= 64<<20)
	}
	if r.PagesOnly {
		return
	}
	add(fmt.Sprintf("/graph ÷ Graph /me, %d users", last.Users), "≥ 0.50",
		fmt.Sprintf("%.2f", last.GraphRatio), last.GraphRatio, last.GraphRatio >= 0.5)
	add(fmt.Sprintf("static page ÷ bare net/http TLS, %d users", last.Users), "≥ 0.80",
		fmt.Sprintf("%.2f", last.StaticRatio), last.StaticRatio, last.StaticRatio >= 0.8)
	tok := r.IdP.PerSignIn["token"]
	add("token requests per sign-in", "= 1", fmt.Sprintf("%.2f", tok), tok, tok == 1)
	add("session per signed-in user (largest)", "≤ 4 KB",
		fmt.Sprintf("%.1f KB", kb(r.Session.MaxBytes)), float64(r.Session.MaxBytes), r.Session.MaxBytes <= 4<<10)
	sv := r.Memory.StoredByVisitors
	add(fmt.Sprintf("sessions stored for %d anonymous /login", r.Memory.Visitors), "= 0", fmt.Sprint(sv), float64(sv), sv == 0)
	name := fmt.Sprintf("app memory after %d anonymous /login", r.Memory.Visitors)
	if r.Memory.RSSBytes == 0 {
		r.Targets = append(r.Targets, Target{Name: name, Goal: "≤ 64 MB", Measured: "n/a (needs Linux /proc)", Skipped: true})
		return
	}
	add(name, "≤ 64 MB", fmt.Sprintf("%.1f MB", mb(r.Memory.RSSBytes)), float64(r.Memory.RSSBytes), r.Memory.RSSBytes <= 64<<20)
}

// missed counts the targets this run did not meet.
func (r *Results) missed() int {
	n := 0
	for _, t := range r.Targets {
		if !t.Pass && !t.Skipped {
			n++
		}
	}
	return n
}

func kb(b int64) float64 { return float64(b) / 1024 }
func mb(b int64) float64 { return float64(b) / (1 << 20) }

// print writes the results as tables.
func (r *Results) print(w io.Writer) {
	r.printPages(w)
	if r.PagesOnly {
		r.printIdP(w)
		r.printTargets(w)
		return
	}
	fmt.Fprintf(w, "\nSign-in: protected page → authorize form post → redirect → landing page (/graph), a new browser each time\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "users\tsign-ins/s\tp50 ms\tp99 ms\tsign-ins\tCPU ms per sign-in: app\temulator\tclient\t")
	for _, s := range r.SignIn {
		fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.1f\t%d\t%.2f\t%.2f\t%.2f\t\n", s.Users, s.PerSecond, s.P50ms, s.P99ms, s.Count,
			s.CPU.App/1000, s.CPU.Emulator/1000, s.CPU.Client/1000)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nSigned-in page vs the physical limit: requests/s (p50 / p99 ms), one keep-alive HTTP/1.1 connection per user\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "users\tapp /graph\tGraph /me direct\tratio\tapp static page\tbare net/http TLS\tratio\t")
	rate := func(x Rate) string { return fmt.Sprintf("%.0f (%.2f / %.2f)", x.PerSecond, x.P50ms, x.P99ms) }
	for _, t := range r.Throughput {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f\t%s\t%s\t%.2f\t\n", t.Users,
			rate(t.Graph), rate(t.GraphDirect), t.GraphRatio, rate(t.Static), rate(t.Bare), t.StaticRatio)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nCPU time per request in µs, by process (from /proc: unlike the rates above, independent of the machine's load)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "users\tpage\tclient\tapp\temulator\tbare server\tredis-server\ttotal\t")
	for _, t := range r.Throughput {
		for _, p := range []struct {
			name string
			rate Rate
		}{{"app /graph", t.Graph}, {"app /graph, Redis", t.GraphRedis}, {"bare Graph page", t.BareGraph},
			{"Graph /me direct", t.GraphDirect}, {"app static page", t.Static}, {"bare net/http TLS", t.Bare}} {
			if p.rate.Count == 0 {
				continue
			}
			c := p.rate.CPU
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", t.Users, p.name, c.Client, c.App, c.Emulator, c.Bare, c.Redis, c.Total())
		}
	}
	tw.Flush()
	if last := r.Throughput[len(r.Throughput)-1]; last.Graph.CPU.App > 0 {
		fmt.Fprintf(w, "At %d users the app itself spends %.0f µs of CPU per /graph page and %.0f µs per static page: with Graph on\n"+
			"other machines, as in production, one core serves about %.0f /graph pages per second.\n",
			last.Users, last.Graph.CPU.App, last.Static.CPU.App, 1e6/last.Graph.CPU.App)
	}

	r.printIdP(w)
	r.printSessions(w)
	r.printTargets(w)
}

// printPages writes the headline table: the app's /graph next to the bare
// page, by requests per second and by server CPU per page.
func (r *Results) printPages(w io.Writer) {
	fmt.Fprintf(w, "\nSigned-in page ÷ the bare page (an HTTPS handler making the same Graph call through the app's outbound client),\n"+
		"by requests/s and by CPU µs per page: all processes (client, server, emulator, redis-server) and the server alone\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "users\tbare/s\tfile/s\tratio\tRedis/s\tratio\tall µs: bare\tfile\tratio\tRedis\tratio\tserver µs: bare\tfile\tratio\tRedis\tratio\t")
	for _, t := range r.Throughput {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.2f\t%.0f\t%.2f\t%.0f\t%.0f\t%.2f\t%.0f\t%.2f\t%.0f\t%.0f\t%.2f\t%.0f\t%.2f\t\n", t.Users,
			t.BareGraph.PerSecond, t.Graph.PerSecond, t.PageRatio, t.GraphRedis.PerSecond, t.RedisRatio,
			t.BareGraph.CPU.Total(), t.Graph.CPU.Total(), t.PageCPURatio, t.GraphRedis.CPU.Total(), t.RedisCPURatio,
			t.BareGraph.CPU.Bare, t.Graph.CPU.App, t.PageServerCPURatio, t.GraphRedis.CPU.App+t.GraphRedis.CPU.Redis, t.RedisServerCPURatio)
	}
	tw.Flush()
	fmt.Fprintf(w, "CPU µs per page by process (the bare page also with each user's own token, as the app sends)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "users\tpage\tper s\tclient\tserver\temulator\tredis-server\ttotal\t")
	for _, t := range r.Throughput {
		for _, p := range []struct {
			name string
			rate Rate
		}{{"bare page", t.BareGraph}, {"bare page, each user's token", t.BareGraphEachToken}, {"/graph, file", t.Graph}, {"/graph, Redis", t.GraphRedis}} {
			if p.rate.Count == 0 {
				continue
			}
			c := p.rate.CPU
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", t.Users, p.name, p.rate.PerSecond, c.Client, c.App+c.Bare, c.Emulator, c.Redis, c.Total())
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "p50 / p99 ms:")
	for _, t := range r.Throughput {
		fmt.Fprintf(w, "  %d users: bare %.2f / %.2f, file %.2f / %.2f, Redis %.2f / %.2f;", t.Users,
			t.BareGraph.P50ms, t.BareGraph.P99ms, t.Graph.P50ms, t.Graph.P99ms, t.GraphRedis.P50ms, t.GraphRedis.P99ms)
	}
	fmt.Fprintln(w)
}

// printIdP writes the identity provider's request counts.
func (r *Results) printIdP(w io.Writer) {
	fmt.Fprintf(w, "\nIdentity-provider requests (emulator /emulator/stats)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	keys := []string{"authorize", "token", "openid_configuration", "keys", "graph_me"}
	fmt.Fprintln(tw, "\t"+strings.Join(keys, "\t")+"\t")
	for _, row := range []struct {
		name string
		m    map[string]float64
	}{{"per sign-in", r.IdP.PerSignIn}, {"per /graph page", r.IdP.PerGraphPage}} {
		fmt.Fprint(tw, row.name)
		for _, k := range keys {
			fmt.Fprintf(tw, "\t%.2f", row.m[k])
		}
		fmt.Fprintln(tw, "\t")
	}
	fmt.Fprint(tw, "whole run")
	for _, k := range keys {
		fmt.Fprintf(tw, "\t%d", r.IdP.Run[k])
	}
	fmt.Fprintln(tw, "\t")
	tw.Flush()
}

// printSessions writes the size of a session and the app's memory.
func (r *Results) printSessions(w io.Writer) {
	s, c := r.Session, r.Session.Content
	fmt.Fprintf(w, "\nSession per signed-in user, Entra-sized tokens (%d sessions)\n", s.Sessions)
	fmt.Fprintf(w, "  stored: mean %d B, largest %d B; the cookie carries only the session id: %d B\n", s.MeanBytes, s.MaxBytes, s.CookieBytes)
	fmt.Fprintf(w, "  largest: %d B as the app encodes it (then compressed and sealed by the store), holding claims %d B and MSAL's token cache %d B:\n",
		c.Encoded, c.Claims, c.TokenCache)
	fmt.Fprintf(w, "  access token %d B, ID token %d B, refresh token %d B, account, metadata and field names %d B\n\n",
		c.AccessToken, c.IDToken, c.RefreshToken, c.OtherCacheJSON)

	m := r.Memory
	if m.RSSBytes == 0 {
		fmt.Fprintf(w, "App memory: not measured (it needs Linux's /proc); %d sessions stored by %d anonymous /login, %.1f MB on disk\n",
			m.StoredByVisitors, m.Visitors, mb(m.DiskBytes))
	} else {
		fmt.Fprintf(w, "App memory (VmRSS): %.1f MB at start; %.1f MB after %d anonymous /login at %.0f/s, which stored %d sessions; peak %.1f MB; session files %.1f MB on disk (%d signed in)\n",
			mb(m.StartBytes), mb(m.RSSBytes), m.Visitors, m.LoginsPerSecond, m.StoredByVisitors, mb(m.PeakBytes), mb(m.DiskBytes), m.SignedInSessions)
	}

}

// printTargets writes each target and whether this run met it.
func (r *Results) printTargets(w io.Writer) {
	fmt.Fprintf(w, "\nTargets (ratios are measured in the same run; absolute figures on a shared machine are only indicative)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets {
		verdict := "PASS"
		switch {
		case t.Skipped:
			verdict = "n/a"
		case !t.Pass:
			verdict = "MISS"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Name, t.Goal, t.Measured, verdict)
	}
	tw.Flush()
}

// writeJSON writes the results to path.
func (r *Results) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
