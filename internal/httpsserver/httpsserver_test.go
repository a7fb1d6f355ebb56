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

// An HTTP/2 client that sends a request's first HEADERS frame and never the
// rest of its header block holds a connection, as an HTTP/1.1 client that
// never ends its headers does until ReadHeaderTimeout. The server must cut it
// off in seconds, not keep it for the idle timeout (two minutes). The frames
// are written by hand: the test needs a client that misbehaves.
func TestHTTP2UnfinishedHeadersAreCutOff(t *testing.T) {
	c := testutil.NewCert(t)
	srv := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the handler ran for a request whose headers never ended: %s", r.URL)
	}), c.TLS, 5*time.Second, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, srv, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-served })

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: c.Pool, ServerName: "localhost", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	start := time.Now()
	// The client preface, an empty SETTINGS frame, and HEADERS for stream 1
	// with END_STREAM but without END_HEADERS: CONTINUATION frames should
	// follow, and never do. The block so far is valid HPACK (:method GET,
	// :scheme https, :path /, from the static table).
	var out []byte
	out = append(out, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"...)
	out = appendFrame(out, 0x4, 0, 0, nil)
	out = appendFrame(out, 0x1, 0x1, 1, []byte{0x82, 0x87, 0x84})
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}

	// Read what the server sends (its SETTINGS, a PING this client never
	// answers, maybe a GOAWAY) until it closes the connection. 20 s is a
	// bound for a loaded machine, far below the idle timeout.
	const bound = 20 * time.Second
	conn.SetReadDeadline(start.Add(bound))
	buf := make([]byte, 4096)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the connection with an unfinished header block was still open after %s", bound)
		}
		t.Logf("the server closed the connection after %s (%v)", time.Since(start).Round(100*time.Millisecond), err)
		return
	}
}

// appendFrame appends an HTTP/2 frame: a 9-byte header (24-bit length,
// type, flags, 31-bit stream id) and the payload.
func appendFrame(b []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b = append(b, byte(n>>16), byte(n>>8), byte(n), typ, flags,
		byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream))
	return append(b, payload...)
}
