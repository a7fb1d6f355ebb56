// Package register creates or updates the sample's app registration in a
// Microsoft Entra tenant through Microsoft Graph and writes the app's
// settings to .env; its cleanup deletes what it created. It signs the
// developer in with MSAL Go's public client (the Azure CLI's client ID by
// default), so nothing here speaks OAuth by hand. cmd/register is the
// command; Main is everything it does, so tests run exactly that.
package register

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Env is what the command takes from its surroundings. Main fills in every
// zero field with the real thing; tests replace some.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// HTTPClient talks to the identity provider and to Graph; nil = one
	// trusting the system's roots and the -ca-cert file.
	HTTPClient *http.Client
	// OpenURL opens the sign-in page for -auth browser; nil = the system
	// browser, as MSAL opens it.
	OpenURL func(url string) error
	// AzCLI runs the Azure CLI (for -auth azcli) and returns its output.
	AzCLI func(ctx context.Context, args ...string) ([]byte, error)
	// Backoff is the waits between tries while Graph replicates an
	// object just created; nil = DefaultBackoff.
	Backoff []time.Duration
	// Sleep waits d or until ctx ends; nil = a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// ErrUsage is returned for a command line that cannot be run (exit status 2).
var ErrUsage = errors.New("usage")

// The defaults of the flags, and what the sample needs.
const (
	defaultAuthorityHost = "https://login.microsoftonline.com"
	defaultGraphEndpoint = "https://graph.microsoft.com"
	defaultRedirectURI   = "https://localhost:5000/auth/redirect"
	defaultName          = "Go Entra ID sign-in sample"
	defaultStateFile     = ".app-registration.json"
	// frontChannelLogoutPath is where the sample serves front-channel
	// logout (handlers.FrontChannelLogoutPath).
	frontChannelLogoutPath = "/auth/frontchannel-logout"
	// secretLifetime is how long a new client secret lives: the admin
	// center's recommendation.
	secretLifetime = 180 * 24 * time.Hour
	// GraphAppID is Microsoft Graph's application ID.
	GraphAppID = "00000003-0000-0000-c000-000000000000"
)

// graphPermissions are the sample's delegated Graph permissions: /graph
// needs User.Read, /calendar Calendars.Read.
var graphPermissions = []string{"User.Read", "Calendars.Read"}

