// Package k8s runs the sandbox's Kubernetes control plane: a real
// kube-apiserver, etcd, kube-controller-manager and kube-scheduler started by
// kwokctl's binary runtime, with kwok-controller playing the kubelets of a
// few fake nodes. Deployments, ReplicaSets, rollouts and rollbacks are the
// real controllers' work; only pods' container states are simulated, by the
// stages in stages.yaml.
package k8s

import (
	"github.com/flightdeckhq/flightdeck/internal/flock"

	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

//go:embed stages.yaml
var stagesYAML []byte

// Options locate a sandbox cluster and the binaries it runs. The zero value
// is usable: everything has a default.
type Options struct {
	// StateDir holds the cluster's files; kwokctl's KWOK_WORKDIR is
	// StateDir/kwok. Default: $XDG_STATE_HOME/flightdeck/sandbox.
	StateDir string
	// CacheDir holds the built binaries.
	// Default: $XDG_CACHE_HOME/flightdeck/k8s/v1.36.3.
	CacheDir string
	// Progress receives one line per step that takes a while; nil discards.
	Progress io.Writer
	// Name of the kwok cluster. Default "flightdeck".
	Name string
	// KeepDeployments leaves the Deployments of a cluster that is reused
	// as they are, creating only missing ones: tests of several packages
	// share one sandbox, and a reset would undo another test's rollout
	// while it watches it.
	KeepDeployments bool
	// ToolsDir is the sandbox/k8s/tools module the binaries are built from.
	// Default: found next to this package's source, or under the working
	// directory or one of its parents.
	ToolsDir string
}

// DefaultName is the cluster name used when Options.Name is empty.
const DefaultName = "flightdeck"

// StandbyName is the sandbox's second cluster, the standby a deploy goes
// to beside the primary. Not a prefix of DefaultName, nor it of this: a
// cluster's processes are found by their directory.
const StandbyName = "standby"

func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return o, fmt.Errorf("find the user cache directory for the sandbox binaries (set XDG_CACHE_HOME or Options.CacheDir): %w", err)
		}
		o.CacheDir = filepath.Join(base, "flightdeck", "k8s", KubeVersion)
	}
	if o.StateDir == "" {
		base := os.Getenv("XDG_STATE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return o, fmt.Errorf("find a state directory for the sandbox (set XDG_STATE_HOME or Options.StateDir): %w", err)
			}
			base = filepath.Join(home, ".local", "state")
		}
		o.StateDir = filepath.Join(base, "flightdeck", "sandbox")
	}
	if o.ToolsDir == "" {
		o.ToolsDir = defaultToolsDir()
	}
	// kwokctl records absolute paths in its own configuration; a relative
	// state directory would break as soon as the working directory changes.
	for _, p := range []*string{&o.StateDir, &o.CacheDir, &o.ToolsDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return o, err
		}
		*p = abs
	}
	return o, nil
}

func (o Options) kwokWorkdir() string { return filepath.Join(o.StateDir, "kwok") }
func (o Options) clusterDir() string  { return filepath.Join(o.kwokWorkdir(), "clusters", o.Name) }
func (o Options) kubeconfigPath() string {
	// Each cluster its own file: kwokctl makes the cluster it creates the
	// file's current context, and runbook commands rely on the default.
	if o.Name != DefaultName {
		return filepath.Join(o.StateDir, "kubeconfig-"+o.Name)
	}
	return filepath.Join(o.StateDir, "kubeconfig")
}
func (o Options) stagesPath() string { return filepath.Join(o.StateDir, "kwok-stages.yaml") }
func (o Options) logPath() string    { return filepath.Join(o.StateDir, "kwokctl.log") }

// Cluster is a running sandbox cluster.
type Cluster struct {
	Name string
	// Kubeconfig is a file whose current context is this cluster.
	Kubeconfig string
	// Server is the API server's URL.
	Server string
	// Kubectl is the kubectl built beside the control plane, so runbook
	// commands need none installed.
	Kubectl string
}

