// Package webpage renders server-side pages in a shared layout: each page
// parsed once with the layout, executed into a pooled buffer so that a
// template error becomes a clean error instead of half a page, and the
// layout rendered once per user and page and kept.
package webpage

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"ms-identity-go-webapp/internal/bounded"
)

// Set is a set of pages that share a layout. Each page's templates define
// "title" and "main"; the layout defines "base", which calls "layout_top",
// "main" and "layout_bottom" (or writes the whole page some other way).
type Set struct {
	pages map[string]*template.Template
}

// New returns the set of the parsed pages, by name.
func New(pages map[string]*template.Template) *Set {
	return &Set{pages: pages}
}

// ParseGlob parses each file that glob matches in fsys with the layout file,
// and names the page after the file ("templates/graph.html" is "graph").
// The layout file itself is not a page.
func ParseGlob(fsys fs.FS, layout, glob string, funcs template.FuncMap) (*Set, error) {
	files, err := fs.Glob(fsys, glob)
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, file := range files {
		if file == layout {
			continue
		}
		name := strings.TrimSuffix(path.Base(file), ".html")
		t, err := template.New(name).Funcs(funcs).ParseFS(fsys, layout, file)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", file, err)
		}
		pages[name] = t
	}
	return New(pages), nil
}

// Has reports whether the set has the page.
func (s *Set) Has(page string) bool { return s.pages[page] != nil }

// Render writes the page with status. data is what the page's templates
// see; layout, when not nil, is what the layout shows (the user, a banner,
// the title's heading): a comparable value that data carries too, under the
// same field names. The layout is then rendered from it alone, once per page
// and value, and kept: a kept layout can only ever show the values it is
// keyed by. Nothing is written when Render returns an error.
func (s *Set) Render(w http.ResponseWriter, status int, page string, data, layout any) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("no template %q", page)
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer func() { putBuffer(buf) }()
	if err := s.execute(buf, t, page, data, layout); err != nil {
		return fmt.Errorf("rendering %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		// The client went away mid-answer. An HTTP/2 write that failed
		// may still be queued with these bytes: the buffer is not reused.
		buf = nil
	}
	return nil
}

// Execute writes what the page's "base" template writes for data, as
// Render does but into buf and without a status: for tests that compare it
// with "base" itself.
func (s *Set) Execute(buf *bytes.Buffer, page string, data, layout any) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("no template %q", page)
	}
	return s.execute(buf, t, page, data, layout)
}

// Template returns the page's parsed templates, nil for none.
func (s *Set) Template(page string) *template.Template { return s.pages[page] }

// buffers are the buffers pages are rendered into. A page is a few
// kilobytes: a buffer of its own, grown from nothing, took half a dozen
// allocations and copies for every page.
var buffers = sync.Pool{New: func() any {
	b := new(bytes.Buffer)
	b.Grow(16 << 10)
	return b
}}

// putBuffer returns a buffer to the pool, unless an unusually large page
// grew it: the pool then does not keep that memory.
func putBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > 64<<10 {
		return
	}
	b.Reset()
	buffers.Put(b)
}

// execute writes what the page's "base" template writes: the layout, then
// the page's main block, then the rest of the layout. The layout is the same
// on every page a user sees of one kind, yet it was most of what rendering
// a page cost (html/template calls its escapers through reflection, for
// each value): so it is rendered once per page and layout value and kept,
// and only the main block is executed for each request.
//
// This writes the very bytes "base" would, escaped alike: "base" calls
// layout_top, main and layout_bottom each in HTML text, the context each is
// escaped in when executed alone. A page without the two layout parts, or
// without a layout value, is executed as it is.
func (s *Set) execute(w *bytes.Buffer, t *template.Template, page string, data, layout any) error {
	// A layout value that cannot key a map (one holding a map or a slice)
	// is rendered each time instead of panicking.
	if layout == nil || t.Lookup("layout_top") == nil || t.Lookup("layout_bottom") == nil {
		return t.ExecuteTemplate(w, "base", data)
	}
	l, ok, err := layouts.tryGet(t, layoutKey{t: t, page: page, layout: layout})
	if err != nil {
		return err
	}
	if !ok {
		// A layout value that cannot key a map (it holds a map or a
		// slice) is rendered each time instead.
		return t.ExecuteTemplate(w, "base", data)
	}
	w.Write(l.top)
	w.WriteByte('\n')
	if err := t.ExecuteTemplate(w, "main", data); err != nil {
		return err
	}
	w.WriteByte('\n')
	w.Write(l.bottom)
	return nil
}

// layoutKey is a page's templates, its name and what its layout shows.
type layoutKey struct {
	t      *template.Template
	page   string
	layout any
}

// layouts keeps rendered layouts: about 1.6 KB each, at most MaxLayouts of
// them (the most recent users and pages), 1.6 MB.
var layouts = &layoutCache{}

// MaxLayouts is how many rendered layouts are kept.
const MaxLayouts = 1024

type layoutCache struct {
	entries bounded.Map[layoutKey, *renderedLayout]
}

// renderedLayout is a layout's output before and after the main block.
type renderedLayout struct{ top, bottom []byte }

// tryGet is get, and false when k cannot be hashed: a layout value whose
// dynamic type is not comparable makes a map panic.
func (c *layoutCache) tryGet(t *template.Template, k layoutKey) (l *renderedLayout, ok bool, err error) {
	defer func() {
		if recover() != nil {
			l, ok, err = nil, false, nil
		}
	}()
	l, err = c.get(t, k)
	return l, true, err
}

// get returns the layout of k, rendering it the first time.
func (c *layoutCache) get(t *template.Template, k layoutKey) (*renderedLayout, error) {
	if l, ok := c.entries.Get(k); ok {
		return l, nil
	}
	var top, bottom bytes.Buffer
	if err := t.ExecuteTemplate(&top, "layout_top", k.layout); err != nil {
		return nil, err
	}
	if err := t.ExecuteTemplate(&bottom, "layout_bottom", k.layout); err != nil {
		return nil, err
	}
	l := &renderedLayout{top: top.Bytes(), bottom: bottom.Bytes()}
	c.entries.Put(k, l, 0, bounded.Limit{Entries: MaxLayouts})
	return l, nil
}

// KeptLayouts is how many rendered layouts are kept now.
func KeptLayouts() int { return layouts.entries.Len() }
