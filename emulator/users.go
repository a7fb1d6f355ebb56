// Accounts of the emulator's tenant: the demo defaults and users files.

package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
)

// User is one account in the emulator's tenant.
type User struct {
	Username  string   `json:"username"`
	Password  string   `json:"password"`
	Name      string   `json:"name"`
	GivenName string   `json:"given_name"`
	Surname   string   `json:"surname"`
	Roles     []string `json:"roles"`
	OID       string   `json:"oid"` // generated (stable, derived from username) when empty
	JobTitle  string   `json:"job_title"`
	// OTC is the one-time code the second-factor page accepts for this
	// account (DefaultOTC when empty).
	OTC string `json:"otc"`
	// Events are the calendar events Graph's /me/events returns; nil = a
	// few plausible ones in the coming days, an empty list = none.
	Events []Event `json:"events"`
}

// DefaultOTC is the one-time code of accounts that set none.
const DefaultOTC = "123456"

// DefaultUsers returns the demo accounts: a plain user,
// alice@demo.test / alice-password ("Alice Smith", no app roles), and an
// admin, admin@demo.test / admin-password ("Ada Admin", app role "admin").
// Their OIDs are filled in.
func DefaultUsers() []User {
	users := []User{
		{
			Username:  "alice@demo.test",
			Password:  "alice-password",
			Name:      "Alice Smith",
			GivenName: "Alice",
			Surname:   "Smith",
			JobTitle:  "Software Engineer",
		},
		{
			Username:  "admin@demo.test",
			Password:  "admin-password",
			Name:      "Ada Admin",
			GivenName: "Ada",
			Surname:   "Admin",
			Roles:     []string{"admin"},
			JobTitle:  "IT Administrator",
		},
	}
	for i := range users {
		users[i].OID = DeriveOID(users[i].Username)
	}
	return users
}

// LoadUsers reads a JSON list of users from path. It fails with a message
// naming the file and the entry for a missing file, bad JSON, an empty list,
// or an empty or duplicate username, empty password or malformed OID.
// Empty OIDs are filled in with DeriveOID.
func LoadUsers(path string) ([]User, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("users file %s does not exist", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var users []User
	if err := dec.Decode(&users); err != nil {
		return nil, fmt.Errorf("users file %s is not a JSON list of users: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("users file %s has data after the JSON list", path)
	}
	if users == nil {
		users = []User{}
	}
	users, err = prepareUsers(users)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return users, nil
}

var otcPattern = regexp.MustCompile(`^[0-9]{4,10}$`)

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// prepareUsers validates users and returns a copy with OIDs filled in.
func prepareUsers(in []User) ([]User, error) {
	if len(in) == 0 {
		return nil, errNoUsers
	}
	users := make([]User, len(in))
	seenName := make(map[string]int, len(in))
	seenOID := make(map[string]int, len(in))
	for i, u := range in {
		n := i + 1
		u.Username = strings.TrimSpace(u.Username)
		u.Roles = slices.Clone(u.Roles)
		if u.Events != nil {
			u.Events = slices.Clone(u.Events)
		}
		switch {
		case u.Username == "":
			return nil, fmt.Errorf("user #%d has an empty username", n)
		case strings.ContainsAny(u.Username, " \t\r\n"):
			return nil, fmt.Errorf("user #%d: username %q contains white space", n, u.Username)
		case u.Password == "":
			return nil, fmt.Errorf("user #%d (%s) has an empty password", n, u.Username)
		}
		key := strings.ToLower(u.Username)
		if prev, ok := seenName[key]; ok {
			return nil, fmt.Errorf("user #%d: duplicate username %q (also user #%d)", n, u.Username, prev)
		}
		seenName[key] = n
		if u.OID == "" {
			u.OID = DeriveOID(u.Username)
		}
		if !guidPattern.MatchString(u.OID) {
			return nil, fmt.Errorf("user #%d (%s): oid %q is not a GUID", n, u.Username, u.OID)
		}
		u.OID = strings.ToLower(u.OID)
		if prev, ok := seenOID[u.OID]; ok {
			return nil, fmt.Errorf("user #%d (%s): duplicate oid %s (also user #%d)", n, u.Username, u.OID, prev)
		}
		seenOID[u.OID] = n
		for _, r := range u.Roles {
			if strings.TrimSpace(r) == "" {
				return nil, fmt.Errorf("user #%d (%s) has an empty role", n, u.Username)
			}
		}
		if u.OTC == "" {
			u.OTC = DefaultOTC
		}
		if !otcPattern.MatchString(u.OTC) {
			return nil, fmt.Errorf("user #%d (%s): otc must be 4 to 10 digits", n, u.Username)
		}
		for j, ev := range u.Events {
			switch {
			case strings.TrimSpace(ev.Subject) == "":
				return nil, fmt.Errorf("user #%d (%s): event #%d has an empty subject", n, u.Username, j+1)
			case ev.Start.IsZero() || ev.End.IsZero():
				return nil, fmt.Errorf("user #%d (%s): event #%d needs start and end (RFC 3339 times)", n, u.Username, j+1)
			case !ev.End.After(ev.Start):
				return nil, fmt.Errorf("user #%d (%s): event #%d ends before it starts", n, u.Username, j+1)
			}
		}
		if u.Name == "" {
			u.Name = strings.TrimSpace(u.GivenName + " " + u.Surname)
		}
		if u.Name == "" {
			u.Name = u.Username
		}
		users[i] = u
	}
	return users, nil
}

// DeriveOID returns the stable object ID the emulator gives a user without
// one: a GUID-shaped hash of the lower-case username (an RFC 9562 version 8
// UUID), so a user keeps the same OID across restarts.
func DeriveOID(username string) string {
	sum := sha256.Sum256([]byte("entra-emulator/oid/" + strings.ToLower(strings.TrimSpace(username))))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// user returns the account named username (any case, surrounding white
// space ignored), nil when there is none.
func (e *Emulator) user(username string) *User {
	e.usersMu.RLock()
	defer e.usersMu.RUnlock()
	return e.byUsername[strings.ToLower(strings.TrimSpace(username))]
}

// userByOID returns the account with object ID oid, nil when there is none.
func (e *Emulator) userByOID(oid string) *User {
	e.usersMu.RLock()
	defer e.usersMu.RUnlock()
	return e.byOID[oid]
}

// allUsers returns every account: the configured ones, then those created
// by sign-up.
func (e *Emulator) allUsers() []*User {
	e.usersMu.RLock()
	defer e.usersMu.RUnlock()
	out := make([]*User, 0, len(e.users)+len(e.signUps))
	for i := range e.users {
		out = append(out, &e.users[i])
	}
	return append(out, e.signUps...)
}
