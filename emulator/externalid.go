// External ID (CIAM) tenants: the names they answer under, the issuer they
// name, and the user flows' self-service sign-up.

package emulator

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// DefaultSubdomain is an External ID tenant's subdomain when the
// configuration names none: demo.ciamlogin.com, demo.onmicrosoft.com.
const DefaultSubdomain = "demo"

// ciamSuffix is the parent domain of every External ID tenant's hosts.
const ciamSuffix = ".ciamlogin.com"

// subdomainPattern is one DNS label: the subdomain becomes a host name.
var subdomainPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// prepareExternalID checks an External ID configuration and returns the
// subdomain to use. The tenant must be a GUID: External ID names it in the
// issuer's host, https://{tenant-id}.ciamlogin.com/{tenant-id}/v2.0.
func prepareExternalID(tenant, subdomain string) (string, error) {
	if !guidPattern.MatchString(tenant) {
		return "", fmt.Errorf("an External ID tenant is named by its tenant ID, a GUID, not %q", tenant)
	}
	sub := strings.ToLower(strings.TrimSpace(subdomain))
	if sub == "" {
		sub = DefaultSubdomain
	}
	if !subdomainPattern.MatchString(sub) || guidPattern.MatchString(sub) {
		return "", fmt.Errorf("the External ID subdomain %q must be one DNS label such as contoso (letters, digits and hyphens) and not the tenant ID", subdomain)
	}
	return sub, nil
}

// ExternalID reports whether the emulator is an External ID tenant
// (Config.ExternalID).
func (e *Emulator) ExternalID() bool { return e.externalID }

// Subdomain returns an External ID tenant's subdomain, contoso in
// contoso.ciamlogin.com and contoso.onmicrosoft.com; "" for an Entra ID
// tenant.
func (e *Emulator) Subdomain() string { return e.subdomain }

// ExternalIDIssuer returns the issuer an External ID tenant names in its
// discovery documents and tokens whatever host it was reached under,
// https://{tenant-id}.ciamlogin.com/{tenant-id}/v2.0 (on the port the client
// used, when it used one); "" for an Entra ID tenant.
func (e *Emulator) ExternalIDIssuer(port string) string {
	if !e.externalID {
		return ""
	}
	host := e.tenant + ciamSuffix
	if port != "" {
		host = net.JoinHostPort(host, port)
	}
	return "https://" + host + "/" + e.tenant + "/v2.0"
}

// externalIDIssuer is ExternalIDIssuer for the port of r's Host.
func (e *Emulator) externalIDIssuer(r *http.Request) string {
	_, port, _ := net.SplitHostPort(r.Host)
	iss := e.ExternalIDIssuer(port)
	if r.TLS == nil {
		iss = "http" + strings.TrimPrefix(iss, "https")
	}
	return iss
}

// externalIDIssuerIf is externalIDIssuer for an External ID tenant, "" for
// an Entra ID one.
func (e *Emulator) externalIDIssuerIf(r *http.Request) string {
	if !e.externalID {
		return ""
	}
	return e.externalIDIssuer(r)
}

// externalIDTenantOK reports whether r names this External ID tenant: by
// its ID or by {subdomain}.onmicrosoft.com in the path, on any host but a
// ciamlogin.com host of another tenant. Every other host stands for one of
// the tenant's custom URL domains, as login.contoso.com does for Contoso.
func (e *Emulator) externalIDTenantOK(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if label, ok := strings.CutSuffix(strings.ToLower(host), ciamSuffix); ok && label != e.subdomain && label != e.tenant {
		return false
	}
	t := r.PathValue("tenant")
	return strings.EqualFold(t, e.tenant) || strings.EqualFold(t, e.subdomain+".onmicrosoft.com")
}

// maxSignUps bounds the accounts sign-up may add in one emulator's life.
const maxSignUps = 10000

