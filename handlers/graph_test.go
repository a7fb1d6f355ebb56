// Graph page: what the page does with Graph's answer.

package handlers

import "testing"

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