// options are the command line.
type options struct {
	cleanup       bool
	tenant        string
	authorityHost string
	graphEndpoint string
	redirectURIs  []string
	name          string
	uniqueName    string
	credential    string
	certFile      string
	envFile       string
	stateFile     string
	auth          string
	clientID      string
	caCert        string
	rotateSecret  bool
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

const usageText = `Usage:
  go run ./cmd/register [flags]           create or update the app registration, write .env
  go run ./cmd/register cleanup [flags]   delete it, and remove its keys from .env

It signs you in (a browser, or a code with -auth device), registers the
sample in your Microsoft Entra tenant through Microsoft Graph, and writes
CLIENT_ID, the credential, AUTHORITY, REDIRECT_URI and SESSION_SECRET to
.env. Running it again updates the same registration.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	if len(args) > 0 && args[0] == "cleanup" {
		o.cleanup, args = true, args[1:]
	}
	fs := flag.NewFlagSet("register", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	var redirects stringList
	fs.StringVar(&o.tenant, "tenant", "", "the tenant `ID or domain` to sign in to (default: the state file's tenant, else the one of your account: organizations)")
	fs.StringVar(&o.authorityHost, "authority-host", defaultAuthorityHost, "the identity provider's `URL`")
	fs.StringVar(&o.graphEndpoint, "graph-endpoint", defaultGraphEndpoint, "Microsoft Graph's `URL`")
	fs.Var(&redirects, "redirect-uri", "a web redirect `URI` to register; repeat for several (default "+defaultRedirectURI+"); the first goes to REDIRECT_URI")
	fs.StringVar(&o.name, "name", defaultName, "the registration's display `name`")
	fs.StringVar(&o.uniqueName, "unique-name", "", "the registration's unique `name` in the tenant (default: the state file's, else ms-identity-go-webapp-<your object ID's first 8 characters>)")
	fs.StringVar(&o.credential, "credential", "secret", "the app's credential: `secret` or certificate")
	fs.StringVar(&o.certFile, "cert-file", "", "with -credential certificate: the `file` of the certificate and its key (default ssl/client-cert.pem beside the .env file)")
	fs.StringVar(&o.envFile, "env-file", ".env", "the `file` to write the settings to")
	fs.StringVar(&o.stateFile, "state-file", "", "the `file` keeping the object IDs of what was created (default "+defaultStateFile+" beside the .env file)")
	fs.StringVar(&o.auth, "auth", "auto", "how to sign in: `auto` (a browser, or a code without a display), browser, device or azcli (the token of an existing az login)")
	fs.StringVar(&o.clientID, "client-id", AzureCLIClientID, "the public client `ID` to sign in with: the Azure CLI's, pre-authorized for Graph, by default")
	fs.StringVar(&o.caCert, "ca-cert", "", "a PEM `file` of extra certificates to trust, e.g. ssl/localhost.crt for the local emulator")
	fs.BoolVar(&o.rotateSecret, "rotate-secret", false, "add a new client secret and remove the one this command added before, even if it is still valid")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, ErrUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q (flags start with -, and cleanup comes first)\n", fs.Arg(0))
		return o, ErrUsage
	}
	o.redirectURIs = redirects
	if len(o.redirectURIs) == 0 {
		o.redirectURIs = []string{defaultRedirectURI}
	}
	if o.stateFile == "" {
		o.stateFile = filepath.Join(filepath.Dir(o.envFile), defaultStateFile)
	}
	if o.certFile == "" {
		o.certFile = filepath.Join(filepath.Dir(o.envFile), "ssl", "client-cert.pem")
	}
	o.authorityHost = strings.TrimRight(o.authorityHost, "/")
	o.graphEndpoint = strings.TrimSuffix(strings.TrimRight(o.graphEndpoint, "/"), "/v1.0")
	if err := o.check(); err != nil {
		fmt.Fprintln(stderr, "register:", err)
		return o, ErrUsage
	}
	return o, nil
}

func (o *options) check() error {
	var errs []error
	if !slices.Contains([]string{"auto", "browser", "device", "azcli"}, o.auth) {
		errs = append(errs, fmt.Errorf("-auth must be auto, browser, device or azcli, not %q", o.auth))
	}
	if o.credential != "secret" && o.credential != "certificate" {
		errs = append(errs, fmt.Errorf("-credential must be secret or certificate, not %q", o.credential))
	}
	for _, f := range []struct{ name, v string }{{"-authority-host", o.authorityHost}, {"-graph-endpoint", o.graphEndpoint}} {
		if u, err := url.Parse(f.v); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("%s must be an https URL without a path, such as https://host:port, not %q", f.name, f.v))
		}
	}
	for _, r := range o.redirectURIs {
		u, err := url.Parse(r)
		switch {
		case err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("-redirect-uri %q is not an absolute URL without a fragment", r))
		case u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHostname(u.Hostname())):
			errs = append(errs, fmt.Errorf("-redirect-uri %q must use https (http only on localhost)", r))
		}
	}
	if strings.TrimSpace(o.name) == "" {
		errs = append(errs, errors.New("-name is empty"))
	}
	if o.uniqueName != "" && !uniqueNamePattern.MatchString(o.uniqueName) {
		errs = append(errs, fmt.Errorf("-unique-name %q may hold only letters, digits, '-', '_' and '.'", o.uniqueName))
	}
	if o.tenant != "" && !tenantPattern.MatchString(o.tenant) {
		errs = append(errs, fmt.Errorf("-tenant %q is not a tenant ID or domain", o.tenant))
	}
	return errors.Join(errs...)
}

var (
	uniqueNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	tenantPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$`)
	guidPattern       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// command is one run.
type command struct {
	o    options
	env  Env
	http *http.Client
}

func (c *command) say(format string, a ...any) { fmt.Fprintf(c.env.Stdout, format+"\n", a...) }

func (c *command) warn(format string, a ...any) {
	fmt.Fprintf(c.env.Stderr, "warning: "+format+"\n", a...)
}

