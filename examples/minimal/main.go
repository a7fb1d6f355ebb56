// Command minimal is the smallest app on package entra: a net/http server
// with a page for signed-in users, a page that calls Microsoft Graph with
// the user's token, and a page for the admin app role. Its settings come
// from the environment (entra.ConfigFromEnv, plus ADDR, TLS_CERT, TLS_KEY
// and GRAPH_ENDPOINT).
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"ms-identity-go-webapp/entra"
)

func main() {
	cfg, err := entra.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	auth, err := entra.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", auth.LoginRequired(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := entra.UserFrom(r.Context())
		fmt.Fprintf(w, "Hello, %s!", user.Name())
	})))
	mux.Handle("GET /me", auth.ScopesRequired("User.Read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := entra.TokenFrom(r.Context())
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, os.Getenv("GRAPH_ENDPOINT"), nil)
		req.Header.Set("Authorization", "Bearer "+token.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			auth.ServeError(w, r, err)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	})))
	mux.Handle("GET /admin", auth.RolesRequired("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Only for the admin app role.")
	})))
	log.Fatal(http.ListenAndServeTLS(os.Getenv("ADDR"), os.Getenv("TLS_CERT"), os.Getenv("TLS_KEY"), auth.Middleware(mux)))
}
