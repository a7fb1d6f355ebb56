package httpsserver

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"
)

// Ending the context lets a request in flight finish, then Serve returns nil.
func TestServeShutsDownGracefully(t *testing.T) {
	c := testutil.NewCert(t)
	cert := c.TLS
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.Pool}}, Timeout: 5 * time.Second}
	started := make(chan struct{})
	srv := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "finished")
	}), cert, 5*time.Second, nil)
	if srv.TLSConfig.MinVersion != tls.VersionTLS12 || srv.ReadHeaderTimeout == 0 || srv.MaxHeaderBytes != 64<<10 {
		t.Fatalf("server settings: %+v", srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, srv, ln, 5*time.Second) }()

	body := make(chan string, 1)
	go func() {
		resp, err := client.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			body <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body <- string(b)
	}()
	<-started
	cancel()
	if got := <-body; got != "finished" {
		t.Fatalf("request in flight during shutdown: %q", got)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
}

// The outbound client speaks HTTP/1.1 to a server that offers HTTP/2 too,
// and trusts the extra roots it was given (see NewClient).
func TestClientSpeaksHTTP1(t *testing.T) {
	c := testutil.NewCert(t)
	srv := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}), c.TLS, 5*time.Second, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, srv, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-served })

	url := "https://" + ln.Addr().String() + "/"
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.Pool}, ForceAttemptHTTP2: true}, Timeout: 5 * time.Second}
	client, err := NewClient(c.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h2.CloseIdleConnections(); client.CloseIdleConnections() })
	for _, tc := range []struct {
		client *http.Client
		want   string
	}{{h2, "HTTP/2.0"}, {client, "HTTP/1.1"}} {
		resp, err := tc.client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != tc.want {
			t.Errorf("the server saw %q, want %q", b, tc.want)
		}
	}
}