// Main runs the command with args (without the program name). It returns
// ErrUsage for a bad command line, flag.ErrHelp for -h, and otherwise an
// error that says what went wrong and what to do.
func Main(ctx context.Context, args []string, env Env) error {
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	if env.Stderr == nil {
		env.Stderr = os.Stderr
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.AzCLI == nil {
		env.AzCLI = runAzCLI
	}
	if env.Backoff == nil {
		env.Backoff = DefaultBackoff
	}
	if env.Sleep == nil {
		env.Sleep = sleepContext
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	o, err := parseFlags(args, env.Stderr)
	if err != nil {
		return err
	}
	c := &command{o: o, env: env, http: env.HTTPClient}
	if c.http == nil {
		if c.http, err = newHTTPClient(o.caCert); err != nil {
			return err
		}
	}
	if o.cleanup {
		return c.cleanup(ctx)
	}
	return c.register(ctx)
}

// newHTTPClient trusts the system's roots plus the certificates in caFile.
func newHTTPClient(caFile string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca-cert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca-cert %s holds no PEM certificate", caFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: time.Minute}, nil
}

func (c *command) graph(token string) *graph {
	return &graph{
		base: c.o.graphEndpoint + "/v1.0", token: token, client: c.http,
		backoff: c.env.Backoff, sleep: c.env.Sleep, say: c.say,
	}
}

// The Graph objects, with the properties the command reads and writes.

type application struct {
	ID                     string                   `json:"id"`
	AppID                  string                   `json:"appId"`
	DisplayName            string                   `json:"displayName"`
	Web                    webSettings              `json:"web"`
	AppRoles               []appRole                `json:"appRoles"`
	RequiredResourceAccess []requiredResourceAccess `json:"requiredResourceAccess"`
	PasswordCredentials    []passwordCredential     `json:"passwordCredentials"`
	KeyCredentials         []keyCredential          `json:"keyCredentials"`
}

type passwordCredential struct {
	KeyID       string    `json:"keyId"`
	EndDateTime time.Time `json:"endDateTime"`
}

type keyCredential struct {
	CustomKeyIdentifier string `json:"customKeyIdentifier"` // the certificate's thumbprint
}

// objectRef is a directory object in a list (owners).
type objectRef struct {
	ID string `json:"id"`
}

type webSettings struct {
	RedirectURIs []string `json:"redirectUris"`
	HomePageURL  string   `json:"homePageUrl,omitempty"`
	LogoutURL    string   `json:"logoutUrl,omitempty"`
}

// appRole has the writable properties only, so that roles read back can
// be sent again as they are.
type appRole struct {
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	Description        string   `json:"description"`
	DisplayName        string   `json:"displayName"`
	ID                 string   `json:"id"`
	IsEnabled          bool     `json:"isEnabled"`
	Value              string   `json:"value"`
}

type requiredResourceAccess struct {
	ResourceAppID  string           `json:"resourceAppId"`
	ResourceAccess []resourceAccess `json:"resourceAccess"`
}

type resourceAccess struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type servicePrincipal struct {
	ID                     string `json:"id"`
	AppID                  string `json:"appId"`
	OAuth2PermissionScopes []struct {
		ID    string `json:"id"`
		Value string `json:"value"`
	} `json:"oauth2PermissionScopes"`
}

type user struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// appPath is an application's path by object ID.
func appPath(id string) string { return "/applications/" + url.PathEscape(id) }

// byUniqueName is the alternate-key path of an application.
func byUniqueName(name string) string {
	return "/applications(uniqueName='" + url.PathEscape(name) + "')"
}

// register creates or updates the registration and writes .env.
func (c *command) register(ctx context.Context) error {
	st, si, env, err := c.start(ctx)
	if err != nil {
		return err
	}
	g := c.graph(si.token)
	var me user
	if _, err := g.do(ctx, call{method: http.MethodGet, path: "/me", out: &me}); err != nil {
		return fmt.Errorf("reading your account from Microsoft Graph: %w", err)
	}
	c.say("Signed in as %s, in tenant %s.", me.UserPrincipalName, si.tenant)
	scopeIDs, err := c.graphPermissionIDs(ctx, g)
	if err != nil {
		return err
	}
	if st == nil {
		st = &state{Tenant: si.tenant, AuthorityHost: c.o.authorityHost, EnvFile: c.o.envFile}
	}
	if c.o.uniqueName != "" {
		st.UniqueName = c.o.uniqueName
	}
	if st.UniqueName == "" {
		st.UniqueName = "ms-identity-go-webapp-" + strings.ToLower(strings.ReplaceAll(me.ID, "-", ""))[:8]
	}

	role := c.adminRole(env)
	app, created, err := c.upsertApplication(ctx, g, st, scopeIDs, role, si.tenant)
	if err != nil {
		return err
	}
	st.ApplicationID, st.ClientID = app.ID, app.AppID
	if err := st.save(c.o.stateFile); err != nil {
		return err
	}
	if err := c.ensureOwner(ctx, g, app, me); err != nil {
		return err
	}

	written, credential, err := c.ensureCredential(ctx, g, st, app, env)
	if err != nil {
		return err
	}
	written = append(written, c.setSettings(env, app, si.tenant)...)
	if err := env.write(); err != nil {
		return err
	}
	if err := st.save(c.o.stateFile); err != nil {
		return err
	}

	sp, err := c.ensureServicePrincipal(ctx, g, app)
	if err != nil {
		return err
	}
	st.ServicePrincipalID = sp.ID
	if err := st.save(c.o.stateFile); err != nil {
		return err
	}
	assigned, err := c.ensureRoleAssignment(ctx, g, app, sp, me, role)
	if err != nil {
		return err
	}

	verb := "updated"
	if created {
		verb = "created"
	}
	c.say("App registration %q %s:", c.o.name, verb)
	c.say("  Client ID:                %s", app.AppID)
	c.say("  Unique name:              %s", st.UniqueName)
	c.say("  Redirect URIs:            %s", strings.Join(app.Web.RedirectURIs, ", "))
	c.say("  Front-channel logout URL: %s", app.Web.LogoutURL)
	c.say("  Graph permissions:        %s (delegated: each user consents on first use)", strings.Join(graphPermissions, ", "))
	if assigned {
		c.say("  App role:                 %s, assigned to %s", role, me.UserPrincipalName)
	} else {
		c.say("  App role:                 %s, not assigned (see the warning)", role)
	}
	c.say("  Credential:               %s", credential)
	var set, removed []string
	for _, k := range written {
		if r, ok := strings.CutPrefix(k, "-"); ok {
			removed = append(removed, r)
		} else {
			set = append(set, k)
		}
	}
	if len(set) > 0 {
		c.say("Wrote %s to %s (mode 0600); the object IDs to %s.", strings.Join(set, ", "), c.o.envFile, c.o.stateFile)
	} else {
		c.say("%s already held these settings (mode 0600); the object IDs are in %s.", c.o.envFile, c.o.stateFile)
	}
	if len(removed) > 0 {
		c.say("Removed %s from %s: the app takes one credential.", strings.Join(removed, ", "), c.o.envFile)
	}
	c.say("Next: ./run.dev.sh, then open %s and sign in as %s.", origin(c.o.redirectURIs[0]), me.UserPrincipalName)
	return nil
}

// start reads the state and .env files and signs the developer in, in the
// tenant of the state file unless -tenant says otherwise; a state file of
// another tenant stops the command before it changes anything.
func (c *command) start(ctx context.Context) (*state, signedIn, *envFile, error) {
	st, err := loadState(c.o.stateFile)
	if err != nil {
		return nil, signedIn{}, nil, err
	}
	tenant := c.o.tenant
	switch {
	case tenant == "" && st != nil:
		tenant = st.Tenant
	case tenant == "":
		tenant = "organizations"
	case st != nil && guidPattern.MatchString(tenant) && !strings.EqualFold(tenant, st.Tenant):
		return nil, signedIn{}, nil, errOtherTenant(c.o.stateFile, st.Tenant, tenant)
	}
	env, err := readEnvFile(c.o.envFile)
	if err != nil {
		return nil, signedIn{}, nil, err
	}
	c.say("Signing in to %s (tenant %s)…", c.o.authorityHost, tenant)
	si, err := c.signIn(ctx, tenant)
	if err != nil {
		return nil, signedIn{}, nil, err
	}
	if si.tenant == "" {
		si.tenant = tenant
	}
	if st != nil && !strings.EqualFold(st.Tenant, si.tenant) {
		return nil, signedIn{}, nil, errOtherTenant(c.o.stateFile, st.Tenant, si.tenant)
	}
	return st, si, env, nil
}

// graphPermissionIDs looks the sample's delegated permissions up on
// Microsoft Graph's service principal, rather than trusting copied GUIDs.
func (c *command) graphPermissionIDs(ctx context.Context, g *graph) (map[string]string, error) {
	var sp servicePrincipal
	if _, err := g.do(ctx, call{method: http.MethodGet, path: "/servicePrincipals(appId='" + GraphAppID + "')", out: &sp}); err != nil {
		return nil, fmt.Errorf("looking up Microsoft Graph's permissions: %w", err)
	}
	ids := map[string]string{}
	for _, s := range sp.OAuth2PermissionScopes {
		if slices.Contains(graphPermissions, s.Value) {
			ids[s.Value] = s.ID
		}
	}
	for _, p := range graphPermissions {
		if ids[p] == "" {
			return nil, fmt.Errorf("Microsoft Graph's service principal does not list the delegated permission %s", p)
		}
	}
	return ids, nil
}

// findApplication looks the registration up: by the state file's object
// ID, else by its unique name. nil when there is none.
func (c *command) findApplication(ctx context.Context, g *graph, st *state) (*application, error) {
	var app application
	if st.ApplicationID != "" {
		_, err := g.do(ctx, call{method: http.MethodGet, path: appPath(st.ApplicationID), out: &app})
		switch {
		case err == nil:
			return &app, nil
		case !isNotFound(err):
			return nil, err
		}
		c.say("The registration %s named in %s is gone; looking for %s by its unique name.", st.ApplicationID, c.o.stateFile, st.UniqueName)
	}
	_, err := g.do(ctx, call{method: http.MethodGet, path: byUniqueName(st.UniqueName), out: &app})
	switch {
	case isNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &app, nil
}

// upsertApplication creates the registration, or brings the existing one
// up to date without removing anything from it.
func (c *command) upsertApplication(ctx context.Context, g *graph, st *state, scopeIDs map[string]string, role, tenant string) (*application, bool, error) {
	existing, err := c.findApplication(ctx, g, st)
	if err != nil {
		return nil, false, fmt.Errorf("looking for the registration: %w", err)
	}
	patch := c.desired(existing, scopeIDs, role)
	var gerr *GraphError
	if existing == nil {
		patch["signInAudience"] = "AzureADMyOrg" // single tenant
		var app application
		status, err := g.do(ctx, call{method: http.MethodPatch, path: byUniqueName(st.UniqueName), body: patch, out: &app,
			header: map[string]string{"Prefer": "create-if-missing"}})
		switch {
		case errors.As(err, &gerr) && gerr.denied():
			return nil, false, fmt.Errorf("Microsoft Graph refused to create the app registration (%d %s): your account may not register applications in tenant %s. "+
				"Ask an administrator to turn on \"Users can register applications\" (Microsoft Entra admin center → Identity → Users → User settings), "+
				"to give you the Application Developer role, or to run this command for you", gerr.Status, gerr.Code, tenant)
		case err != nil:
			return nil, false, fmt.Errorf("creating the app registration: %w", err)
		case status == http.StatusCreated && app.ID != "":
			return &app, true, nil
		}
		// 204: it existed after all, in a replica the look-up missed.
		if _, err := g.do(ctx, call{method: http.MethodGet, path: byUniqueName(st.UniqueName), out: &app, replicated: "app registration"}); err != nil {
			return nil, false, err
		}
		return &app, false, nil
	}
	_, err = g.do(ctx, call{method: http.MethodPatch, path: appPath(existing.ID), body: patch, replicated: "app registration"})
	switch {
	case errors.As(err, &gerr) && gerr.denied():
		return nil, false, fmt.Errorf("Microsoft Graph refused to update the app registration %s (%d %s): you are not one of its owners. "+
			"Ask an owner to add you (App registrations → %s → Owners), or register your own with -unique-name", existing.AppID, gerr.Status, gerr.Code, existing.DisplayName)
	case err != nil:
		return nil, false, fmt.Errorf("updating the app registration: %w", err)
	}
	var app application
	if _, err := g.do(ctx, call{method: http.MethodGet, path: appPath(existing.ID), out: &app, replicated: "app registration"}); err != nil {
		return nil, false, err
	}
	return &app, false, nil
}

// desired is the PATCH that makes a registration what the sample needs,
// merged into what it has: redirect URIs added (never removed), the app
// role kept by its value, the Graph permissions added to the others.
func (c *command) desired(existing *application, scopeIDs map[string]string, roleValue string) map[string]any {
	var have application
	if existing != nil {
		have = *existing
	}
	redirects := slices.Clone(have.Web.RedirectURIs)
	for _, r := range c.o.redirectURIs {
		if !slices.Contains(redirects, r) {
			redirects = append(redirects, r)
		}
	}
	web := map[string]any{
		"redirectUris": redirects,
		"logoutUrl":    origin(c.o.redirectURIs[0]) + frontChannelLogoutPath,
		// The sample uses the authorization code flow: no implicit grant.
		"implicitGrantSettings": map[string]bool{"enableIdTokenIssuance": false, "enableAccessTokenIssuance": false},
	}
	if have.Web.HomePageURL != "" {
		web["homePageUrl"] = have.Web.HomePageURL
	}

	roles := slices.Clone(have.AppRoles)
	if roles == nil {
		roles = []appRole{}
	}
	if i := slices.IndexFunc(roles, func(r appRole) bool { return r.Value == roleValue }); i >= 0 {
		roles[i].IsEnabled = true
	} else {
		roles = append(roles, appRole{
			AllowedMemberTypes: []string{"User"},
			Description:        "Can open the sample's /admin page.",
			DisplayName:        "Admin",
			ID:                 newUUID(),
			IsEnabled:          true,
			Value:              roleValue,
		})
	}

	required := slices.Clone(have.RequiredResourceAccess)
	i := slices.IndexFunc(required, func(r requiredResourceAccess) bool { return strings.EqualFold(r.ResourceAppID, GraphAppID) })
	if i < 0 {
		required = append(required, requiredResourceAccess{ResourceAppID: GraphAppID})
		i = len(required) - 1
	}
	access := slices.Clone(required[i].ResourceAccess)
	for _, p := range graphPermissions {
		id := scopeIDs[p]
		if !slices.ContainsFunc(access, func(a resourceAccess) bool { return strings.EqualFold(a.ID, id) }) {
			access = append(access, resourceAccess{ID: id, Type: "Scope"})
		}
	}
	required[i].ResourceAccess = access

	return map[string]any{
		"displayName":            c.o.name,
		"web":                    web,
		"appRoles":               roles,
		"requiredResourceAccess": required,
	}
}

// ensureOwner makes the developer an owner of the registration, so that
// they can manage it in the admin center. Graph usually did so when they
// created it; a refusal is only a warning, but a registration that never
// replicates stops the command.
func (c *command) ensureOwner(ctx context.Context, g *graph, app *application, me user) error {
	var owners struct {
		Value []objectRef `json:"value"`
	}
	_, err := g.do(ctx, call{method: http.MethodGet, path: appPath(app.ID) + "/owners", out: &owners, replicated: "app registration"})
	var rerr *ReplicationError
	switch {
	case errors.As(err, &rerr):
		return err
	case err == nil && slices.ContainsFunc(owners.Value, func(o objectRef) bool { return strings.EqualFold(o.ID, me.ID) }):
		return nil
	}
	_, err = g.do(ctx, call{method: http.MethodPost, path: appPath(app.ID) + "/owners/$ref", replicated: "app registration",
		body: map[string]string{"@odata.id": c.o.graphEndpoint + "/v1.0/directoryObjects/" + me.ID}})
	var gerr *GraphError
	switch {
	case errors.As(err, &rerr):
		return err
	case err != nil && !(errors.As(err, &gerr) && strings.Contains(gerr.Message, "already exist")):
		c.warn("could not make you an owner of the registration: %v", err)
	}
	return nil
}

// ensureCredential keeps a credential that still works, or adds one, and
// puts it in .env. It returns the .env keys it changed and a line for the
// summary.
func (c *command) ensureCredential(ctx context.Context, g *graph, st *state, app *application, env *envFile) ([]string, string, error) {
	now := c.env.Now()
	if c.o.credential == "certificate" {
		return c.ensureCertificate(ctx, g, st, app, env, now)
	}
	if !c.o.rotateSecret && st.SecretKeyID != "" && env.get("CLIENT_SECRET") != "" && env.get("CLIENT_ID") == app.AppID {
		for _, p := range app.PasswordCredentials {
			if strings.EqualFold(p.KeyID, st.SecretKeyID) && p.EndDateTime.After(now.Add(7*24*time.Hour)) {
				var written []string
				written = append(written, unsetKeys(env, "CLIENT_CERTIFICATE_PATH", "CLIENT_CERTIFICATE_PASSWORD")...)
				return written, fmt.Sprintf("the client secret in %s, kept (valid until %s)", c.o.envFile, p.EndDateTime.UTC().Format(time.DateOnly)), nil
			}
		}
	}
	var pw struct {
		KeyID       string    `json:"keyId"`
		SecretText  string    `json:"secretText"`
		EndDateTime time.Time `json:"endDateTime"`
	}
	body := map[string]any{"passwordCredential": map[string]any{
		"displayName": "cmd/register " + now.UTC().Format(time.DateOnly),
		"endDateTime": now.Add(secretLifetime).UTC().Format(time.RFC3339),
	}}
	if _, err := g.do(ctx, call{method: http.MethodPost, path: appPath(app.ID) + "/addPassword", body: body, out: &pw, replicated: "app registration"}); err != nil {
		return nil, "", fmt.Errorf("adding a client secret: %w", err)
	}
	if pw.SecretText == "" {
		return nil, "", errors.New("Microsoft Graph added a client secret but did not return its text")
	}
	old := st.SecretKeyID
	st.SecretKeyID = pw.KeyID
	env.set("CLIENT_SECRET", pw.SecretText)
	written := append([]string{"CLIENT_SECRET"}, unsetKeys(env, "CLIENT_CERTIFICATE_PATH", "CLIENT_CERTIFICATE_PASSWORD")...)
	if c.o.rotateSecret && old != "" && slices.ContainsFunc(app.PasswordCredentials, func(p passwordCredential) bool { return strings.EqualFold(p.KeyID, old) }) {
		// Removed only now that .env will hold the new one.
		if _, err := g.do(ctx, call{method: http.MethodPost, path: appPath(app.ID) + "/removePassword", body: map[string]string{"keyId": old}, replicated: "app registration"}); err != nil {
			c.warn("could not remove the previous client secret (%s): %v", old, err)
		}
	}
	return written, fmt.Sprintf("a new client secret, valid until %s, in %s (not shown here)", pw.EndDateTime.UTC().Format(time.DateOnly), c.o.envFile), nil
}

// ensureCertificate keeps the certificate file when it is valid and
// uploaded, uploads it when it is not yet, and otherwise makes a new one.
// Graph replaces the whole list of certificates, and never returns their
// keys, so others on the registration are replaced: it says so.
func (c *command) ensureCertificate(ctx context.Context, g *graph, st *state, app *application, env *envFile, now time.Time) ([]string, string, error) {
	path := c.o.certFile
	cert, err := loadClientCert(path, now)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist) || st.CertificatePath == path:
		// None yet, or one this command made and may replace.
		if cert, err = newClientCert(path, c.o.name, now); err != nil {
			return nil, "", fmt.Errorf("making a certificate at %s: %w", path, err)
		}
		st.CertificatePath = path
		c.say("Made a certificate and its key in %s (mode 0600).", path)
	default:
		return nil, "", fmt.Errorf("%s exists but cannot be the app's certificate (%v): move it away, or name another file with -cert-file", path, err)
	}
	tp := thumbprint(cert)
	uploaded := slices.ContainsFunc(app.KeyCredentials, func(k keyCredential) bool { return k.CustomKeyIdentifier == tp })
	how := "kept"
	if !uploaded {
		key := map[string]any{
			"type": "AsymmetricX509Cert", "usage": "Verify", "displayName": "CN=" + cert.Subject.CommonName,
			"key": base64.StdEncoding.EncodeToString(cert.Raw),
		}
		if _, err := g.do(ctx, call{method: http.MethodPatch, path: appPath(app.ID), body: map[string]any{"keyCredentials": []any{key}}, replicated: "app registration"}); err != nil {
			return nil, "", fmt.Errorf("uploading the certificate: %w", err)
		}
		if n := len(app.KeyCredentials); n > 0 {
			c.warn("replaced %d other certificate(s) of the registration: Graph takes the whole list, and only their owners hold their keys", n)
		}
		how = "uploaded"
	}
	var written []string
	if env.get("CLIENT_CERTIFICATE_PATH") != path {
		env.set("CLIENT_CERTIFICATE_PATH", path)
		written = append(written, "CLIENT_CERTIFICATE_PATH")
	}
	written = append(written, unsetKeys(env, "CLIENT_SECRET", "CLIENT_CERTIFICATE_PASSWORD")...)
	return written, fmt.Sprintf("the certificate in %s, %s (valid until %s)", path, how, cert.NotAfter.UTC().Format(time.DateOnly)), nil
}

// unsetKeys removes the keys .env has, and returns them.
func unsetKeys(env *envFile, keys ...string) []string {
	var removed []string
	for _, k := range keys {
		if _, ok := env.values[k]; ok {
			env.unset(k)
			removed = append(removed, "-"+k)
		}
	}
	return removed
}

// setSettings puts the app's other settings in .env and returns the keys
// it changed.
func (c *command) setSettings(env *envFile, app *application, tenant string) []string {
	env.header = "# Written by go run ./cmd/register for the app registration \"" + strings.ReplaceAll(c.o.name, "\n", " ") + "\"."
	set := map[string]string{
		"CLIENT_ID":    app.AppID,
		"AUTHORITY":    c.o.authorityHost + "/" + tenant,
		"REDIRECT_URI": c.o.redirectURIs[0],
	}
	keys := []string{"CLIENT_ID", "AUTHORITY", "REDIRECT_URI"}
	if c.o.graphEndpoint != defaultGraphEndpoint {
		set["GRAPH_ENDPOINT"] = c.o.graphEndpoint + "/v1.0/me"
		set["CALENDAR_ENDPOINT"] = c.o.graphEndpoint + "/v1.0/me/events"
		keys = append(keys, "GRAPH_ENDPOINT", "CALENDAR_ENDPOINT")
	}
	if len(env.get("SESSION_SECRET")) < 32 {
		b := make([]byte, 32)
		rand.Read(b)
		set["SESSION_SECRET"] = hex.EncodeToString(b)
		keys = append(keys, "SESSION_SECRET")
	}
	var written []string
	for _, k := range keys {
		if env.get(k) != set[k] {
			env.set(k, set[k])
			written = append(written, k)
		}
	}
	return written
}

// adminRole is the app role /admin requires: ADMIN_ROLE, as the app reads it.
func (c *command) adminRole(env *envFile) string {
	if r := strings.TrimSpace(env.get("ADMIN_ROLE")); r != "" {
		return r
	}
	return "admin"
}

// ensureServicePrincipal finds or creates the registration's service
// principal (its "Enterprise application"), where roles are assigned.
func (c *command) ensureServicePrincipal(ctx context.Context, g *graph, app *application) (*servicePrincipal, error) {
	var sp servicePrincipal
	path := "/servicePrincipals(appId='" + url.PathEscape(app.AppID) + "')"
	_, err := g.do(ctx, call{method: http.MethodGet, path: path, out: &sp})
	switch {
	case err == nil:
		return &sp, nil
	case !isNotFound(err):
		return nil, fmt.Errorf("looking for the service principal: %w", err)
	}
	status, err := g.do(ctx, call{method: http.MethodPost, path: "/servicePrincipals", body: map[string]string{"appId": app.AppID}, out: &sp, replicated: "app registration"})
	var gerr *GraphError
	switch {
	case status == http.StatusConflict || errors.As(err, &gerr) && gerr.Code == "Request_MultipleObjectsWithSameKeyValue":
		// Made meanwhile, or there already and not yet replicated here.
		if _, err := g.do(ctx, call{method: http.MethodGet, path: path, out: &sp, replicated: "service principal"}); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("creating the service principal: %w", err)
	}
	return &sp, nil
}

// ensureRoleAssignment assigns the admin app role to the developer. A
// refusal is a warning with the admin-center step that does the same: the
// app works without it, except /admin.
func (c *command) ensureRoleAssignment(ctx context.Context, g *graph, app *application, sp *servicePrincipal, me user, role string) (bool, error) {
	i := slices.IndexFunc(app.AppRoles, func(r appRole) bool { return r.Value == role })
	if i < 0 {
		return false, fmt.Errorf("the registration has no app role %q after the update", role)
	}
	roleID := app.AppRoles[i].ID
	var list struct {
		Value []struct {
			PrincipalID string `json:"principalId"`
			AppRoleID   string `json:"appRoleId"`
		} `json:"value"`
	}
	path := "/servicePrincipals/" + url.PathEscape(sp.ID) + "/appRoleAssignedTo"
	if _, err := g.do(ctx, call{method: http.MethodGet, path: path, out: &list, replicated: "service principal"}); err != nil {
		var gerr *GraphError
		if errors.As(err, &gerr) && gerr.denied() {
			c.roleWarning(gerr, me, role)
			return false, nil
		}
		return false, fmt.Errorf("reading the role assignments: %w", err)
	}
	for _, a := range list.Value {
		if strings.EqualFold(a.PrincipalID, me.ID) && strings.EqualFold(a.AppRoleID, roleID) {
			return true, nil
		}
	}
	_, err := g.do(ctx, call{method: http.MethodPost, path: path, replicated: "service principal",
		body: map[string]string{"principalId": me.ID, "resourceId": sp.ID, "appRoleId": roleID}})
	var gerr *GraphError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &gerr) && gerr.denied():
		c.roleWarning(gerr, me, role)
		return false, nil
	case errors.As(err, &gerr) && strings.Contains(gerr.Message, "already exists"):
		return true, nil
	}
	return false, fmt.Errorf("assigning the app role %s: %w", role, err)
}

