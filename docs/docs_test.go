// The tutorial is README.md and docs/**/*.md. These tests keep it true: a
// relative link or image must reach a file, and its #anchor a heading; a file
// path in backticks must exist; a Go name in parentheses after a .go file
// must be declared in that file; every screenshot in docs/images must be
// shown somewhere.
//
// Each check is a method of checker, which reads one repository root:
// TestDocs runs them on this repository, TestChecksFindPlantedErrors on
// fixtures in testdata/ where each kind of error is planted, and
// TestChecksPassCleanFixture on a fixture full of constructs that must not be
// reported.

package docs_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"html"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// notInRepository lists the paths that the docs name in backticks but that
// are not in a checkout, each with the reason. Keep it short: anything else
// the docs name must be in the repository. An entry no document names any
// more is reported, so that the list does not outlive its reasons.
var notInRepository = map[string]string{
	// Made by a documented command.
	".env":                   "cp .env.sample .env, or go run ./cmd/register, writes it",
	".app-registration.json": "go run ./cmd/register writes it",
	"ssl/localhost.crt":      "./run.dev.sh runs ssl/generate-local-cert.sh, which makes it (git ignores it)",
	"ssl/localhost.key":      "./run.dev.sh runs ssl/generate-local-cert.sh, which makes it (git ignores it)",
	"ssl/client-cert.pem":    "ssl/generate-client-cert.sh makes it (git ignores it)",
	"ssl/client-cert.crt":    "ssl/generate-client-cert.sh makes it (git ignores it)",
	// A name, not a place.
	"base.html": "the layout of an app's Config.Templates (templates/base.html in the sample, entra/templates/base.html in entra)",
}

// otherRepoColumns are the headers of table columns that name another
// repository's files, whose paths are not checked.
var otherRepoColumns = map[string]string{
	"Python sample":           "README's table of the Python samples: their repositories and files",
	"Route, template or file": "README's table of the Python samples: their routes, templates and files",
}

func TestDocs(t *testing.T) {
	c, err := newChecker("..", notInRepository)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.docs) == 0 {
		t.Fatal("no README.md or docs/**/*.md found")
	}
	for _, check := range c.checks() {
		t.Run(check.name, func(t *testing.T) {
			for _, p := range check.run() {
				t.Error(p)
			}
		})
	}
	t.Logf("%d documents; checked %d relative links and images, %d paths, %d names, %d files of docs/images",
		len(c.docs), c.checked["links"], c.checked["paths"], c.checked["names"], c.checked["images"])
}

