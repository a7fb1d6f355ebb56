// Downstream APIs: an API is a base URL plus the scopes its tokens need, as Microsoft.Identity.Web describes them, and CallAPI calls it with the user's token.

package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// maxAPIResponse bounds what is read from an API for one page.
const maxAPIResponse = 1 << 20

// CallAPI calls the API's path (or an absolute URL) with GET and the access
// token that ScopesRequired put in the request's context, and returns the
// answer's body when the API answers 200. Any other answer is an error for
// ServeError: a page that says the call failed (502, or 504 when the API
// did not answer within its timeout), never the API's address or the
// transport's error. A 401 with a claims challenge (Continuous Access
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
	timeout := api.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL(path), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := a.identityHTTP().Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &apiError{api: name, status: http.StatusGatewayTimeout,
				detail: fmt.Sprintf("%s did not answer within %s.", name, timeout)}
		}
		return nil, &apiError{api: name, status: http.StatusBadGateway, detail: name + " could not be reached.", err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &apiError{api: name, status: http.StatusGatewayTimeout,
				detail: fmt.Sprintf("%s did not finish answering within %s.", name, timeout)}
		}
		return nil, &apiError{api: name, status: http.StatusBadGateway, detail: "Reading " + name + "'s answer failed.", err: err}
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
		return nil, &apiError{api: name, status: http.StatusBadGateway, detail: detail}
	}
	return body, nil
}

// apiErrorBody is the error member of a Microsoft API's JSON error answer.
type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiError is a failed call to a downstream API, described for the page.
type apiError struct {
	api    string
	status int // the page's status: 502 for a bad answer, 504 for none in time
	detail string
	err    error // for the log only: it names hosts and ports
}

func (e *apiError) Error() string {
	if e.err != nil {
		return e.detail + ": " + e.err.Error()
	}
	return e.detail
}

// APIError returns a failed call's page for an answer of the API the app
// could not use (not the JSON it expects), as CallAPI's own failures are.
func APIError(api API, detail string) error {
	name := api.Name
	if name == "" {
		name = "The API"
	}
	return &apiError{api: name, status: http.StatusBadGateway, detail: detail}
}

// identityHTTP is the client for the identity provider and the APIs.
func (a *Auth) identityHTTP() *http.Client { return a.outbound }
