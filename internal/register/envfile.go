// The .env file: read it, change only the command's own keys (in place,
// keeping every other line), and write it back atomically, mode 0600.

package register

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/joho/godotenv"
)

// envFile is a .env file as lines, so that comments, order and the keys the
// command does not own survive a rewrite untouched.
type envFile struct {
	path   string
	lines  []string
	values map[string]string // as godotenv (the app) reads them
	header string            // a comment to put before the first key appended
	want   map[string]string // the keys set, to check the file reads them back
}

// keyLine matches an assignment line and captures its key.
var keyLine = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=`)

// readEnvFile reads path; a missing file is an empty one.
func readEnvFile(path string) (*envFile, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	values, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid .env file: %w", path, err)
	}
	f := &envFile{path: path, values: values, want: map[string]string{}}
	if text := strings.ReplaceAll(string(data), "\r\n", "\n"); text != "" {
		f.lines = strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	}
	return f, nil
}

func (f *envFile) get(key string) string { return f.values[key] }

// set gives key a value: on its first line if it has one (later
// duplicates are dropped, since the last would win), else on a new line at
// the end.
func (f *envFile) set(key, value string) {
	line := key + "=" + quoteEnv(value)
	f.values[key], f.want[key] = value, value
	replaced := false
	out := f.lines[:0:0]
	for _, l := range f.lines {
		if m := keyLine.FindStringSubmatch(l); m != nil && m[1] == key {
			if !replaced {
				out = append(out, line)
				replaced = true
			}
			continue
		}
		out = append(out, l)
	}
	if !replaced {
		if f.header != "" {
			if len(out) > 0 && strings.TrimSpace(out[len(out)-1]) != "" {
				out = append(out, "")
			}
			out = append(out, f.header)
			f.header = ""
		}
		out = append(out, line)
	}
	f.lines = out
}

// unset removes every line that assigns key.
func (f *envFile) unset(key string) {
	delete(f.values, key)
	f.want[key] = ""
	out := f.lines[:0:0]
	for _, l := range f.lines {
		if m := keyLine.FindStringSubmatch(l); m != nil && m[1] == key {
			continue
		}
		out = append(out, l)
	}
	f.lines = out
}

// safeEnvValue is what needs no quotes for godotenv (no #, spaces, quotes
// or $, which it would read as a comment, a break or an expansion).
var safeEnvValue = regexp.MustCompile(`^[A-Za-z0-9_./:@~+,=%-]*$`)

// quoteEnv writes a value so that godotenv reads it back unchanged: bare
// when safe, else in single quotes (taken literally), else in double quotes
// with escapes.
func quoteEnv(v string) string {
	switch {
	case safeEnvValue.MatchString(v):
		return v
	case !strings.ContainsAny(v, "'\n\r"):
		return "'" + v + "'"
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "$", `\$`)
	return `"` + r.Replace(v) + `"`
}

// write replaces the file atomically: a temporary file in the same
// directory, mode 0600 from its creation, synced, then renamed over the
// old one, so a crash leaves the old file or the new one, never half of
// one, and the secret is never readable by others. It first checks that
// the new text reads back with the values set.
func (f *envFile) write() error {
	text := strings.Join(f.lines, "\n")
	if text != "" {
		text += "\n"
	}
	back, err := godotenv.UnmarshalBytes([]byte(text))
	if err != nil {
		return fmt.Errorf("not writing %s: the result would not parse: %w", f.path, err)
	}
	for k, v := range f.want {
		if back[k] != v {
			return fmt.Errorf("not writing %s: %s would not read back as written (is an earlier line a multi-line value?)", f.path, k)
		}
	}
	return writeFileAtomic(f.path, []byte(text))
}

// writeFileAtomic writes data to path through a temporary file and a
// rename, with mode 0600.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable where the platform allows it.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