// TestChecksFindPlantedErrors proves that each check fails: every error
// planted in testdata/planted is found, at its line, and nothing else is.
func TestChecksFindPlantedErrors(t *testing.T) {
	// A copy, with what git cannot hold or CI would refuse: directories with
	// no file, and a Go file that does not parse (CI's gofmt reads every .go
	// file in git).
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/planted")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "pkg", "empty", "empty too"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "pkg", "broken.go"), []byte("package pkg\n\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := newChecker(root, map[string]string{
		".env":            "named by the fixture",
		"made-later.json": "named by no document, so reported",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"links": {
			"README.md:9: link to missing.md: no such file",
			"README.md:10: image docs/images/gone.png: no such file",
			"README.md:11: link to #no-such-heading: README.md has no heading that makes this anchor",
			"README.md:12: link to docs/guide.md#the-start: docs/guide.md has no heading that makes this anchor",
			"README.md:13: image docs/images/absent.png: no such file",
			"README.md:14: link to #first-steps-2: README.md has no heading that makes this anchor",
			"README.md:15: link to ../outside.md: outside the repository",
			"README.md:16: link to docs/Guide.md: no such file",
			"README.md:17: link to #not-a-heading: README.md has no heading that makes this anchor",
			"docs/guide.md:5: link to ../README.md#installing: README.md has no heading that makes this anchor",
			"docs/guide.md:6: image images/missing.png: no such file",
			"docs/guide.md:7: link to ../pkg/nothere.go: no such file",
		},
		"paths": {
			"README.md:19: `pkg/missing.go`: no such file or directory in the repository",
			"README.md:20: `pkg/gone/`: no such file or directory in the repository",
			"README.md:21: `notes.txt`: no such file or directory in the repository",
			"README.md:22: `example.com/planted/nothing`: no such file or directory in the repository",
			"README.md:23: `pkg/lib.go/`: no such file or directory in the repository",
			"README.md:24: `pkg/empty`: no such file or directory in the repository",
			"docs/guide.md:10: `images/shown.png`: no such file or directory in the repository " +
				"(it is relative to docs/guide.md; paths in backticks are relative to the repository's root: write `docs/images/shown.png`)",
			`docs/docs_test.go: "made-later.json" is allowed not to exist, but no document names it: remove it from the list`,
		},
		"names": {
			"README.md:27: `pkg/lib.go` does not declare `Renamed`",
			"README.md:28: `pkg/lib.go` does not declare `gone`",
			"README.md:28: `pkg/lib.go` does not declare `Missing`",
			"README.md:29: `pkg/broken.go`: cannot parse: pkg/broken.go:3:1: expected declaration, found '}'",
			"docs/guide.md:13: `pkg/lib.go` does not declare `stillThere`",
		},
		"images": {
			"docs/images/unused.png: not shown by README.md or any docs/**/*.md",
		},
	}
	for _, check := range c.checks() {
		t.Run(check.name, func(t *testing.T) {
			var got []string
			for _, p := range check.run() {
				got = append(got, p.String())
			}
			for _, w := range want[check.name] {
				if !slices.Contains(got, w) {
					t.Errorf("not found: %s", w)
				}
			}
			for _, g := range got {
				if !slices.Contains(want[check.name], g) {
					t.Errorf("unexpected: %s", g)
				}
			}
		})
	}
}

// TestChecksPassCleanFixture: testdata/clean holds what the checks must
// accept (duplicate headings, markup in headings, code blocks, comments,
// qualified names, methods, standard-library paths, ...); none is reported.
func TestChecksPassCleanFixture(t *testing.T) {
	c, err := newChecker("testdata/clean", map[string]string{".env": "a test of the allow-list"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.docs) != 3 {
		t.Errorf("found %d documents, want 3 (README.md, docs/a.md, docs/deep/b.md)", len(c.docs))
	}
	for _, check := range c.checks() {
		for _, p := range check.run() {
			t.Errorf("%s: %s", check.name, p)
		}
	}
}

// TestSlug pins the slugger to anchors GitHub makes: its TableOfContentsFilter
// takes the heading's text, lowercases it, removes every character that is
// not a letter, mark, decimal digit, connector (_), hyphen or space, and turns
// each space into a hyphen; a repeated anchor gets -1, -2, ...
func TestSlug(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"Sign in users with Microsoft Entra ID — a Go web app", "sign-in-users-with-microsoft-entra-id--a-go-web-app"},
		{"Single sign-on, the account picker and incremental consent", "single-sign-on-the-account-picker-and-incremental-consent"},
		{"1. Register the app in the Microsoft Entra admin center", "1-register-the-app-in-the-microsoft-entra-admin-center"},
		{"Signing out everywhere: front-channel logout", "signing-out-everywhere-front-channel-logout"},
		{"What is left, and why", "what-is-left-and-why"},
		{"A 401 for scripts", "a-401-for-scripts"},
		{"`go test ./...` runs it", "go-test--runs-it"},
		{"The `__Host-session` cookie", "the-__host-session-cookie"},
		{"_Emphasis_ and **strong** and *em*", "emphasis-and-strong-and-em"},
		{"snake_case stays", "snake_case-stays"},
		{"A [link](https://example.com) in it", "a-link-in-it"},
		{"An image ![alt text](x.png) in it", "an-image--in-it"},
		{"<code>HTML</code> tags &amp; entities", "html-tags--entities"},
		{"C++ & Go: 100% (really)!", "c--go-100-really"},
		{"Über straße Ĳ", "über-straße-ĳ"},
		{"x² and ½", "x-and-"},
		{"Escaped \\_underscore\\_", "escaped-_underscore_"},
		{"Trailing hashes ##", "trailing-hashes"},
	} {
		h := strings.TrimSpace(atxHeading.FindStringSubmatch("## " + tc.heading)[2])
		if got := slug(headingText(h)); got != tc.want {
			t.Errorf("slug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
	d := parseDoc("x.md", "# Run it\n## Run it\n### Run it\n# Run it-1\n")
	want := map[string]bool{"run-it": true, "run-it-1": true, "run-it-2": true, "run-it-1-1": true}
	if !maps.Equal(d.anchors, want) {
		t.Errorf("anchors of repeated headings = %v, want %v", d.anchors, want)
	}
}

// problem is one thing wrong in the docs: file:line: what.
type problem struct {
	file string // relative to the root, with slashes
	line int    // 0: the file as a whole
	msg  string
}

func (p problem) String() string {
	if p.line == 0 {
		return p.file + ": " + p.msg
	}
	return fmt.Sprintf("%s:%d: %s", p.file, p.line, p.msg)
}

// checker reads README.md and docs/**/*.md under a repository root.
type checker struct {
	root    string
	allowed map[string]string // notInRepository, or a fixture's
	module  string            // go.mod's module path, "" without one
	docs    []*doc            // README.md, then docs/**/*.md in lexical order
	other   map[string]*doc   // other Markdown files that links point to
	dirs    map[string]map[string]bool
	goFiles map[string]*goFile
	checked map[string]int // what each check looked at, for the log
}

func newChecker(root string, allowed map[string]string) (*checker, error) {
	c := &checker{
		root:    root,
		allowed: allowed,
		other:   map[string]*doc{},
		dirs:    map[string]map[string]bool{},
		goFiles: map[string]*goFile{},
		checked: map[string]int{},
	}
	if mod, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil {
		if m := moduleLine.FindSubmatch(mod); m != nil {
			c.module = strings.Trim(string(m[1]), `"`)
		}
	}
	names := []string{}
	if _, err := os.Stat(filepath.Join(root, "README.md")); err == nil {
		names = append(names, "README.md")
	}
	docsDir := filepath.Join(root, "docs")
	err := filepath.WalkDir(docsDir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == docsDir {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if e.IsDir() && rel == "docs/testdata" { // these tests' fixtures
			return filepath.SkipDir
		}
		if !e.IsDir() && strings.HasSuffix(rel, ".md") {
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		c.docs = append(c.docs, parseDoc(name, string(src)))
	}
	return c, nil
}

type check struct {
	name string
	run  func() []problem
}

func (c *checker) checks() []check {
	return []check{
		{"links", c.checkLinks},
		{"paths", c.checkPaths},
		{"names", c.checkNames},
		{"images", c.checkImagesShown},
	}
}

// --- Markdown ---

// doc is one Markdown file, read just enough for these checks.
type doc struct {
	path    string // relative to the root, with slashes
	prose   string // src with fenced code blocks and HTML comments blanked
	spans   []span // code spans of prose
	lines   []int  // the offset where each line starts
	refs    []ref  // links, images, <img src>, <a href>
	anchors map[string]bool
}

// span is a code span: its text, where its backticks start and end, and
// the header of its table column when it is in a table.
type span struct {
	start, end int
	text       string
	column     string
}

// ref is a link or image target as written.
type ref struct {
	off    int
	target string
	image  bool
}

var (
	fenceOpen  = regexp.MustCompile("^[ \t]*(`{3,}|~{3,})")
	atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	setextLine = regexp.MustCompile(`^ {0,3}(=+|-+)[ \t]*$`)
	// [text](target "title") and ![alt](target): the text may hold one level
	// of brackets and run over lines.
	inlineLink   = regexp.MustCompile(`(!?)\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^<>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^()]*\)))?\s*\)`)
	refDef       = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:[ \t]*(<[^<>\n]*>|\S+)`)
	htmlRef      = regexp.MustCompile(`(?is)<(img|a)\b[^>]*?\s(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)')`)
	htmlID       = regexp.MustCompile(`(?is)<[a-z][a-z0-9]*\b[^>]*?\s(?:id|name)\s*=\s*(?:"([^"]*)"|'([^']*)')`)
	htmlTag      = regexp.MustCompile(`</?[A-Za-z][^<>]*>`)
	tableDelim   = regexp.MustCompile(`^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$`)
	scheme       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	orderedItem  = regexp.MustCompile(`^\d+[.)](\s|$)`)
	majorVersion = regexp.MustCompile(`^v\d+$`)
	moduleLine   = regexp.MustCompile(`(?m)^module\s+(\S+)`)
)

func parseDoc(name, src string) *doc {
	d := &doc{path: name, lines: []int{0}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			d.lines = append(d.lines, i+1)
		}
	}
	prose := []byte(src)
	blank := func(from, to int) {
		for i := from; i < to; i++ {
			if prose[i] != '\n' {
				prose[i] = ' '
			}
		}
	}
	// Fenced code blocks: from a line starting with ``` or ~~~ to a line
	// of the same characters, at least as many, and nothing else (or to the
	// end, as CommonMark says).
	fence := ""
	for i, start := range d.lines {
		end := len(src)
		if i+1 < len(d.lines) {
			end = d.lines[i+1]
		}
		line := strings.TrimRight(src[start:end], "\r\n")
		if fence == "" {
			if m := fenceOpen.FindStringSubmatch(line); m != nil &&
				!(m[1][0] == '`' && strings.Contains(line[len(m[0]):], "`")) {
				fence = m[1]
				blank(start, end)
			}
			continue
		}
		blank(start, end)
		if t := strings.TrimSpace(line); strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
			fence = ""
		}
	}
	// HTML comments are not shown.
	for from := 0; ; {
		i := bytes.Index(prose[from:], []byte("<!--"))
		if i < 0 {
			break
		}
		i += from
		j := bytes.Index(prose[i+4:], []byte("-->"))
		end := len(prose)
		if j >= 0 {
			end = i + 4 + j + 3
		}
		blank(i, end)
		from = end
	}
	d.prose = string(prose)
	// Code spans: a run of backticks up to a run of as many, within a
	// paragraph. plain is prose without them, for finding links.
	plain := []byte(d.prose)
	p := d.prose
	for i := 0; i < len(p); {
		switch {
		case p[i] == '\\' && i+1 < len(p) && p[i+1] != '\n':
			i += 2
			continue
		case p[i] != '`':
			i++
			continue
		}
		n := runLen(p, i, '`')
		closing := -1
		for j := i + n; j < len(p); {
			if p[j] == '`' {
				m := runLen(p, j, '`')
				if m == n {
					closing = j
					break
				}
				j += m
				continue
			}
			if p[j] == '\n' && blankLineAt(p, j+1) {
				break
			}
			j++
		}
		if closing < 0 {
			i += n
			continue
		}
		text := strings.ReplaceAll(p[i+n:closing], "\n", " ")
		if len(text) > 2 && text[0] == ' ' && text[len(text)-1] == ' ' && strings.TrimSpace(text) != "" {
			text = text[1 : len(text)-1]
		}
		d.spans = append(d.spans, span{start: i, end: closing + n, text: text})
		for k := i; k < closing+n; k++ {
			if plain[k] != '\n' {
				plain[k] = ' '
			}
		}
		i = closing + n
	}
	text := string(plain)
	d.tableColumns(text)
	for _, m := range inlineLink.FindAllStringSubmatchIndex(text, -1) {
		d.refs = append(d.refs, ref{off: m[4], target: text[m[4]:m[5]], image: m[3] > m[2]})
	}
	for _, m := range refDef.FindAllStringSubmatchIndex(text, -1) {
		d.refs = append(d.refs, ref{off: m[2], target: text[m[2]:m[3]]})
	}
	for _, m := range htmlRef.FindAllStringSubmatchIndex(text, -1) {
		v := 4
		if m[v] < 0 {
			v = 6
		}
		d.refs = append(d.refs, ref{off: m[v], target: html.UnescapeString(text[m[v]:m[v+1]]),
			image: !strings.EqualFold(text[m[2]:m[3]], "a")})
	}
	sort.Slice(d.refs, func(i, j int) bool { return d.refs[i].off < d.refs[j].off })
	d.anchors = map[string]bool{}
	for _, m := range htmlID.FindAllStringSubmatch(text, -1) {
		d.anchors[m[1]+m[2]] = true
	}
	// Headings, ATX (# Title) and setext (Title, then === or ---), in order.
	var prev string
	prevBlankBefore := true
	for i, start := range d.lines {
		end := len(p)
		if i+1 < len(d.lines) {
			end = d.lines[i+1]
		}
		line := strings.TrimRight(p[start:end], "\r\n")
		heading, ok := "", false
		if m := atxHeading.FindStringSubmatch(line); m != nil {
			heading, ok = m[2], true
		} else if setextLine.MatchString(line) && isParagraphLine(prev) && prevBlankBefore {
			heading, ok = strings.TrimSpace(prev), true
		}
		if ok {
			base := slug(headingText(heading))
			for n := 0; ; n++ {
				a := base
				if n > 0 {
					a += "-" + strconv.Itoa(n)
				}
				if !d.anchors[a] {
					d.anchors[a] = true
					break
				}
			}
		}
		prevBlankBefore = strings.TrimSpace(prev) == ""
		prev = line
		if ok {
			prev = ""
		}
	}
	return d
}

// tableColumns sets the column header of every code span in a table: a
// header row with pipes, a delimiter row (|---|---|), then rows up to a
// blank line. plain is the prose without code spans, whose pipes do not
// separate cells.
func (d *doc) tableColumns(plain string) {
	row := func(s string, i int) string {
		end := len(s)
		if i+1 < len(d.lines) {
			end = d.lines[i+1]
		}
		return strings.TrimRight(s[d.lines[i]:end], "\r\n")
	}
	// pipes are the offsets of the cell separators of a row, but a leading one.
	pipes := func(row string) []int {
		var at []int
		for k := 0; k < len(row); k++ {
			if row[k] == '\\' {
				k++
			} else if row[k] == '|' {
				at = append(at, k)
			}
		}
		if len(at) > 0 && strings.TrimSpace(row[:at[0]]) == "" {
			at = at[1:]
		}
		return at
	}
	header := map[int][]string{} // line index → the headers of its table
	for i := 0; i+1 < len(d.lines); i++ {
		head, delim := row(plain, i), row(plain, i+1)
		if !strings.Contains(head, "|") || !strings.Contains(delim, "|") || !tableDelim.MatchString(delim) {
			continue
		}
		text, from := row(d.prose, i), strings.Index(head, "|")+1
		if strings.TrimSpace(head[:from-1]) != "" {
			from = 0
		}
		var cells []string
		for _, k := range append(pipes(head), len(head)) {
			cells = append(cells, headingText(strings.TrimSpace(text[from:k])))
			from = min(k+1, len(head))
		}
		for k := i; k < len(d.lines) && strings.TrimSpace(row(plain, k)) != ""; k++ {
			header[k] = cells
		}
	}
	for n := range d.spans {
		s := &d.spans[n]
		i := d.line(s.start) - 1
		if cells, ok := header[i]; ok {
			if col := len(pipes(plain[d.lines[i]:s.start])); col < len(cells) {
				s.column = cells[col]
			}
		}
	}
}

func runLen(s string, i int, c byte) int {
	n := 0
	for i+n < len(s) && s[i+n] == c {
		n++
	}
	return n
}

// blankLineAt reports whether the line starting at i is empty or spaces.
func blankLineAt(s string, i int) bool {
	for ; i < len(s) && s[i] != '\n'; i++ {
		if s[i] != ' ' && s[i] != '\t' && s[i] != '\r' {
			return false
		}
	}
	return true
}

// isParagraphLine reports whether a line is plain text that a setext
// underline turns into a heading (not a list item, quote, table or tag).
func isParagraphLine(line string) bool {
	t := strings.TrimSpace(line)
	if t == "" || len(line)-len(strings.TrimLeft(line, " ")) > 3 {
		return false
	}
	if strings.ContainsAny(t[:1], "#>-*+|<=") {
		return false
	}
	return !orderedItem.MatchString(t)
}

func (d *doc) line(off int) int {
	return sort.Search(len(d.lines), func(i int) bool { return d.lines[i] > off })
}

// headingText is what a heading shows: code spans as their text, links as
// their text, no images, no HTML tags, no emphasis, entities decoded.
func headingText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", s[i+1]) >= 0:
			b.WriteByte(s[i+1])
			i += 2
			continue
		case c == '`':
			n := runLen(s, i, '`')
			if j := strings.Index(s[i+n:], s[i:i+n]); j >= 0 && runLen(s, i+n+j, '`') == n {
				b.WriteString(strings.TrimSpace(s[i+n : i+n+j]))
				i += n + j + n
				continue
			}
			b.WriteString(s[i : i+n])
			i += n
			continue
		case c == '!' && strings.HasPrefix(s[i+1:], "["):
			if m := inlineLink.FindStringIndex(s[i:]); m != nil && m[0] == 0 {
				i += m[1]
				continue
			}
		case c == '[':
			if m := inlineLink.FindStringSubmatchIndex(s[i:]); m != nil && m[0] == 0 {
				textEnd := strings.LastIndex(s[i:i+m[4]], "](")
				b.WriteString(headingText(s[i+1 : i+textEnd]))
				i += m[1]
				continue
			}
		case c == '<':
			if m := htmlTag.FindStringIndex(s[i:]); m != nil && m[0] == 0 {
				i += m[1]
				continue
			}
		case c == '_' || c == '*':
			// An emphasis delimiter unless it is inside a word (snake_case).
			n := runLen(s, i, c)
			before, after := i > 0 && isWordByte(s[i-1]), i+n < len(s) && isWordByte(s[i+n])
			if c == '_' && before && after {
				b.WriteString(s[i : i+n])
			}
			i += n
			continue
		case c == '&':
			if j := strings.IndexByte(s[i:], ';'); j > 0 && j < 10 {
				b.WriteString(html.UnescapeString(s[i : i+j+1]))
				i += j + 1
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return strings.TrimSpace(b.String())
}

func isWordByte(c byte) bool {
	return c >= 0x80 || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// slug is GitHub's anchor for a heading's text (before -1, -2, ...).
func slug(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// --- files ---

// exists reports whether rel, a clean slash path under the root, names a file
// or a directory, as a checkout has them: names compared exactly, as GitHub
// does, whatever the file system's case rules; a directory only with a file
// somewhere in it, since git keeps no empty directory (a package moved away
// can leave one behind).
func (c *checker) exists(rel string) (ok, isDir bool) {
	ok, isDir = c.entry(rel)
	if ok && isDir && rel != "." {
		ok = c.holdsFile(rel)
	}
	return ok, isDir
}

func (c *checker) holdsFile(dir string) bool {
	for name, isDir := range c.list(dir) {
		if !isDir || c.holdsFile(path.Join(dir, name)) {
			return true
		}
	}
	return false
}

// entry looks rel up, directory by directory.
func (c *checker) entry(rel string) (ok, isDir bool) {
	if rel == "." {
		return true, true
	}
	dir := "."
	for _, elem := range strings.Split(rel, "/") {
		if isDir, ok = c.list(dir)[elem]; !ok {
			return false, false
		}
		dir = path.Join(dir, elem)
	}
	return true, isDir
}

// list returns a directory's entries, name → is a directory, read once.
func (c *checker) list(dir string) map[string]bool {
	if entries, ok := c.dirs[dir]; ok {
		return entries
	}
	entries := map[string]bool{}
	full := filepath.Join(c.root, filepath.FromSlash(dir))
	list, _ := os.ReadDir(full)
	for _, e := range list {
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			st, err := os.Stat(filepath.Join(full, e.Name()))
			isDir = err == nil && st.IsDir()
		}
		entries[e.Name()] = isDir
	}
	c.dirs[dir] = entries
	return entries
}

// markdown returns the parsed Markdown file at rel: one of the docs, or
// another file a link points to.
func (c *checker) markdown(rel string) *doc {
	for _, d := range c.docs {
		if d.path == rel {
			return d
		}
	}
	if d, ok := c.other[rel]; ok {
		return d
	}
	src, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(rel)))
	d := parseDoc(rel, string(src))
	if err != nil {
		d = nil
	}
	c.other[rel] = d
	return d
}

// --- check 1: links and images ---

// resolve turns a relative link target of d into a path under the root and
// a fragment. external is true for a URL with a scheme (http, https,
// mailto, ...), which is not checked.
func (c *checker) resolve(d *doc, target string) (rel, frag string, external bool, err error) {
	target = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(target), "<"), ">")
	if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
		return "", "", true, nil
	}
	p, frag, _ := strings.Cut(target, "#")
	p, _, _ = strings.Cut(p, "?")
	if p, err = url.PathUnescape(p); err != nil {
		return "", "", false, fmt.Errorf("bad escape in path")
	}
	if frag, err = url.PathUnescape(frag); err != nil {
		return "", "", false, fmt.Errorf("bad escape in anchor")
	}
	switch {
	case p == "":
		rel = d.path
	case strings.HasPrefix(p, "/"): // GitHub: from the repository's root
		rel = path.Clean(strings.TrimPrefix(p, "/"))
	default:
		rel = path.Join(path.Dir(d.path), p)
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", "", false, fmt.Errorf("outside the repository")
	}
	return rel, frag, false, nil
}

