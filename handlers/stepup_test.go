// Tests of the step-up's loop guard: a step-up that has just been answered without the context shows the page instead of another sign-in.

package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"ms-identity-go-webapp/identity"
)

func TestStepUpAnsweredWithoutContextShowsPage(t *testing.T) {
	files := testFiles()
	files["templates/conditional_access.html"] = &fstest.MapFile{Data: []byte(
		`{{define "title"}}t{{end}}{{define "main"}}blocked {{.Blocked.AuthContext}} at {{.Blocked.AnsweredAt}}{{end}}`)}
	app, err := New(Options{Files: files, RedirectPath: "/auth/redirect", ConfigProblems: []string{"test"}})
	if err != nil {
		t.Fatal(err)
	}
	reached := false
	h := app.requireAuthContext("c1")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	serve := func(user *identity.UserSession) *httptest.ResponseRecorder {
		reached = false
		r := httptest.NewRequest(http.MethodGet, "/admin", nil)
		st, r := withState(r)
		st.user = user
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	signedIn := identity.Claims{"oid": "o", "tid": "t", "sub": "s", "preferred_username": "a@x"}

	// The ID token carries the context: through.
	if rec := serve(&identity.UserSession{Claims: identity.Claims{"acrs": []any{"c1"}}}); !reached || rec.Code != http.StatusOK {
		t.Errorf("acrs c1: reached %v, status %d", reached, rec.Code)
	}

	// A step-up for c1 finished a moment ago, and its ID token still lacks
	// c1: the page, not another sign-in.
	user := &identity.UserSession{Claims: signedIn, HomeAccountID: "o.t"}
	user.Answered = []identity.AnsweredClaims{{Hash: hashOf(t, identity.AuthContextClaims("c1")), At: time.Now().Unix()}}
	rec := serve(user)
	if reached || rec.Code != http.StatusForbidden || rec.Header().Get("Location") != "" {
		t.Fatalf("a repeated step-up: reached %v, status %d, Location %q", reached, rec.Code, rec.Header().Get("Location"))
	}
	if body := rec.Body.String(); !strings.Contains(body, "blocked c1 at ") || strings.Contains(body, "at <") {
		t.Errorf("the page: %q", body)
	}
}

// hashOf finds the hash identity stores for claims, through its own
// API: a session that answered them.
func hashOf(t *testing.T, claims string) string {
	t.Helper()
	s := &identity.UserSession{}
	s.RememberAnswered(claims, time.Now())
	if len(s.Answered) != 1 {
		t.Fatal("nothing remembered")
	}
	return s.Answered[0].Hash
}
