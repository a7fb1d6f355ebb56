// Processes: building the app and the emulator, running them as children on loopback, and reading their memory.

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// moduleRoot returns the directory of the app's go.mod, where the binaries
// are built from and where ssl/ lives.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (run the benchmark with the Go toolchain: go run ./cmd/bench)", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the app's module: run go run ./cmd/bench from the repository")
	}
	return filepath.Dir(gomod), nil
}

// build compiles the app and the emulator command into dir, exactly as
// users build them.
func build(ctx context.Context, root, dir string) (app, emu string, err error) {
	app, emu = filepath.Join(dir, "app"), filepath.Join(dir, "entra-emulator")
	for _, b := range []struct{ out, pkg string }{{app, "."}, {emu, "./cmd/entra-emulator"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return app, emu, nil
}

// freePort returns a loopback TCP port that was free a moment ago. A child
// that loses the race for it fails to start, and start tries another.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// child is a server process the benchmark started.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
}

// startChild starts bin with args and env in dir, its output going to
// logPath, and waits until ready answers true or the process exits.
func startChild(ctx context.Context, name, bin, dir, logPath string, env, args []string, ready func(context.Context) bool) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting the %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-c.done:
			return nil, fmt.Errorf("the %s exited during start-up (%v):\n%s", name, c.waitErr, c.logTail(10))
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		default:
		}
		probe, cancel := context.WithTimeout(ctx, time.Second)
		ok := ready(probe)
		cancel()
		if ok {
			return c, nil
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("the %s did not answer within 30 s:\n%s", name, c.logTail(10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop asks the process to shut down gracefully, and kills it after 5 s.
func (c *child) stop() {
	if c == nil || c.exited() {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// logTail returns the last n lines of the process's output.
func (c *child) logTail(n int) string {
	data, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// memory returns the process's resident set size and its peak.
func (c *child) memory() (rss, peak int64, err error) {
	return processMemory(c.cmd.Process.Pid)
}

// cpu returns the CPU time the process has used; zero where it cannot be
// read.
func (c *child) cpu() time.Duration {
	if c == nil {
		return 0
	}
	t, _ := processCPU(c.cmd.Process.Pid)
	return t
}

// answers returns a readiness probe: GET url answers 200.
func answers(client *http.Client, url string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// startOnFreePort starts a server with start(port), trying another port
// when the one picked was taken meanwhile by someone else.
func startOnFreePort(start func(port int) (*child, error)) (*child, int, error) {
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, 0, err
		}
		c, err := start(port)
		if err == nil {
			return c, port, nil
		}
		lastErr = err
		if !bytes.Contains([]byte(err.Error()), []byte("address already in use")) {
			break
		}
	}
	return nil, 0, lastErr
}

// childEnv is the environment for the app: the benchmark's own settings,
// over an environment from which every other setting of the app has been
// removed, so a developer's shell or .env cannot change what is measured.
func childEnv(settings map[string]string) []string {
	appVars := map[string]bool{
		"CLIENT_ID": true, "CLIENT_SECRET": true, "AUTHORITY": true, "TENANT_ID": true,
		"REDIRECT_URI": true, "SCOPE": true, "GRAPH_ENDPOINT": true, "GRAPH_TIMEOUT": true,
		"CALENDAR_SCOPE": true, "CALENDAR_ENDPOINT": true, "GRAPH_BASE_URL": true, "OIDC_AUTHORITY": true,
		"ADMIN_ROLE": true, "SESSION_SECRET": true, "SESSION_TYPE": true, "SESSION_DIR": true,
		"REDIS_URL": true, "SESSION_ABSOLUTE_LIFETIME": true, "SESSION_MAX_PER_USER": true, "PORT": true, "TLS_CERT": true, "TLS_KEY": true,
		"SSL_CERT_FILE": true, "SSL_CERT_DIR": true, "MSAL_FORCE_REGION": true,
		"CLIENT_CERTIFICATE_PATH": true, "CLIENT_CERTIFICATE_PASSWORD": true, "CLIENT_CERTIFICATE_SEND_X5C": true,
		"CLIENT_ASSERTION_FILE": true, "AZURE_FEDERATED_TOKEN_FILE": true,
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !appVars[name] && !strings.HasPrefix(name, benchEnvPrefix) {
			env = append(env, kv)
		}
	}
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	return env
}

// redisAnswers returns a readiness probe for a Redis server on a loopback
// port: it answers PING with PONG.
func redisAnswers(port int) func(context.Context) bool {
	return func(ctx context.Context) bool {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		buf := make([]byte, 7)
		n, _ := io.ReadFull(conn, buf)
		return string(buf[:n]) == "+PONG\r\n"
	}
}