func (c *checker) checkLinks() []problem {
	var out []problem
	for _, d := range c.docs {
		for _, r := range d.refs {
			kind := "link to"
			if r.image {
				kind = "image"
			}
			bad := func(format string, a ...any) {
				out = append(out, problem{d.path, d.line(r.off), kind + " " + r.target + ": " + fmt.Sprintf(format, a...)})
			}
			if strings.TrimSpace(r.target) == "" {
				bad("empty target")
				continue
			}
			rel, frag, external, err := c.resolve(d, r.target)
			if err != nil {
				bad("%v", err)
				continue
			}
			if external {
				continue
			}
			c.checked["links"]++
			ok, isDir := c.exists(rel)
			if !ok {
				bad("no such file")
				continue
			}
			if frag == "" || isDir || !strings.HasSuffix(strings.ToLower(rel), ".md") {
				continue // GitHub's line anchors (#L10) in code are not checked
			}
			if t := c.markdown(rel); t == nil || !t.anchors[frag] {
				bad("%s has no heading that makes this anchor", rel)
			}
		}
	}
	return out
}

// --- check 2: file paths in backticks ---

// pathExts are the extensions that make a backticked word a file path
// without a slash.
var pathExts = map[string]bool{
	".go": true, ".html": true, ".css": true, ".md": true, ".sh": true, ".conf": true,
	".json": true, ".yaml": true, ".yml": true, ".env": true, ".sample": true,
	".txt": true, ".png": true, ".cnf": true,
}