// Up starts the sandbox cluster, or reuses it if it is already answering,
// and brings it to the production shape. It returns once the production
// Deployments are fully available.
func Up(ctx context.Context, o Options) (*Cluster, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	bins, err := EnsureBinaries(ctx, o)
	if err != nil {
		return nil, err
	}
	unlock, err := o.lockState(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	running, detail, err := Status(ctx, o)
	if err != nil {
		return nil, err
	}
	if running && !bytes.Equal(readFile(o.stagesPath()), stagesYAML) {
		// kwok-controller reads its stages only at start, and a cluster
		// left running from an older checkout would behave the old way.
		running, detail = false, "its pod stages differ from this version's stages.yaml"
	}
	if running {
		fmt.Fprintf(o.Progress, "reusing %s\n", detail)
	} else {
		if exists(o.clusterDir()) {
			// Typically left by a reboot or a killed test: its processes are
			// gone or wedged, and starting fresh is quicker than repairing.
			fmt.Fprintf(o.Progress, "removing stale cluster: %s\n", detail)
			if err := down(ctx, o); err != nil {
				return nil, err
			}
		}
		if err := create(ctx, o, bins); err != nil {
			return nil, err
		}
	}

	c, err := clusterInfo(o)
	if err != nil {
		return nil, err
	}
	if err := waitAPI(ctx, c.Kubeconfig, 2*time.Minute); err != nil {
		return nil, fmt.Errorf("sandbox cluster %q at %s: %w (kwokctl log: %s)", o.Name, c.Server, err, o.logPath())
	}
	fmt.Fprintf(o.Progress, "applying production shape…\n")
	t0 := time.Now()
	if err := applyShape(ctx, c.Kubeconfig, running && o.KeepDeployments); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "production deployments available in %s\n", since(t0))
	return c, nil
}

func create(ctx context.Context, o Options, bins Binaries) error {
	if err := os.MkdirAll(o.kwokWorkdir(), 0o755); err != nil {
		return fmt.Errorf("create sandbox state directory: %w", err)
	}
	if err := os.WriteFile(o.stagesPath(), stagesYAML, 0o644); err != nil {
		return fmt.Errorf("write kwok stages: %w", err)
	}
	// kwokctl picks ports by probing which are free, so two clusters
	// created at once could pick the same ones.
	unlock, err := flock.Lock(ctx, filepath.Join(o.CacheDir, ".create.lock"), func() {
		fmt.Fprintf(o.Progress, "waiting for another sandbox cluster to finish starting…\n")
	})
	if err != nil {
		return err
	}
	defer unlock()
	args := createArgs(o, bins)
	fmt.Fprintf(o.Progress, "creating cluster %q (kwokctl, state in %s)… ", o.Name, o.StateDir)
	t0 := time.Now()
	if err := kwokctl(ctx, o, bins, args...); err != nil {
		fmt.Fprintf(o.Progress, "failed after %s\n", since(t0))
		// Leave nothing half-started behind for the next attempt.
		_ = stopLeftovers(o)
		return fmt.Errorf("create sandbox cluster %q: %w", o.Name, err)
	}
	fmt.Fprintf(o.Progress, "done in %s\n", since(t0))
	return nil
}

// createArgs names every binary kwokctl needs, because kwokctl downloads any
// that is not given and the sandbox must work offline.
func createArgs(o Options, bins Binaries) []string {
	return []string{
		"create", "cluster",
		"--name", o.Name,
		"--runtime", "binary",
		"--kube-apiserver-binary", bins.KubeAPIServer,
		"--kube-controller-manager-binary", bins.KubeControllerManager,
		"--kube-scheduler-binary", bins.KubeScheduler,
		"--kwok-controller-binary", bins.Kwok,
		"--etcd-binary", bins.Etcd,
		"--config", o.stagesPath(),
		"--kubeconfig", o.kubeconfigPath(),
		"--quiet-pull",
		"--wait", "2m",
	}
}

