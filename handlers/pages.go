// Pages: the home page, the ID token claims and the admin page.

package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"ms-identity-go-webapp/entra"
)

func (h *Handlers) index(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path != "/" {
		return entra.ErrNotFound
	}
	data := h.newTemplateData(r)
	return h.render(w, http.StatusOK, "index", &data)
}

// Claim is one ID token claim, formatted for a page.
type Claim struct {
	Name  string
	Value string
}

// hiddenClaims are the claims the Python sample's /token_details skips:
// timestamps and Entra-internal values that mean nothing to a reader.
var hiddenClaims = map[string]bool{"iat": true, "exp": true, "nbf": true, "uti": true, "aio": true}

// claimList formats the ID token's claims for a page, sorted by name.
func claimList(c map[string]any) []Claim {
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

func (h *Handlers) tokenDetails(w http.ResponseWriter, r *http.Request) error {
	data := h.newTemplateData(r)
	data.Claims = claimsOf(r)
	return h.render(w, http.StatusOK, "token_details", &data)
}

func (h *Handlers) admin(w http.ResponseWriter, r *http.Request) error {
	data := h.newTemplateData(r)
	data.Claims = claimsOf(r)
	data.AdminRole = h.cfg.AdminRole
	return h.render(w, http.StatusOK, "admin", &data)
}

// claimsOf lists the claims of the signed-in user's ID token.
func claimsOf(r *http.Request) []Claim {
	user, ok := entra.UserFrom(r.Context())
	if !ok {
		return nil
	}
	return claimList(user.Claims())
}