var (
	pathChars = regexp.MustCompile(`^[A-Za-z0-9_./+-]+$`)
	// A test's name, perhaps with a subtest: what go test -run takes.
	goTestName = regexp.MustCompile(`^(Test|Benchmark|Fuzz|Example)[A-Z0-9_]\w*/`)
)

// repoPath returns the repository path a code span names, or ok false when
// the span is not a repository path: see the rules in the comments.
func (c *checker) repoPath(text string) (rel string, ok bool) {
	t := strings.TrimSpace(text)
	// Path characters only: no spaces, no * < > { } $ … or other pattern,
	// variable, placeholder, assignment or URL syntax.
	if !pathChars.MatchString(t) || strings.Contains(t, "...") {
		return "", false
	}
	// A slash or a known extension.
	if !strings.Contains(t, "/") && !pathExts[strings.ToLower(path.Ext(t))] {
		return "", false
	}
	// Not absolute (/etc/hosts, and the app's routes: /graph, /login).
	if strings.HasPrefix(t, "/") {
		return "", false
	}
	// This module's import paths are repository paths.
	if c.module != "" && (t == c.module || strings.HasPrefix(t, c.module+"/")) {
		t = strings.TrimPrefix(strings.TrimPrefix(t, c.module), "/")
		if t == "" {
			t = "."
		}
	}
	rel = path.Clean(t)
	// Relative to somewhere else (../.. from a module's directory).
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	// Another module's import path or a host name (github.com/..., gcr.io/...):
	// a dot in its first element, which is not a file of the root.
	first, _, _ := strings.Cut(rel, "/")
	if strings.Contains(first, ".") && !strings.HasPrefix(first, ".") {
		if ok, _ := c.exists(first); !ok && strings.Contains(rel, "/") {
			return "", false
		}
	}
	return rel, true
}

