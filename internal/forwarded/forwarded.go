// Package forwarded tells a request's public scheme, host and client address
// behind a reverse proxy, believing the X-Forwarded-* and Forwarded headers
// only when the proxy that sent the request is a trusted one.
//
// It is the Go counterpart of werkzeug's ProxyFix(x_for=1, x_proto=1,
// x_host=1), which the Python samples wrap their app in, with one difference:
// ProxyFix believes the headers from anyone who can reach the app, this
// package only from the addresses in TRUSTED_PROXIES.
package forwarded

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Proxies is the set of addresses whose forwarding headers are believed.
// The zero value and nil trust nobody.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseProxies reads a comma-separated list of IP addresses and CIDR ranges,
// such as "10.0.0.0/8, 192.0.2.7, fd00::/8". An empty list trusts nobody.
func ParseProxies(list string) (*Proxies, error) {
	p := &Proxies{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			prefix, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR range such as 10.0.0.0/8", item)
			}
			if prefix.Addr().Zone() != "" {
				return nil, fmt.Errorf("%q: a range cannot carry an IPv6 zone", item)
			}
			p.prefixes = append(p.prefixes, unmapPrefix(prefix).Masked())
			continue
		}
		addr, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR range (host names are not accepted: a proxy is known by its address)", item)
		}
		addr = addr.Unmap().WithZone("")
		p.prefixes = append(p.prefixes, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return p, nil
}

// unmapPrefix turns ::ffff:10.0.0.0/104 into 10.0.0.0/8, so that a range
// written either way matches the IPv4 peers Go reports.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// Empty reports whether nobody is trusted.
func (p *Proxies) Empty() bool { return p == nil || len(p.prefixes) == 0 }

// Trusted reports whether addr is one of the trusted proxies.
func (p *Proxies) Trusted(addr netip.Addr) bool {
	if p == nil || !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, prefix := range p.prefixes {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// String lists the trusted ranges, for the start-up line.
func (p *Proxies) String() string {
	if p.Empty() {
		return "none"
	}
	s := make([]string, len(p.prefixes))
	for i, prefix := range p.prefixes {
		if prefix.IsSingleIP() {
			s[i] = prefix.Addr().String()
		} else {
			s[i] = prefix.String()
		}
	}
	return strings.Join(s, ", ")
}

// Request is what the browser used to reach the app: the public side of
// the request, which the app compares with its configured origin.
type Request struct {
	Scheme string // "https" or "http"
	Host   string // host[:port], as the browser sent it
	// Client is the address of the browser's side of the nearest trusted
	// proxy, or the peer's when no trusted proxy is involved. It is invalid
	// only when the server gave no usable peer address.
	Client netip.Addr
	// ViaProxy is true when the request came from a trusted proxy (whether
	// or not it carried forwarding headers).
	ViaProxy bool
}

// Resolve returns the public side of r. From a peer that is not a trusted
// proxy, every forwarding header is ignored: the scheme is the connection's,
// the host is r.Host and the client is the peer.
//
// From a trusted peer it believes only what that peer added, the last value
// of each header: a proxy appends its own hop to X-Forwarded-For and to
// Forwarded, and whatever stands before that came from further away, where
// anyone can write anything. When the request carries any X-Forwarded-For,
// -Proto or -Host header, those are used and Forwarded is ignored; only
// without them is the last element of Forwarded (RFC 7239) read. So a proxy
// that sets the X-Forwarded-* headers, as nginx, Azure App Service and Azure
// Container Apps do, cannot be bypassed with a Forwarded header a client
// made up (nginx passes unknown headers on).
func (p *Proxies) Resolve(r *http.Request) Request {
	req := Request{Scheme: "http", Host: r.Host, Client: peerAddr(r.RemoteAddr)}
	if r.TLS != nil {
		req.Scheme = "https"
	}
	if !p.Trusted(req.Client) {
		return req
	}
	req.ViaProxy = true

	var scheme, host, client string
	h := r.Header
	if len(h.Values("X-Forwarded-For")) > 0 || len(h.Values("X-Forwarded-Proto")) > 0 || len(h.Values("X-Forwarded-Host")) > 0 {
		client = lastValue(h.Values("X-Forwarded-For"))
		scheme = lastValue(h.Values("X-Forwarded-Proto"))
		host = lastValue(h.Values("X-Forwarded-Host"))
	} else if elements := h.Values("Forwarded"); len(elements) > 0 {
		pairs := lastForwardedElement(elements)
		client, scheme, host = pairs["for"], pairs["proto"], pairs["host"]
	}

	if s := strings.ToLower(scheme); s == "http" || s == "https" {
		req.Scheme = s
	}
	if validHost(host) {
		req.Host = host
	}
	if addr := nodeAddr(client); addr.IsValid() {
		req.Client = addr
	}
	return req
}

// peerAddr parses http.Request.RemoteAddr ("192.0.2.1:1234", "[::1]:80").
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	if addr, err := netip.ParseAddr(remote); err == nil {
		return addr.Unmap()
	}
	return netip.Addr{}
}

// lastValue returns the last comma-separated value of a header that may
// appear on several lines, which HTTP treats as one comma-joined list.
func lastValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	last := lines[len(lines)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.TrimSpace(last)
}

// nodeAddr reads an address as proxies write it: "192.0.2.1",
// "192.0.2.1:4711" (Azure Application Gateway adds the port), "2001:db8::1",
// "[2001:db8::1]:4711". Anything else ("unknown", an obfuscated "_hidden"
// name) is no address.
func nodeAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return addr.Unmap().WithZone("")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	return netip.Addr{}
}

// validHost accepts a host[:port] as a Host header holds it: a name or an
// IP address (IPv6 in brackets) and an optional numeric port. It rejects
// anything that could change a URL's meaning (userinfo, a path, spaces).
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	host := h
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		port := h[i+1:]
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return false
		}
		host = h[:i]
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		addr, err := netip.ParseAddr(host[1 : len(host)-1])
		return err == nil && addr.Is6() && addr.Zone() == ""
	}
	if host == "" {
		return false
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// lastForwardedElement parses the last element of a Forwarded header
// (RFC 7239, section 4): "for=192.0.2.60;proto=https;host=example.com",
// values plain or quoted. Parameter names are case-insensitive.
func lastForwardedElement(lines []string) map[string]string {
	elements := splitOutsideQuotes(strings.Join(lines, ","), ',')
	pairs := map[string]string{}
	if len(elements) == 0 {
		return pairs
	}
	for _, pair := range splitOutsideQuotes(elements[len(elements)-1], ';') {
		name, value, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = strings.ReplaceAll(value[1:len(value)-1], `\`, "")
		}
		if _, seen := pairs[name]; !seen { // RFC 7239: each parameter at most once
			pairs[name] = value
		}
	}
	return pairs
}

// splitOutsideQuotes splits s at sep, except inside a quoted string.
func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case c == '\\' && quoted:
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// CanonicalOrigin lowercases an origin and drops its scheme's default port,
// so that https://App.example.com:443 and https://app.example.com compare
// equal. It returns "" for anything that is not scheme://host[:port].
func CanonicalOrigin(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return ""
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if h, port, err := net.SplitHostPort(host); err == nil &&
		(scheme == "https" && port == "443" || scheme == "http" && port == "80") {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	return scheme + "://" + host
}
