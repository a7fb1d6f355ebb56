// The device authorization grant (RFC 8628) as Entra ID serves it: the
// devicecode endpoint, the verification page where a person enters the
// code, signs in and confirms, and the device_code grant the client polls.

package emulator

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// deviceCodeGrant is the grant_type a device polls the token endpoint with.
const deviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code"

const (
	// deviceCodeTTL is how long a person has to enter a code: Entra's
	// expires_in of 900 seconds.
	deviceCodeTTL = 15 * time.Minute
	// deviceInterval is the polling interval Entra asks for, in seconds
	// (MSAL Go ignores it and backs off from 50 ms to 5 s on its own).
	deviceInterval = 5
	// deviceLoginPath is the verification page, the emulator's
	// https://microsoft.com/devicelogin. Its host and path must not
	// contain "token": MSAL Go finds the devicecode endpoint by replacing
	// "token" in the token endpoint's URL.
	deviceLoginPath = "/devicelogin"
	deviceCookie    = "entra_emulator_device"
	// userCodeAlphabet has no 0/O or 1/I, which people mistype.
	userCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	userCodeLen      = 9
)

type deviceState int

const (
	deviceWaiting deviceState = iota
	deviceApproved
	deviceDeclined
	deviceRedeemed
)

// deviceAuth is one device authorization in progress.
type deviceAuth struct {
	clientID string
	scope    string
	userCode string
	expires  time.Time
	state    deviceState
	// Filled in when the person approves.
	username string
	sid      string
	authTime time.Time
}

// deviceStep is a verification page waiting for its form to come back:
// the sign-in form, or the confirmation. Like interaction, it is kept on
// the server, named by a random id in the page, and only the browser it was
// shown to can continue it, once.
type deviceStep struct {
	deviceCode string
	browser    string // the deviceCookie value it belongs to
	confirm    bool   // waiting on the confirmation (else on the sign-in form)
	username   string
	sid        string
	authTime   time.Time
	expires    time.Time
}

// deviceFlows holds the device authorizations and their pages. Its maps
// are made on first use.
type deviceFlows struct {
	mu        sync.Mutex
	codes     map[string]*deviceAuth // device_code -> authorization
	users     map[string]string      // user_code -> device_code
	steps     map[string]*deviceStep
	lastPurge time.Time
}

// purgeLocked drops authorizations that expired one TTL ago (a late poll
// still gets expired_token) and expired pages. The caller holds mu.
func (d *deviceFlows) purgeLocked(now time.Time) {
	if d.codes == nil {
		d.codes, d.users, d.steps = map[string]*deviceAuth{}, map[string]string{}, map[string]*deviceStep{}
	}
	if x := now.Sub(d.lastPurge); x >= 0 && x < purgeEvery {
		return
	}
	d.lastPurge = now
	for k, a := range d.codes {
		if now.After(a.expires.Add(deviceCodeTTL)) {
			delete(d.users, a.userCode)
			delete(d.codes, k)
		}
	}
	for k, s := range d.steps {
		if now.After(s.expires) {
			delete(d.steps, k)
		}
	}
}

func (e *Emulator) deviceCodeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", e.handleDeviceCode)
	mux.HandleFunc("GET "+deviceLoginPath, e.handleDeviceLogin)
	mux.HandleFunc("POST "+deviceLoginPath, e.handleDeviceLoginForm)
}

