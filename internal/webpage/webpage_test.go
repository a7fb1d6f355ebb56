// Tests of rendering: a kept layout writes what "base" writes, a failing page writes nothing, and the kept layouts are bounded.

package webpage_test

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"ms-identity-go-webapp/internal/webpage"
)

// layout is what the test layout shows; page is a page's data, which
// carries the layout's fields under the same names.
type layout struct {
	User    string
	Heading string
}

type page struct {
	layout
	Body      string
	RequestID string
}

var files = fstest.MapFS{
	"templates/base.html": {Data: []byte(`{{define "base"}}{{template "layout_top" .}}
{{template "main" .}}
{{template "layout_bottom" .}}{{end}}
{{define "layout_top"}}<!doctype html><title>{{template "title" .}}</title><a href="/u?name={{.User}}" title="{{.Heading}}">{{.User}}</a><main>{{end}}
{{define "layout_bottom"}}</main><script>var user = {{.User}};</script>{{end}}`)},
	"templates/hello.html":  {Data: []byte(`{{define "title"}}Hello {{.Heading}}{{end}}{{define "main"}}<p>{{.Body}}</p><a href="{{.Body}}">x</a>{{end}}`)},
	"templates/broken.html": {Data: []byte(`{{define "title"}}t{{end}}{{define "main"}}half a page {{.NoSuchField}}{{end}}`)},
}

func parse(t testing.TB) *webpage.Set {
	t.Helper()
	set, err := webpage.ParseGlob(files, "templates/base.html", "templates/*.html", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !set.Has("hello") || !set.Has("broken") || set.Has("base") {
		t.Fatal("ParseGlob named the pages wrongly")
	}
	return set
}

// A page rendered with its layout kept is what "base" writes, escaped in
// each context alike, and with this request's values, never an earlier
// one's.
func TestExecuteIsBase(t *testing.T) {
	set := parse(t)
	for round := range 2 {
		for _, user := range []string{"Alice", `<script>alert("x")</script> & 'Co'`, "", "Alice"} {
			d := page{layout: layout{User: user, Heading: "<h> " + user}, Body: "javascript:alert(1) <b>", RequestID: fmt.Sprint(round)}
			var want, got bytes.Buffer
			if err := set.Template("hello").ExecuteTemplate(&want, "base", &d); err != nil {
				t.Fatal(err)
			}
			if err := set.Execute(&got, "hello", &d, d.layout); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("%q (round %d): Execute wrote\n%s\nbase writes\n%s", user, round, got.Bytes(), want.Bytes())
			}
			// Without a layout value, the page is executed as it is.
			got.Reset()
			if err := set.Execute(&got, "hello", &d, nil); err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("%q without a layout value: %v\n%s", user, err, got.Bytes())
			}
		}
	}
	if err := set.Execute(&bytes.Buffer{}, "nope", page{}, layout{}); err == nil {
		t.Error("a page that does not exist rendered")
	}
}

// A page whose template fails half-way writes nothing: no status, no
// header, no half a page.
func TestRenderFailureWritesNothing(t *testing.T) {
	set := parse(t)
	rec := httptest.NewRecorder()
	d := page{layout: layout{User: "Alice"}}
	err := set.Render(rec, 200, "broken", &d, d.layout)
	if err == nil || !strings.Contains(err.Error(), "NoSuchField") {
		t.Fatalf("error %v, want one naming the field", err)
	}
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" || rec.Flushed {
		t.Errorf("a failed page wrote %q, Content-Type %q", rec.Body, rec.Header().Get("Content-Type"))
	}
	rec = httptest.NewRecorder()
	if err := set.Render(rec, 201, "hello", &d, d.layout); err != nil || rec.Code != 201 ||
		rec.Header().Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(rec.Body.String(), "Alice") {
		t.Errorf("hello: %v, %d %q", err, rec.Code, rec.Header().Get("Content-Type"))
	}
}

// However many users see pages, at most MaxLayouts layouts are kept.
func TestLayoutCacheIsBounded(t *testing.T) {
	set := parse(t)
	var buf bytes.Buffer
	for i := range 2 * webpage.MaxLayouts {
		buf.Reset()
		d := page{layout: layout{User: fmt.Sprint("user ", i)}}
		if err := set.Execute(&buf, "hello", &d, d.layout); err != nil {
			t.Fatal(err)
		}
		if n := webpage.KeptLayouts(); n > webpage.MaxLayouts {
			t.Fatalf("%d layouts kept, more than %d", n, webpage.MaxLayouts)
		}
	}
	if n := webpage.KeptLayouts(); n < webpage.MaxLayouts/2 {
		t.Errorf("only %d layouts kept: the cache keeps too few to help", n)
	}
}

// A layout value that cannot key a map (it holds a slice behind an
// interface) is rendered without the cache instead of panicking.
func TestUnhashableLayoutRenders(t *testing.T) {
	set := parse(t)
	type withAny struct {
		User    string
		Heading string
		Extra   any
	}
	type pageAny struct {
		withAny
		Body string
	}
	d := pageAny{withAny: withAny{User: "ann", Heading: "h", Extra: []string{"not", "hashable"}}, Body: "b"}
	rec := httptest.NewRecorder()
	if err := set.Render(rec, 200, "hello", &d, d.withAny); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec.Body.String(), "<p>b</p>") || !strings.Contains(rec.Body.String(), ">ann</a>") {
		t.Errorf("the page: %s", rec.Body)
	}
}