func (c *command) roleWarning(gerr *GraphError, me user, role string) {
	c.warn("Microsoft Graph refused to assign you the app role %q (%d %s): your account may not assign this app's roles in this tenant.\n"+
		"Everything else is registered; only /admin answers 403 until the role is assigned. An administrator, or an owner of the\n"+
		"enterprise application, can assign it in the Microsoft Entra admin center:\n"+
		"  Identity → Applications → Enterprise applications → %s → Users and groups → Add user/group,\n"+
		"  pick %s and the role Admin, and Assign. Then sign out of the app and in again.",
		role, gerr.Status, gerr.Code, c.o.name, me.UserPrincipalName)
}

// cleanup deletes the registration (its service principal and role
// assignments go with it), removes its keys from .env, the certificate it
// made, and the state file.
func (c *command) cleanup(ctx context.Context) error {
	st, si, env, err := c.start(ctx)
	if err != nil {
		return err
	}
	g := c.graph(si.token)
	if st == nil {
		var me user
		if _, err := g.do(ctx, call{method: http.MethodGet, path: "/me", out: &me}); err != nil {
			return fmt.Errorf("reading your account from Microsoft Graph: %w", err)
		}
		st = &state{Tenant: si.tenant, UniqueName: c.o.uniqueName}
		if st.UniqueName == "" {
			st.UniqueName = "ms-identity-go-webapp-" + strings.ToLower(strings.ReplaceAll(me.ID, "-", ""))[:8]
		}
	}
	app, err := c.findApplication(ctx, g, st)
	if err != nil {
		return fmt.Errorf("looking for the registration: %w", err)
	}
	clientID := st.ClientID
	if app != nil {
		clientID = app.AppID
		_, err := g.do(ctx, call{method: http.MethodDelete, path: appPath(app.ID)})
		var gerr *GraphError
		switch {
		case errors.As(err, &gerr) && gerr.denied():
			return fmt.Errorf("Microsoft Graph refused to delete the app registration %s (%d %s): only its owners and administrators may", app.AppID, gerr.Status, gerr.Code)
		case err != nil && !isNotFound(err):
			return fmt.Errorf("deleting the app registration: %w", err)
		}
		c.say("Deleted the app registration %s (client ID %s) with its service principal and role assignments.", app.DisplayName, app.AppID)
		c.say("It stays among the tenant's deleted applications for 30 days, where an administrator can restore it.")
	} else {
		c.say("No registration %s to delete in tenant %s.", st.UniqueName, si.tenant)
	}
	switch have := env.get("CLIENT_ID"); {
	case have != "" && clientID != "" && !strings.EqualFold(have, clientID):
		c.say("Left %s as it is: its CLIENT_ID %s is not the deleted registration's.", c.o.envFile, have)
	case clientID != "" || have == "":
		if removed := unsetKeys(env, "CLIENT_ID", "CLIENT_SECRET", "CLIENT_CERTIFICATE_PATH", "CLIENT_CERTIFICATE_PASSWORD", "AUTHORITY"); len(removed) > 0 {
			if err := env.write(); err != nil {
				return err
			}
			for i := range removed {
				removed[i] = strings.TrimPrefix(removed[i], "-")
			}
			c.say("Removed %s from %s.", strings.Join(removed, ", "), c.o.envFile)
		}
	}
	if st.CertificatePath != "" {
		if err := os.Remove(st.CertificatePath); err == nil {
			c.say("Deleted the certificate %s.", st.CertificatePath)
		}
	}
	if err := os.Remove(c.o.stateFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// origin is scheme://host[:port] of a URL.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

func isLoopbackHostname(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// newUUID is a random (version 4) UUID, for a new app role's id.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
