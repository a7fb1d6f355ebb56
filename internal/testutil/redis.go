// Redis for tests: a real redis-server on a loopback port, started and stopped by the test.

package testutil

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a redis-server process on a loopback port, without
// persistence: stopping it loses every session, as a restart would.
type RedisServer struct {
	t        testing.TB
	bin      string
	port     int
	dir      string
	password string // requirepass, when set

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *SyncBuffer
}

// StartRedis starts redis-server for the test, with requirepass set when
// password is not empty, and stops it when the test ends. Without
// redis-server on PATH the test is skipped, unless REQUIRE_REDIS=1 (as in
// CI), which makes that a failure.
func StartRedis(t testing.TB, password string) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not on PATH and REQUIRE_REDIS=1: install it with apt-get install redis-server")
		}
		t.Skip("redis-server is not on PATH: install it (apt-get install redis-server) to run the Redis tests")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	rs := &RedisServer{t: t, bin: bin, port: port, dir: t.TempDir(), password: password, out: &SyncBuffer{}}
	rs.Start()
	t.Cleanup(rs.Stop)
	return rs
}

// URL is the REDIS_URL of the server.
func (rs *RedisServer) URL() string {
	if rs.password != "" {
		return fmt.Sprintf("redis://:%s@127.0.0.1:%d/0", url.QueryEscape(rs.password), rs.port)
	}
	return fmt.Sprintf("redis://127.0.0.1:%d/0", rs.port)
}

// Password is the server's requirepass ("" for none).
func (rs *RedisServer) Password() string { return rs.password }

// Start starts the server on its port and waits until it answers, at most
// ten seconds.
func (rs *RedisServer) Start() {
	rs.t.Helper()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.cmd != nil {
		return
	}
	cmd := exec.Command(rs.bin,
		"--port", strconv.Itoa(rs.port), "--bind", "127.0.0.1", "--protected-mode", "yes",
		"--save", "", "--appendonly", "no", "--dir", rs.dir, "--daemonize", "no", "--loglevel", "warning")
	if rs.password != "" {
		cmd.Args = append(cmd.Args, "--requirepass", rs.password)
	}
	cmd.Stdout, cmd.Stderr = rs.out, rs.out
	if err := cmd.Start(); err != nil {
		rs.t.Fatalf("starting redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	rs.cmd, rs.done = cmd, done

	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", rs.port), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-done:
			rs.t.Fatalf("redis-server exited at start:\n%s", rs.out.String())
		default:
		}
		if time.Now().After(deadline) {
			rs.t.Fatalf("redis-server did not listen on port %d within 10s:\n%s", rs.port, rs.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after five seconds) and
// waits for it to exit.
func (rs *RedisServer) Stop() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.cmd == nil {
		return
	}
	rs.cmd.Process.Signal(os.Interrupt)
	select {
	case <-rs.done:
	case <-time.After(5 * time.Second):
		rs.cmd.Process.Kill()
		<-rs.done
	}
	rs.cmd, rs.done = nil, nil
}

// Pid is the process id of the running server, 0 when it is stopped.
func (rs *RedisServer) Pid() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.cmd == nil {
		return 0
	}
	return rs.cmd.Process.Pid
}

// Client returns a go-redis client to look at the server's keys; it is
// closed when the test ends.
func (rs *RedisServer) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.port), Password: rs.password, DisableIdentity: true})
	rs.t.Cleanup(func() { c.Close() })
	return c
}
