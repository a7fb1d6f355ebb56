// The .env file: only the command's keys change, values read back as
// written, and the file is replaced whole with mode 0600.

package register

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/joho/godotenv"
)

func TestEnvFileChangesOnlyItsKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	before := "# comment\r\nexport CLIENT_ID=old\nOTHER='kept as is'  # note\nCLIENT_SECRET=a\nCLIENT_SECRET=b\nTENANT_ID=x\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := readEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f.header = "# added"
	tricky := map[string]string{
		"CLIENT_ID":     "new-id",
		"CLIENT_SECRET": "Ab8Q~x.y_z-0", // Entra's secret alphabet
		"QUOTES":        `it's "quoted" # not a comment $HOME`,
		"SPACES":        "two words",
	}
	for _, k := range []string{"CLIENT_ID", "CLIENT_SECRET", "QUOTES", "SPACES"} {
		f.set(k, tricky[k])
	}
	f.unset("TENANT_ID")
	if err := f.write(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	want := "# comment\nCLIENT_ID=new-id\nOTHER='kept as is'  # note\nCLIENT_SECRET=Ab8Q~x.y_z-0\n\n# added\nQUOTES=" + quoteEnv(tricky["QUOTES"]) + "\nSPACES='two words'\n"
	if string(data) != want {
		t.Errorf("file:\n%s\nwant:\n%s", data, want)
	}
	back, err := godotenv.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tricky {
		if back[k] != v {
			t.Errorf("%s reads back as %q, want %q", k, back[k], v)
		}
	}
	if back["OTHER"] != "kept as is" || back["TENANT_ID"] != "" {
		t.Errorf("other keys: %v", back)
	}
	wantMode(t, path, 0o600)
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