// deviceCodeResponse is the devicecode endpoint's answer, in Entra's order.
type deviceCodeResponse struct {
	UserCode        string `json:"user_code"`
	DeviceCode      string `json:"device_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
	Message         string `json:"message"`
}

// handleDeviceCode starts a device authorization: the device shows the
// user code and the verification page, and polls the token endpoint.
func (e *Emulator) handleDeviceCode(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, StatDeviceCode, EndpointDeviceCode) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		e.writeAADError(w, r, errMalformedRequest("The request body could not be read as a form."))
		return
	}
	clientID := r.PostForm.Get("client_id")
	if clientID == "" {
		e.writeAADError(w, r, errMissingParam("client_id"))
		return
	}
	a := e.lookupApp(clientID)
	if a == nil {
		e.writeAADError(w, r, errUnknownClient(clientID, e.tenant))
		return
	}
	scope := r.PostForm.Get("scope")
	if _, perr := parseScope(scope, e.tenant, a.graphDefaults); perr != nil {
		e.writeAADError(w, r, *perr)
		return
	}
	now := e.now()
	deviceCode := "DAQABIQEAAAB" + randomString(120)
	e.devices.mu.Lock()
	e.devices.purgeLocked(now)
	var userCode string
	for userCode == "" || e.devices.users[userCode] != "" {
		userCode = newUserCode()
	}
	e.devices.codes[deviceCode] = &deviceAuth{clientID: a.clientID, scope: scope, userCode: userCode, expires: now.Add(deviceCodeTTL)}
	e.devices.users[userCode] = deviceCode
	e.devices.mu.Unlock()
	e.recordIssued(deviceCode)

	verify := baseURL(r) + deviceLoginPath
	writeJSON(w, http.StatusOK, deviceCodeResponse{
		UserCode:        userCode,
		DeviceCode:      deviceCode,
		VerificationURI: verify,
		ExpiresIn:       int(deviceCodeTTL / time.Second),
		Interval:        deviceInterval,
		Message:         fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, userCode),
	})
}

func newUserCode() string {
	b := make([]byte, userCodeLen)
	rand.Read(b)
	for i := range b {
		b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)] // 256 is a multiple of 32: no bias
	}
	return string(b)
}

// normalizeUserCode forgives what people type: case, spaces and dashes.
func normalizeUserCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(s)))
}

// deviceCodePage is the verification page: one form, one text field.
type deviceCodePage struct {
	page
	Action string
	Code   string
	Error  string
}

// deviceConfirmPage asks the signed-in person whether they are signing in
// to this app on another device.
type deviceConfirmPage struct {
	page
	Action      string
	Flow        string
	AppName     string
	ClientID    string
	Username    string
	Permissions []permission // the Graph permissions still to consent to
}

type deviceDonePage struct {
	page
	AppName  string
	Approved bool
}

func (e *Emulator) handleDeviceLogin(w http.ResponseWriter, r *http.Request) {
	e.render(w, http.StatusOK, "device_code", deviceCodePage{
		page:   page{Title: "Enter code", Tenant: e.tenant},
		Action: deviceLoginPath,
	})
}

// handleDeviceLoginForm takes the verification page's three forms: the
// code, the sign-in form (its flow in the URL, as the sign-in page's form
// posts to its own action), and the confirmation (its flow in the form).
func (e *Emulator) handleDeviceLoginForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		e.renderError(w, r, http.StatusBadRequest, errMalformedRequest("The form could not be read."))
		return
	}
	switch {
	case r.URL.Query().Get("flow") != "":
		e.deviceSignIn(w, r)
	case r.PostForm.Has("flow"):
		e.deviceConfirm(w, r)
	case r.PostForm.Has("otc"):
		e.deviceEnterCode(w, r)
	default:
		e.renderError(w, r, http.StatusBadRequest, errMalformedRequest("The verification form is missing its code."))
	}
}

// deviceEnterCode checks the code a person typed and shows the sign-in form.
func (e *Emulator) deviceEnterCode(w http.ResponseWriter, r *http.Request) {
	typed := r.PostForm.Get("otc")
	code := normalizeUserCode(typed)
	now := e.now()
	e.devices.mu.Lock()
	e.devices.purgeLocked(now)
	deviceCode := e.devices.users[code]
	da := e.devices.codes[deviceCode]
	var problem string
	switch {
	case da == nil || len(code) != userCodeLen:
		problem = "That code didn’t work. Check the code and try again."
	case now.After(da.expires):
		problem = "That code has expired. Go back to the device or app you are signing in to, get a new code, and try again."
	case da.state != deviceWaiting:
		problem = "That code has already been used. Go back to the device or app you are signing in to and get a new code."
	}
	var auth deviceAuth
	if da != nil {
		auth = *da
	}
	e.devices.mu.Unlock()
	if problem != "" {
		e.render(w, http.StatusOK, "device_code", deviceCodePage{
			page:   page{Title: "Enter code", Tenant: e.tenant},
			Action: deviceLoginPath, Code: typed, Error: problem,
		})
		return
	}
	browser := e.deviceBrowser(w, r)
	e.renderDeviceSignIn(w, &auth, e.saveDeviceStep(&deviceStep{deviceCode: deviceCode, browser: browser}), "", nil)
}

// deviceBrowser returns the browser's device-login cookie value, setting
// one first if it has none.
func (e *Emulator) deviceBrowser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(deviceCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	v := randomString(32)
	http.SetCookie(w, &http.Cookie{Name: deviceCookie, Value: v, Path: deviceLoginPath, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return v
}

func (e *Emulator) saveDeviceStep(s *deviceStep) string {
	now := e.now()
	s.expires = now.Add(e.codeTTL)
	id := randomString(32)
	e.devices.mu.Lock()
	e.devices.purgeLocked(now)
	e.devices.steps[id] = s
	e.devices.mu.Unlock()
	return id
}

// takeDeviceStep removes and returns the page a form names, if this
// browser was shown it, it waits on that kind of form, and its device
// authorization still waits for a person. Otherwise it answers.
func (e *Emulator) takeDeviceStep(w http.ResponseWriter, r *http.Request, id string, confirm bool) (*deviceStep, *deviceAuth, bool) {
	c, err := r.Cookie(deviceCookie)
	now := e.now()
	e.devices.mu.Lock()
	e.devices.purgeLocked(now)
	s := e.devices.steps[id]
	ok := s != nil && err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.browser)) == 1 &&
		s.confirm == confirm && !now.After(s.expires)
	var auth deviceAuth
	if ok {
		delete(e.devices.steps, id)
		da := e.devices.codes[s.deviceCode]
		switch {
		case da == nil || now.After(da.expires):
			ok = false
			e.devices.mu.Unlock()
			e.render(w, http.StatusOK, "device_code", deviceCodePage{
				page:   page{Title: "Enter code", Tenant: e.tenant},
				Action: deviceLoginPath,
				Error:  "That code has expired. Go back to the device or app you are signing in to, get a new code, and try again.",
			})
			return nil, nil, false
		case da.state != deviceWaiting:
			ok = false
		default:
			auth = *da
		}
	}
	e.devices.mu.Unlock()
	if !ok {
		e.renderError(w, r, http.StatusBadRequest, errFlowExpired())
		return nil, nil, false
	}
	return s, &auth, true
}

func (e *Emulator) renderDeviceSignIn(w http.ResponseWriter, da *deviceAuth, flow, username string, fail *aadError) {
	data := signInPage{
		page:     page{Title: "Sign in", Tenant: e.tenant},
		Action:   deviceLoginPath + "?" + url.Values{"flow": {flow}}.Encode(),
		Username: username,
		ClientID: da.clientID,
		Scopes:   strings.Fields(da.scope),
	}
	if fail != nil {
		msg := "Your account or password is incorrect."
		if fail.code == 50034 {
			msg = "We couldn’t find an account with that username."
		}
		data.Error = &signInError{UserMessage: msg, Description: fail.description()}
	}
	if e.defaultUsers {
		data.Accounts = e.users
	}
	e.render(w, http.StatusOK, "signin", data)
}

// deviceSignIn handles the sign-in form of a device authorization.
func (e *Emulator) deviceSignIn(w http.ResponseWriter, r *http.Request) {
	s, da, ok := e.takeDeviceStep(w, r, r.URL.Query().Get("flow"), false)
	if !ok {
		return
	}
	a := e.lookupApp(da.clientID)
	if a == nil {
		e.renderError(w, r, http.StatusBadRequest, errUnknownClient(da.clientID, e.tenant))
		return
	}
	if r.PostForm.Get("action") == "cancel" {
		e.finishDevice(w, s.deviceCode, a, nil)
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("loginfmt"))
	u := e.user(username)
	var fail *aadError
	switch {
	case u == nil:
		x := errNoSuchUser(username, e.tenant)
		fail = &x
	case subtle.ConstantTimeCompare([]byte(r.PostForm.Get("passwd")), []byte(u.Password)) != 1:
		x := errWrongPassword()
		fail = &x
	}
	if fail != nil {
		e.renderDeviceSignIn(w, da, e.saveDeviceStep(&deviceStep{deviceCode: s.deviceCode, browser: s.browser}), username, fail)
		return
	}
	e.count(StatSignIns)
	_, bs := e.signInAccount(w, r, u.Username)
	acct, _ := bs.account(u.Username)
	g, _ := parseScope(da.scope, e.tenant, a.graphDefaults) // checked at the devicecode endpoint
	flow := e.saveDeviceStep(&deviceStep{
		deviceCode: s.deviceCode, browser: s.browser, confirm: true,
		username: u.Username, sid: bs.sid, authTime: acct.authTime,
	})
	e.render(w, http.StatusOK, "device_confirm", deviceConfirmPage{
		page:        page{Title: "Are you trying to sign in?", Tenant: e.tenant},
		Action:      deviceLoginPath,
		Flow:        flow,
		AppName:     a.displayName,
		ClientID:    a.clientID,
		Username:    u.Username,
		Permissions: describePermissions(e.missingConsent(u.Username, a, g)),
	})
}

// deviceConfirm handles the confirmation: Continue approves the device
// (and consents to what it listed), Cancel declines it.
func (e *Emulator) deviceConfirm(w http.ResponseWriter, r *http.Request) {
	s, da, ok := e.takeDeviceStep(w, r, r.PostForm.Get("flow"), true)
	if !ok {
		return
	}
	a := e.lookupApp(da.clientID)
	if a == nil {
		e.renderError(w, r, http.StatusBadRequest, errUnknownClient(da.clientID, e.tenant))
		return
	}
	if r.PostForm.Get("action") != "accept" {
		e.finishDevice(w, s.deviceCode, a, nil)
		return
	}
	g, _ := parseScope(da.scope, e.tenant, a.graphDefaults)
	if missing := e.missingConsent(s.username, a, g); len(missing) > 0 {
		e.recordConsent(s.username, a, missing)
		e.count(StatConsents)
	}
	e.finishDevice(w, s.deviceCode, a, s)
}

// finishDevice approves the device authorization for the step's account,
// or declines it when approved is nil, and says so.
func (e *Emulator) finishDevice(w http.ResponseWriter, deviceCode string, a *app, approved *deviceStep) {
	e.devices.mu.Lock()
	if da := e.devices.codes[deviceCode]; da != nil && da.state == deviceWaiting {
		da.state = deviceDeclined
		if approved != nil {
			da.state = deviceApproved
			da.username, da.sid, da.authTime = approved.username, approved.sid, approved.authTime
		}
	}
	e.devices.mu.Unlock()
	e.render(w, http.StatusOK, "device_done", deviceDonePage{
		page:     page{Title: "Device sign-in", Tenant: e.tenant},
		AppName:  a.displayName,
		Approved: approved != nil,
	})
}

// The token endpoint's answers while a device polls, as Entra words them.
func errAuthorizationPending() aadError {
	return aadError{http.StatusBadRequest, "authorization_pending", 70016,
		"The provided request has not yet been authorized by the user. The user must input their code."}
}

func errAuthorizationDeclined() aadError {
	return aadError{http.StatusBadRequest, "authorization_declined", 70000,
		"The user declined to authorize the device: they cancelled the sign-in on the verification page."}
}

func errDeviceCodeExpired() aadError {
	return aadError{http.StatusBadRequest, "expired_token", 70020,
		"The provided value for the input parameter 'device_code' is not valid. This device code has expired."}
}

func errBadVerificationCode() aadError {
	return aadError{http.StatusBadRequest, "bad_verification_code", 70018,
		"The provided value for the input parameter 'device_code' is not valid: it is not one this emulator issued to this client."}
}

// redeemDeviceCode implements the device_code grant: pending until the
// person approves, then tokens, once.
func (e *Emulator) redeemDeviceCode(r *http.Request, form url.Values, client *app) (tokenResponse, *aadError) {
	fail := func(a aadError) (tokenResponse, *aadError) { return tokenResponse{}, &a }
	code := form.Get("device_code")
	if code == "" {
		return fail(errMissingParam("device_code"))
	}
	now := e.now()
	e.devices.mu.Lock()
	e.devices.purgeLocked(now)
	da := e.devices.codes[code]
	var a *aadError
	var approved deviceAuth
	switch {
	case da == nil || !strings.EqualFold(da.clientID, client.clientID):
		x := errBadVerificationCode()
		a = &x
	case now.After(da.expires):
		x := errDeviceCodeExpired()
		a = &x
	case da.state == deviceWaiting:
		x := errAuthorizationPending()
		a = &x
	case da.state == deviceDeclined:
		x := errAuthorizationDeclined()
		a = &x
	case da.state == deviceRedeemed:
		x := errCodeRedeemed()
		a = &x
	default:
		da.state = deviceRedeemed
		approved = *da
	}
	e.devices.mu.Unlock()
	if a != nil {
		return tokenResponse{}, a
	}
	u := e.user(approved.username)
	if u == nil {
		return fail(errUserGone(approved.username, e.tenant))
	}
	g, perr := parseScope(approved.scope, e.tenant, client.graphDefaults)
	if s := form.Get("scope"); strings.TrimSpace(s) != "" {
		g, perr = parseScope(s, e.tenant, client.graphDefaults)
	}
	if perr != nil {
		return tokenResponse{}, perr
	}
	if a := e.consentGrantError(u.Username, client, g); a != nil {
		return tokenResponse{}, a
	}
	resp, err := e.mint(issue{
		app:         client,
		issuer:      e.issuer(r),
		user:        u,
		grant:       g,
		sid:         approved.sid,
		authTime:    approved.authTime,
		withID:      g.openid,
		withRefresh: g.offline,
	})
	if err != nil {
		return fail(errFault(http.StatusInternalServerError))
	}
	return resp, nil
}
