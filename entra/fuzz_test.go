// Fuzz targets: the sign-in callback and SafeNext, whatever they are sent.

package entra

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzAuthRedirect sends the redirect handler an arbitrary query on a
// browser with a sign-in in progress. "{state}" in the input stands for the
// flow's real state, so the fuzzer also reaches the code redemption and the
// checks after it. Whatever the query, the answer is an error page (never a
// 500, never a sign-in), nothing from the query is echoed unescaped, and the
// flow cannot be used twice.
func FuzzAuthRedirect(f *testing.F) {
	for _, seed := range []string{
		"",
		"code=abc&state={state}",
		"state={state}",
		"code=abc&state=forged",
		"error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={state}",
		"error=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E&error_description=AADSTS50011%3A+x&correlation_id=%3Cb%3E",
		"code=a&code=b&state={state}&state=other",
		"code=%00%ff&state={state}",
		"code=" + strings.Repeat("A", 8000) + "&state={state}",
		"state=%ZZ&code=%",
		";;&&==&state={state}&code=",
		"code=x&state={state}&session_state=1&client_info=eyJ1aWQiOiIxIn0",
	} {
		f.Add(seed)
	}

	app, _ := newSignInApp(f, nil)
	h := testRoutes(app)
	// Text of the error pages themselves, so that a fuzzed value that
	// happens to match the template is not taken for an echo.
	var pages strings.Builder
	for _, q := range []string{"state=forged", "error=x&error_description=y&correlation_id=z"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/redirect?"+q, nil))
		pages.WriteString(rec.Body.String())
	}
	templateText := pages.String()

	f.Fuzz(func(t *testing.T, query string) {
		start := httptest.NewRecorder()
		h.ServeHTTP(start, httptest.NewRequest(http.MethodGet, "/graph", nil))
		authURL, err := url.Parse(start.Header().Get("Location"))
		if start.Code != http.StatusFound || err != nil {
			t.Fatalf("starting the sign-in: %d %q", start.Code, start.Header().Get("Location"))
		}
		state := authURL.Query().Get("state")
		cookies := start.Result().Cookies()

		callback := func() *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, "/auth/redirect", nil)
			r.URL.RawQuery = strings.ReplaceAll(query, "{state}", url.QueryEscape(state))
			for _, c := range cookies {
				r.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			// The browser's jar: a cookie set again replaces its value,
			// a deleted one is gone.
			for _, set := range rec.Result().Cookies() {
				cookies = slices.DeleteFunc(cookies, func(c *http.Cookie) bool { return c.Name == set.Name })
				if set.MaxAge >= 0 {
					cookies = append(cookies, set)
				}
			}
			return rec
		}
		rec := callback()
		switch rec.Code {
		case http.StatusBadRequest, http.StatusServiceUnavailable:
		default:
			t.Fatalf("query %q: status %d\n%s", query, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		for _, values := range strings.Split(strings.ReplaceAll(query, "{state}", state), "&") {
			_, v, _ := strings.Cut(values, "=")
			v, err := url.QueryUnescape(v)
			if err == nil && strings.ContainsAny(v, "<>\"") && strings.Contains(body, v) && !strings.Contains(templateText, v) {
				t.Fatalf("query %q: the page echoes %q unescaped", query, v)
			}
		}

		// A callback that names the flow uses it up, whatever its outcome:
		// the browser holds its sign-in cookie no more, and the same answer
		// again is refused as belonging to no sign-in in progress (unless
		// it carries the provider's error, which is reported first).
		q, _ := url.ParseQuery(strings.ReplaceAll(query, "{state}", url.QueryEscape(state)))
		namesFlow := q.Get("state") == state && q.Get("error") == ""
		if namesFlow {
			for _, c := range cookies {
				if strings.HasPrefix(c.Name, "__Host-signin-") {
					t.Fatalf("query %q: the browser still holds the sign-in cookie %s after the callback", query, c.Name)
				}
			}
		}
		again := callback()
		if again.Code != http.StatusBadRequest {
			t.Fatalf("query %q replayed: status %d", query, again.Code)
		}
		if namesFlow && !strings.Contains(again.Body.String(), "state_mismatch") {
			t.Fatalf("query %q replayed: refused, but not as a used-up sign-in:\n%s", query, again.Body)
		}
		check := httptest.NewRequest(http.MethodGet, "/token_details", nil)
		for _, c := range cookies {
			check.AddCookie(c)
		}
		after := httptest.NewRecorder()
		h.ServeHTTP(after, check)
		if after.Code != http.StatusFound {
			t.Fatalf("query %q signed the browser in: /token_details answered %d", query, after.Code)
		}
	})
}

func FuzzSafeNext(f *testing.F) {
	for _, seed := range []string{"/graph", "//evil.example", "/\\evil", "/\t/x", "https://x", "/%2f%2fx", "/a?b=//c"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := SafeNext(next)
		if got != "/" && got != next {
			t.Fatalf("SafeNext(%q) = %q: changed instead of accepted or refused", next, got)
		}
		if got[0] != '/' || (len(got) > 1 && (got[1] == '/' || got[1] == '\\')) {
			t.Fatalf("SafeNext(%q) = %q: not a local path", next, got)
		}
	})
}