// stdPackage reports whether p is a standard library import path
// (net/http/httptest), which the docs name in backticks as well.
func stdPackage(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	if build.Default.GOROOT == "" || strings.Contains(first, ".") || first == "cmd" {
		return false
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == "internal" || elem == "vendor" || elem == "testdata" {
			return false
		}
	}
	st, err := os.Stat(filepath.Join(build.Default.GOROOT, "src", filepath.FromSlash(p)))
	return err == nil && st.IsDir()
}

func (c *checker) checkPaths() []problem {
	var out []problem
	named := map[string]bool{}
	for _, d := range c.docs {
		for _, s := range d.spans {
			rel, ok := c.repoPath(s.text)
			if !ok || otherRepoColumns[s.column] != "" {
				continue
			}
			c.checked["paths"]++
			named[rel] = true
			wantDir := strings.HasSuffix(s.text, "/")
			if found, isDir := c.exists(rel); found && (isDir || !wantDir) {
				continue
			}
			if _, ok := c.allowed[rel]; ok {
				continue
			}
			if stdPackage(rel) || goTestName.MatchString(rel) {
				continue
			}
			msg := "`" + s.text + "`: no such file or directory in the repository"
			if dir := path.Dir(d.path); dir != "." {
				if ok, _ := c.exists(path.Join(dir, rel)); ok {
					msg += fmt.Sprintf(" (it is relative to %s; paths in backticks are relative to the repository's root: write `%s`)",
						d.path, path.Join(dir, rel))
				}
			}
			out = append(out, problem{d.path, d.line(s.start), msg})
		}
	}
	var stale []string
	for p := range c.allowed {
		if !named[p] {
			stale = append(stale, p)
		}
	}
	sort.Strings(stale)
	for _, p := range stale {
		out = append(out, problem{"docs/docs_test.go", 0, fmt.Sprintf("%q is allowed not to exist, but no document names it: remove it from the list", p)})
	}
	return out
}

