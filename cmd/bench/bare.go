// Bare server: a minimal net/http HTTPS server, the baseline for the app's static page and for its signed-in page.

package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"ms-identity-go-webapp/internal/httpsserver"
)

// benchEnvPrefix marks the variables that make this binary the bare
// server; they are never passed on to the app.
const benchEnvPrefix = "BENCH_BARE_"

// bareServerEnv returns the settings that make this binary, run again,
// serve body on addr with the certificate, and the bare Graph page that
// calls graphEndpoint with the access token in tokenFile: see serveBare.
func bareServerEnv(addr, certFile, keyFile, bodyFile, graphEndpoint, tokenFile string) map[string]string {
	return map[string]string{
		benchEnvPrefix + "ADDR":  addr,
		benchEnvPrefix + "CERT":  certFile,
		benchEnvPrefix + "KEY":   keyFile,
		benchEnvPrefix + "BODY":  bodyFile,
		benchEnvPrefix + "GRAPH": graphEndpoint,
		benchEnvPrefix + "TOKEN": tokenFile,
	}
}

// bareGraphPath is the bare server's Graph page.
const bareGraphPath = "/graph"

// serveBare serves one static page with nothing around it: no router, no
// middleware, no logging. It runs in a process of its own, like the app, and
// with the app's certificate and TLS settings, so that the app's static page
// is compared with the least net/http can do over the same TLS.
//
// Its bareGraphPath is the physical limit of a page that makes one Graph
// call: the same call as the app's /graph, through the app's outbound
// client, with a fixed access token, and Graph's body written back. The
// benchmark writes the token file before it first asks for the page.
func serveBare() error {
	get := func(name string) string { return os.Getenv(benchEnvPrefix + name) }
	cert, err := tls.LoadX509KeyPair(get("CERT"), get("KEY"))
	if err != nil {
		return err
	}
	body, err := os.ReadFile(get("BODY"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", get("ADDR"))
	if err != nil {
		return err
	}
	// The same server settings as the app's, so that the two differ only by
	// what the app does per request.
	graph, err := bareGraphPage(get("GRAPH"), get("TOKEN"))
	if err != nil {
		return err
	}
	srv := httpsserver.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == bareGraphPath {
			graph(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Write(body)
	}), cert, time.Minute, nil)
	fmt.Println("bare server on", ln.Addr())
	// The benchmark ends this process with SIGTERM, which ends it at once:
	// there is nothing to shut down gracefully.
	return srv.ServeTLS(ln, "", "")
}

// bareGraphPage returns the handler of the bare Graph page. It reads the
// token once, at its first request.
func bareGraphPage(endpoint, tokenFile string) (http.HandlerFunc, error) {
	client, err := httpsserver.NewClient(nil)
	if err != nil {
		return nil, err
	}
	tokens := sync.OnceValues(func() ([]string, error) {
		data, err := os.ReadFile(tokenFile)
		return strings.Fields(string(data)), err
	})
	return func(w http.ResponseWriter, r *http.Request) {
		all, err := tokens()
		if err != nil || len(all) == 0 {
			http.Error(w, "no token yet", http.StatusServiceUnavailable)
			return
		}
		// ?user=N sends user N's own token, as the app does for each
		// signed-in user; without it every request sends the first.
		tok := all[0]
		if n, err := strconv.Atoi(strings.TrimPrefix(r.URL.RawQuery, "user=")); err == nil && n >= 0 && n < len(all) {
			tok = all[n]
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, endpoint, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, "Graph: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			http.Error(w, "Graph answered "+resp.Status, http.StatusBadGateway)
			return
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			http.Error(w, "Graph: "+err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}, nil
}
