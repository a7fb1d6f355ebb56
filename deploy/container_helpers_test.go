// The plumbing of the container test: podman builds, the stand-in Go image, and running an image's root file system as a platform would.

package deploy

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"
)

// findPodman returns podman's path, or skips the test when podman, root
// (for mounts and chroot) or a static busybox (the stand-in Go image's
// shell) is missing, unless REQUIRE_PODMAN=1 (as in CI) makes that a
// failure.
func findPodman(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("REQUIRE_PODMAN") == "1" {
			t.Fatalf("%s, and REQUIRE_PODMAN=1", what)
		}
		t.Skipf("%s: skipping the container image test", what)
	}
	bin, err := exec.LookPath("podman")
	if err != nil {
		missing("podman is not installed (apt-get install podman)")
	}
	if os.Geteuid() != 0 {
		missing("the container image test mounts the image and runs it under chroot, which needs root")
	}
	if _, err := staticBusybox(); err != nil {
		missing(err.Error())
	}
	return bin
}

// staticBusybox returns the path of a statically linked busybox: the
// stand-in Go image has no C library for a dynamic one.
func staticBusybox() (string, error) {
	const hint = "busybox-static is not installed (apt-get install busybox-static)"
	bin, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("%s", hint)
	}
	if static, err := isStatic(bin); err != nil || !static {
		return "", fmt.Errorf("%s is not statically linked: %s", bin, hint)
	}
	return bin, nil
}

// isStatic reports whether the ELF file at path needs no dynamic loader.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// run runs a command and returns its standard output; on failure the test
// ends with the command's output.
func run(t *testing.T, stdin io.Reader, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, tail(stdout.String(), 40), tail(stderr.String(), 40))
	}
	return strings.TrimSpace(stdout.String())
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"[...]"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n") + "\n"
}

// uniqueName is a name for an image of this test run, in podman's storage
// that other users of the machine share.
func uniqueName(what string) string {
	return fmt.Sprintf("localhost/ms-identity-go-webapp-test/%s:%d-%d", what, os.Getpid(), time.Now().UnixNano())
}

// removeImage removes the image when the test ends.
func removeImage(t *testing.T, podman, name string) {
	t.Cleanup(func() {
		if out, err := exec.Command(podman, "rmi", "-f", name).CombinedOutput(); err != nil {
			t.Errorf("removing %s: %v\n%s", name, err, out)
		}
	})
}

// copyContext copies the repository at src to dst as a build context,
// without .git, node_modules and anything that may hold a developer's
// secrets (.env, sessions, keys and certificates): the test plants its own
// of those to see that .dockerignore keeps them out.
func copyContext(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		name := d.Name()
		if rel != "." && (name == ".git" || name == "node_modules" || strings.HasPrefix(name, ".env") ||
			name == ".sessions" || name == "flask_session" || strings.HasPrefix(name, "client-cert.")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(name) {
		case ".crt", ".key", ".pem", ".pfx", ".p12":
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		}
		return nil // symlinks and the like: the build needs none
	})
	if err != nil {
		t.Fatalf("copying the build context: %v", err)
	}
}

// standInGoImage makes the image the build stage starts from, in place of
// the official golang image, which no registry here can serve: this
// machine's Go toolchain at /usr/local/go, busybox for the shell that RUN
// steps use, a CA bundle at the Debian path (the machine's, plus the test's
// own certificate authority, as a company's CA would be), and the
// modules the app needs in the module cache, with GOPROXY=off: the build
// downloads nothing.
func standInGoImage(t *testing.T, podman, repo string, extraCA []byte) string {
	t.Helper()
	goroot := run(t, nil, "go", "env", "GOROOT")
	busybox, err := staticBusybox()
	if err != nil {
		t.Fatal(err)
	}
	applets := strings.Fields(run(t, nil, busybox, "--list"))
	bundle, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	bundle = append(append(bundle, '\n'), extraCA...)
	modFiles := moduleCacheFiles(t, repo)

	name := uniqueName("golang")
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeStandIn(pw, goroot, busybox, applets, bundle, modFiles))
	}()
	run(t, pr, podman, "import",
		"--change", "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--change", "ENV GOPATH=/go",
		"--change", "ENV GOTOOLCHAIN=local",
		"--change", "ENV GOPROXY=off",
		"--change", "WORKDIR /go",
		"-", name)
	removeImage(t, podman, name)
	return name
}

