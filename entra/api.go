// Downstream APIs: an API is a base URL plus the scopes its tokens need, as Microsoft.Identity.Web describes them, and CallAPI calls it with the user's token.

package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// API is a downstream API the app calls for its signed-in users.
type API struct {
	// Name is the API's name for people: "Microsoft Graph".
	Name string
	// BaseURL is where the API's paths start:
	// https://graph.microsoft.com/v1.0.
	BaseURL string
	// Scopes are what its access tokens need: gate its pages with
	// ScopesRequired(api.Scopes...).
	Scopes []string
	// Timeout bounds one call; zero means 10 s.
	Timeout time.Duration
}

// URL returns the API's URL of path (e.g. "/me"), or path itself when it
// is an absolute URL already.
func (api API) URL(path string) string {
	if strings.HasPrefix(path, "https://") || strings.HasPrefix(path, "http://") {
		return path
	}
	return strings.TrimSuffix(api.BaseURL, "/") + "/" + strings.TrimPrefix(path, "/")
}

// owns reports whether target is on the API's base URL: the same scheme
// and host, under its path (compared without case). HTTP is allowed on
// loopback only. It parses nothing: it runs for every call.
func (api API) owns(target string) bool {
	base := strings.TrimSuffix(api.BaseURL, "/")
	if len(target) < len(base) || !strings.EqualFold(target[:len(base)], base) {
		return false
	}
	if rest := target[len(base):]; rest != "" && rest[0] != '/' && rest[0] != '?' {
		return false
	}
	switch {
	case strings.HasPrefix(strings.ToLower(base), "https://"):
		return len(base) > len("https://")
	case strings.HasPrefix(strings.ToLower(base), "http://"):
		u, err := url.Parse(base)
		return err == nil && isLoopback(u.Hostname())
	}
	return false
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// maxAPIResponse bounds what is read from an API for one page.
const maxAPIResponse = 1 << 20

// CallAPI calls the API's path (or an absolute URL on the API's base URL)
// with GET and the access token that ScopesRequired put in the request's
// context, and returns the answer's body when the API answers 200. A URL
// on another host, or outside the base URL's path, is refused before any
// request: the token goes to the API it was asked for and nowhere else.
// Any other answer is an error for ServeError: a page that says the call
// failed (502, or 504 when the API did not answer within its timeout),
// never the transport's error. A 401 with a claims challenge (Continuous Access
// Evaluation, Conditional Access) makes ServeError send the user through the
// sign-in that satisfies it and back to the page, once.
func (a *Auth) CallAPI(r *http.Request, api API, path string) ([]byte, error) {
	token, ok := TokenFrom(r.Context())
	if !ok {
		return nil, errors.New("entra: CallAPI needs the page behind ScopesRequired")
	}
	name := api.Name
	if name == "" {
		name = "The API"
	}
	target := api.URL(path)
	if !api.owns(target) {
		// The user's token goes to the API's own host only: a path taken
		// from an answer (a next link) or from the request must not send
		// it anywhere else, or over plain HTTP.
		return nil, fmt.Errorf("entra: %s is not on %s's base URL %s: the token is not sent there", target, name, api.BaseURL)
	}
	timeout := api.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := a.identityHTTP().Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &APIError{API: name, Status: http.StatusGatewayTimeout,
				Detail: fmt.Sprintf("%s did not answer within %s.", name, timeout)}
		}
		return nil, &APIError{API: name, Status: http.StatusBadGateway, Detail: name + " could not be reached.", Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &APIError{API: name, Status: http.StatusGatewayTimeout, Upstream: resp.StatusCode,
				Detail: fmt.Sprintf("%s did not finish answering within %s.", name, timeout)}
		}
		return nil, &APIError{API: name, Status: http.StatusBadGateway, Upstream: resp.StatusCode, Detail: "Reading " + name + "'s answer failed.", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		detail := fmt.Sprintf("%s answered %s.", name, resp.Status)
		var ae struct {
			Error apiErrorBody `json:"error"`
		}
		if json.Unmarshal(body, &ae) == nil && ae.Error.Code != "" {
			detail = fmt.Sprintf("%s answered %s: %s: %s", name, resp.Status, ae.Error.Code, ae.Error.Message)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			// Continuous Access Evaluation: a claims challenge, which
			// ServeError answers with a new sign-in (challenge.go).
			endpoint := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
			if err := challengeFrom(resp, name, endpoint, ae.Error); err != nil {
				return nil, err
			}
		}
		return nil, &APIError{API: name, Status: http.StatusBadGateway, Upstream: resp.StatusCode,
			Code: ae.Error.Code, Message: ae.Error.Message, Detail: detail}
	}
	return body, nil
}

// apiErrorBody is the error member of a Microsoft API's JSON error answer.
type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// APIError is a failed call to a downstream API: CallAPI returns it for an
// answer other than 200, or none, and an app returns one for an answer it
// cannot use. ServeError shows Detail on a page about the call; Err goes to
// the log only (it may name hosts and ports).
type APIError struct {
	API    string // the API's name, e.g. "Microsoft Graph"
	Status int    // the page's status: 502 (the default) for a bad answer, 504 for none in time
	// Code and Message are the API's own error, when its answer had one.
	Code, Message string
	// Upstream is the API's status code, 0 when it did not answer.
	Upstream int
	Detail   string // for the page: what failed, without addresses
	Err      error  // the cause, for the log
}

// Error is the detail and the cause, for the log.
func (e *APIError) Error() string {
	if e.Err != nil {
		return e.Detail + ": " + e.Err.Error()
	}
	return e.Detail
}

// Unwrap returns the cause.
func (e *APIError) Unwrap() error { return e.Err }

// identityHTTP is the client for the identity provider and the APIs.
func (a *Auth) identityHTTP() *http.Client { return a.outbound }
