//go:build unix

// Redis hanging rather than gone: SIGSTOP, which only Unix has.

package main

import (
	"net/http"
	"syscall"
	"testing"
	"time"
)

// A Redis server that hangs (stopped, not gone) answers within the client's
// timeouts with the error page, and the app goes on when it resumes, with
// the session intact.
func TestRedisHangs(t *testing.T) {
	rs := startRedis(t)
	c := newCluster(t, clusterOptions{redis: rs})
	b := c.instances[0].newBrowser()
	b.signIn("alice@demo.test", "alice-password")

	pid := rs.Pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			syscall.Kill(pid, syscall.SIGCONT)
			resumed = true
		}
	}
	t.Cleanup(resume)

	start := time.Now()
	p := b.get("/token_details")
	assertStatus(t, p, http.StatusServiceUnavailable)
	assertContains(t, p, "Session storage unavailable")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a hanging Redis held the page for %s", took)
	}
	resume()
	p = waitUntil(t, 10*time.Second, func() *page { return b.get("/token_details") }, func(p *page) bool { return p.status != http.StatusServiceUnavailable })
	assertStatus(t, p, http.StatusOK)
	assertContains(t, p, "alice@demo.test")
}
