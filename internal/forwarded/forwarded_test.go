package forwarded

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func mustProxies(t *testing.T, list string) *Proxies {
	t.Helper()
	p, err := ParseProxies(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseProxies(t *testing.T) {
	p := mustProxies(t, " 10.0.0.0/8, 192.0.2.7,fd00::/8, ::ffff:172.16.0.0/108 ,")
	if got, want := p.String(), "10.0.0.0/8, 192.0.2.7, fd00::/8, 172.16.0.0/12"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for addr, want := range map[string]bool{
		"10.1.2.3": true, "::ffff:10.1.2.3": true, "192.0.2.7": true, "192.0.2.8": false,
		"fd12::1": true, "fe80::1": false, "172.31.255.255": true, "172.32.0.0": false, "11.0.0.1": false,
	} {
		if got := p.Trusted(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Trusted(%s) = %v, want %v", addr, got, want)
		}
	}
	if !mustProxies(t, "").Empty() || (*Proxies)(nil).Trusted(netip.MustParseAddr("127.0.0.1")) {
		t.Error("an empty list must trust nobody")
	}
	for _, bad := range []string{"proxy.example.com", "10.0.0.0/33", "10.0.0.1/", "300.1.1.1", "fe80::1%eth0/64", "*"} {
		if _, err := ParseProxies(bad); err == nil || !strings.Contains(err.Error(), strings.TrimSpace(bad)) {
			t.Errorf("ParseProxies(%q) = %v, want an error naming it", bad, err)
		}
	}
}

// request builds a request as the server would hand it over: from peer,
// over TLS or not, with the given headers (one header line per value).
func request(peer string, overTLS bool, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/graph", nil)
	r.Host = "app.internal:8000"
	r.RemoteAddr = peer
	r.TLS = nil
	if overTLS {
		r.TLS = &tls.ConnectionState{}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestResolve(t *testing.T) {
	proxies := mustProxies(t, "10.0.0.0/8, 2001:db8::/32")
	const nginx, stranger = "10.0.0.5:41000", "203.0.113.9:52000"
	tests := []struct {
		name       string
		r          *http.Request
		wantScheme string
		wantHost   string
		wantClient string
		wantProxy  bool
	}{
		{"no proxy: the connection itself", request(stranger, true),
			"https", "app.internal:8000", "203.0.113.9", false},
		{"untrusted peer: forged X-Forwarded-* ignored",
			request(stranger, true, "X-Forwarded-Proto", "http", "X-Forwarded-Host", "evil.example", "X-Forwarded-For", "198.51.100.1"),
			"https", "app.internal:8000", "203.0.113.9", false},
		{"untrusted peer: forged Forwarded ignored",
			request(stranger, false, "Forwarded", "for=198.51.100.1;proto=https;host=evil.example"),
			"http", "app.internal:8000", "203.0.113.9", false},
		{"trusted proxy, X-Forwarded-*",
			request(nginx, false, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example.com", "X-Forwarded-For", "198.51.100.1"),
			"https", "app.example.com", "198.51.100.1", true},
		{"trusted proxy: only the hop it added counts",
			request(nginx, false, "X-Forwarded-For", "6.6.6.6, 7.7.7.7,198.51.100.1", "X-Forwarded-Proto", "http, gopher, https",
				"X-Forwarded-Host", "evil.example, app.example.com:8443"),
			"https", "app.example.com:8443", "198.51.100.1", true},
		{"trusted proxy: several header lines are one list",
			request(nginx, false, "X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "198.51.100.1"),
			"http", "app.internal:8000", "198.51.100.1", true},
		{"trusted proxy: address with port (Application Gateway)",
			request(nginx, false, "X-Forwarded-For", "198.51.100.1:4711", "X-Forwarded-Proto", "HTTPS"),
			"https", "app.internal:8000", "198.51.100.1", true},
		{"trusted proxy: IPv6 client",
			request("[2001:db8::2]:443", false, "X-Forwarded-For", "[2001:db8:1::7]:80"),
			"http", "app.internal:8000", "2001:db8:1::7", true},
		{"trusted proxy: junk values keep the connection's",
			request(nginx, true, "X-Forwarded-For", "unknown", "X-Forwarded-Proto", "gopher",
				"X-Forwarded-Host", "user@evil.example/path"),
			"https", "app.internal:8000", "10.0.0.5", true},
		{"trusted proxy, no headers", request(nginx, false),
			"http", "app.internal:8000", "10.0.0.5", true},
		{"trusted proxy, Forwarded (RFC 7239)",
			request(nginx, false, "Forwarded", `for=6.6.6.6;host=evil.example, For="[2001:db8:cafe::17]:4711";Proto=https;Host="app.example.com"`),
			"https", "app.example.com", "2001:db8:cafe::17", true},
		{"trusted proxy, Forwarded on two lines, quoted comma",
			request(nginx, false, "Forwarded", `for=6.6.6.6`, "Forwarded", `for=198.51.100.1;by="a,b";proto=https`),
			"https", "app.internal:8000", "198.51.100.1", true},
		{"trusted proxy, Forwarded with an obfuscated node",
			request(nginx, false, "Forwarded", `for=_hidden;proto=https`),
			"https", "app.internal:8000", "10.0.0.5", true},
		{"X-Forwarded-* set by the proxy win over a client's Forwarded",
			request(nginx, false, "Forwarded", "for=6.6.6.6;proto=http;host=evil.example",
				"X-Forwarded-Proto", "https", "X-Forwarded-For", "198.51.100.1"),
			"https", "app.internal:8000", "198.51.100.1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := proxies.Resolve(tc.r)
			if got.Scheme != tc.wantScheme || got.Host != tc.wantHost || got.Client.String() != tc.wantClient || got.ViaProxy != tc.wantProxy {
				t.Errorf("Resolve = %+v (client %s), want scheme %s, host %s, client %s, via proxy %v",
					got, got.Client, tc.wantScheme, tc.wantHost, tc.wantClient, tc.wantProxy)
			}
		})
	}
}

// With no trusted proxy configured, every header is ignored.
func TestResolveTrustsNobodyByDefault(t *testing.T) {
	r := request("127.0.0.1:5000", true, "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http", "X-Forwarded-For", "6.6.6.6")
	for _, p := range []*Proxies{nil, mustProxies(t, "")} {
		got := p.Resolve(r)
		if got.Scheme != "https" || got.Host != "app.internal:8000" || got.Client.String() != "127.0.0.1" || got.ViaProxy {
			t.Errorf("Resolve = %+v", got)
		}
	}
}

func TestValidHost(t *testing.T) {
	for h, want := range map[string]bool{
		"app.example.com": true, "app.example.com:443": true, "localhost:5000": true, "127.0.0.1:80": true,
		"[::1]": true, "[::1]:8443": true, "my_host": true,
		"": false, "::1": false, "[::1": false, "[fe80::1%25eth0]": false, "a.example:": false, "a.example:x": false,
		"user@evil.example": false, "evil.example/x": false, "evil.example x": false, "evil.example\\x": false,
		"[127.0.0.1]": false, "a:1:2": false, strings.Repeat("a", 256): false,
	} {
		if got := validHost(h); got != want {
			t.Errorf("validHost(%q) = %v, want %v", h, got, want)
		}
	}
}

func FuzzResolve(f *testing.F) {
	f.Add("for=1.2.3.4;proto=https;host=a.example", "1.2.3.4, 5.6.7.8", "https", "a.example:443")
	f.Add(`for="[::1]:80";by="x,y", for=unknown`, "", "", "")
	proxies := &Proxies{prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	f.Fuzz(func(t *testing.T, fwd, xff, xfp, xfh string) {
		r := request("10.0.0.1:1", false, "Forwarded", fwd, "X-Forwarded-For", xff, "X-Forwarded-Proto", xfp, "X-Forwarded-Host", xfh)
		got := proxies.Resolve(r)
		if got.Scheme != "http" && got.Scheme != "https" {
			t.Fatalf("scheme %q", got.Scheme)
		}
		if got.Host != r.Host && !validHost(got.Host) {
			t.Fatalf("host %q", got.Host)
		}
		if !got.Client.IsValid() {
			t.Fatal("no client address")
		}
	})
}
