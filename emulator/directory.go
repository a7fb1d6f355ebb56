// The tenant's directory as Microsoft Graph keeps it: app registrations and
// service principals created through Graph, their owners, credentials and
// app role assignments, the built-in public client (the Azure CLI), and the
// directory's faults (replication lag, registration turned off).

package emulator

import (
	"crypto/sha1"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// AzureCLIClientID is the Microsoft Azure CLI's application (client) ID. The
// emulator has it registered as Entra does: a public client with a loopback
// redirect URI, pre-authorized for Microsoft Graph, so tools that sign in
// with it (cmd/register, msidentity-app-sync) ask nobody for consent.
const AzureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// azureCLIGraphScopes are the delegated Graph permissions the Azure CLI is
// pre-authorized for: what its ".default" token for Graph carries.
var azureCLIGraphScopes = []string{
	"Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "AuditLog.Read.All",
	"DelegatedPermissionGrant.ReadWrite.All", "Directory.AccessAsUser.All", "Group.ReadWrite.All",
	"User.Read.All", "User.ReadWrite.All",
}

// DirectoryFaults make the directory behind Microsoft Graph misbehave the
// way a real tenant can, for tests of tools that register apps.
type DirectoryFaults struct {
	// AppRegistrationDisabled is the tenant setting "Users can register
	// applications" turned off: creating an application answers 403
	// Authorization_RequestDenied.
	AppRegistrationDisabled bool `json:"app_registration_disabled"`
	// RoleAssignmentDenied refuses app role assignments with 403
	// Authorization_RequestDenied, as Graph refuses a user who is neither
	// an owner of the service principal nor an administrator.
	RoleAssignmentDenied bool `json:"role_assignment_denied"`
	// ReplicationLag is how many requests each new application or
	// service principal stays invisible to after it was created: Graph's
	// replication delay. Reads answer 404 Request_ResourceNotFound, and
	// creating the service principal of an application still replicating
	// answers 400 NoBackingApplicationObject. 0 = none.
	ReplicationLag int `json:"replication_lag"`
}

// directory holds what was registered through Graph. Its objects change
// under mu; sign-in reads only the immutable *app snapshots in signIn,
// which every change replaces.
type directory struct {
	mu     sync.Mutex
	faults DirectoryFaults
	apps   []*dirApp       // creation order
	sps    []*dirSP        // creation order
	hidden map[string]int  // object ID -> requests it stays invisible to (replication lag)
	signIn map[string]*app // lower-case appId -> the app sign-in sees
	cli    *app            // the Azure CLI, a built-in public client
}

// dirApp is one application object.
type dirApp struct {
	id, appID, uniqueName, displayName, audience string
	created                                      time.Time
	owners                                       []string // user object IDs
	web                                          webApplication
	roles                                        []appRole
	required                                     []requiredResourceAccess
	passwords                                    []storedPassword
	keys                                         []storedKey
}

// storedPassword is a client secret: Graph shows its metadata, never again
// its text.
type storedPassword struct {
	meta   passwordCredential
	secret string
}

type storedKey struct {
	meta keyCredential
	cert *x509.Certificate
}

// dirSP is one service principal (an "Enterprise application").
type dirSP struct {
	id, appID, displayName string
	owners                 []string
	assignments            []appRoleAssignment
}

// password is one client secret of an app sign-in accepts until end.
type password struct {
	secret string
	end    time.Time
}

func newDirectory(f DirectoryFaults) *directory {
	return &directory{
		faults: f,
		hidden: make(map[string]int),
		signIn: make(map[string]*app),
		cli: &app{
			clientID:      AzureCLIClientID,
			creds:         &clientCredentials{},
			displayName:   "Microsoft Azure CLI",
			redirectURIs:  []string{"http://localhost"},
			public:        true,
			preAuthorized: true,
			graphDefaults: azureCLIGraphScopes,
		},
	}
}

// SetDirectoryFaults replaces the directory's faults. ReplicationLag
// applies to objects created from now on.
func (e *Emulator) SetDirectoryFaults(f DirectoryFaults) {
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	e.dir.faults = f
}

// directoryApp returns the app sign-in sees for clientID among the
// built-in clients and the registrations made through Graph, or nil.
func (e *Emulator) directoryApp(clientID string) *app {
	if strings.EqualFold(clientID, AzureCLIClientID) {
		return e.dir.cli
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	return e.dir.signIn[strings.ToLower(clientID)]
}

// directoryApps returns the apps registered through Graph, as sign-in sees them.
func (e *Emulator) directoryApps() []*app {
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	out := make([]*app, 0, len(e.dir.apps))
	for _, d := range e.dir.apps {
		out = append(out, e.dir.signIn[strings.ToLower(d.appID)])
	}
	return out
}

// isLoopbackRedirect reports whether uri is a loopback redirect a public
// client may use on any port, as Entra allows for "http://localhost"
// (RFC 8252 7.3): MSAL's interactive sign-in listens on a free port.
func isLoopbackRedirect(uri string) bool {
	u, err := url.Parse(uri)
	return err == nil && u.Scheme == "http" && isLoopbackHost(u.Hostname()) && u.Fragment == "" && u.User == nil
}

// secretMatches checks a client secret against the app's configured secret
// and its unexpired passwords, each in constant time.
func (e *Emulator) secretMatches(a *app, secret string) bool {
	ok := a.clientSecret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(a.clientSecret)) == 1
	now := e.now()
	for _, p := range a.passwords {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(p.secret)) == 1 && now.Before(p.end) {
			ok = true
		}
	}
	return ok
}

