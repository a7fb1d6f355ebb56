package identity

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type countingTransport struct {
	calls  atomic.Int32
	status int
	delay  time.Duration
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	time.Sleep(c.delay)
	return &http.Response{
		StatusCode: c.status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`{"issuer":"x"}`)),
		Request:    req,
	}, nil
}

func get(t *testing.T, rt http.RoundTripper, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Concurrent first requests for the same document share one fetch, and later
// ones come from memory until the entry expires.
func TestCachingTransportFetchesOnce(t *testing.T) {
	next := &countingTransport{status: 200, delay: 20 * time.Millisecond}
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ct := newCachingTransport(next, clock)
	const url = "https://login.example/t/v2.0/.well-known/openid-configuration"

	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, body := get(t, ct, url); status != 200 || body != `{"issuer":"x"}` {
				t.Errorf("got %d %q", status, body)
			}
		}()
	}
	wg.Wait()
	get(t, ct, url)
	if n := next.calls.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	mu.Lock()
	now = now.Add(metadataTTL + time.Second)
	mu.Unlock()
	get(t, ct, url)
	if n := next.calls.Load(); n != 2 {
		t.Fatalf("%d fetches after expiry, want 2", n)
	}
}

// A failed fetch is not cached: an identity provider that was down must be
// asked again.
func TestCachingTransportDoesNotCacheErrors(t *testing.T) {
	next := &countingTransport{status: 503}
	ct := newCachingTransport(next, time.Now)
	const url = "https://login.example/t/v2.0/.well-known/openid-configuration"
	for range 3 {
		if status, _ := get(t, ct, url); status != 503 {
			t.Fatalf("status %d", status)
		}
	}
	if n := next.calls.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
}

// Token requests and other URLs always go to the network.
func TestCachingTransportPassesOtherRequests(t *testing.T) {
	next := &countingTransport{status: 200}
	ct := newCachingTransport(next, time.Now)
	for range 2 {
		get(t, ct, "https://login.example/t/oauth2/v2.0/token")
	}
	if n := next.calls.Load(); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
}

// A 200 that is not a discovery document (a proxy's error page) is passed
// on but not kept: the next request asks again.
func TestCachingTransportDoesNotCacheNonDocuments(t *testing.T) {
	next := &fixedBodyTransport{body: "<html>proxy error</html>"}
	ct := newCachingTransport(next, time.Now)
	const url = "https://login.example/t/v2.0/.well-known/openid-configuration"
	for range 2 {
		if _, body := get(t, ct, url); body != next.body {
			t.Fatalf("body %q", body)
		}
	}
	if next.calls.Load() != 2 {
		t.Fatalf("%d fetches, want 2", next.calls.Load())
	}
	// MSAL asks with an empty query ("...?"); it is the same document.
	next.body = `{"issuer":"x"}`
	get(t, ct, url)
	get(t, ct, url+"?")
	if next.calls.Load() != 3 {
		t.Fatalf("%d fetches, want 3", next.calls.Load())
	}
}

type fixedBodyTransport struct {
	calls atomic.Int32
	body  string
}

func (f *fixedBodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(f.body)), Request: req}, nil
}
