// Graph page: what the page does with Graph's answer.

package handlers

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"net/http"
	"strings"
	"testing"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/internal/bounded"
)

// Graph's JSON reaches the page indented and HTML-escaped: a value that
// holds markup shows as text.
func TestPrettyJSONEscapes(t *testing.T) {
	got, err := prettyJSON([]byte(`{"displayName":"</code><script>alert('x')</script>&amp;"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  &#34;displayName&#34;: &#34;&lt;/code&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;amp;&#34;\n}"
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := prettyJSON([]byte(`<html>`)); err == nil {
		t.Error("HTML taken for JSON")
	}
}

// The memo of indented answers gives what prettyJSON gives, for each answer
// its own, refuses what is not JSON every time, and stays bounded.
func TestPrettyMemo(t *testing.T) {
	m := &prettyMemo{}
	for i := range 2 * maxPrettyEntries {
		body := fmt.Appendf(nil, `{"displayName":"user <%d>","id":%d}`, i%3, i)
		for range 2 { // made, then remembered
			got, err := m.get(body)
			want, _ := prettyJSON(body)
			if err != nil || got != want {
				t.Fatalf("answer %d: got %q, %v; want %q", i, got, err, want)
			}
		}
		if m.entries.Len() > maxPrettyEntries {
			t.Fatalf("%d entries, more than %d", m.entries.Len(), maxPrettyEntries)
		}
	}
	// Large answers are bounded by their bytes.
	for i := range 400 {
		body := fmt.Appendf(nil, `{"id":%d,"displayName":%q}`, i, strings.Repeat("x", maxPrettyBody-64))
		if _, err := m.get(body); err != nil {
			t.Fatal(err)
		}
		// The newest entry is kept, counting its answer and its indented
		// output: at least twice the answer's bytes.
		if size := m.entries.Bytes(); size > maxPrettyBytes || size < 2*(maxPrettyBody-64) {
			t.Fatalf("the memo counts %d bytes; at most %d, at least %d", size, maxPrettyBytes, 2*(maxPrettyBody-64))
		}
		if e, ok := m.entries.Get(maphash.Bytes(prettySeed, body)); !ok || !bytes.Equal(e.body, body) {
			t.Fatalf("answer %d was not kept", i)
		}
	}
	// A hash collision: another answer's entry under this answer's key.
	body := []byte(`{"displayName":"collides"}`)
	m.entries.Put(maphash.Bytes(prettySeed, body), prettyEntry{[]byte(`{"other":1}`), "WRONG"}, 0, bounded.Limit{})
	if got, _ := m.get(body); got == "WRONG" {
		t.Error("the memo answered with another answer's output")
	}
	for range 2 {
		if _, err := m.get([]byte(`{"displayName":`)); err == nil {
			t.Fatal("truncated JSON accepted")
		}
	}
}

// A signed-in /graph with a cached token shows Graph's /me from the
// configured endpoint and saves nothing: what BenchmarkGraphPage measures,
// checked on every test run.
func TestGraphPageSignedIn(t *testing.T) {
	ba := newBenchApp(t, emulator.Config{})
	ba.page(t)
	rec := get(ba.h, "/graph", []*http.Cookie{ba.cookie})
	if body := rec.Body.String(); !strings.Contains(body, ba.graph) || !strings.Contains(body, "&#34;userPrincipalName&#34;") {
		t.Errorf("/graph does not show %s and its answer:\n%s", ba.graph, excerptOf(body))
	}
}