// kwokctl runs kwokctl with the sandbox's workdir, appending its output to
// the sandbox log. kubectl is pinned both ways kwokctl looks for it (its
// option and PATH), so an older kubectl on the host is never used.
func kwokctl(ctx context.Context, o Options, bins Binaries, args ...string) error {
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(o.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n# %s kwokctl %s\n", time.Now().Format(time.RFC3339), strings.Join(args, " "))

	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bins.Kwokctl, args...)
	cmd.Env = kwokctlEnv(o, bins)
	cmd.Stdout = io.MultiWriter(logf, &out)
	cmd.Stderr = io.MultiWriter(logf, &out)
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kwokctl %s: %w\n%s\n(full log: %s)", args[0]+" "+args[1], err, tail(out.String(), 30), o.logPath())
	}
	return nil
}

func kwokctlEnv(o Options, bins Binaries) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KWOK_") || strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"KWOK_WORKDIR="+o.kwokWorkdir(),
		"KWOK_KUBE_VERSION="+KubeVersion,
		"KWOK_KUBECTL_BINARY="+bins.Kubectl,
		"KUBECONFIG="+o.kubeconfigPath(),
		"PATH="+bins.Dir+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
}

// Down deletes the sandbox cluster and makes sure none of its processes
// survive. A cluster that does not exist is not an error.
func Down(ctx context.Context, o Options) error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	unlock, err := o.lockState(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return down(ctx, o)
}

// lockState keeps two Up or Down calls on one state directory (two `make
// demo`s, say) from creating and deleting the cluster under each other.
func (o Options) lockState(ctx context.Context) (func(), error) {
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("create sandbox state directory: %w", err)
	}
	unlock, err := flock.Lock(ctx, filepath.Join(o.StateDir, ".lock"), func() {
		fmt.Fprintf(o.Progress, "waiting for another process using the sandbox in %s…\n", o.StateDir)
	})
	if err != nil {
		return nil, fmt.Errorf("lock sandbox state directory %s: %w", o.StateDir, err)
	}
	return unlock, nil
}

