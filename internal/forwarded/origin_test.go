package forwarded

import "testing"

func TestCanonicalOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example.com:443":  "https://app.example.com",
		"https://app.example.com":      "https://app.example.com",
		"https://app.example.com/":     "https://app.example.com",
		"https://app.example.com:8443": "https://app.example.com:8443",
		"http://app.example.com:80":    "http://app.example.com",
		"http://app.example.com:443":   "http://app.example.com:443",
		"https://[::1]:443":            "https://[::1]",
		"https://[::1]:5000":           "https://[::1]:5000",
		"https://user@app.example.com": "",
		"https://app.example.com/path": "",
		"https://app.example.com/?q=1": "",
		"app.example.com":              "",
		"https://":                     "",
	} {
		if got := CanonicalOrigin(in); got != want {
			t.Errorf("CanonicalOrigin(%q) = %q, want %q", in, got, want)
		}
	}
}
