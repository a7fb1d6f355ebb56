// Bare server: a minimal net/http HTTPS server, the baseline for the cost of the app's TLS stack and router.

package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"ms-identity-go-webapp/internal/httpsserver"
)

// benchEnvPrefix marks the variables that make this binary the bare
// server; they are never passed on to the app.
const benchEnvPrefix = "BENCH_BARE_"

// bareServerEnv returns the settings that make this binary, run again,
// serve body on addr with the certificate: see serveBare.
func bareServerEnv(addr, certFile, keyFile, bodyFile string) map[string]string {
	return map[string]string{
		benchEnvPrefix + "ADDR": addr,
		benchEnvPrefix + "CERT": certFile,
		benchEnvPrefix + "KEY":  keyFile,
		benchEnvPrefix + "BODY": bodyFile,
	}
}

// serveBare serves one static page with nothing around it: no router, no
// middleware, no logging. It runs in a process of its own, like the app, and
// with the app's certificate and TLS settings, so that the app's static page
// is compared with the least net/http can do over the same TLS.
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
	srv := httpsserver.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Write(body)
	}), cert, time.Minute, nil)
	fmt.Println("bare server on", ln.Addr())
	// The benchmark ends this process with SIGTERM, which ends it at once:
	// there is nothing to shut down gracefully.
	return srv.ServeTLS(ln, "", "")
}
