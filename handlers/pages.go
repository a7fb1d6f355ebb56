// Pages: the home page, the ID token claims and the admin page.

package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"ms-identity-go-webapp/identity"
)

func (app *Application) index(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path != "/" {
		return errNotFound
	}
	return app.render(w, http.StatusOK, "index", app.newTemplateData(r))
}

// hiddenClaims are the claims the Python sample's /token_details skips:
// timestamps and Entra-internal values that mean nothing to a reader.
var hiddenClaims = map[string]bool{"iat": true, "exp": true, "nbf": true, "uti": true, "aio": true}

// claimList formats the ID token's claims for a page, sorted by name.
func claimList(c identity.Claims) []Claim {
	list := make([]Claim, 0, len(c))
	for name, v := range c {
		if hiddenClaims[name] {
			continue
		}
		list = append(list, Claim{Name: name, Value: claimValue(v)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

func claimValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = claimValue(e)
		}
		return strings.Join(parts, ", ")
	case float64:
		return fmt.Sprint(int64(v))
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (app *Application) tokenDetails(w http.ResponseWriter, r *http.Request) error {
	data := app.newTemplateData(r)
	data.Claims = claimList(userFrom(r.Context()).Claims)
	return app.render(w, http.StatusOK, "token_details", data)
}

func (app *Application) admin(w http.ResponseWriter, r *http.Request) error {
	data := app.newTemplateData(r)
	data.Claims = claimList(userFrom(r.Context()).Claims)
	data.AdminRole = app.AdminRole
	return app.render(w, http.StatusOK, "admin", data)
}
