package webserver

import (
	"bytes"
	"strings"
	"testing"
)

// The app's logger, in both formats, cuts a long value to one readable
// line and says so: a 60 KB path or error_description is no 60 KB line.
func TestNewLoggerCutsLongValues(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		NewLogger(format, &buf).Info("request", "path", "/"+strings.Repeat("a", 60_000))
		line := buf.String()
		if len(line) > 1500 || !strings.Contains(line, "[cut ") {
			t.Errorf("%s: a %d-byte line for a 60 KB path: %.200q", format, len(line), line)
		}
	}
}
