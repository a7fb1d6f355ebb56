// Graph: the page that calls Microsoft Graph /me with the user's cached access token.

package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/bounded"
)

// maxGraphResponse bounds what is read from Graph for one page.
const maxGraphResponse = 1 << 20

// graph gets an access token silently from the user's token cache (MSAL
// refreshes it when it is within five minutes of expiry), calls the Graph
// endpoint and shows its JSON.
func (app *Application) graph(w http.ResponseWriter, r *http.Request) error {
	user := userFrom(r.Context())
	token, err := app.Identity.AcquireToken(r.Context(), user, nil)
	if errors.Is(err, identity.ErrInteractionRequired) {
		// The refresh token is gone or was rejected: sign in again and
		// come back here.
		user.SignOut()
		return app.startSignIn(w, r, r.URL.RequestURI())
	}
	if err != nil {
		return err
	}

	body, err := app.callGraph(r.Context(), token.AccessToken)
	if err != nil {
		return err
	}
	pretty, err := prettyJSONs.get(body)
	if err != nil {
		return &graphError{detail: "Microsoft Graph answered with something that is not JSON."}
	}
	data := app.newTemplateData(r)
	data.GraphEndpoint = app.GraphEndpoint
	data.GraphJSON = pretty
	data.TokenExpiresIn = max(0, int64(token.ExpiresOn.Sub(app.now())/time.Second))
	return app.render(w, http.StatusOK, "graph", data)
}

// callGraph calls the Graph endpoint with the access token, within the
// configured timeout.
func (app *Application) callGraph(ctx context.Context, accessToken string) ([]byte, error) {
	return app.callGraphAt(ctx, app.GraphEndpoint, accessToken)
}

// callGraphAt calls a Graph endpoint (/me, /me/events) with the access
// token, within the configured timeout.
func (app *Application) callGraphAt(ctx context.Context, endpoint, accessToken string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, app.GraphTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := app.GraphClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &graphError{status: http.StatusGatewayTimeout,
				detail: fmt.Sprintf("Microsoft Graph did not answer within %s.", app.GraphTimeout)}
		}
		return nil, &graphError{status: http.StatusBadGateway, detail: "Microsoft Graph could not be reached.", err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphResponse))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &graphError{status: http.StatusGatewayTimeout,
				detail: fmt.Sprintf("Microsoft Graph did not finish answering within %s.", app.GraphTimeout)}
		}
		return nil, &graphError{status: http.StatusBadGateway, detail: "Reading Microsoft Graph's answer failed.", err: err}
	}
	if resp.StatusCode != http.StatusOK {
		detail := fmt.Sprintf("Microsoft Graph answered %s.", resp.Status)
		var ge struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &ge) == nil && ge.Error.Code != "" {
			detail = fmt.Sprintf("Microsoft Graph answered %s: %s: %s", resp.Status, ge.Error.Code, ge.Error.Message)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			// Continuous Access Evaluation: a claims challenge, which
			// serveError answers with a new sign-in (challenge.go).
			endpoint := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
			if err := challengeFrom(resp, endpoint, graphAPIError(ge.Error)); err != nil {
				return nil, err
			}
		}
		return nil, &graphError{status: http.StatusBadGateway, detail: detail}
	}
	return body, nil
}

// prettyJSONs remembers the pages' indented JSON: Graph answers a user's
// /me with the same bytes every time, and indenting them (encoding/json's
// scanner, byte by byte) cost a signed-in page some 10 µs.
var prettyJSONs = &prettyMemo{}

// prettyMemo maps Graph answers to prettyJSON's output for them. An entry is
// found by a seeded hash of the answer and then holds only for the exact
// bytes it was made from, so it can only ever give the answer prettyJSON
// would (a collision is a miss). It holds at most maxPrettyBytes of answers
// and output (a /me answer and its page's JSON are about 1.5 KB together),
// and at most maxPrettyEntries of them.
type prettyMemo struct {
	entries bounded.Map[uint64, prettyEntry]
}

type prettyEntry struct {
	body   []byte
	pretty template.HTML
}

var prettySeed = maphash.MakeSeed()

const (
	maxPrettyEntries = 1024
	maxPrettyBytes   = 2 << 20
	maxPrettyBody    = 16 << 10 // larger answers are indented every time
)

// get returns prettyJSON(body), from the memo when it holds body.
func (m *prettyMemo) get(body []byte) (template.HTML, error) {
	if len(body) > maxPrettyBody {
		return prettyJSON(body)
	}
	k := maphash.Bytes(prettySeed, body)
	if e, ok := m.entries.Get(k); ok && bytes.Equal(e.body, body) {
		return e.pretty, nil
	}
	pretty, err := prettyJSON(body)
	if err != nil {
		return "", err
	}
	m.entries.Put(k, prettyEntry{bytes.Clone(body), pretty}, len(body)+len(pretty), bounded.Limit{Entries: maxPrettyEntries, Bytes: maxPrettyBytes})
	return pretty, nil
}

// prettyJSON indents Graph's JSON for the page and escapes it for HTML, in
// one go: the template then writes it as it is, instead of running its
// escaper over a kilobyte of JSON through reflection on every page.
func prettyJSON(body []byte) (template.HTML, error) {
	var indented bytes.Buffer
	indented.Grow(2 * len(body))
	if err := json.Indent(&indented, body, "", "  "); err != nil {
		return "", err
	}
	var escaped strings.Builder
	escaped.Grow(indented.Len() + indented.Len()/4)
	template.HTMLEscape(&escaped, indented.Bytes())
	return template.HTML(escaped.String()), nil
}