// moduleCacheFiles lists the module cache files the build needs, from this
// machine's cache (go mod download fills it when needed): every module's
// zip, and the .info and .mod files of every version in the cache, which
// loading the module graph reads. Keys are paths in the image.
func moduleCacheFiles(t *testing.T, repo string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download: %v", err)
	}
	cache := filepath.Join(run(t, nil, "go", "env", "GOMODCACHE"), "cache", "download")
	files := map[string]string{}
	add := func(path string) {
		rel, err := filepath.Rel(cache, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("%s is outside the module cache %s", path, cache)
		}
		files[filepath.Join("go/pkg/mod/cache/download", rel)] = path
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var m struct{ Zip, Error string }
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.Error != "" {
			t.Fatalf("go mod download: %s", m.Error)
		}
		if m.Zip != "" {
			add(m.Zip)
		}
	}
	err = filepath.WalkDir(cache, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".mod") || strings.HasSuffix(path, ".info")) &&
			strings.Contains(path, string(filepath.Separator)+"@v"+string(filepath.Separator)) {
			add(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// writeStandIn writes the stand-in Go image's root file system as a tar
// stream, for podman import.
func writeStandIn(w io.Writer, goroot, busybox string, applets []string, bundle []byte, modFiles map[string]string) error {
	tw := tar.NewWriter(w)
	dirs := map[string]bool{}
	var mkdir func(dir string, mode int64) error
	mkdir = func(dir string, mode int64) error {
		if dir == "." || dirs[dir] {
			return nil
		}
		if err := mkdir(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		dirs[dir] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: mode, ModTime: time.Now()})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := mkdir(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Now()}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"root", "go/bin", "go/src"} {
		if err := mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := mkdir("tmp", 0o1777); err != nil {
		return err
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n")); err != nil {
		return err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\n")); err != nil {
		return err
	}
	if err := file("etc/ssl/certs/ca-certificates.crt", 0o644, bundle); err != nil {
		return err
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := file("bin/busybox", 0o755, data); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: time.Now()}); err != nil {
			return err
		}
	}
	for dst, src := range modFiles {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := file(dst, 0o644, data); err != nil {
			return err
		}
	}
	// The toolchain, without what building a program does not read: the
	// Go distribution's own tests and API lists, and test data.
	err = filepath.WalkDir(goroot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(goroot, path)
		if d.IsDir() && (rel == "test" || rel == "api" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		name := filepath.Join("usr/local/go", rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return mkdir(name, int64(info.Mode().Perm()))
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: link, Mode: 0o777, ModTime: info.ModTime()})
		case d.Type().IsRegular():
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(info.Mode().Perm()), Size: info.Size(), ModTime: info.ModTime()}); err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// imageInfo is what a platform reads from an image before running it.
type imageInfo struct {
	Size   int64
	Config struct {
		User       string
		Env        []string
		Entrypoint []string
		Cmd        []string
		WorkingDir string
	}
	Healthcheck *struct {
		Test []string
	}
}

func inspectImage(t *testing.T, podman, name string) imageInfo {
	t.Helper()
	var infos []imageInfo
	if err := json.Unmarshal([]byte(run(t, nil, podman, "image", "inspect", name)), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("podman image inspect %s: %v", name, err)
	}
	return infos[0]
}

// env returns the value of name in the image's environment.
func (im imageInfo) env(name string) (string, bool) {
	for _, kv := range im.Config.Env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v, true
		}
	}
	return "", false
}

// user returns the numeric user and group the image runs as: root when
// it names none. Without /etc/passwd in the image only numbers can be
// resolved, as by a runtime.
func (im imageInfo) user(t *testing.T) (uid, gid uint32) {
	t.Helper()
	u, g, _ := strings.Cut(im.Config.User, ":")
	if u == "" {
		return 0, 0
	}
	if u == "root" {
		u = "0"
	}
	if g == "" || g == "root" {
		g = "0"
	}
	n, err1 := strconv.ParseUint(u, 10, 32)
	m, err2 := strconv.ParseUint(g, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("the image's USER %q is not numeric: an image without /etc/passwd needs USER uid:gid", im.Config.User)
	}
	return uint32(n), uint32(m)
}

// mountImage mounts the image's root file system, read-only, until the
// test ends.
func mountImage(t *testing.T, podman, name string) string {
	t.Helper()
	dir := run(t, nil, podman, "image", "mount", name)
	t.Cleanup(func() {
		if out, err := exec.Command(podman, "image", "unmount", name).CombinedOutput(); err != nil {
			t.Errorf("podman image unmount %s: %v\n%s", name, err, out)
		}
	})
	return dir
}

