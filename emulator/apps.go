// App registrations: the apps of the emulator's tenant, each with its own
// client ID, credentials, redirect URIs and front-channel logout URL.

package emulator

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// App is one app registration in the emulator's tenant, as Entra's "App
// registrations" blade holds it. Every app shares the tenant's users, their
// app roles and the browser session (single sign-on); consent, codes and
// tokens are each app's own.
type App struct {
	ClientID string `json:"client_id"`
	// ClientSecret may be empty when the app has a certificate or a
	// federated credential instead.
	ClientSecret string   `json:"client_secret"`
	RedirectURIs []string `json:"redirect_uris"`
	// ClientCertificates are the certificates uploaded to the app: a client
	// assertion signed with one's key authenticates the app (see
	// clientauth.go). The client secret stays valid beside them, as in
	// Entra. In the apps file: client_certificates, a list of PEM (or DER)
	// file paths, relative to the apps file.
	ClientCertificates []*x509.Certificate `json:"-"`
	// FederatedSubjects are the subjects of the app's federated
	// credentials, each trusting the emulator's own workload issuer
	// (https://{host}/workload-identity, audience api://AzureADTokenExchange;
	// see workload.go).
	FederatedSubjects []string `json:"federated_subjects"`
	// FrontChannelLogoutURL is loaded in a hidden iframe, with ?sid=, when
	// a browser session the app was signed into ends ("Front-channel logout
	// URL" under Authentication in the admin center). Empty = none.
	FrontChannelLogoutURL string `json:"front_channel_logout_url"`
	// DisplayName is what the consent page and the access tokens'
	// app_displayname show; empty = "Entra emulator demo app".
	DisplayName string `json:"display_name"`
}

// app is a registered app inside the emulator. Everything but redirectURIs
// is fixed at New; redirectURIs grows with AddRedirectURI, under
// Emulator.redirectMu. An app registered through Microsoft Graph is a
// snapshot that is replaced, never changed, when its registration changes
// (directory.go).
type app struct {
	clientID     string
	clientSecret string // "" = none: the app authenticates with creds only
	creds        *clientCredentials
	displayName  string
	logoutURL    string // front-channel logout URL; "" = none
	redirectURIs []string

	// directory: registered through Graph. Its user roles come from app
	// role assignments, it has no tenant-wide admin consent, and its
	// secrets are the passwords added with addPassword.
	directory bool
	passwords []password
	// public: a public client (no credential; any loopback port
	// redirects, as for "http://localhost"), and preAuthorized: needs no
	// consent for Graph, as Microsoft's first-party tools do.
	public        bool
	preAuthorized bool
	// graphDefaults is what https://graph.microsoft.com/.default grants
	// this app; nil = defaultGraphScopes.
	graphDefaults []string
}

// prepareApps validates the configured apps. cfg.Apps, when set, replaces
// the single-app fields, which are the shorthand for one app (the demo app
// when they are empty too).
func prepareApps(cfg Config) ([]*app, error) {
	apps := cfg.Apps
	one := App{
		ClientID:              cfg.ClientID,
		ClientSecret:          cfg.ClientSecret,
		RedirectURIs:          cfg.RedirectURIs,
		FrontChannelLogoutURL: cfg.FrontChannelLogoutURL,
		ClientCertificates:    cfg.ClientCertificates,
		FederatedSubjects:     cfg.FederatedSubjects,
	}
	single := one.ClientID != "" || one.ClientSecret != "" || len(one.RedirectURIs) > 0 || one.FrontChannelLogoutURL != "" ||
		len(one.ClientCertificates) > 0 || len(one.FederatedSubjects) > 0
	switch {
	case len(apps) > 0 && single:
		return nil, errors.New("configure either Apps or the single-app fields (ClientID, ClientSecret, RedirectURIs, FrontChannelLogoutURL, ClientCertificates, FederatedSubjects), not both")
	case len(apps) == 0:
		if strings.TrimSpace(one.ClientID) == "" {
			one.ClientID = DemoClientID
		}
		if one.ClientSecret == "" {
			one.ClientSecret = DemoClientSecret
		}
		if len(one.RedirectURIs) == 0 {
			one.RedirectURIs = DemoRedirectURIs
		}
		a, err := newApp(one)
		if err != nil {
			return nil, err
		}
		return []*app{a}, nil
	}
	out := make([]*app, 0, len(apps))
	seen := make(map[string]int, len(apps))
	for i, in := range apps {
		a, err := newApp(in)
		if err != nil {
			return nil, fmt.Errorf("app #%d: %w", i+1, err)
		}
		key := strings.ToLower(a.clientID)
		if prev, ok := seen[key]; ok {
			return nil, fmt.Errorf("app #%d: duplicate client_id %q (also app #%d)", i+1, a.clientID, prev)
		}
		seen[key] = i + 1
		out = append(out, a)
	}
	return out, nil
}

