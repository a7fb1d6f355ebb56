// Tests of SafeNext: the return path after a sign-in is a path on this site, or the home page.

package entra

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
