// Tests of the serving settings: their defaults, and every malformed one named at once.

package webserver

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromLookup(t *testing.T) {
	lookup := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	cfg, errs := ConfigFromLookup(lookup(nil))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if cfg.ListenAddr() != "127.0.0.1:5000" || !cfg.TLS || cfg.TLSCert != "ssl/localhost.crt" || cfg.TLSKey != "ssl/localhost.key" ||
		!cfg.TrustedProxies.Empty() || cfg.LogFormat != "text" || cfg.DrainPeriod != 5*time.Second {
		t.Errorf("defaults: %+v", cfg)
	}

	// Blank values are unset.
	if cfg, errs := ConfigFromLookup(lookup(map[string]string{"PORT": " ", "TLS": ""})); len(errs) != 0 || cfg.Port != 5000 || !cfg.TLS {
		t.Errorf("blank PORT and TLS: %v, %+v", errs, cfg)
	}

	_, errs = ConfigFromLookup(lookup(map[string]string{"PORT": "70000", "HOST": "0.0.0.0:8000", "TLS": "maybe",
		"TRUSTED_PROXIES": "nginx.internal", "LOG_FORMAT": "xml", "DRAIN_PERIOD": "-1s"}))
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	for _, name := range []string{"PORT", "HOST", "TLS", "TRUSTED_PROXIES", "LOG_FORMAT", "DRAIN_PERIOD"} {
		named := false
		for _, msg := range got {
			named = named || strings.HasPrefix(msg, name+" ") || strings.HasPrefix(msg, name+":")
		}
		if !named {
			t.Errorf("no error names %s: %q", name, got)
		}
	}

	// Plain HTTP only behind a trusted proxy.
	if _, errs := ConfigFromLookup(lookup(map[string]string{"TLS": "off"})); len(errs) != 1 || !strings.Contains(errs[0].Error(), "TLS=off needs TRUSTED_PROXIES") {
		t.Errorf("TLS=off alone: %v", errs)
	}
	if cfg, errs := ConfigFromLookup(lookup(map[string]string{"TLS": "off", "TRUSTED_PROXIES": "10.0.0.0/8"})); len(errs) != 0 || cfg.TLS {
		t.Errorf("TLS=off behind a proxy: %v, TLS %v", errs, cfg.TLS)
	}
}
