// Package entra signs users in to a net/http app with Microsoft Entra ID
// (and Entra External ID), through MSAL Go: the Go counterpart of the
// Python identity library's Flask Auth and of Microsoft.Identity.Web.
//
// # Configure
//
// ConfigFromEnv reads the settings the Python samples read, with their
// names: AUTHORITY (or TENANT_ID), CLIENT_ID, one credential
// (CLIENT_SECRET, CLIENT_CERTIFICATE_PATH or CLIENT_ASSERTION_FILE),
// REDIRECT_URI, SCOPE, SESSION_TYPE with SESSION_DIR or REDIS_URL,
// SESSION_SECRET and CLIENT_CAPABILITIES. A program may fill a Config
// itself instead. New checks it, reads the credential and opens the session
// store; it makes no request to the identity provider, so it is safe in an
// app factory and in a test.
//
//	cfg, err := entra.ConfigFromEnv()
//	if err != nil {
//		log.Fatal(err) // names every missing or malformed setting
//	}
//	auth, err := entra.New(cfg)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer auth.Close()
//
// # Protect a page
//
// Middleware goes around the whole app. It loads the signed-in user's
// session once per request and saves it after, and answers the sign-in
// routes itself: GET /login, the redirect URI's path, GET and POST /logout
// and the front-channel logout URL (the paths are in Config). A visitor who
// is not signed in stores nothing on the server: a sign-in in progress lives
// in a sealed cookie of its own, with its state, nonce and PKCE verifier.
//
// The gates are middleware for single pages. LoginRequired lets signed-in
// users through and sends anyone else to sign in and back; UserFrom gives
// the page its user.
//
//	mux.Handle("GET /{$}", auth.LoginRequired(home))
//	http.ListenAndServeTLS(addr, certFile, keyFile, auth.Middleware(mux))
//
// # Ask for scopes and call an API
//
// ScopesRequired gets an access token for the page's scopes from the user's
// token cache (refreshed when it is about to expire), and TokenFrom gives it
// to the page. A user who has not consented to the scopes yet is asked for
// them, and only them, and comes back to the page (incremental consent). An
// API is a base URL plus the scopes its tokens need (API), and CallAPI calls
// it with the token: a claims challenge in its answer (Continuous Access
// Evaluation) becomes the sign-in that satisfies it, once.
//
// # Roles and step-up
//
// RolesRequired lets through users with any of the app roles in their ID
// token; others get a 403 page that says how an administrator assigns one.
// AuthContextRequired asks for an authentication context (a Conditional
// Access policy such as a second factor) with a new sign-in when the ID
// token lacks it.
//
// # Sign out
//
// The sign-out is a POST to /logout from the app's own page: another
// site's form, link or image cannot sign anyone out. The session ends here
// first, then the browser goes to the identity provider's end-session
// endpoint and back to PostLogoutRedirectURI. Register the app's origin
// plus FrontChannelLogoutPath as its front-channel logout URL: when the user
// signs out of another app, the identity provider loads it and the sessions
// of that sign-in end here too.
//
// # Errors and pages
//
// ServeError turns every error the package returns (and HTTPError, for the
// app's own) into its page: a failed sign-in shows the identity provider's
// error and correlation id, an unreachable identity provider or session
// store a 503, a failed API call a 502. Internal errors, addresses and
// tokens never reach the browser; the log gets what an operator needs and no
// secret. The package has plain pages of its own; an app gives its own
// layout and any of the pages in Config.Templates, as Python apps override
// templates/identity/*.html, and starts its own pages' data from Page, so
// that both share one layout.
//
// # Sessions
//
// Sessions live on the server: in files (SESSION_TYPE=filesystem, for one
// instance) or in Redis (SESSION_TYPE=redis, for several), sealed with keys
// derived from SESSION_SECRET; SESSION_SECRET_PREVIOUS keeps sessions open
// while the secret is rotated. The browser holds only the session's id. A
// new sign-in gets a new id, and a sign-out in one tab, instance or app ends
// the session everywhere. A session ends 12 hours after its sign-in however
// active the user is (SESSION_ABSOLUTE_LIFETIME), and a user keeps at most
// 10 sessions (SESSION_MAX_PER_USER), the oldest ended first.
//
// # Test your app offline
//
// Package ms-identity-go-webapp/emulator/emulatortest serves a local Entra
// ID and Microsoft Graph emulator on loopback and walks its sign-in pages as
// a person would, so an app's own tests can sign users in with the real
// MSAL client over real HTTPS, without a tenant (see the examples).
package entra