func down(ctx context.Context, o Options) error {
	var errs []error
	if exists(o.clusterDir()) {
		bins := binariesIn(o.CacheDir)
		if exists(bins.Kwokctl) {
			fmt.Fprintf(o.Progress, "deleting cluster %q… ", o.Name)
			t0 := time.Now()
			if err := kwokctl(ctx, o, bins, "delete", "cluster", "--name", o.Name, "--kubeconfig", o.kubeconfigPath()); err != nil {
				fmt.Fprintf(o.Progress, "failed\n")
				errs = append(errs, err)
			} else {
				fmt.Fprintf(o.Progress, "done in %s\n", since(t0))
			}
		}
	}
	if err := stopLeftovers(o); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		// kwokctl removes its cluster directory; a failed delete may not.
		if err := os.RemoveAll(o.clusterDir()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stopLeftovers ends any process still running from the cluster's
// directory, which is how kwokctl's binary runtime starts each component
// (detached, in a session of its own).
func stopLeftovers(o Options) error {
	dir := o.clusterDir()
	deadline := time.Now().Add(15 * time.Second)
	signalled := map[int]bool{}
	for {
		procs, err := processesUnder(dir)
		if err != nil {
			return fmt.Errorf("list processes of sandbox cluster %q: %w", o.Name, err)
		}
		if len(procs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var names []string
			for _, p := range procs {
				names = append(names, fmt.Sprintf("%d (%s)", p.pid, p.name))
				_ = killProcess(p.pid, true)
			}
			time.Sleep(time.Second)
			if left, _ := processesUnder(dir); len(left) == 0 {
				return nil
			}
			return fmt.Errorf("processes of sandbox cluster %q survive SIGKILL: %s", o.Name, strings.Join(names, ", "))
		}
		for _, p := range procs {
			if !signalled[p.pid] {
				_ = killProcess(p.pid, false)
				signalled[p.pid] = true
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// ClusterProcesses lists the processes running from the cluster's directory:
// after Down there must be none.
func ClusterProcesses(o Options) ([]string, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	procs, err := processesUnder(o.clusterDir())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range procs {
		out = append(out, fmt.Sprintf("%d %s", p.pid, p.name))
	}
	return out, nil
}

// Status reports whether the cluster exists and its API server is ready,
// with a sentence for a person.
func Status(ctx context.Context, o Options) (running bool, detail string, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return false, "", err
	}
	if !exists(o.clusterDir()) {
		return false, fmt.Sprintf("no sandbox cluster %q in %s", o.Name, o.kwokWorkdir()), nil
	}
	c, err := clusterInfo(o)
	if err != nil {
		return false, fmt.Sprintf("sandbox cluster %q exists in %s but has no usable kubeconfig: %v", o.Name, o.clusterDir(), err), nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := ready(cctx, c.Kubeconfig); err != nil {
		return false, fmt.Sprintf("sandbox cluster %q exists but its API server at %s does not answer: %v", o.Name, c.Server, err), nil
	}
	// An API server alone looks healthy while nothing rolls out: the
	// controller manager and the scheduler exit when they lose their
	// lease, and kwokctl does not restart them.
	if missing := missingComponents(o); len(missing) > 0 {
		return false, fmt.Sprintf("sandbox cluster %q is missing %s (see %s)", o.Name, strings.Join(missing, ", "), filepath.Join(o.clusterDir(), "logs")), nil
	}
	return true, fmt.Sprintf("sandbox cluster %q: API server %s ready (kubeconfig %s)", o.Name, c.Server, c.Kubeconfig), nil
}

// clusterComponents are the processes a working sandbox cluster runs.
var clusterComponents = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller"}

func missingComponents(o Options) []string {
	procs, err := processesUnder(o.clusterDir())
	if err != nil {
		return nil // cannot tell here; the API check stands
	}
	running := map[string]bool{}
	for _, p := range procs {
		running[p.name] = true
	}
	var missing []string
	for _, c := range clusterComponents {
		if !running[c] {
			missing = append(missing, c)
		}
	}
	return missing
}

func clusterInfo(o Options) (*Cluster, error) {
	kc := o.kubeconfigPath()
	cfg, err := restConfig(kc)
	if err != nil {
		return nil, err
	}
	return &Cluster{Name: o.Name, Kubeconfig: kc, Server: cfg.Host, Kubectl: binariesIn(o.CacheDir).Kubectl}, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{},
	).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	// A recreated cluster has new certificates at the same paths, and
	// client-go caches transports by file path: a process that talked to the
	// old cluster would keep presenting the old ones. Keyed by content, the
	// cache cannot mix them up.
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return nil, fmt.Errorf("load certificates named in kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = "", "", ""
	// The sandbox is local and small; client-side throttling would only
	// slow tests that create and watch many objects.
	cfg.QPS = 100
	cfg.Burst = 200
	return cfg, nil
}

func clientset(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

func ready(ctx context.Context, kubeconfig string) error {
	cs, err := clientset(kubeconfig)
	if err != nil {
		return err
	}
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return err
	}
	if s := strings.TrimSpace(string(body)); s != "ok" {
		return fmt.Errorf("readyz: %s", s)
	}
	return nil
}

func waitAPI(ctx context.Context, kubeconfig string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		cctx, c := context.WithTimeout(ctx, 5*time.Second)
		last = ready(cctx, kubeconfig)
		c()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("API server not ready after %s: %w", limit, last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Stop stops every process of the cluster, keeping its data and
// certificates, and Start brings them back at the same addresses: how tests
// play an API server outage without a new cluster.
func Stop(ctx context.Context, o Options) error { return clusterCmd(ctx, o, "stop") }

// Start starts a cluster stopped with Stop.
func Start(ctx context.Context, o Options) error { return clusterCmd(ctx, o, "start") }

func clusterCmd(ctx context.Context, o Options, verb string) error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	return kwokctl(ctx, o, binariesIn(o.CacheDir), verb, "cluster", "--name", o.Name)
}