// newApp validates one registration. Messages name the apps file's fields,
// which are also the Config names' plain-English counterparts.
func newApp(in App) (*app, error) {
	a := &app{
		clientID:     strings.TrimSpace(in.ClientID),
		clientSecret: in.ClientSecret,
		displayName:  strings.TrimSpace(in.DisplayName),
		logoutURL:    strings.TrimSpace(in.FrontChannelLogoutURL),
	}
	switch {
	case a.clientID == "":
		return nil, errors.New("client_id is empty")
	case strings.ContainsAny(a.clientID, "/?#& \t"):
		return nil, fmt.Errorf("client_id (client ID) %q contains characters not allowed in an app ID", a.clientID)
	case a.clientSecret == "" && len(in.ClientCertificates) == 0 && len(in.FederatedSubjects) == 0:
		return nil, fmt.Errorf("client_secret of %s is empty, and it has neither client_certificates nor federated_subjects: give it a credential", a.clientID)
	case len(in.RedirectURIs) == 0:
		return nil, fmt.Errorf("redirect_uris of %s is empty: register at least one redirect URI", a.clientID)
	}
	if a.displayName == "" {
		a.displayName = appDisplayName
	}
	var err error
	if a.creds, err = newClientCredentials(in.ClientCertificates, in.FederatedSubjects); err != nil {
		return nil, fmt.Errorf("credentials of %s: %w", a.clientID, err)
	}
	for _, u := range in.RedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			return nil, fmt.Errorf("redirect_uris of %s: %w", a.clientID, err)
		}
		if !slices.Contains(a.redirectURIs, u) {
			a.redirectURIs = append(a.redirectURIs, u)
		}
	}
	if a.logoutURL != "" {
		if err := validateLogoutURL(a.logoutURL); err != nil {
			return nil, fmt.Errorf("front_channel_logout_url of %s: %w", a.clientID, err)
		}
	}
	return a, nil
}

// validateLogoutURL applies Entra's rule for a front-channel logout URL:
// https, or http on a loopback host during development, and no fragment.
// A query is allowed; the emulator adds sid to it.
func validateLogoutURL(raw string) error {
	if err := validateRedirectURI(raw); err != nil {
		return errors.New(strings.Replace(err.Error(), "redirect URI", "front-channel logout URL", 1))
	}
	return nil
}

// LoadApps reads a JSON list of app registrations from path, the -apps file:
//
//	[{"client_id": "...", "client_secret": "...",
//	  "redirect_uris": ["https://localhost:5000/auth/redirect"],
//	  "front_channel_logout_url": "https://localhost:5000/auth/frontchannel-logout",
//	  "client_certificates": ["app.crt"], "federated_subjects": ["system:serviceaccount:web:app"]}]
//
// Certificate paths are relative to the apps file. It fails with a message
// naming the file, the app and the field for a missing file, bad JSON, an
// unknown field, an empty list, an unreadable certificate, or a missing or
// malformed value.
func LoadApps(path string) ([]App, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("apps file %s does not exist", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read apps file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// The file names certificates by path; App holds them parsed.
	var entries []struct {
		App
		CertificateFiles []string `json:"client_certificates"`
	}
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("apps file %s is not a JSON list of apps: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("apps file %s has data after the JSON list", path)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("apps file %s lists no app: register at least one", path)
	}
	apps := make([]App, len(entries))
	for i, en := range entries {
		apps[i] = en.App
		for _, f := range en.CertificateFiles {
			if !filepath.IsAbs(f) {
				f = filepath.Join(filepath.Dir(path), f)
			}
			certs, err := LoadCertificates(f)
			if err != nil {
				return nil, fmt.Errorf("apps file %s: app #%d: client_certificates: %w", path, i+1, err)
			}
			apps[i].ClientCertificates = append(apps[i].ClientCertificates, certs...)
		}
	}
	if _, err := prepareApps(Config{Apps: apps}); err != nil {
		return nil, fmt.Errorf("apps file %s: %w", path, err)
	}
	return apps, nil
}

// lookupApp returns the registered app with clientID (compared without
// case, as Entra compares GUIDs), or nil.
func (e *Emulator) lookupApp(clientID string) *app {
	for _, a := range e.apps {
		if strings.EqualFold(a.clientID, clientID) {
			return a
		}
	}
	return e.directoryApp(clientID) // directory.go
}

// Apps returns copies of the app registrations, secrets included: the
// emulator's secrets are for development only.
func (e *Emulator) Apps() []App {
	e.redirectMu.RLock()
	defer e.redirectMu.RUnlock()
	out := make([]App, len(e.apps))
	for i, a := range e.apps {
		out[i] = App{
			ClientID:              a.clientID,
			ClientSecret:          a.clientSecret,
			RedirectURIs:          slices.Clone(a.redirectURIs),
			FrontChannelLogoutURL: a.logoutURL,
			DisplayName:           a.displayName,
			ClientCertificates:    a.creds.certificates(),
			FederatedSubjects:     slices.Clone(a.creds.federatedSubjects),
		}
	}
	return out
}

// isRegisteredRedirect reports whether uri is one of a's redirect URIs.
func (e *Emulator) isRegisteredRedirect(a *app, uri string) bool {
	if a.public && isLoopbackRedirect(uri) { // directory.go
		return true
	}
	e.redirectMu.RLock()
	defer e.redirectMu.RUnlock()
	return slices.Contains(a.redirectURIs, uri)
}

// frontChannelURL is a's front-channel logout URL for one browser session:
// the registered URL with sid added to its query, and no iss, as Entra
// sends it.
func (a *app) frontChannelURL(sid string) string {
	u, err := url.Parse(a.logoutURL) // validated at New
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("sid", sid)
	u.RawQuery = q.Encode()
	return u.String()
}

// certificates returns the registered certificates.
func (c *clientCredentials) certificates() []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(c.certs))
	for _, rc := range c.certs {
		out = append(out, rc.cert)
	}
	return out
}