// rolesFor is the ID token's roles claim: for an app registered through
// Graph, the values of the app roles assigned to the user on its service
// principal; for a configured app, the user's configured roles; none for a
// built-in public client.
func (e *Emulator) rolesFor(a *app, u *User) []string {
	switch {
	case a.public:
		return nil
	case !a.directory:
		return u.Roles
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	d := e.dir.appByAppID(a.clientID)
	sp := e.dir.spByAppID(a.clientID)
	if d == nil || sp == nil {
		return nil
	}
	var roles []string
	for _, as := range sp.assignments {
		if !strings.EqualFold(as.PrincipalID, u.OID) {
			continue
		}
		for _, r := range d.roles {
			if strings.EqualFold(r.ID, as.AppRoleID) && r.IsEnabled && !slices.Contains(roles, r.Value) {
				roles = append(roles, r.Value)
			}
		}
	}
	return roles
}

// refresh replaces d's sign-in snapshot; the caller holds mu.
func (dir *directory) refresh(d *dirApp) {
	a := &app{
		clientID:      d.appID,
		displayName:   d.displayName,
		logoutURL:     d.web.LogoutURL,
		redirectURIs:  slices.Clone(d.web.RedirectURIs),
		directory:     true,
		graphDefaults: []string{},
	}
	for _, p := range d.passwords {
		a.passwords = append(a.passwords, password{secret: p.secret, end: p.meta.EndDateTime})
	}
	var certs []*x509.Certificate
	for _, k := range d.keys {
		certs = append(certs, k.cert)
	}
	// The certificates were checked (RSA) when they were uploaded.
	if creds, err := newClientCredentials(certs, nil); err == nil {
		a.creds = creds
	} else {
		a.creds = &clientCredentials{}
	}
	// ".default" grants the delegated Graph permissions the registration
	// lists, as in Entra.
	for _, rra := range d.required {
		if rra.ResourceAppID != GraphResourceID {
			continue
		}
		for _, ra := range rra.ResourceAccess {
			if s := graphScopeByID(ra.ID); s != nil && ra.Type == "Scope" && !oidcScope(s.Value) {
				a.graphDefaults = append(a.graphDefaults, s.Value)
			}
		}
	}
	dir.signIn[strings.ToLower(d.appID)] = a
}

func oidcScope(s string) bool {
	switch s {
	case "openid", "profile", "email", "offline_access":
		return true
	}
	return false
}

// visible reports whether the object id may be seen by this request, using
// up one request of its replication lag. The caller holds mu.
func (dir *directory) visible(id string) bool {
	if n := dir.hidden[id]; n > 0 {
		if n == 1 {
			delete(dir.hidden, id)
		} else {
			dir.hidden[id] = n - 1
		}
		return false
	}
	return true
}

// justCreated starts an object's replication lag. The caller holds mu.
func (dir *directory) justCreated(id string) {
	if dir.faults.ReplicationLag > 0 {
		dir.hidden[id] = dir.faults.ReplicationLag
	}
}

// The look-ups below ignore replication lag; the caller holds mu.

func (dir *directory) appByID(id string) *dirApp {
	for _, d := range dir.apps {
		if strings.EqualFold(d.id, id) {
			return d
		}
	}
	return nil
}

func (dir *directory) appByAppID(appID string) *dirApp {
	for _, d := range dir.apps {
		if strings.EqualFold(d.appID, appID) {
			return d
		}
	}
	return nil
}

func (dir *directory) appByUniqueName(name string) *dirApp {
	for _, d := range dir.apps {
		if d.uniqueName != "" && strings.EqualFold(d.uniqueName, name) {
			return d
		}
	}
	return nil
}

func (dir *directory) spByAppID(appID string) *dirSP {
	for _, sp := range dir.sps {
		if strings.EqualFold(sp.appID, appID) {
			return sp
		}
	}
	return nil
}

func (dir *directory) spByID(id string) *dirSP {
	for _, sp := range dir.sps {
		if strings.EqualFold(sp.id, id) {
			return sp
		}
	}
	return nil
}

// remove deletes an application with its service principal, whose app
// role assignments go with it, and its sign-in snapshot: the client ID is
// then unknown (AADSTS700016). The caller holds mu.
func (dir *directory) remove(d *dirApp) {
	dir.apps = slices.DeleteFunc(dir.apps, func(x *dirApp) bool { return x == d })
	dir.sps = slices.DeleteFunc(dir.sps, func(sp *dirSP) bool { return strings.EqualFold(sp.appID, d.appID) })
	delete(dir.signIn, strings.ToLower(d.appID))
}

// Registration is an app registration made through Microsoft Graph, as the
// emulator holds it, for tests to check what a tool created.
type Registration struct {
	ObjectID              string
	AppID                 string
	UniqueName            string
	DisplayName           string
	SignInAudience        string
	RedirectURIs          []string
	FrontChannelLogoutURL string
	IDTokenIssuance       bool     // implicit grant of ID tokens
	AccessTokenIssuance   bool     // implicit grant of access tokens
	AppRoles              []string // the values of its enabled app roles
	GraphPermissions      []string // the delegated Graph permissions it requires
	Owners                []string // usernames
	Secrets               int      // client secrets (passwordCredentials)
	Certificates          []*x509.Certificate
	ServicePrincipalID    string // "" = none yet
	RoleAssignments       []RoleAssignment
}

// RoleAssignment is one app role assigned to a user on a service principal.
type RoleAssignment struct {
	Username string
	Role     string // the role's value, e.g. admin
}

// Registrations returns the app registrations made through Microsoft
// Graph, in creation order, whatever their replication lag.
func (e *Emulator) Registrations() []Registration {
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	out := make([]Registration, 0, len(e.dir.apps))
	for _, d := range e.dir.apps {
		r := Registration{
			ObjectID:              d.id,
			AppID:                 d.appID,
			UniqueName:            d.uniqueName,
			DisplayName:           d.displayName,
			SignInAudience:        d.audience,
			RedirectURIs:          slices.Clone(d.web.RedirectURIs),
			FrontChannelLogoutURL: d.web.LogoutURL,
			IDTokenIssuance:       d.web.ImplicitGrantSettings.EnableIDTokenIssuance,
			AccessTokenIssuance:   d.web.ImplicitGrantSettings.EnableAccessTokenIssuance,
			Secrets:               len(d.passwords),
		}
		for _, role := range d.roles {
			if role.IsEnabled {
				r.AppRoles = append(r.AppRoles, role.Value)
			}
		}
		for _, rra := range d.required {
			for _, ra := range rra.ResourceAccess {
				if s := graphScopeByID(ra.ID); s != nil && rra.ResourceAppID == GraphResourceID && ra.Type == "Scope" {
					r.GraphPermissions = append(r.GraphPermissions, s.Value)
				}
			}
		}
		for _, o := range d.owners {
			if u := e.userByOID(o); u != nil {
				r.Owners = append(r.Owners, u.Username)
			}
		}
		for _, k := range d.keys {
			r.Certificates = append(r.Certificates, k.cert)
		}
		if sp := e.dir.spByAppID(d.appID); sp != nil {
			r.ServicePrincipalID = sp.id
			for _, as := range sp.assignments {
				ra := RoleAssignment{Username: as.PrincipalDisplayName}
				if u := e.userByOID(as.PrincipalID); u != nil {
					ra.Username = u.Username
				}
				for _, role := range d.roles {
					if strings.EqualFold(role.ID, as.AppRoleID) {
						ra.Role = role.Value
					}
				}
				r.RoleAssignments = append(r.RoleAssignments, ra)
			}
		}
		out = append(out, r)
	}
	return out
}

// certThumbprint is a certificate's customKeyIdentifier as Graph shows
// it: its SHA-1 thumbprint, base64-encoded.
func certThumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return base64.StdEncoding.EncodeToString(sum[:])
}
