// Tests of rendering: a page whose layout comes from the layout cache is the page its base template renders, byte for byte.

package handlers

import (
	"bytes"
	"fmt"
	"testing"

	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/webpage"
)

// Every page, the sample's own and its versions of entra's (identity/, in
// the sample's layout, as entra parses them), rendered with its layout kept
// from an earlier page, is exactly what its "base" template writes for the
// same data: escaped alike, and with this request's user, banner and title,
// never an earlier one's. A layout that came to show a value the cache is
// not keyed by (a request id, a page's own field) fails here. (entra's
// TestLayoutCache holds entra's own pages to the same.)
func TestLayoutCache(t *testing.T) {
	h, err := New(nil, Config{}, sampleFiles())
	if err != nil {
		t.Fatal(err)
	}
	identityPages, err := webpage.ParseGlob(sampleFiles(), "templates/base.html", "templates/identity/*.html", nil)
	if err != nil {
		t.Fatal(err)
	}
	app := func(demo bool, year int) layout {
		return layout{Demo: demo, Year: year, AppVersion: "v1.2.3", MSALVersion: "v1.10.1"}
	}
	full := func(name string) templateData {
		return templateData{
			Page: entra.Page{
				Layout: entra.Layout{User: entra.PageUser{Name: name, Username: "user@contoso.test"}, SignedIn: true,
					Heading: "Heading <" + name + ">", App: app(false, 2031), LoginPath: "/login", LogoutPath: "/logout"},
				RequestID:   "req-" + name,
				AuthURL:     "https://login.example/authorize?a=1&b=2",
				AuthError:   &identity.AuthError{Code: "access_denied", Description: "AADSTS65004: <declined>", CorrelationID: "c0rr"},
				Permissions: []entra.Permission{{Scope: "Calendars.Read", Words: "read your calendars"}}, Next: "/calendar?x=<1>",
				Blocked: &entra.Blocked{Resource: "Microsoft Graph", Status: "401"},
				Status:  500, Message: "Message", Detail: "Detail",
			},
			ConfigProblems: []string{"CLIENT_ID is missing"}, GraphEndpoint: "https://graph.example/v1.0/me",
			GraphJSON: "{&#34;a&#34;: 1}", TokenExpiresIn: 3599, Claims: []Claim{{"name", name}, {"roles", "admin"}},
			AdminRole: "admin", Events: []Event{{Subject: "<Standup>", When: "Mon", Start: "2031-01-01T09:00:00Z", Location: "Room & 1"}},
		}
	}
	variants := map[string]func() templateData{
		"alice":        func() templateData { return full("Alice Smith") },
		"markup":       func() templateData { return full(`<script>alert("x")</script> & 'Co'`) },
		"demo":         func() templateData { d := full("Bob"); d.App = app(true, 2031); return d },
		"signed out":   func() templateData { d := full(""); d.User, d.SignedIn = entra.PageUser{}, false; return d },
		"no heading":   func() templateData { d := full("Carol"); d.Heading = ""; return d },
		"another year": func() templateData { d := full("Alice Smith"); d.App = app(false, 2032); return d },
	}
	compared := map[string]bool{}
	for _, set := range []struct {
		pages *webpage.Set
		names []string
	}{
		{h.pages, []string{"index", "config_error", "graph", "admin", "token_details", "calendar"}},
		{identityPages, []string{"login", "logout", "auth_error", "consent_declined", "conditional_access", "error", "frontchannel_logout"}},
	} {
		for _, page := range set.names {
			tmpl := set.pages.Template(page)
			if tmpl == nil || tmpl.Lookup("layout_top") == nil {
				t.Fatalf("%s: no page, or no layout_top: the layout cache is not used", page)
			}
			for round := range 2 { // the layout is rendered, then kept
				for name, data := range variants {
					d := data()
					var want, got bytes.Buffer
					wantErr := tmpl.ExecuteTemplate(&want, "base", &d)
					gotErr := set.pages.Execute(&got, page, &d, d.Layout)
					if (wantErr != nil) != (gotErr != nil) {
						t.Fatalf("%s, %s: base says %v, Execute %v", page, name, wantErr, gotErr)
					}
					compared[page] = compared[page] || wantErr == nil
					if wantErr == nil && !bytes.Equal(got.Bytes(), want.Bytes()) {
						t.Errorf("%s, %s (round %d): Execute wrote\n%s\nbase writes\n%s", page, name, round, got.Bytes(), want.Bytes())
					}
				}
			}
			if !compared[page] {
				t.Errorf("%s: no variant rendered, nothing compared", page)
			}
		}
	}
}

// However many users see pages, the layout cache keeps at most its bound.
func TestLayoutCacheIsBounded(t *testing.T) {
	h, err := New(nil, Config{}, sampleFiles())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range 2 * webpage.MaxLayouts {
		d := templateData{Page: entra.Page{Layout: entra.Layout{User: entra.PageUser{Name: fmt.Sprint("user ", i)}, SignedIn: true,
			App: layout{Year: 2031}}}}
		buf.Reset()
		if err := h.pages.Execute(&buf, "index", &d, d.Layout); err != nil {
			t.Fatal(err)
		}
		if n := webpage.KeptLayouts(); n > webpage.MaxLayouts {
			t.Fatalf("%d layouts kept, more than %d", n, webpage.MaxLayouts)
		}
	}
}
