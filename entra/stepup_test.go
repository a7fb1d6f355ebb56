// Tests of the step-up's loop guard: a step-up that has just been answered without the context shows the page instead of another sign-in.

package entra

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/reqstate"
)

func TestStepUpAnsweredWithoutContextShowsPage(t *testing.T) {
	files := testFiles()
	files["identity/conditional_access.html"] = &fstest.MapFile{Data: []byte(
		`{{define "title"}}t{{end}}{{define "main"}}blocked {{.Blocked.AuthContext}} at {{.Blocked.AnsweredAt}}{{end}}`)}
	app, _ := newPageApp(t, files)
	reached := false
	h := app.AuthContextRequired("c1")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	serve := func(user *identity.UserSession) *httptest.ResponseRecorder {
		reached = false
		r := httptest.NewRequest(http.MethodGet, "/admin", nil)
		st, r := reqstate.With(r)
		st.User = user
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	// Signed in, with an ID token that has not expired: the gate's
	// sign-in check (LoginRequired) lets the user through without asking
	// the identity provider.
	signedIn := func() identity.Claims {
		return identity.Claims{"oid": "o", "tid": "t", "sub": "s", "preferred_username": "a@x",
			"exp": float64(time.Now().Add(time.Hour).Unix())}
	}

	// The ID token carries the context: through.
	withContext := signedIn()
	withContext["acrs"] = []any{"c1"}
	if rec := serve(&identity.UserSession{Claims: withContext, HomeAccountID: "o.t"}); !reached || rec.Code != http.StatusOK {
		t.Errorf("acrs c1: reached %v, status %d", reached, rec.Code)
	}

	// A step-up for c1 finished a moment ago, and its ID token still lacks
	// c1: the page, not another sign-in.
	user := &identity.UserSession{Claims: signedIn(), HomeAccountID: "o.t"}
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
