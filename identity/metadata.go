// Metadata: the tenant's OpenID Connect discovery document, fetched once per process.

package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Metadata is the part of the tenant's openid-configuration the app needs beyond
// what MSAL reads itself: the issuer to check ID tokens against and the
// end-session endpoint for sign-out.
type Metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
}

// metadataURL is where MSAL and this package read the tenant's discovery
// document; using the same URL lets one cached response serve both.
func metadataURL(authority string) string {
	return strings.TrimSuffix(authority, "/") + "/v2.0/.well-known/openid-configuration"
}

// Metadata returns the tenant's discovery document. The response is cached by
// the shared transport, so after the first call this costs no network request.
func (c *Client) Metadata(ctx context.Context) (Metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL(c.auth.URL), nil)
	if err != nil {
		return Metadata{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Metadata{}, &UnavailableError{Op: "fetching the openid-configuration", Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Metadata{}, &UnavailableError{Op: "reading the openid-configuration", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return Metadata{}, &UnavailableError{
			Op:  "fetching the openid-configuration",
			Err: fmt.Errorf("%s answered %s", req.URL.Host, resp.Status),
		}
	}
	var m Metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return Metadata{}, fmt.Errorf("identity: decoding the openid-configuration: %w", err)
	}
	if m.Issuer == "" || m.AuthorizationEndpoint == "" || m.TokenEndpoint == "" {
		return Metadata{}, fmt.Errorf("identity: the openid-configuration at %s lacks issuer, authorization or token endpoint", req.URL)
	}
	return m, nil
}

// metadataTTL is how long discovery documents are kept. Entra changes them
// rarely; a day matches what the Python samples' http_cache keeps in practice.
const metadataTTL = 24 * time.Hour

// cachingTransport answers repeated GETs of discovery documents (the tenant's
// openid-configuration and, for Microsoft hosts, MSAL's instance discovery)
// from memory. Every per-request MSAL client would otherwise fetch them again:
// MSAL caches them per client, and this app makes one client per request so
// that each user's token cache stays isolated.
type cachingTransport struct {
	next http.RoundTripper
	now  func() time.Time

	mu       sync.Mutex
	entries  map[string]cachedResponse
	inflight map[string]*fetch
	// aliases maps the (lower-case) URL of a discovery document to the URL
	// of the document that answers it (see alias).
	aliases map[string]string
}

type cachedResponse struct {
	header  http.Header
	body    []byte
	expires time.Time
}

// fetch is one request in flight that concurrent callers for the same URL wait on.
type fetch struct {
	done chan struct{}
	resp cachedResponse
	ok   bool
}

func newCachingTransport(next http.RoundTripper, now func() time.Time) *cachingTransport {
	if next == nil {
		next = http.DefaultTransport
	}
	return &cachingTransport{
		next:     next,
		now:      now,
		entries:  map[string]cachedResponse{},
		inflight: map[string]*fetch{},
		aliases:  map[string]string{},
	}
}

// alias makes a GET of the discovery document at from fetch (and cache)
// the one at to instead: how MSAL Go, given the authority an External ID
// issuer names, reads the configured authority's document
// (Client.msalAuthority).
func (t *cachingTransport) alias(from, to string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.aliases[strings.ToLower(from)] = to
}

// aliased returns req, or its copy for the URL req's is an alias of.
func (t *cachingTransport) aliased(req *http.Request) (*http.Request, error) {
	t.mu.Lock()
	to, ok := t.aliases[strings.ToLower(cacheKey(req))]
	t.mu.Unlock()
	if !ok {
		return req, nil
	}
	u, err := url.Parse(to)
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.URL, out.Host = u, ""
	return out, nil
}

func cacheable(req *http.Request) bool {
	if req.Method != http.MethodGet {
		return false
	}
	p := req.URL.Path
	return strings.HasSuffix(p, "/.well-known/openid-configuration") ||
		strings.HasSuffix(p, "/discovery/instance")
}

func (t *cachingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !cacheable(req) {
		return t.next.RoundTrip(req)
	}
	req, err := t.aliased(req)
	if err != nil {
		return nil, err
	}
	key := cacheKey(req)
	for {
		t.mu.Lock()
		if e, ok := t.entries[key]; ok && t.now().Before(e.expires) {
			t.mu.Unlock()
			return e.response(req), nil
		}
		f, waiting := t.inflight[key]
		if !waiting {
			f = &fetch{done: make(chan struct{})}
			t.inflight[key] = f
		}
		t.mu.Unlock()

		if !waiting {
			return t.fill(req, key, f)
		}
		select {
		case <-f.done:
			if f.ok {
				return f.resp.response(req), nil
			}
			// The leader failed; try ourselves rather than share its error,
			// which may have been its own context's cancellation.
			continue
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
}

// cacheKey identifies a document by URL. MSAL asks for the same URL with an
// empty query ("...openid-configuration?"), which must hit the same entry.
func cacheKey(req *http.Request) string {
	u := *req.URL
	u.ForceQuery = false
	u.Fragment = ""
	return u.String()
}

// fill performs the request for every caller waiting on f and stores a
// successful answer. Failures are never cached: an identity provider that is
// down at start-up must be retried on the next sign-in.
func (t *cachingTransport) fill(req *http.Request, key string, f *fetch) (*http.Response, error) {
	defer func() {
		t.mu.Lock()
		delete(t.inflight, key)
		if f.ok {
			t.entries[key] = f.resp
		}
		t.mu.Unlock()
		close(f.done)
	}()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if !discoveryDocument(body) {
		// A 200 that is not a discovery document (a proxy's error page):
		// pass it on, but do not keep it for a day.
		return &http.Response{
			Status: resp.Status, StatusCode: resp.StatusCode, Proto: resp.Proto,
			ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor, Header: resp.Header,
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
		}, nil
	}
	f.resp = cachedResponse{header: resp.Header.Clone(), body: body, expires: t.now().Add(metadataTTL)}
	f.ok = true
	return f.resp.response(req), nil
}

func (e cachedResponse) response(req *http.Request) *http.Response {
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        e.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		Request:       req,
	}
}

// discoveryDocument reports whether body is a JSON object with an issuer
// (openid-configuration) or a tenant discovery endpoint (instance discovery).
func discoveryDocument(body []byte) bool {
	var doc struct {
		Issuer                  string `json:"issuer"`
		TenantDiscoveryEndpoint string `json:"tenant_discovery_endpoint"`
	}
	return json.Unmarshal(body, &doc) == nil && (doc.Issuer != "" || doc.TenantDiscoveryEndpoint != "")
}