// signUp handles the create-account form that prompt=create shows (the
// user flow's self-service sign-up): a new account with the email address
// and password given, kept for the emulator's life, then signed in as the
// password form does.
func (e *Emulator) signUp(w http.ResponseWriter, r *http.Request, req *authorizeRequest) {
	if r.PostForm.Get("action") == "cancel" {
		e.redirectError(w, r, req, errUserDeclined(), url.Values{"error_subcode": {"cancel"}})
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	name := strings.TrimSpace(r.PostForm.Get("displayname"))
	password := r.PostForm.Get("newpasswd")
	if msg := checkSignUp(email, name, password); msg != "" {
		e.renderSignUp(w, r, req, email, name, msg)
		return
	}
	u, msg := e.addAccount(User{Username: email, Password: password, Name: name})
	if msg != "" {
		e.renderSignUp(w, r, req, email, name, msg)
		return
	}
	e.count(StatSignUps)
	e.proceedWithPassword(w, r, req, u.Username)
}

// checkSignUp applies the sign-up form's rules, External ID's default
// password policy among them, and returns what to tell the person, "" when
// the form is good.
func checkSignUp(email, name, password string) string {
	local, domain, ok := strings.Cut(email, "@")
	switch {
	case !ok || local == "" || strings.ContainsAny(email, " \t\r\n") || strings.Contains(domain, "@") ||
		!strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, "."):
		return "Enter a valid email address, such as someone@example.com."
	case len(email) > 256 || len(name) > 256:
		return "The email address and the name may be 256 characters at most."
	case len(password) < 8 || len(password) > 256:
		return "The password must have 8 to 256 characters."
	}
	var classes [4]bool
	for _, c := range password {
		switch {
		case unicode.IsLower(c):
			classes[0] = true
		case unicode.IsUpper(c):
			classes[1] = true
		case unicode.IsDigit(c):
			classes[2] = true
		default:
			classes[3] = true
		}
	}
	n := 0
	for _, has := range classes {
		if has {
			n++
		}
	}
	if n < 3 {
		return "The password must have three of these: lower-case letters, upper-case letters, digits and symbols."
	}
	return ""
}

// addAccount adds a signed-up account, with its OID derived and the
// defaults every account gets. It answers a message for the person instead
// when the address is taken or the tenant is full.
func (e *Emulator) addAccount(u User) (*User, string) {
	prepared, err := prepareUsers([]User{u})
	if err != nil {
		return nil, "Enter a valid email address and a password."
	}
	nu := &prepared[0]
	e.usersMu.Lock()
	defer e.usersMu.Unlock()
	switch {
	case e.byUsername[strings.ToLower(nu.Username)] != nil || e.byOID[nu.OID] != nil:
		return nil, "An account with this email address already exists. Sign in instead."
	case len(e.signUps) >= maxSignUps:
		return nil, "This emulator's tenant takes no more new accounts: restart it."
	}
	e.byUsername[strings.ToLower(nu.Username)] = nu
	e.byOID[nu.OID] = nu
	e.signUps = append(e.signUps, nu)
	return nu, ""
}

// signUpPage is the create-account form.
type signUpPage struct {
	page
	Action    string // the authorize URL with the original query string
	SignInURL string // the same request without prompt=create
	ClientID  string
	Email     string
	Name      string
	Error     string
}

// renderSignUp shows the create-account form, again with what was typed
// (never the password) and a message after a refused try.
func (e *Emulator) renderSignUp(w http.ResponseWriter, r *http.Request, req *authorizeRequest, email, name, msg string) {
	e.render(w, http.StatusOK, "signup", signUpPage{
		page:      page{Title: "Create account", Tenant: e.tenant},
		Action:    r.URL.Path + "?" + r.URL.RawQuery,
		SignInURL: withPrompt(r.URL, ""),
		ClientID:  req.clientID,
		Email:     email,
		Name:      name,
		Error:     msg,
	})
}

// withPrompt returns the path and query of u with its prompt set to
// prompt, or removed when prompt is "".
func withPrompt(u *url.URL, prompt string) string {
	q := u.Query()
	q.Del("prompt")
	if prompt != "" {
		q.Set("prompt", prompt)
	}
	return u.Path + "?" + q.Encode()
}
