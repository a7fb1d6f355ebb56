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
