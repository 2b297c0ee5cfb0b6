package k8s

import (
	"github.com/flightdeckhq/flightdeck/internal/flock"

	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Versions of the control plane the sandbox runs. KubeVersion also names the
// cache directory, so moving to another release never reuses old binaries.
const (
	KubeVersion = "v1.36.3"
	KwokVersion = "v0.8.0"
)

// toolsModule is the nested module whose go.mod pins Kubernetes and etcd.
const toolsModule = "github.com/flightdeckhq/flightdeck/sandbox/k8s/tools"

// Binaries are the absolute paths of the programs a sandbox cluster runs.
type Binaries struct {
	Dir                   string
	KubeAPIServer         string
	KubeControllerManager string
	KubeScheduler         string
	Etcd                  string
	Kwok                  string
	Kwokctl               string
	Kubectl               string
}

// binarySpec says how one binary is produced. Kubernetes and etcd come from
// the tools module so go.sum pins every dependency; kwok is installed at its
// release tag with its own go.mod, since its dependency graph does not have
// to agree with Kubernetes'.
type binarySpec struct {
	name    string
	pkg     string // built inside the tools module
	install string // or installed as pkg@version
	ldflags string
}

func binarySpecs() []binarySpec {
	// Clients (kwokctl among them) parse the server's version, and the
	// default "v0.0.0-master" of a plain go build reads as a pre-1.0 server.
	kubeVersion := strings.Join([]string{
		"-s", "-w",
		"-X k8s.io/component-base/version.gitVersion=" + KubeVersion,
		"-X k8s.io/component-base/version.gitMajor=1",
		"-X k8s.io/component-base/version.gitMinor=36",
		"-X k8s.io/component-base/version.gitTreeState=clean",
		"-X k8s.io/client-go/pkg/version.gitVersion=" + KubeVersion,
		"-X k8s.io/client-go/pkg/version.gitMajor=1",
		"-X k8s.io/client-go/pkg/version.gitMinor=36",
		"-X k8s.io/client-go/pkg/version.gitTreeState=clean",
	}, " ")
	return []binarySpec{
		{name: "kube-apiserver", pkg: "k8s.io/kubernetes/cmd/kube-apiserver", ldflags: kubeVersion},
		{name: "kube-controller-manager", pkg: "k8s.io/kubernetes/cmd/kube-controller-manager", ldflags: kubeVersion},
		{name: "kube-scheduler", pkg: "k8s.io/kubernetes/cmd/kube-scheduler", ldflags: kubeVersion},
		{name: "kubectl", pkg: "k8s.io/kubernetes/cmd/kubectl", ldflags: kubeVersion},
		{name: "etcd", pkg: "go.etcd.io/etcd/server/v3", ldflags: "-s -w"},
		{name: "kwok", install: "sigs.k8s.io/kwok/cmd/kwok@" + KwokVersion, ldflags: "-s -w"},
		{name: "kwokctl", install: "sigs.k8s.io/kwok/cmd/kwokctl@" + KwokVersion, ldflags: "-s -w"},
	}
}

func binariesIn(dir string) Binaries {
	p := func(name string) string { return filepath.Join(dir, name+exeSuffix()) }
	return Binaries{
		Dir:                   dir,
		KubeAPIServer:         p("kube-apiserver"),
		KubeControllerManager: p("kube-controller-manager"),
		KubeScheduler:         p("kube-scheduler"),
		Etcd:                  p("etcd"),
		Kwok:                  p("kwok"),
		Kwokctl:               p("kwokctl"),
		Kubectl:               p("kubectl"),
	}
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// EnsureBinaries builds whatever is missing from the cache and returns the
// paths of all seven programs. A cold cache takes minutes on a small
// machine; afterwards this only checks that the files are there.
func EnsureBinaries(ctx context.Context, o Options) (Binaries, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Binaries{}, err
	}
	bins := binariesIn(o.CacheDir)
	if len(missing(o.CacheDir)) == 0 {
		return bins, nil
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("create binary cache %s: %w", o.CacheDir, err)
	}

	lockPath := filepath.Join(o.CacheDir, ".build.lock")
	unlock, err := flock.Lock(ctx, lockPath, func() {
		fmt.Fprintf(o.Progress, "waiting for another process building into %s (lock %s)…\n", o.CacheDir, lockPath)
	})
	if err != nil {
		return Binaries{}, fmt.Errorf("lock binary cache: %w", err)
	}
	defer unlock()

	// Whoever held the lock may have built everything meanwhile.
	todo := missing(o.CacheDir)
	if len(todo) == 0 {
		return bins, nil
	}
	goBin, err := goTool()
	if err != nil {
		return Binaries{}, err
	}
	if _, err := os.Stat(filepath.Join(o.ToolsDir, "go.mod")); err != nil {
		return Binaries{}, fmt.Errorf("tools module not found at %s (set Options.ToolsDir to the sandbox/k8s/tools directory of the flightdeck checkout): %w", o.ToolsDir, err)
	}

	start := time.Now()
	for i, spec := range todo {
		fmt.Fprintf(o.Progress, "building %s (%d/%d)… ", spec.name, i+1, len(todo))
		t0 := time.Now()
		if err := build(ctx, goBin, o.ToolsDir, o.CacheDir, spec); err != nil {
			fmt.Fprintf(o.Progress, "failed after %s\n", since(t0))
			return Binaries{}, err
		}
		fmt.Fprintf(o.Progress, "done in %s\n", since(t0))
	}
	fmt.Fprintf(o.Progress, "sandbox binaries ready in %s (%s)\n", since(start), o.CacheDir)
	return bins, nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

// missing lists the binaries not yet in dir. A file is trusted once present
// because it only ever appears there by rename after a finished build.
func missing(dir string) []binarySpec {
	var out []binarySpec
	for _, s := range binarySpecs() {
		fi, err := os.Stat(filepath.Join(dir, s.name+exeSuffix()))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			out = append(out, s)
		}
	}
	return out
}

// build produces one binary under a temporary name in dir and renames it into
// place, so an interrupted build never leaves a truncated binary that later
// runs would trust.
func build(ctx context.Context, goBin, toolsDir, dir string, s binarySpec) error {
	final := filepath.Join(dir, s.name+exeSuffix())
	tmpDir, err := os.MkdirTemp(dir, ".build-"+s.name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpDir)

	var cmd *exec.Cmd
	var out string
	if s.pkg != "" {
		out = filepath.Join(tmpDir, s.name+exeSuffix())
		cmd = exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags", s.ldflags, "-o", out, s.pkg)
		cmd.Env = buildEnv()
	} else {
		// go install names the binary after the package; GOBIN keeps it in
		// our temporary directory until it is complete.
		out = filepath.Join(tmpDir, s.name+exeSuffix())
		cmd = exec.CommandContext(ctx, goBin, "install", "-trimpath", "-ldflags", s.ldflags, s.install)
		cmd.Env = append(buildEnv(), "GOBIN="+tmpDir)
	}
	cmd.Dir = toolsDir
	var log bytes.Buffer
	cmd.Stdout = &log
	cmd.Stderr = &log
	if err := cmd.Run(); err != nil {
		what := s.pkg
		if what == "" {
			what = s.install
		}
		return fmt.Errorf("build %s (%s in %s) failed: %w\n%s\nThe Go module proxy must be reachable for a first build; see %s/go.mod for the pinned versions",
			s.name, what, toolsDir, err, tail(log.String(), 40), toolsDir)
	}
	if err := os.Chmod(out, 0o755); err != nil {
		return err
	}
	if err := os.Rename(out, final); err != nil {
		return fmt.Errorf("install %s into %s: %w", s.name, dir, err)
	}
	return nil
}

// buildEnv keeps a caller's go.work or vendoring out of the tools build and
// produces static binaries, as upstream releases them.
func buildEnv() []string {
	env := make([]string, 0, len(os.Environ())+4)
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "GOWORK="), strings.HasPrefix(kv, "GOFLAGS="),
			strings.HasPrefix(kv, "CGO_ENABLED="), strings.HasPrefix(kv, "GOOS="),
			strings.HasPrefix(kv, "GOARCH="):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false", "CGO_ENABLED=0")
}

// goTool finds the go command. Under `go test` and `go run` it is on PATH;
// a binary started some other way may still find the toolchain it was
// built with.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go"+exeSuffix())
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the go command is not on PATH; it is needed once to build the sandbox's Kubernetes binaries (install Go 1.26 or put it on PATH)")
}

func tail(s string, lines int) string {
	s = strings.TrimRight(s, "\n")
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// defaultToolsDir finds the tools module: next to this source file when the
// source tree is where it was compiled (tests, go run), else below the
// working directory or one of its parents (a binary run from the repo).
func defaultToolsDir() string {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "tools")
		if isToolsDir(dir) {
			return dir
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "sandbox", "k8s", "tools")
		if isToolsDir(cand) {
			return cand
		}
		if parent := filepath.Dir(dir); parent == dir {
			break
		}
	}
	return filepath.Join(wd, "sandbox", "k8s", "tools")
}

func isToolsDir(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	head, _ := io.ReadAll(io.LimitReader(f, 4096))
	return bytes.Contains(head, []byte("module "+toolsModule))
}
