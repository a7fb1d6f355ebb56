// Graph: the page that calls Microsoft Graph /me with the user's cached access token.

package handlers

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"html/template"
	"net/http"
	"strings"
	"time"

	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/internal/bounded"
)

// graph shows Graph's /me for the signed-in user, with the access token
// ScopesRequired got from their token cache (MSAL refreshes it when it is
// within five minutes of expiry), and how long that token stays valid.
func (h *Handlers) graph(w http.ResponseWriter, r *http.Request) error {
	body, err := h.auth.CallAPI(r, h.meAPI, h.meURL)
	if err != nil {
		return err
	}
	pretty, err := prettyJSONs.get(body)
	if err != nil {
		return &entra.APIError{API: h.cfg.Graph.Name, Detail: "Microsoft Graph answered with something that is not JSON."}
	}
	token, _ := entra.TokenFrom(r.Context())
	data := h.newTemplateData(r)
	data.GraphEndpoint = h.meURL
	data.GraphJSON = pretty
	data.TokenExpiresIn = max(0, int64(token.ExpiresOn.Sub(h.now())/time.Second))
	return h.render(w, http.StatusOK, "graph", &data)
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
