// Outbound client: the HTTP client the app calls Entra ID and Graph with, shared with the benchmark's bare page.

package httpsserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"time"
)

// NewClient returns the app's client for Entra ID and Graph. It trusts the
// system's roots (and SSL_CERT_FILE, as Go does) and, when extraRoots is not
// empty, the PEM certificates in it: the local certificate the emulator
// serves in demo mode. The benchmark's bare page calls Graph through the
// same client, so that the two differ only by what the app does.
func NewClient(extraRoots []byte) (*http.Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64 // Graph and the token endpoint are the same few hosts
	// HTTP/1.1 over keep-alive connections, as .NET's HttpClient speaks to
	// Entra ID and Graph by default. Each call carries its user's own access
	// token, some 2 KB, so HTTP/2's header compression has nothing to reuse
	// across users, and Go's HTTP/2 client and server spend far more CPU per
	// call: measured with cmd/bench, a signed-in /graph page served 54% more
	// pages per second on the same cores once its Graph call went over
	// HTTP/1.1.
	transport.Protocols = new(http.Protocols)
	transport.Protocols.SetHTTP1(true)
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if len(extraRoots) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(extraRoots) {
			return nil, errors.New("holds no PEM certificate")
		}
		transport.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}, nil
}
