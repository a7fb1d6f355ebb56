// Package logcap caps the length of log values, so that one request with a
// 60 KB error_description, path or header still makes one readable log line.
//
// Handler wraps any slog.Handler. A string value, or an error's message,
// longer than its limit is cut at the limit (on a UTF-8 boundary) and
// marked with how much was cut:
//
//	"error_description":"AADSTS50011: The redirect URI … …[cut 59000 bytes]"
//
// The limit applies to the record's message, its attributes, attributes in
// groups and those added with Logger.With, at any depth. Other kinds of
// values (numbers, times, durations) are short by nature and pass as they
// are; a slog.LogValuer is resolved first, so a value that logs itself as a
// long string is cut too.
package logcap

import (
	"context"
	"log/slog"
	"strconv"
	"unicode/utf8"
)

// DefaultMax is the limit NewHandler uses for a max of zero or less: 1 KB
// keeps a whole line of a dozen values within a terminal's scrollback page,
// and is more than any value this app logs on purpose (an error code, a
// path, a correlation id).
const DefaultMax = 1024

// Handler is a slog.Handler that cuts long values before passing records
// to the handler it wraps.
type Handler struct {
	next slog.Handler
	max  int
}

// NewHandler returns a Handler that cuts values longer than max bytes
// (DefaultMax when max <= 0) and passes the records on to next.
func NewHandler(next slog.Handler, max int) *Handler {
	if max <= 0 {
		max = DefaultMax
	}
	return &Handler{next: next, max: max}
}

// Enabled reports whether the wrapped handler handles records at level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle cuts the record's long message and values and passes it on. A
// record with nothing to cut is passed on as it is.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	msg, cutMsg := h.cutString(r.Message)
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	changed := cutMsg
	r.Attrs(func(a slog.Attr) bool {
		a, c := h.capAttr(a)
		changed = changed || c
		attrs = append(attrs, a)
		return true
	})
	if !changed {
		return h.next.Handle(ctx, r)
	}
	capped := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	capped.AddAttrs(attrs...)
	return h.next.Handle(ctx, capped)
}

// WithAttrs cuts the long values of attrs once, for every record the new
// handler handles.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	capped := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		capped[i], _ = h.capAttr(a)
	}
	return &Handler{next: h.next.WithAttrs(capped), max: h.max}
}

// WithGroup returns a handler whose later attributes go into the group
// name, still cut.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), max: h.max}
}

// capAttr returns a with its value cut, and whether anything was cut.
func (h *Handler) capAttr(a slog.Attr) (slog.Attr, bool) {
	v := a.Value
	if v.Kind() == slog.KindLogValuer {
		v = v.Resolve()
	}
	switch v.Kind() {
	case slog.KindString:
		if s, cut := h.cutString(v.String()); cut {
			return slog.String(a.Key, s), true
		}
	case slog.KindGroup:
		group := v.Group()
		var capped []slog.Attr
		for i, ga := range group {
			ga, cut := h.capAttr(ga)
			if !cut {
				continue
			}
			if capped == nil {
				capped = append([]slog.Attr(nil), group...)
			}
			capped[i] = ga
		}
		if capped != nil {
			return slog.Attr{Key: a.Key, Value: slog.GroupValue(capped...)}, true
		}
	case slog.KindAny:
		// An error logs as its message (slog's text and JSON handlers
		// call Error): a long one becomes its cut message.
		if err, ok := v.Any().(error); ok && err != nil {
			if s, cut := h.cutString(err.Error()); cut {
				return slog.String(a.Key, s), true
			}
		}
	}
	if v.Kind() != a.Value.Kind() {
		// A LogValuer resolved to something short: pass the resolved
		// value, so that it is not asked again.
		return slog.Attr{Key: a.Key, Value: v}, false
	}
	return a, false
}

// cutString cuts s to at most h.max bytes, on a rune boundary, and marks
// how many bytes were cut. It reports whether it cut.
func (h *Handler) cutString(s string) (string, bool) {
	if len(s) <= h.max {
		return s, false
	}
	end := h.max
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + "…[cut " + strconv.Itoa(len(s)-end) + " bytes]", true
}
