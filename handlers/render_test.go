// Tests of rendering: a page whose layout comes from the layout cache is the page its base template renders, byte for byte.

package handlers

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"ms-identity-go-webapp/identity"
)

// Every page, rendered with its layout kept from an earlier page, is
// exactly what its "base" template writes for the same data: escaped alike,
// and with this request's user, banner and title, never an earlier one's.
// A layout that came to show a value the cache is not keyed by (a request
// id, a CSRF token) fails here.
func TestLayoutCache(t *testing.T) {
	templates, err := parseTemplates(os.DirFS(".."))
	if err != nil {
		t.Fatal(err)
	}
	full := func(name string) templateData {
		return templateData{
			CurrentYear: 2031, User: &User{Name: name, Username: "user@contoso.test"}, CSRFToken: "csrf-token",
			AuthURL:        "https://login.example/authorize?a=1&b=2",
			AuthError:      &identity.AuthError{Code: "access_denied", Description: "AADSTS65004: <declined>", CorrelationID: "c0rr"},
			ConfigProblems: []string{"CLIENT_ID is missing"}, GraphEndpoint: "https://graph.example/v1.0/me",
			GraphJSON: "{&#34;a&#34;: 1}", TokenExpiresIn: 3599, Claims: []Claim{{"name", name}, {"roles", "admin"}},
			AdminRole: "admin", Events: []Event{{Subject: "<Standup>", When: "Mon", Start: "2031-01-01T09:00:00Z", Location: "Room & 1"}},
			Permissions: []Permission{{"Calendars.Read", "read your calendars"}}, Next: "/calendar?x=<1>",
			AppVersion: "v1.2.3", MSALVersion: "v1.10.1", Blocked: &blockedDetails{Resource: "Microsoft Graph", Status: "401"},
			Status: 500, Heading: "Heading <" + name + ">", Message: "Message", Detail: "Detail", RequestID: "req-" + name,
		}
	}
	variants := map[string]func() templateData{
		"alice":        func() templateData { return full("Alice Smith") },
		"markup":       func() templateData { return full(`<script>alert("x")</script> & 'Co'`) },
		"demo":         func() templateData { d := full("Bob"); d.Demo = true; return d },
		"signed out":   func() templateData { d := full(""); d.User = nil; return d },
		"no heading":   func() templateData { d := full("Carol"); d.Heading = ""; return d },
		"another year": func() templateData { d := full("Alice Smith"); d.CurrentYear = 2032; return d },
	}
	compared := map[string]bool{}
	for page, tmpl := range templates {
		for round := range 2 { // the layout is rendered, then kept
			for name, data := range variants {
				d := data()
				var want, got bytes.Buffer
				wantErr := tmpl.ExecuteTemplate(&want, "base", d)
				gotErr := executePage(&got, tmpl, page, &d)
				if (wantErr != nil) != (gotErr != nil) {
					t.Fatalf("%s, %s: base says %v, executePage %v", page, name, wantErr, gotErr)
				}
				compared[page] = compared[page] || wantErr == nil
				if wantErr == nil && !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%s, %s (round %d): executePage wrote\n%s\nbase writes\n%s", page, name, round, got.Bytes(), want.Bytes())
				}
			}
		}
		if !compared[page] {
			t.Errorf("%s: no variant rendered, nothing compared", page)
		}
	}
}

// However many users see pages, the layout cache keeps at most its bound.
func TestLayoutCacheIsBounded(t *testing.T) {
	templates, err := parseTemplates(os.DirFS(".."))
	if err != nil {
		t.Fatal(err)
	}
	c := &layoutCache{}
	for i := range 2 * maxLayouts {
		d := templateData{User: &User{Name: fmt.Sprint("user ", i)}}
		if _, err := c.get(templates["index"], newLayoutKey("index", &d)); err != nil {
			t.Fatal(err)
		}
		if c.entries.Len() > maxLayouts {
			t.Fatalf("%d layouts kept, more than %d", c.entries.Len(), maxLayouts)
		}
	}
}
