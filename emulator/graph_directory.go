// Microsoft Graph's /v1.0 directory calls a tool needs to register an app:
// applications (create, get, the uniqueName upsert, addPassword,
// removePassword, owners, delete), servicePrincipals (create, get,
// appRoleAssignedTo) and Graph's own service principal, with Graph's JSON
// shapes and errors.

package emulator

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// graphPermissionScope is one delegated permission Microsoft Graph's
// service principal publishes in oauth2PermissionScopes.
type graphPermissionScope struct {
	ID    string
	Value string
	Admin bool // needs an administrator's consent
}

// graphScopes are the delegated Graph permissions the emulator publishes,
// with Graph's permission IDs.
var graphScopes = []graphPermissionScope{
	{"e1fe6dd8-ba31-4d61-89e7-88639da4683d", "User.Read", false},
	{"b340eb25-3456-403f-be2f-af7a0d370277", "User.ReadBasic.All", false},
	{"a154be20-db9c-4678-8ab7-66f6cc099a59", "User.Read.All", true},
	{"465a38f9-76ea-45b9-9f34-9e8b0d4b0b42", "Calendars.Read", false},
	{"1ec239c2-d7c9-4623-a91a-a9775856bb36", "Calendars.ReadWrite", false},
	{"570282fd-fa5c-430d-a7fd-fc8dc98a9dca", "Mail.Read", false},
	{"e383f46e-2787-4529-855e-0e479a3ffac0", "Mail.Send", false},
	{"10465720-29dd-4523-a11a-6a75c743c9d9", "Files.Read", false},
	{"06da0dbc-49e2-44d2-8312-53f166ab848a", "Directory.Read.All", true},
	{"37f7f235-527c-4136-accd-4a02d197296e", "openid", false},
	{"14dad69e-099b-42c9-810b-d002981feec1", "profile", false},
	{"64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", "email", false},
	{"7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "offline_access", false},
}

func graphScopeByID(id string) *graphPermissionScope {
	for i := range graphScopes {
		if strings.EqualFold(graphScopes[i].ID, id) {
			return &graphScopes[i]
		}
	}
	return nil
}

// The JSON shapes of Graph's application and its complex properties.

type webApplication struct {
	RedirectURIs          []string              `json:"redirectUris"`
	LogoutURL             string                `json:"logoutUrl,omitempty"`
	HomePageURL           string                `json:"homePageUrl,omitempty"`
	ImplicitGrantSettings implicitGrantSettings `json:"implicitGrantSettings"`
}

type implicitGrantSettings struct {
	EnableIDTokenIssuance     bool `json:"enableIdTokenIssuance"`
	EnableAccessTokenIssuance bool `json:"enableAccessTokenIssuance"`
}

type appRole struct {
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	Description        string   `json:"description"`
	DisplayName        string   `json:"displayName"`
	ID                 string   `json:"id"`
	IsEnabled          bool     `json:"isEnabled"`
	Origin             string   `json:"origin,omitempty"`
	Value              string   `json:"value"`
}

type requiredResourceAccess struct {
	ResourceAppID  string           `json:"resourceAppId"`
	ResourceAccess []resourceAccess `json:"resourceAccess"`
}

type resourceAccess struct {
	ID   string `json:"id"`
	Type string `json:"type"` // Scope (delegated) or Role (application)
}

type passwordCredential struct {
	CustomKeyIdentifier *string   `json:"customKeyIdentifier"`
	DisplayName         string    `json:"displayName"`
	EndDateTime         time.Time `json:"endDateTime"`
	Hint                string    `json:"hint"`
	KeyID               string    `json:"keyId"`
	SecretText          *string   `json:"secretText"`
	StartDateTime       time.Time `json:"startDateTime"`
}

type keyCredential struct {
	CustomKeyIdentifier string    `json:"customKeyIdentifier"`
	DisplayName         string    `json:"displayName"`
	EndDateTime         time.Time `json:"endDateTime"`
	Key                 *string   `json:"key"` // base64 DER when uploading; null when read
	KeyID               string    `json:"keyId"`
	StartDateTime       time.Time `json:"startDateTime"`
	Type                string    `json:"type"`
	Usage               string    `json:"usage"`
}

type applicationResource struct {
	ODataContext           string                   `json:"@odata.context,omitempty"`
	ID                     string                   `json:"id"`
	AppID                  string                   `json:"appId"`
	CreatedDateTime        time.Time                `json:"createdDateTime"`
	DisplayName            string                   `json:"displayName"`
	PublisherDomain        string                   `json:"publisherDomain"`
	SignInAudience         string                   `json:"signInAudience"`
	UniqueName             *string                  `json:"uniqueName"`
	AppRoles               []appRole                `json:"appRoles"`
	KeyCredentials         []keyCredential          `json:"keyCredentials"`
	PasswordCredentials    []passwordCredential     `json:"passwordCredentials"`
	RequiredResourceAccess []requiredResourceAccess `json:"requiredResourceAccess"`
	Web                    webApplication           `json:"web"`
}

// applicationPatch is a POST or PATCH body: absent properties stay as they
// are; a complex property given replaces the one stored, as in Graph.
type applicationPatch struct {
	DisplayName            *string                   `json:"displayName"`
	UniqueName             *string                   `json:"uniqueName"`
	SignInAudience         *string                   `json:"signInAudience"`
	Web                    *webApplication           `json:"web"`
	AppRoles               *[]appRole                `json:"appRoles"`
	RequiredResourceAccess *[]requiredResourceAccess `json:"requiredResourceAccess"`
	KeyCredentials         *[]keyCredential          `json:"keyCredentials"`
}

type permissionScopeResource struct {
	AdminConsentDescription string `json:"adminConsentDescription"`
	AdminConsentDisplayName string `json:"adminConsentDisplayName"`
	ID                      string `json:"id"`
	IsEnabled               bool   `json:"isEnabled"`
	Type                    string `json:"type"`
	UserConsentDescription  string `json:"userConsentDescription"`
	UserConsentDisplayName  string `json:"userConsentDisplayName"`
	Value                   string `json:"value"`
}

type servicePrincipalResource struct {
	ODataContext           string                    `json:"@odata.context,omitempty"`
	ID                     string                    `json:"id"`
	AccountEnabled         bool                      `json:"accountEnabled"`
	AppDisplayName         string                    `json:"appDisplayName"`
	AppID                  string                    `json:"appId"`
	DisplayName            string                    `json:"displayName"`
	ServicePrincipalType   string                    `json:"servicePrincipalType"`
	AppRoles               []appRole                 `json:"appRoles"`
	OAuth2PermissionScopes []permissionScopeResource `json:"oauth2PermissionScopes"`
}

type appRoleAssignment struct {
	ID                   string    `json:"id"`
	AppRoleID            string    `json:"appRoleId"`
	CreatedDateTime      time.Time `json:"createdDateTime"`
	PrincipalDisplayName string    `json:"principalDisplayName"`
	PrincipalID          string    `json:"principalId"`
	PrincipalType        string    `json:"principalType"`
	ResourceDisplayName  string    `json:"resourceDisplayName"`
	ResourceID           string    `json:"resourceId"`
}

// graphErr is a Graph error answer: HTTP status, Graph's code, message.
type graphErr struct {
	status  int
	code    string
	message string
}

func errDenied() *graphErr {
	return &graphErr{http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."}
}

func errNotFound(id string) *graphErr {
	return &graphErr{http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
}

func errBadRequest(msg string) *graphErr {
	return &graphErr{http.StatusBadRequest, "Request_BadRequest", msg}
}

// The delegated permissions that let a caller read and write applications,
// and assign app roles.
var (
	readAppsScopes   = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"}
	writeAppsScopes  = []string{"Application.ReadWrite.All", "Directory.AccessAsUser.All"}
	assignRoleScopes = []string{"AppRoleAssignment.ReadWrite.All", "Directory.AccessAsUser.All"}
)

func hasScope(scp string, any []string) bool {
	for _, s := range strings.Fields(scp) {
		if slices.ContainsFunc(any, func(a string) bool { return strings.EqualFold(a, s) }) {
			return true
		}
	}
	return false
}

func (e *Emulator) directoryRoutes(mux *http.ServeMux) {
	// Applications and service principals are also addressed by an
	// alternate key in one path segment: applications(appId='…'),
	// applications(uniqueName='…'), servicePrincipals(appId='…').
	mux.HandleFunc("GET /v1.0/{ref}", e.graphDirectory(e.handleGetByRef))
	mux.HandleFunc("PATCH /v1.0/{ref}", e.graphDirectory(e.handlePatchApplication))
	mux.HandleFunc("DELETE /v1.0/{ref}", e.graphDirectory(e.handleDeleteApplication))
	mux.HandleFunc("POST /v1.0/{ref}", e.graphDirectory(e.handleCreate))
	mux.HandleFunc("GET /v1.0/applications/{id}", e.graphDirectory(e.handleGetApplication))
	mux.HandleFunc("PATCH /v1.0/applications/{id}", e.graphDirectory(e.handlePatchApplication))
	mux.HandleFunc("DELETE /v1.0/applications/{id}", e.graphDirectory(e.handleDeleteApplication))
	mux.HandleFunc("POST /v1.0/applications/{id}/addPassword", e.graphDirectory(e.handleAddPassword))
	mux.HandleFunc("POST /v1.0/applications/{id}/removePassword", e.graphDirectory(e.handleRemovePassword))
	mux.HandleFunc("GET /v1.0/applications/{id}/owners", e.graphDirectory(e.handleListOwners))
	mux.HandleFunc("POST /v1.0/applications/{id}/owners/$ref", e.graphDirectory(e.handleAddOwner))
	mux.HandleFunc("GET /v1.0/servicePrincipals/{id}", e.graphDirectory(e.handleGetServicePrincipal))
	mux.HandleFunc("GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo", e.graphDirectory(e.handleListAssignments))
	mux.HandleFunc("POST /v1.0/servicePrincipals/{id}/appRoleAssignedTo", e.graphDirectory(e.handleAssignRole))
}

// directoryCall is one authenticated directory request.
type directoryCall struct {
	w    http.ResponseWriter
	r    *http.Request
	user *User
	scp  string
}

// graphDirectory wraps a directory handler: it counts the request, applies
// the Graph faults, checks the bearer token as Graph does, and writes the
// handler's answer, or its error in Graph's format.
func (e *Emulator) graphDirectory(h func(c *directoryCall) (status int, body any, gerr *graphErr)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !e.begin(w, r, StatGraphDirectory, EndpointGraph) {
			return
		}
		u, claims, ok := e.graphCaller(w, r)
		if !ok {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
		status, body, gerr := h(&directoryCall{w: w, r: r, user: u, scp: claims.Scp})
		if gerr != nil {
			e.graphError(w, r, gerr.status, gerr.code, gerr.message)
			return
		}
		e.graphHeaders(w, r)
		if body == nil {
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", graphContentType)
		writeJSON(w, status, body)
	}
}

// decodeBody reads a JSON body strictly: an unknown property is Graph's
// "does not exist on type" error rather than silently ignored.
func decodeBody(r *http.Request, v any, typeName string) *graphErr {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return errBadRequest("The request body could not be read.")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var prop string
		if _, after, ok := strings.Cut(err.Error(), "unknown field "); ok {
			prop = strings.Trim(after, `"`)
		}
		if prop != "" {
			return errBadRequest(fmt.Sprintf("Property '%s' does not exist on type 'microsoft.graph.%s'.", prop, typeName))
		}
		return errBadRequest("Invalid JSON in the request body: " + err.Error())
	}
	return nil
}

var alternateKey = regexp.MustCompile(`(?i)^(applications|servicePrincipals)\((appId|uniqueName|id)='([^']*)'\)$`)

// objectRef is a parsed {ref} path segment.
type objectRef struct {
	collection string // "applications" or "servicePrincipals", as Graph spells them
	key        string // "appId", "uniqueName", "id"; "" for the collection itself
	value      string
}

func parseRef(seg string) (objectRef, *graphErr) {
	switch {
	case strings.EqualFold(seg, "applications"):
		return objectRef{collection: "applications"}, nil
	case strings.EqualFold(seg, "servicePrincipals"):
		return objectRef{collection: "servicePrincipals"}, nil
	}
	m := alternateKey.FindStringSubmatch(seg)
	if m == nil {
		return objectRef{}, errBadRequest(fmt.Sprintf("Resource not found for the segment '%s'.", seg))
	}
	ref := objectRef{collection: "applications", value: m[3]}
	if strings.EqualFold(m[1], "servicePrincipals") {
		ref.collection = "servicePrincipals"
	}
	switch strings.ToLower(m[2]) {
	case "appid":
		ref.key = "appId"
	case "uniquename":
		ref.key = "uniqueName"
	default:
		ref.key = "id"
	}
	if ref.collection == "servicePrincipals" && ref.key == "uniqueName" {
		return objectRef{}, errBadRequest("servicePrincipals has no alternate key uniqueName; use appId.")
	}
	return ref, nil
}

// findApp resolves an application by key, as this request sees it (an
// object still replicating is not found). The caller holds dir.mu.
func (dir *directory) findApp(key, value string) *dirApp {
	var d *dirApp
	switch key {
	case "appId":
		d = dir.appByAppID(value)
	case "uniqueName":
		d = dir.appByUniqueName(value)
	default:
		d = dir.appByID(value)
	}
	if d == nil || !dir.visible(d.id) {
		return nil
	}
	return d
}

func (e *Emulator) handleGetByRef(c *directoryCall) (int, any, *graphErr) {
	ref, gerr := parseRef(c.r.PathValue("ref"))
	if gerr != nil {
		return 0, nil, gerr
	}
	if ref.key == "" {
		return 0, nil, errBadRequest("Listing " + ref.collection + " is not supported by the emulator: address one by its id or an alternate key.")
	}
	if ref.collection == "servicePrincipals" {
		return e.getServicePrincipal(c, ref.key, ref.value)
	}
	return e.getApplication(c, ref.key, ref.value)
}

func (e *Emulator) handleGetApplication(c *directoryCall) (int, any, *graphErr) {
	return e.getApplication(c, "id", c.r.PathValue("id"))
}

func (e *Emulator) getApplication(c *directoryCall, key, value string) (int, any, *graphErr) {
	if !hasScope(c.scp, readAppsScopes) {
		return 0, nil, errDenied()
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	d := e.dir.findApp(key, value)
	if d == nil {
		return 0, nil, errNotFound(value)
	}
	res := e.applicationJSON(d)
	res.ODataContext = "https://graph.microsoft.com/v1.0/$metadata#applications/$entity"
	return http.StatusOK, res, nil
}

func (e *Emulator) applicationJSON(d *dirApp) applicationResource {
	res := applicationResource{
		ID:                     d.id,
		AppID:                  d.appID,
		CreatedDateTime:        d.created.UTC(),
		DisplayName:            d.displayName,
		PublisherDomain:        e.tenant,
		SignInAudience:         d.audience,
		AppRoles:               append([]appRole{}, d.roles...),
		KeyCredentials:         []keyCredential{},
		PasswordCredentials:    []passwordCredential{},
		RequiredResourceAccess: append([]requiredResourceAccess{}, d.required...),
		Web:                    d.web,
	}
	res.Web.RedirectURIs = append([]string{}, d.web.RedirectURIs...)
	if d.uniqueName != "" {
		name := d.uniqueName
		res.UniqueName = &name
	}
	for _, p := range d.passwords {
		res.PasswordCredentials = append(res.PasswordCredentials, p.meta)
	}
	for _, k := range d.keys {
		res.KeyCredentials = append(res.KeyCredentials, k.meta)
	}
	return res
}

// handleCreate answers POST /v1.0/applications and POST
// /v1.0/servicePrincipals.
func (e *Emulator) handleCreate(c *directoryCall) (int, any, *graphErr) {
	ref, gerr := parseRef(c.r.PathValue("ref"))
	switch {
	case gerr != nil:
		return 0, nil, gerr
	case ref.key != "":
		return 0, nil, &graphErr{http.StatusMethodNotAllowed, "Request_BadRequest", "POST is not allowed on a single " + strings.TrimSuffix(ref.collection, "s") + "."}
	case ref.collection == "servicePrincipals":
		return e.createServicePrincipal(c)
	}
	var p applicationPatch
	if gerr := decodeBody(c.r, &p, "application"); gerr != nil {
		return 0, nil, gerr
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	if p.UniqueName != nil && e.dir.appByUniqueName(*p.UniqueName) != nil {
		return 0, nil, &graphErr{http.StatusBadRequest, "Request_MultipleObjectsWithSameKeyValue",
			"Another object with the same value for property uniqueName already exists."}
	}
	d, gerr := e.createApplication(c, p)
	if gerr != nil {
		return 0, nil, gerr
	}
	res := e.applicationJSON(d)
	res.ODataContext = "https://graph.microsoft.com/v1.0/$metadata#applications/$entity"
	return http.StatusCreated, res, nil
}

// createApplication makes a new application owned by the caller, as Graph
// does when a user (not an app) creates one. The caller holds dir.mu.
func (e *Emulator) createApplication(c *directoryCall, p applicationPatch) (*dirApp, *graphErr) {
	if !hasScope(c.scp, writeAppsScopes) || e.dir.faults.AppRegistrationDisabled {
		return nil, errDenied()
	}
	if p.DisplayName == nil || strings.TrimSpace(*p.DisplayName) == "" {
		return nil, errBadRequest("Property 'displayName' is required to create an application.")
	}
	d := &dirApp{
		id:       newGUID(),
		appID:    newGUID(),
		audience: "AzureADMyOrg",
		created:  e.now(),
		owners:   []string{c.user.OID},
		web:      webApplication{RedirectURIs: []string{}},
	}
	if p.UniqueName != nil {
		if !uniqueNamePattern.MatchString(*p.UniqueName) {
			return nil, errBadRequest(fmt.Sprintf("Invalid value specified for property 'uniqueName' of resource 'Application': '%s'.", *p.UniqueName))
		}
		d.uniqueName = *p.UniqueName
	}
	if gerr := e.applyPatch(d, p); gerr != nil {
		return nil, gerr
	}
	e.dir.apps = append(e.dir.apps, d)
	e.dir.justCreated(d.id)
	e.dir.refresh(d)
	return d, nil
}

var uniqueNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]{0,119}$`)

var signInAudiences = []string{"AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"}

// applyPatch validates p and applies it to d, or changes nothing. The
// caller holds dir.mu.
func (e *Emulator) applyPatch(d *dirApp, p applicationPatch) *graphErr {
	next := *d
	if p.UniqueName != nil && !strings.EqualFold(*p.UniqueName, d.uniqueName) {
		return errBadRequest("Property 'uniqueName' is read-only once set.")
	}
	if p.DisplayName != nil {
		if strings.TrimSpace(*p.DisplayName) == "" {
			return errBadRequest("Property 'displayName' cannot be empty.")
		}
		next.displayName = *p.DisplayName
	}
	if p.SignInAudience != nil {
		if !slices.Contains(signInAudiences, *p.SignInAudience) {
			return errBadRequest(fmt.Sprintf("Invalid value specified for property 'signInAudience' of resource 'Application': '%s'.", *p.SignInAudience))
		}
		next.audience = *p.SignInAudience
	}
	if p.Web != nil {
		web := *p.Web
		web.RedirectURIs = append([]string{}, web.RedirectURIs...)
		for _, u := range web.RedirectURIs {
			if err := validateRedirectURI(u); err != nil {
				return errBadRequest("Invalid value specified for property 'web.redirectUris' of resource 'Application': " + err.Error())
			}
		}
		if web.LogoutURL != "" {
			if err := validateLogoutURL(web.LogoutURL); err != nil {
				return errBadRequest("Invalid value specified for property 'web.logoutUrl' of resource 'Application': " + err.Error())
			}
		}
		next.web = web
	}
	if p.AppRoles != nil {
		if gerr := checkAppRoles(d.roles, *p.AppRoles); gerr != nil {
			return gerr
		}
		next.roles = append([]appRole{}, *p.AppRoles...)
		for i := range next.roles {
			next.roles[i].Origin = "Application"
		}
	}
	if p.RequiredResourceAccess != nil {
		for _, rra := range *p.RequiredResourceAccess {
			if rra.ResourceAppID != GraphResourceID {
				return errBadRequest(fmt.Sprintf("The resource '%s' in requiredResourceAccess is not known to the emulator, which knows only Microsoft Graph (%s).", rra.ResourceAppID, GraphResourceID))
			}
			for _, ra := range rra.ResourceAccess {
				if ra.Type != "Scope" && ra.Type != "Role" {
					return errBadRequest(fmt.Sprintf("Invalid resourceAccess type '%s': use Scope (delegated) or Role (application).", ra.Type))
				}
				if ra.Type == "Scope" && graphScopeByID(ra.ID) == nil {
					return errBadRequest(fmt.Sprintf("The delegated permission '%s' is not one of Microsoft Graph's oauth2PermissionScopes.", ra.ID))
				}
			}
		}
		next.required = append([]requiredResourceAccess{}, *p.RequiredResourceAccess...)
	}
	if p.KeyCredentials != nil {
		keys, gerr := e.parseKeyCredentials(*p.KeyCredentials)
		if gerr != nil {
			return gerr
		}
		next.keys = keys
	}
	*d = next
	return nil
}

// checkAppRoles applies Graph's rules to a new list of app roles: each
// with a GUID id, a unique value without spaces and member types; an
// enabled role may be neither removed nor have its value changed (it must
// be disabled first).
func checkAppRoles(old, roles []appRole) *graphErr {
	seenID, seenValue := map[string]bool{}, map[string]bool{}
	for _, r := range roles {
		switch {
		case !guidPattern.MatchString(r.ID):
			return errBadRequest(fmt.Sprintf("Invalid value specified for property 'id' of an app role: '%s' is not a GUID.", r.ID))
		case r.Value == "" || strings.ContainsAny(r.Value, " \t"):
			return errBadRequest(fmt.Sprintf("Invalid value specified for property 'value' of app role '%s': it must be non-empty and contain no spaces.", r.ID))
		case len(r.AllowedMemberTypes) == 0:
			return errBadRequest(fmt.Sprintf("App role '%s' needs allowedMemberTypes (User, Application).", r.Value))
		case seenID[strings.ToLower(r.ID)] || seenValue[strings.ToLower(r.Value)]:
			return errBadRequest("Request contains a property with duplicate values: appRoles.")
		}
		seenID[strings.ToLower(r.ID)], seenValue[strings.ToLower(r.Value)] = true, true
	}
	for _, o := range old {
		if !o.IsEnabled {
			continue
		}
		i := slices.IndexFunc(roles, func(r appRole) bool { return strings.EqualFold(r.ID, o.ID) })
		if i < 0 || roles[i].Value != o.Value {
			return &graphErr{http.StatusBadRequest, "CannotDeleteOrUpdateEnabledEntitlement",
				fmt.Sprintf("Property value cannot be deleted or updated unless it is disabled first: the app role '%s' (%s).", o.Value, o.ID)}
		}
	}
	return nil
}

// parseKeyCredentials reads uploaded certificates: each key is a
// base64-encoded DER certificate with an RSA key.
func (e *Emulator) parseKeyCredentials(in []keyCredential) ([]storedKey, *graphErr) {
	var out []storedKey
	for _, k := range in {
		if k.Key == nil {
			return nil, errBadRequest("keyCredentials: a key credential needs its key (the base64-encoded certificate): Graph never returns keys, so a PATCH must upload every certificate the application keeps.")
		}
		der, err := base64.StdEncoding.DecodeString(*k.Key)
		if err != nil {
			return nil, errBadRequest("keyCredentials: key is not base64.")
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, errBadRequest("keyCredentials: key is not a DER certificate: " + err.Error())
		}
		if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
			return nil, errBadRequest("keyCredentials: the certificate's key is not RSA.")
		}
		if k.Type != "AsymmetricX509Cert" || k.Usage != "Verify" {
			return nil, errBadRequest("keyCredentials: use type AsymmetricX509Cert and usage Verify for a certificate that signs client assertions.")
		}
		meta := k
		meta.Key = nil
		if meta.KeyID == "" {
			meta.KeyID = newGUID()
		}
		meta.CustomKeyIdentifier = certThumbprint(cert)
		if meta.StartDateTime.IsZero() {
			meta.StartDateTime = cert.NotBefore.UTC()
		}
		if meta.EndDateTime.IsZero() {
			meta.EndDateTime = cert.NotAfter.UTC()
		}
		if meta.DisplayName == "" {
			meta.DisplayName = "CN=" + cert.Subject.CommonName
		}
		out = append(out, storedKey{meta: meta, cert: cert})
	}
	return out, nil
}

// singleApplication is how a request names the one application it acts
// on: /applications/{id}, or /applications(appId='…') and
// /applications(uniqueName='…').
func singleApplication(c *directoryCall, verb string) (key, value string, gerr *graphErr) {
	if id := c.r.PathValue("id"); id != "" {
		return "id", id, nil
	}
	ref, gerr := parseRef(c.r.PathValue("ref"))
	if gerr != nil {
		return "", "", gerr
	}
	if ref.key == "" || ref.collection != "applications" {
		return "", "", &graphErr{http.StatusMethodNotAllowed, "Request_BadRequest", verb + " needs a single application."}
	}
	return ref.key, ref.value, nil
}

// handlePatchApplication answers PATCH /v1.0/applications/{id} and the
// upsert PATCH /v1.0/applications(uniqueName='…'), which with "Prefer:
// create-if-missing" creates a missing application (201 with its JSON)
// and otherwise updates it (204).
func (e *Emulator) handlePatchApplication(c *directoryCall) (int, any, *graphErr) {
	key, value, gerr := singleApplication(c, "PATCH")
	if gerr != nil {
		return 0, nil, gerr
	}
	var p applicationPatch
	if gerr := decodeBody(c.r, &p, "application"); gerr != nil {
		return 0, nil, gerr
	}
	if !hasScope(c.scp, writeAppsScopes) {
		return 0, nil, errDenied()
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	var d *dirApp
	if key == "uniqueName" {
		// The upsert writes where the object is kept: an application
		// still replicating is updated, never made twice.
		d = e.dir.appByUniqueName(value)
	} else {
		d = e.dir.findApp(key, value)
	}
	if d == nil {
		upsert := key == "uniqueName" && slices.ContainsFunc(c.r.Header.Values("Prefer"), func(v string) bool {
			return strings.Contains(strings.ToLower(v), "create-if-missing")
		})
		if !upsert {
			return 0, nil, errNotFound(value)
		}
		if p.UniqueName == nil {
			p.UniqueName = &value
		}
		if !strings.EqualFold(*p.UniqueName, value) {
			return 0, nil, errBadRequest("The uniqueName in the body differs from the one in the URL.")
		}
		d, gerr := e.createApplication(c, p)
		if gerr != nil {
			return 0, nil, gerr
		}
		res := e.applicationJSON(d)
		res.ODataContext = "https://graph.microsoft.com/v1.0/$metadata#applications/$entity"
		return http.StatusCreated, res, nil
	}
	if !slices.Contains(d.owners, c.user.OID) {
		return 0, nil, errDenied()
	}
	if gerr := e.applyPatch(d, p); gerr != nil {
		return 0, nil, gerr
	}
	e.dir.refresh(d)
	return http.StatusNoContent, nil, nil
}

// handleDeleteApplication deletes an application with its service
// principal (and so its app role assignments). Graph keeps a deleted
// application for 30 days among the deleted items; the emulator forgets it.
func (e *Emulator) handleDeleteApplication(c *directoryCall) (int, any, *graphErr) {
	key, value, gerr := singleApplication(c, "DELETE")
	if gerr != nil {
		return 0, nil, gerr
	}
	if !hasScope(c.scp, writeAppsScopes) {
		return 0, nil, errDenied()
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	d := e.dir.findApp(key, value)
	switch {
	case d == nil:
		return 0, nil, errNotFound(value)
	case !slices.Contains(d.owners, c.user.OID):
		return 0, nil, errDenied()
	}
	e.dir.remove(d)
	return http.StatusNoContent, nil, nil
}

// ownedApp resolves the application of an /applications/{id}/… call that
// only an owner may make. The caller holds dir.mu.
func (e *Emulator) ownedApp(c *directoryCall) (*dirApp, *graphErr) {
	if !hasScope(c.scp, writeAppsScopes) {
		return nil, errDenied()
	}
	id := c.r.PathValue("id")
	d := e.dir.findApp("id", id)
	switch {
	case d == nil:
		return nil, errNotFound(id)
	case !slices.Contains(d.owners, c.user.OID):
		return nil, errDenied()
	}
	return d, nil
}

// maxPasswordLifetime is the longest a client secret may live, as the
// admin center offers.
const maxPasswordLifetime = 2 * 366 * 24 * time.Hour

// handleAddPassword creates a client secret. Its text is in this answer
// and nowhere else, ever.
func (e *Emulator) handleAddPassword(c *directoryCall) (int, any, *graphErr) {
	var body struct {
		PasswordCredential struct {
			DisplayName   string     `json:"displayName"`
			EndDateTime   *time.Time `json:"endDateTime"`
			StartDateTime *time.Time `json:"startDateTime"`
		} `json:"passwordCredential"`
	}
	if gerr := decodeBody(c.r, &body, "passwordCredential"); gerr != nil {
		return 0, nil, gerr
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	d, gerr := e.ownedApp(c)
	if gerr != nil {
		return 0, nil, gerr
	}
	now := e.now().UTC()
	in := body.PasswordCredential
	start, end := now, now.Add(180*24*time.Hour) // Graph's default: two years; the admin center's: 180 days
	if in.StartDateTime != nil {
		start = in.StartDateTime.UTC()
	}
	if in.EndDateTime != nil {
		end = in.EndDateTime.UTC()
	}
	if !end.After(start) || end.Sub(start) > maxPasswordLifetime {
		return 0, nil, errBadRequest("Invalid value specified for property 'endDateTime' of resource 'PasswordCredential': it must be after startDateTime and at most two years later.")
	}
	secret := "EmU8Q~" + randomString(30) // Entra's secrets are 40 characters with a "~" after a 3-character hint
	e.recordIssued(secret)
	meta := passwordCredential{
		DisplayName:   in.DisplayName,
		EndDateTime:   end,
		Hint:          secret[:3],
		KeyID:         newGUID(),
		StartDateTime: start,
	}
	d.passwords = append(d.passwords, storedPassword{meta: meta, secret: secret})
	e.dir.refresh(d)
	meta.SecretText = &secret
	return http.StatusOK, struct {
		ODataContext string `json:"@odata.context"`
		passwordCredential
	}{"https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.passwordCredential", meta}, nil
}

func (e *Emulator) handleRemovePassword(c *directoryCall) (int, any, *graphErr) {
	var body struct {
		KeyID string `json:"keyId"`
	}
	if gerr := decodeBody(c.r, &body, "passwordCredential"); gerr != nil {
		return 0, nil, gerr
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	d, gerr := e.ownedApp(c)
	if gerr != nil {
		return 0, nil, gerr
	}
	i := slices.IndexFunc(d.passwords, func(p storedPassword) bool { return strings.EqualFold(p.meta.KeyID, body.KeyID) })
	if i < 0 {
		return 0, nil, errBadRequest(fmt.Sprintf("No password credential found with keyId '%s'.", body.KeyID))
	}
	d.passwords = slices.Delete(d.passwords, i, i+1)
	e.dir.refresh(d)
	return http.StatusNoContent, nil, nil
}

// directoryObjectRef is a user as owners and $ref bodies name it.
type directoryObjectRef struct {
	ODataType         string `json:"@odata.type"`
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	UserPrincipalName string `json:"userPrincipalName"`
}

func (e *Emulator) handleListOwners(c *directoryCall) (int, any, *graphErr) {
	if !hasScope(c.scp, readAppsScopes) {
		return 0, nil, errDenied()
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	id := c.r.PathValue("id")
	d := e.dir.findApp("id", id)
	if d == nil {
		return 0, nil, errNotFound(id)
	}
	owners := []directoryObjectRef{}
	for _, o := range d.owners {
		if u := e.userByOID(o); u != nil {
			owners = append(owners, directoryObjectRef{"#microsoft.graph.user", u.OID, u.Name, u.Username})
		}
	}
	return http.StatusOK, struct {
		ODataContext string               `json:"@odata.context"`
		Value        []directoryObjectRef `json:"value"`
	}{"https://graph.microsoft.com/v1.0/$metadata#directoryObjects", owners}, nil
}

// objectIDFromRef reads the object ID at the end of an @odata.id URL,
// e.g. https://graph.microsoft.com/v1.0/directoryObjects/{id}.
var objectIDFromRef = regexp.MustCompile(`/(?:directoryObjects|users)/([0-9A-Fa-f-]{36})$`)

func (e *Emulator) handleAddOwner(c *directoryCall) (int, any, *graphErr) {
	var body struct {
		ODataID string `json:"@odata.id"`
	}
	if gerr := decodeBody(c.r, &body, "directoryObject"); gerr != nil {
		return 0, nil, gerr
	}
	m := objectIDFromRef.FindStringSubmatch(body.ODataID)
	if m == nil {
		return 0, nil, errBadRequest("Invalid object identifier '" + body.ODataID + "': use https://graph.microsoft.com/v1.0/directoryObjects/{id}.")
	}
	u := e.userByOID(strings.ToLower(m[1]))
	if u == nil {
		return 0, nil, errNotFound(m[1])
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	d, gerr := e.ownedApp(c)
	if gerr != nil {
		return 0, nil, gerr
	}
	if slices.Contains(d.owners, u.OID) {
		return 0, nil, errBadRequest("One or more added object references already exist for the following modified properties: 'owners'.")
	}
	d.owners = append(d.owners, u.OID)
	return http.StatusNoContent, nil, nil
}

// Built-in service principals: Microsoft Graph itself, with its delegated
// permissions, and the Azure CLI.
var (
	graphSPID = DeriveOID("service-principal/" + GraphResourceID)
	cliSPID   = DeriveOID("service-principal/" + AzureCLIClientID)
)

func (e *Emulator) builtinServicePrincipal(key, value string) *servicePrincipalResource {
	switch {
	case key == "appId" && strings.EqualFold(value, GraphResourceID), key == "id" && strings.EqualFold(value, graphSPID):
		sp := &servicePrincipalResource{
			ID: graphSPID, AccountEnabled: true, AppID: GraphResourceID,
			AppDisplayName: "Microsoft Graph", DisplayName: "Microsoft Graph", ServicePrincipalType: "Application",
			AppRoles: []appRole{},
		}
		for _, s := range graphScopes {
			words := describePermissions([]string{s.Value})[0].Words
			typ := "User"
			if s.Admin {
				typ = "Admin"
			}
			sp.OAuth2PermissionScopes = append(sp.OAuth2PermissionScopes, permissionScopeResource{
				AdminConsentDescription: "Allows the app to " + strings.ToLower(words[:1]) + words[1:] + ".",
				AdminConsentDisplayName: words,
				ID:                      s.ID, IsEnabled: true, Type: typ,
				UserConsentDescription: "Allows the app to " + strings.ToLower(words[:1]) + words[1:] + ".",
				UserConsentDisplayName: words,
				Value:                  s.Value,
			})
		}
		return sp
	case key == "appId" && strings.EqualFold(value, AzureCLIClientID), key == "id" && strings.EqualFold(value, cliSPID):
		return &servicePrincipalResource{
			ID: cliSPID, AccountEnabled: true, AppID: AzureCLIClientID,
			AppDisplayName: "Microsoft Azure CLI", DisplayName: "Microsoft Azure CLI", ServicePrincipalType: "Application",
			AppRoles: []appRole{}, OAuth2PermissionScopes: []permissionScopeResource{},
		}
	}
	return nil
}

func (e *Emulator) handleGetServicePrincipal(c *directoryCall) (int, any, *graphErr) {
	return e.getServicePrincipal(c, "id", c.r.PathValue("id"))
}

func (e *Emulator) getServicePrincipal(c *directoryCall, key, value string) (int, any, *graphErr) {
	if !hasScope(c.scp, readAppsScopes) {
		return 0, nil, errDenied()
	}
	const ctx = "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity"
	if sp := e.builtinServicePrincipal(key, value); sp != nil {
		sp.ODataContext = ctx
		return http.StatusOK, sp, nil
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	var sp *dirSP
	if key == "appId" {
		sp = e.dir.spByAppID(value)
	} else {
		sp = e.dir.spByID(value)
	}
	if sp == nil || !e.dir.visible(sp.id) {
		return 0, nil, errNotFound(value)
	}
	res := e.servicePrincipalJSON(sp)
	res.ODataContext = ctx
	return http.StatusOK, res, nil
}

// servicePrincipalJSON shows an app's service principal with the app's
// roles, as Graph copies them. The caller holds dir.mu.
func (e *Emulator) servicePrincipalJSON(sp *dirSP) servicePrincipalResource {
	res := servicePrincipalResource{
		ID: sp.id, AccountEnabled: true, AppID: sp.appID, AppDisplayName: sp.displayName,
		DisplayName: sp.displayName, ServicePrincipalType: "Application",
		AppRoles: []appRole{}, OAuth2PermissionScopes: []permissionScopeResource{},
	}
	if d := e.dir.appByAppID(sp.appID); d != nil {
		res.AppRoles = append(res.AppRoles, d.roles...)
	}
	return res
}

// createServicePrincipal makes the service principal of an application of
// the tenant, owned by the caller.
func (e *Emulator) createServicePrincipal(c *directoryCall) (int, any, *graphErr) {
	var body struct {
		AppID string `json:"appId"`
	}
	if gerr := decodeBody(c.r, &body, "servicePrincipal"); gerr != nil {
		return 0, nil, gerr
	}
	if !hasScope(c.scp, writeAppsScopes) {
		return 0, nil, errDenied()
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	d := e.dir.appByAppID(body.AppID)
	if d == nil || !e.dir.visible(d.id) {
		return 0, nil, &graphErr{http.StatusBadRequest, "Request_BadRequest",
			fmt.Sprintf("The appId '%s' of the service principal does not reference a valid application object. (NoBackingApplicationObject)", body.AppID)}
	}
	if e.dir.spByAppID(d.appID) != nil {
		return 0, nil, &graphErr{http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue",
			"Another object with the same value for property servicePrincipalNames already exists."}
	}
	if !slices.Contains(d.owners, c.user.OID) {
		return 0, nil, errDenied()
	}
	sp := &dirSP{id: newGUID(), appID: d.appID, displayName: d.displayName, owners: []string{c.user.OID}}
	e.dir.sps = append(e.dir.sps, sp)
	e.dir.justCreated(sp.id)
	res := e.servicePrincipalJSON(sp)
	res.ODataContext = "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity"
	return http.StatusCreated, res, nil
}

func (e *Emulator) handleListAssignments(c *directoryCall) (int, any, *graphErr) {
	if !hasScope(c.scp, readAppsScopes) && !hasScope(c.scp, assignRoleScopes) {
		return 0, nil, errDenied()
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	id := c.r.PathValue("id")
	sp := e.dir.spByID(id)
	if sp == nil || !e.dir.visible(sp.id) {
		return 0, nil, errNotFound(id)
	}
	return http.StatusOK, struct {
		ODataContext string              `json:"@odata.context"`
		Value        []appRoleAssignment `json:"value"`
	}{"https://graph.microsoft.com/v1.0/$metadata#servicePrincipals('" + sp.id + "')/appRoleAssignedTo", append([]appRoleAssignment{}, sp.assignments...)}, nil
}

// defaultAccessRoleID is the "default access" role a user may be assigned
// to an app that defines none.
const defaultAccessRoleID = "00000000-0000-0000-0000-000000000000"

func (e *Emulator) handleAssignRole(c *directoryCall) (int, any, *graphErr) {
	var body struct {
		PrincipalID string `json:"principalId"`
		ResourceID  string `json:"resourceId"`
		AppRoleID   string `json:"appRoleId"`
	}
	if gerr := decodeBody(c.r, &body, "appRoleAssignment"); gerr != nil {
		return 0, nil, gerr
	}
	if !hasScope(c.scp, assignRoleScopes) {
		return 0, nil, errDenied()
	}
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	id := c.r.PathValue("id")
	sp := e.dir.spByID(id)
	if sp == nil || !e.dir.visible(sp.id) {
		return 0, nil, errNotFound(id)
	}
	if !strings.EqualFold(body.ResourceID, sp.id) {
		return 0, nil, errBadRequest("The resourceId of the assignment must be the service principal it is posted to.")
	}
	u := e.userByOID(strings.ToLower(body.PrincipalID))
	if u == nil {
		return 0, nil, errNotFound(body.PrincipalID)
	}
	d := e.dir.appByAppID(sp.appID)
	if e.dir.faults.RoleAssignmentDenied || !slices.Contains(sp.owners, c.user.OID) && (d == nil || !slices.Contains(d.owners, c.user.OID)) {
		return 0, nil, errDenied()
	}
	known := body.AppRoleID == defaultAccessRoleID
	if d != nil && slices.ContainsFunc(d.roles, func(r appRole) bool { return strings.EqualFold(r.ID, body.AppRoleID) && r.IsEnabled }) {
		known = true
	}
	if !known {
		return 0, nil, errBadRequest(fmt.Sprintf("Permission being assigned was not found on application '%s'.", sp.appID))
	}
	if slices.ContainsFunc(sp.assignments, func(a appRoleAssignment) bool {
		return strings.EqualFold(a.PrincipalID, u.OID) && strings.EqualFold(a.AppRoleID, body.AppRoleID)
	}) {
		return 0, nil, errBadRequest("Permission being assigned already exists on the object.")
	}
	as := appRoleAssignment{
		ID: randomString(32), AppRoleID: strings.ToLower(body.AppRoleID), CreatedDateTime: e.now().UTC(),
		PrincipalDisplayName: u.Name, PrincipalID: u.OID, PrincipalType: "User",
		ResourceDisplayName: sp.displayName, ResourceID: sp.id,
	}
	sp.assignments = append(sp.assignments, as)
	return http.StatusCreated, struct {
		ODataContext string `json:"@odata.context"`
		appRoleAssignment
	}{"https://graph.microsoft.com/v1.0/$metadata#servicePrincipals('" + sp.id + "')/appRoleAssignedTo/$entity", as}, nil
}
