// Signing the developer in for Microsoft Graph: MSAL Go's public client as
// it is (the system browser on a loopback redirect, or the device code
// flow), or the token of an existing `az login`.

package register

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
	"github.com/pkg/browser"
)

// AzureCLIClientID is the Microsoft Azure CLI's application ID, a public
// client that Microsoft pre-authorized for Graph: an ordinary user signs in
// with it without a consent prompt.
const AzureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// signedIn is what the sign-in yields.
type signedIn struct {
	token    string // the Graph access token: never printed
	tenant   string // the tenant ID the token is for
	username string // as the account names itself, for messages
}

// graphScope is the scope that asks for every Graph permission the client
// is pre-authorized for. For the public cloud and a local emulator it is
// Graph's well-known URI; for a national cloud, the -graph-endpoint's.
func (c *command) graphScope() string {
	if host := hostOf(c.o.graphEndpoint); host == "graph.microsoft.com" || isLoopbackHostname(host) {
		return "https://graph.microsoft.com/.default"
	}
	return strings.TrimRight(c.o.graphEndpoint, "/") + "/.default"
}

// signIn signs the developer in the way -auth says.
func (c *command) signIn(ctx context.Context, tenant string) (signedIn, error) {
	mode := c.o.auth
	if mode == "auto" {
		mode = "browser"
		if c.noBrowser() {
			mode = "device"
		}
	}
	if mode == "azcli" {
		return c.signInAzCLI(ctx, tenant)
	}
	pca, err := public.New(c.o.clientID,
		public.WithAuthority(strings.TrimRight(c.o.authorityHost, "/")+"/"+tenant),
		public.WithHTTPClient(c.http),
		// Instance discovery asks login.microsoftonline.com about the
		// authority host, which fails for a local emulator (and for
		// sovereign clouds it adds nothing).
		public.WithInstanceDiscovery(false))
	if err != nil {
		return signedIn{}, fmt.Errorf("the sign-in settings are not valid: %w", err)
	}
	scopes := []string{c.graphScope()}
	var res public.AuthResult
	switch mode {
	case "device":
		res, err = c.signInDevice(ctx, pca, scopes)
	default:
		res, err = c.signInBrowser(ctx, pca, scopes)
		if errors.Is(err, errNoBrowser) && c.o.auth == "auto" {
			c.say("Could not open a browser here: signing in with a code instead.")
			res, err = c.signInDevice(ctx, pca, scopes)
		}
	}
	if err != nil {
		return signedIn{}, err
	}
	return signedIn{token: res.AccessToken, tenant: res.Account.Realm, username: res.Account.PreferredUsername}, nil
}

// noBrowser guesses whether a browser can be opened here: not over SSH,
// and not on a Linux without a display (a container, a server).
func (c *command) noBrowser() bool {
	if c.env.Getenv("SSH_CONNECTION") != "" || c.env.Getenv("SSH_TTY") != "" {
		return true
	}
	return runtime.GOOS == "linux" && c.env.Getenv("DISPLAY") == "" && c.env.Getenv("WAYLAND_DISPLAY") == ""
}

var errNoBrowser = errors.New("no browser could be opened")

func (c *command) signInBrowser(ctx context.Context, pca public.Client, scopes []string) (public.AuthResult, error) {
	c.say("Opening your browser to sign in (if it does not open, run again with -auth device)…")
	open := c.env.OpenURL
	if open == nil {
		open = browser.OpenURL // what MSAL uses by default
	}
	var openFailed error
	res, err := pca.AcquireTokenInteractive(ctx, scopes, public.WithOpenURL(func(u string) error {
		if err := open(u); err != nil {
			openFailed = err
			return err
		}
		return nil
	}))
	switch {
	case err == nil:
		return res, nil
	case openFailed != nil:
		return res, fmt.Errorf("%w: %v", errNoBrowser, openFailed)
	}
	return res, signInError(ctx, err)
}

func (c *command) signInDevice(ctx context.Context, pca public.Client, scopes []string) (public.AuthResult, error) {
	dc, err := pca.AcquireTokenByDeviceCode(ctx, scopes)
	if err != nil {
		return public.AuthResult{}, signInError(ctx, err)
	}
	// The message as Entra words it: the page to open and the code.
	c.say("%s", dc.Result.Message)
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		return res, signInError(ctx, err)
	}
	return res, nil
}

// aadAnswer finds Entra's JSON error in the text of an MSAL error (MSAL Go
// puts the whole answer there, which on a malformed success could hold a
// token: only the error fields are ever shown).
var aadAnswer = regexp.MustCompile(`\{"error":.*\}`)

// signInError turns an MSAL error into one line that says what to do.
func signInError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("sign-in stopped: %w", ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// MSAL stops polling when the code's 15 minutes are over.
		return errors.New("the sign-in code expired before it was entered: run the command again, and enter the new code within 15 minutes")
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if m := aadAnswer.FindString(err.Error()); m == "" || json.Unmarshal([]byte(m), &body) != nil || body.Error == "" {
		if strings.Contains(err.Error(), "bytes were") || strings.Contains(err.Error(), "body") {
			return errors.New("sign-in failed: the identity provider's answer could not be read")
		}
		return fmt.Errorf("sign-in failed: %w", err)
	}
	desc, _, _ := strings.Cut(body.Description, "\r\n")
	switch body.Error {
	case "authorization_declined", "access_denied":
		return fmt.Errorf("the sign-in was declined (%s): run the command again, and choose Continue on the verification page to let it register the app (%s)", body.Error, desc)
	case "expired_token":
		return fmt.Errorf("the sign-in code expired before it was entered (%s): run the command again, and enter the new code within 15 minutes", body.Error)
	case "invalid_tenant":
		return fmt.Errorf("that tenant does not exist (%s): check -tenant (%s)", body.Error, desc)
	}
	return fmt.Errorf("sign-in failed: %s: %s", body.Error, desc)
}

// signInAzCLI takes a Graph token from the Azure CLI's own sign-in (`az
// login`), for people who already have one.
func (c *command) signInAzCLI(ctx context.Context, tenant string) (signedIn, error) {
	args := []string{"account", "get-access-token", "--resource", strings.TrimSuffix(c.graphScope(), "/.default"), "--output", "json"}
	if tenant != "" && tenant != "organizations" && tenant != "common" {
		args = append(args, "--tenant", tenant)
	}
	out, err := c.env.AzCLI(ctx, args...)
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return signedIn{}, errors.New("-auth azcli needs the Azure CLI (az) on PATH: install it, run az login, or use -auth browser or -auth device")
		}
		return signedIn{}, fmt.Errorf("az account get-access-token failed (run az login first): %w", err)
	}
	var tok struct {
		AccessToken string `json:"accessToken"`
		Tenant      string `json:"tenant"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.AccessToken == "" || tok.Tenant == "" {
		return signedIn{}, errors.New("az account get-access-token gave no token and tenant: is the Azure CLI signed in (az login)?")
	}
	return signedIn{token: tok.AccessToken, tenant: tok.Tenant}, nil
}

// runAzCLI runs the Azure CLI and returns its standard output.
func runAzCLI(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "az", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			first, _, _ := strings.Cut(msg, "\n")
			return nil, fmt.Errorf("%w: %s", err, first)
		}
		return nil, err
	}
	return out, nil
}
