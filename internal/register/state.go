// The state file: the object IDs of what the command created, so that a
// second run finds the same registration and cleanup deletes exactly it.

package register

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// state is the JSON the state file holds. Nothing in it is secret.
type state struct {
	Tenant             string `json:"tenant_id"`
	AuthorityHost      string `json:"authority_host"`
	ApplicationID      string `json:"application_object_id,omitempty"`
	ClientID           string `json:"client_id,omitempty"`
	UniqueName         string `json:"unique_name"`
	ServicePrincipalID string `json:"service_principal_object_id,omitempty"`
	SecretKeyID        string `json:"secret_key_id,omitempty"`
	CertificatePath    string `json:"certificate_path,omitempty"`
	EnvFile            string `json:"env_file,omitempty"`
}

// loadState reads the state file; a missing one is nil.
func loadState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil || st.Tenant == "" {
		return nil, fmt.Errorf("the state file %s is not one this command wrote (%v): move it away, or name another with -state-file", path, err)
	}
	return &st, nil
}

func (st *state) save(path string) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// errOtherTenant is a state file of another tenant: the command would
// otherwise register a second app, or delete what it cannot see.
func errOtherTenant(path, stateTenant, signedIn string) error {
	return fmt.Errorf("the state file %s belongs to tenant %s, but you signed in to tenant %s. "+
		"To work on that tenant's registration, run again with -tenant %s; to register the app in tenant %s, "+
		"name another state file with -state-file (and another -env-file), or delete %s after running cleanup in tenant %s",
		path, stateTenant, signedIn, stateTenant, signedIn, path, stateTenant)
}
