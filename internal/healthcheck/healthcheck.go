// Package healthcheck is the app's check of its own /healthz, for a
// container's HEALTHCHECK: the image has no shell and no curl to run one, so
// the binary does it (ms-identity-go-webapp -healthcheck).
package healthcheck

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Timeout bounds one check: well within the image's HEALTHCHECK --timeout
// (5 s), so that a hanging app is reported by this check, with a reason,
// rather than by the runtime killing it.
const Timeout = 3 * time.Second

// URL is where the app configured by lookup serves /healthz: its HOST,
// PORT and TLS settings, with the app's defaults (127.0.0.1, 5000, on). An
// app listening on every interface (0.0.0.0 or ::) is asked on loopback.
func URL(lookup func(string) (string, bool)) string {
	get := func(name, def string) string {
		if v, _ := lookup(name); strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	host := get("HOST", "127.0.0.1")
	switch host {
	case "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "https"
	if strings.EqualFold(get("TLS", "on"), "off") {
		scheme = "http"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, get("PORT", "5000")), Path: "/healthz"}
	return u.String()
}

// Check requests target and returns nil when it answers 200 OK. It follows
// no redirect and uses no proxy. Over HTTPS it does not verify the
// certificate: it asks the app's own port, normally on loopback, sends
// nothing secret, and only the status matters, while the certificate names
// the public host, not the address asked.
func Check(ctx context.Context, target string) error {
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:             nil,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", target, resp.Status)
	}
	return nil
}

// Main checks the app configured by lookup once, within Timeout, and
// returns the exit status a container's HEALTHCHECK expects: 0 healthy,
// 1 unhealthy, with one line to w saying why.
func Main(lookup func(string) (string, bool), w io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := Check(ctx, URL(lookup)); err != nil {
		fmt.Fprintln(w, "unhealthy:", err)
		return 1
	}
	return 0
}