// rootFS is the image's root file system as a runtime presents it to the
// process: the image's files, plus /etc/hosts and /etc/resolv.conf and the
// mount points of volumes (mountPoints), and read-only unless writable.
// A writable one keeps its changes in a directory of the test, as a
// container's writable layer. It is unmounted when the test ends.
func rootFS(t *testing.T, image string, writable bool, mountPoints ...string) string {
	t.Helper()
	// Directories of their own, not t.TempDir: a test's name may hold a
	// comma, which separates overlayfs's options.
	added, target := tempDir(t), tempDir(t)
	// The root directory takes its mode from the top layer: searchable by
	// the image's user.
	if err := os.Chmod(added, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"etc/hosts":       "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"etc/resolv.conf": "nameserver 127.0.0.1\n",
	} {
		path := filepath.Join(added, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range mountPoints {
		if err := os.MkdirAll(filepath.Join(added, m), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Overlayfs with only lower layers is read-only.
	flags, opts := uintptr(syscall.MS_RDONLY), "lowerdir="+added+":"+image
	if writable {
		layer := tempDir(t)
		upper, work := filepath.Join(layer, "upper"), filepath.Join(layer, "work")
		os.Mkdir(upper, 0o755)
		os.Mkdir(work, 0o755)
		flags, opts = 0, opts+",upperdir="+upper+",workdir="+work
	}
	if err := syscall.Mount("overlay", target, "overlay", flags, opts); err != nil {
		t.Fatalf("mounting the image's root file system: %v", err)
	}
	t.Cleanup(func() { unmount(t, target) })
	return target
}

// tempDir is a new directory, removed when the test ends, whose name holds
// no comma.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "container-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// bindVolume mounts dir at path in root, as a platform mounts a volume,
// until the test ends.
func bindVolume(t *testing.T, root, path, dir string) {
	t.Helper()
	target := filepath.Join(root, path)
	if err := syscall.Mount(dir, target, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("mounting a volume at %s: %v", path, err)
	}
	t.Cleanup(func() { unmount(t, target) })
}

func unmount(t *testing.T, target string) {
	if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
		t.Errorf("unmounting %s: %v", target, err)
	}
}

// container is one process started from the image.
type container struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *testutil.SyncBuffer
	stderr *testutil.SyncBuffer
	done   chan struct{}

	mu      sync.Mutex
	waitErr error
}

// command is how a runtime starts a process of the image: its entrypoint
// and command (args instead of the command when given), its environment
// with the platform's settings over it, its working directory and user,
// inside its root file system.
func (im imageInfo) command(t *testing.T, root string, settings map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	argv := append([]string{}, im.Config.Entrypoint...)
	if len(args) > 0 {
		argv = append(argv, args...)
	} else {
		argv = append(argv, im.Config.Cmd...)
	}
	if len(argv) == 0 || !strings.HasPrefix(argv[0], "/") {
		t.Fatalf("the image's entrypoint %q is not an absolute path (the image has no shell to find it)", argv)
	}
	env := map[string]string{}
	var order []string
	for _, kv := range im.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
		order = append(order, k)
	}
	for k, v := range settings {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Dir: im.Config.WorkingDir}
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	for _, k := range order {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	uid, gid := im.user(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: uid, Gid: gid},
		Pdeathsig:  syscall.SIGKILL,
	}
	return cmd
}

// start starts the image's entrypoint, which the test stops if it still
// runs at the end.
func (im imageInfo) start(t *testing.T, root string, settings map[string]string) *container {
	t.Helper()
	c := &container{t: t, cmd: im.command(t, root, settings), stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting the image's entrypoint: %v", err)
	}
	go func() {
		err := c.cmd.Wait()
		c.mu.Lock()
		c.waitErr = err
		c.mu.Unlock()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// wait waits for the process to end, at most limit, and returns its exit
// status.
func (c *container) wait(limit time.Duration) (int, error) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		select {
		case <-c.done:
		default:
			return -1, fmt.Errorf("still running after %s", limit)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waitErr == nil {
		return 0, nil
	}
	if exit, ok := c.waitErr.(*exec.ExitError); ok {
		return exit.ExitCode(), nil
	}
	return -1, c.waitErr
}

// output is everything the process wrote.
func (c *container) output() string { return c.stdout.String() + c.stderr.String() }

// waitHealthy waits until the app answers 200 on url, at most limit.
func (c *container) waitHealthy(url string, limit time.Duration) {
	c.t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-c.done:
			status, _ := c.wait(0)
			c.t.Fatalf("the app exited at start with status %d:\n%s", status, tail(c.output(), 20))
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s did not answer 200 within %s:\n%s", url, limit, tail(c.output(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ids returns the real and effective user and group ids of the running
// process, from /proc.
func (c *container) ids() (uids, gids []string) {
	c.t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		c.t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			switch f[0] {
			case "Uid:":
				uids = f[1:3]
			case "Gid:":
				gids = f[1:3]
			}
		}
	}
	return uids, gids
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
