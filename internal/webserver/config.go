// Serving settings: where and how the app listens, read from the environment.

package webserver

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"ms-identity-go-webapp/internal/forwarded"
	"ms-identity-go-webapp/internal/logcap"
)

// Config is where and how the app serves.
type Config struct {
	// Host is the address the app listens on: 127.0.0.1 on a developer's
	// machine, 0.0.0.0 in a container behind the platform's proxy (HOST).
	Host string
	Port int // PORT, default 5000
	// TLS is false when a proxy in front of the app terminates HTTPS and
	// the app serves plain HTTP (TLS=off, allowed only with TrustedProxies).
	TLS             bool
	TLSCert, TLSKey string // TLS_CERT, TLS_KEY: the certificate the app serves
	// TrustedProxies are the peers whose X-Forwarded-* and Forwarded
	// headers the app believes (TRUSTED_PROXIES).
	TrustedProxies *forwarded.Proxies
	// LogFormat is "text" or "json" (LOG_FORMAT).
	LogFormat string
	// DrainPeriod is how long the app keeps serving after SIGTERM while
	// /readyz answers 503 (DRAIN_PERIOD).
	DrainPeriod time.Duration
}

// ConfigFromLookup reads the serving settings through lookup, and returns
// every malformed one.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, []error) {
	get := func(name, def string) string {
		if v, _ := lookup(name); strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	cfg := Config{
		Host:      get("HOST", "127.0.0.1"),
		TLSCert:   get("TLS_CERT", "ssl/localhost.crt"),
		TLSKey:    get("TLS_KEY", "ssl/localhost.key"),
		LogFormat: strings.ToLower(get("LOG_FORMAT", "text")),
	}
	var errs []error
	var err error
	if cfg.Port, err = strconv.Atoi(get("PORT", "5000")); err != nil || cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT must be a number from 1 to 65535, not %q", get("PORT", "")))
	}
	if err := checkHost(cfg.Host); err != nil {
		errs = append(errs, err)
	}
	switch tls := strings.ToLower(get("TLS", "on")); tls {
	case "on":
		cfg.TLS = true
	case "off":
	default:
		errs = append(errs, fmt.Errorf("TLS must be on or off, not %q", tls))
	}
	proxies, err := forwarded.ParseProxies(get("TRUSTED_PROXIES", ""))
	if err != nil {
		errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %v", err))
	}
	cfg.TrustedProxies = proxies
	// Plain HTTP is only for the hop from a TLS-terminating proxy. Without
	// a trusted proxy the app could not tell that the browser used HTTPS,
	// and nothing would protect the session cookie on the wire.
	if !cfg.TLS && err == nil && proxies.Empty() {
		errs = append(errs, errors.New("TLS=off needs TRUSTED_PROXIES: the addresses of the proxy that terminates HTTPS in front of the app"))
	}
	switch cfg.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT must be text or json, not %q", cfg.LogFormat))
	}
	if cfg.DrainPeriod, err = time.ParseDuration(get("DRAIN_PERIOD", "5s")); err != nil || cfg.DrainPeriod < 0 {
		errs = append(errs, fmt.Errorf("DRAIN_PERIOD must be a duration such as 5s (or 0s), not %q", get("DRAIN_PERIOD", "")))
	}
	return cfg, errs
}

// checkHost accepts an IP address or a host name to listen on.
func checkHost(h string) error {
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return fmt.Errorf("HOST must be an IP address such as 127.0.0.1 or 0.0.0.0, or a host name, not %q", h)
		}
	}
	return nil
}

// ListenAddr is where the app listens: HOST and PORT.
func (c Config) ListenAddr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// NewLogger returns the app's logger: slog's text handler, or its JSON
// handler (LOG_FORMAT=json) for log pipelines. Both carry the same fields,
// each value cut at logcap.DefaultMax bytes, marked as cut: a 60 KB
// error_description or path still gives a line a person can read.
func NewLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(logcap.NewHandler(slog.NewJSONHandler(w, nil), logcap.DefaultMax))
	}
	return slog.New(logcap.NewHandler(slog.NewTextHandler(w, nil), logcap.DefaultMax))
}
