package handlers

import "testing"

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/graph", "/graph"},
		{"/token_details?x=1#top", "/token_details?x=1#top"},
		{"/a/b/../c", "/a/b/../c"},
		{"/%2F%2Fevil.example", "/%2F%2Fevil.example"}, // a path on this site, as a browser reads it
		{"//evil.example", "/"},
		{"//evil.example/path", "/"},
		{"///evil.example", "/"},
		{"https://evil.example", "/"},
		{"http:evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/ /evil.example", "/"},
		{"/\u00a0/evil.example", "/"},
		{"evil.example", "/"},
		{"graph", "/"},
		{"/graph\r\nSet-Cookie: x=y", "/"},
	}
	for _, tt := range tests {
		if got := SafeNext(tt.in); got != tt.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, seed := range []string{"/graph", "//evil.example", "/\\evil", "/\t/x", "https://x", "/%2f%2fx", "/a?b=//c"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := SafeNext(next)
		if got != "/" && got != next {
			t.Fatalf("SafeNext(%q) = %q: changed instead of accepted or refused", next, got)
		}
		if got[0] != '/' || (len(got) > 1 && (got[1] == '/' || got[1] == '\\')) {
			t.Fatalf("SafeNext(%q) = %q: not a local path", next, got)
		}
	})
}