// --- check 3: Go names next to their file ---

var goName = regexp.MustCompile(`^\*?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\(\))?$`)

// goFile is what a Go file declares, and the packages it imports by name.
type goFile struct {
	pkg      string
	declared map[string]bool
	imports  map[string]bool
	err      error
}

func (c *checker) parseGo(rel string) *goFile {
	if f, ok := c.goFiles[rel]; ok {
		return f
	}
	g := &goFile{declared: map[string]bool{}, imports: map[string]bool{}}
	c.goFiles[rel] = g
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, readOrEmpty(filepath.Join(c.root, filepath.FromSlash(rel))), parser.SkipObjectResolution)
	if err != nil {
		g.err = err
		return g
	}
	g.pkg = f.Name.Name
	for _, imp := range f.Imports {
		if imp.Name != nil {
			g.imports[imp.Name.Name] = true
			continue
		}
		p, _ := strconv.Unquote(imp.Path.Value)
		elems := strings.Split(p, "/")
		name := elems[len(elems)-1]
		if majorVersion.MatchString(name) && len(elems) > 1 {
			name = elems[len(elems)-2]
		}
		name = strings.TrimSuffix(strings.TrimPrefix(name, "go-"), "-go")
		g.imports[name] = true
	}
	for _, decl := range f.Decls {
		switch decl := decl.(type) {
		case *ast.FuncDecl: // functions and methods, by their name
			g.declared[decl.Name.Name] = true
		case *ast.GenDecl:
			for _, spec := range decl.Specs {
				switch spec := spec.(type) {
				case *ast.TypeSpec:
					g.declared[spec.Name.Name] = true
					if it, ok := spec.Type.(*ast.InterfaceType); ok { // an interface's methods
						for _, m := range it.Methods.List {
							for _, n := range m.Names {
								g.declared[n.Name] = true
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range spec.Names {
						g.declared[n.Name] = true
					}
				}
			}
		}
	}
	return g
}

func readOrEmpty(name string) []byte {
	b, _ := os.ReadFile(name)
	return b
}

// checkNames: in "`entra/signin.go` (`authRedirect`, `logoutPage`)", each
// name in the parentheses right after a .go file's span is declared in that
// file. A qualified name counts by its last element (identity.StartSignIn,
// Store.Load); one qualified by a package the file imports
// (http.CrossOriginProtection) is the other package's and is skipped.
func (c *checker) checkNames() []problem {
	var out []problem
	for _, d := range c.docs {
		for i, s := range d.spans {
			rel, ok := c.repoPath(s.text)
			if !ok || !strings.HasSuffix(rel, ".go") {
				continue
			}
			if found, isDir := c.exists(rel); !found || isDir {
				continue // a missing file is the paths check's; a glob is no repoPath
			}
			// "(" next, on the same line.
			j := s.end
			for j < len(d.prose) && (d.prose[j] == ' ' || d.prose[j] == '\t') {
				j++
			}
			if j >= len(d.prose) || d.prose[j] != '(' {
				continue
			}
			closing := matchingParen(d, i+1, j)
			var g *goFile
			for _, n := range d.spans[i+1:] {
				if n.start > closing {
					break
				}
				m := goName.FindStringSubmatch(strings.TrimSpace(n.text))
				if m == nil || pathExts[strings.ToLower(path.Ext(n.text))] {
					continue // not a name: a file, a value, an expression
				}
				if g == nil {
					g = c.parseGo(rel)
					if g.err != nil {
						out = append(out, problem{d.path, d.line(s.start), fmt.Sprintf("`%s`: cannot parse: %v", rel, g.err)})
						break
					}
				}
				elems := strings.Split(m[1], ".")
				if len(elems) > 1 && g.imports[elems[0]] && elems[0] != g.pkg {
					continue
				}
				c.checked["names"]++
				if name := elems[len(elems)-1]; !g.declared[name] {
					out = append(out, problem{d.path, d.line(n.start), fmt.Sprintf("`%s` does not declare `%s`", rel, name)})
				}
			}
		}
	}
	return out
}

// matchingParen returns the offset of the ")" that closes the "(" at open,
// skipping code spans (from spans[next:]), within the paragraph.
func matchingParen(d *doc, next, open int) int {
	depth := 0
	p := d.prose
	for k := open; k < len(p); k++ {
		for next < len(d.spans) && d.spans[next].end <= k {
			next++
		}
		if next < len(d.spans) && d.spans[next].start == k {
			k = d.spans[next].end - 1
			continue
		}
		switch {
		case p[k] == '(':
			depth++
		case p[k] == ')':
			depth--
			if depth == 0 {
				return k
			}
		case p[k] == '\n' && blankLineAt(p, k+1):
			return k
		}
	}
	return len(p)
}

// --- check 4: every image shown ---

func (c *checker) checkImagesShown() []problem {
	shown := map[string]bool{}
	for _, d := range c.docs {
		for _, r := range d.refs {
			if rel, _, external, err := c.resolve(d, r.target); err == nil && !external {
				shown[rel] = true
			}
		}
	}
	var out []problem
	dir := filepath.Join(c.root, "docs", "images")
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(c.root, p)
		rel = filepath.ToSlash(rel)
		c.checked["images"]++
		if !shown[rel] {
			out = append(out, problem{rel, 0, "not shown by README.md or any docs/**/*.md"})
		}
		return nil
	})
	return out
}
