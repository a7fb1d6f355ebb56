package logcap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsonLogger logs through a Handler of max bytes into a JSON handler, as
// the app logs with LOG_FORMAT=json.
func jsonLogger(max int) (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), max)), &buf
}

// lines decodes each JSON line of buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		recs = append(recs, rec)
	}
	return recs
}

// wantCut checks that got is want's first n bytes, marked with how many
// bytes were cut.
func wantCut(t *testing.T, what string, got any, want string, n int) {
	t.Helper()
	s, _ := got.(string)
	if marker := "…[cut " + itoa(len(want)-n) + " bytes]"; s != want[:n]+marker {
		t.Errorf("%s = %.80q… (%d bytes), want the first %d bytes and %q", what, s, len(s), n, marker)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// A 60 KB error_description, the audit's example, makes a line of about a
// kilobyte that says how much was cut; short values pass as they are.
func TestLongValuesAreCut(t *testing.T) {
	log, buf := jsonLogger(1024)
	long := "AADSTS50011: " + strings.Repeat("x", 60_000)
	log.Warn("sign-in failed", "error", "invalid_request", "error_description", long, "status", 400)
	if n := buf.Len(); n > 1200 {
		t.Errorf("the line is %d bytes, want about 1 KB", n)
	}
	rec := lines(t, buf)[0]
	wantCut(t, "error_description", rec["error_description"], long, 1024)
	if rec["error"] != "invalid_request" || rec["status"] != float64(400) || rec["msg"] != "sign-in failed" {
		t.Errorf("the other values changed: %v", rec)
	}
}

// Exactly the limit is not cut; one byte more is.
func TestLimitIsInclusive(t *testing.T) {
	log, buf := jsonLogger(16)
	log.Info("m", "a", strings.Repeat("a", 16), "b", strings.Repeat("b", 17))
	rec := lines(t, buf)[0]
	if rec["a"] != strings.Repeat("a", 16) {
		t.Errorf("a value of exactly the limit was changed: %q", rec["a"])
	}
	wantCut(t, "b", rec["b"], strings.Repeat("b", 17), 16)
}

// Errors log as their message: a long one is cut like a string.
func TestLongErrorsAreCut(t *testing.T) {
	log, buf := jsonLogger(100)
	long := errors.New("token request: " + strings.Repeat("y", 5000))
	log.Error("failed", "err", long, "short", errors.New("dial tcp: refused"))
	rec := lines(t, buf)[0]
	wantCut(t, "err", rec["err"], long.Error(), 100)
	if rec["short"] != "dial tcp: refused" {
		t.Errorf("a short error changed: %v", rec["short"])
	}
}

// Values in groups, added with With, under WithGroup, and a LogValuer that
// logs itself as a long string are cut too, at any depth.
func TestCutEverywhere(t *testing.T) {
	log, buf := jsonLogger(50)
	long := strings.Repeat("p", 3000)
	log.With("path", long).WithGroup("req").With("query", long).Info("request",
		slog.Group("header", slog.String("cookie", long), slog.Group("deeper", slog.Any("err", errors.New(long)))),
		slog.Any("valuer", longValuer(long)),
		"method", "GET")
	rec := lines(t, buf)[0]
	wantCut(t, "path (With)", rec["path"], long, 50)
	req, _ := rec["req"].(map[string]any)
	wantCut(t, "req.query (WithGroup, then With)", req["query"], long, 50)
	header, _ := req["header"].(map[string]any)
	wantCut(t, "req.header.cookie (a group)", header["cookie"], long, 50)
	deeper, _ := header["deeper"].(map[string]any)
	wantCut(t, "req.header.deeper.err (a group in a group)", deeper["err"], long, 50)
	wantCut(t, "req.valuer (a LogValuer)", req["valuer"], long, 50)
	if req["method"] != "GET" {
		t.Errorf("req.method = %v", req["method"])
	}
}

type longValuer string

func (v longValuer) LogValue() slog.Value { return slog.StringValue(string(v)) }

// The message is cut too: some are built from what a request sent.
func TestLongMessageIsCut(t *testing.T) {
	log, buf := jsonLogger(64)
	long := "cannot parse " + strings.Repeat("q", 1000)
	log.Info(long)
	wantCut(t, "msg", lines(t, buf)[0]["msg"], long, 64)
}

// A cut never splits a character: the line stays valid UTF-8.
func TestCutOnARuneBoundary(t *testing.T) {
	log, buf := jsonLogger(10)
	long := strings.Repeat("é", 100) // 2 bytes each: byte 10 starts a rune, byte 11 does not
	log.Info("m", "even", long, "odd", "x"+long)
	rec := lines(t, buf)[0]
	wantCut(t, "even", rec["even"], long, 10)
	wantCut(t, "odd", rec["odd"], "x"+long, 9)
	if !utf8.ValidString(buf.String()) || strings.Contains(buf.String(), `\ufffd`) {
		t.Errorf("the line is not valid UTF-8: %q", buf.String())
	}
}

// A record with nothing to cut reaches the wrapped handler as it was, and
// levels are the wrapped handler's.
func TestPassesThrough(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}), 0)
	if h.max != DefaultMax {
		t.Errorf("max = %d, want DefaultMax", h.max)
	}
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("Enabled is not the wrapped handler's")
	}
	log := slog.New(h)
	log.Info("not logged")
	log.Warn("logged", "n", 1, "s", "short")
	if got := buf.String(); !strings.Contains(got, "msg=logged n=1 s=short") || strings.Contains(got, "not logged") {
		t.Errorf("log = %q", got)
	}
}
