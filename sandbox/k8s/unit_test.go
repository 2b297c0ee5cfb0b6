package k8s

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func TestDefaultToolsDirFindsTheToolsModule(t *testing.T) {
	dir := defaultToolsDir()
	if !isToolsDir(dir) {
		t.Fatalf("defaultToolsDir() = %s, which holds no %s go.mod", dir, toolsModule)
	}
}

// kwokctl downloads every binary it is not given; offline that is a hang or
// a failure, so each one must be on the command line.
func TestCreateArgsNameEveryBinary(t *testing.T) {
	o, err := Options{StateDir: t.TempDir(), CacheDir: t.TempDir()}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	bins := binariesIn(o.CacheDir)
	args := createArgs(o, bins)
	for flag, path := range map[string]string{
		"--kube-apiserver-binary":          bins.KubeAPIServer,
		"--kube-controller-manager-binary": bins.KubeControllerManager,
		"--kube-scheduler-binary":          bins.KubeScheduler,
		"--kwok-controller-binary":         bins.Kwok,
		"--etcd-binary":                    bins.Etcd,
	} {
		i := slices.Index(args, flag)
		if i < 0 || i+1 >= len(args) || args[i+1] != path {
			t.Errorf("kwokctl args lack %s %s: %v", flag, path, args)
		}
	}
	env := strings.Join(kwokctlEnv(o, bins), "\n")
	for _, want := range []string{"KWOK_KUBECTL_BINARY=" + bins.Kubectl, "KWOK_WORKDIR=" + o.kwokWorkdir(), "PATH=" + bins.Dir + string(os.PathListSeparator)} {
		if !strings.Contains(env, want) {
			t.Errorf("kwokctl environment lacks %s", want)
		}
	}
}

func TestStagesDocuments(t *testing.T) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stagesYAML), 4096)
	names := map[string]bool{}
	for {
		var u unstructured.Unstructured
		err := dec.Decode(&u.Object)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("stages.yaml: %v", err)
		}
		if u.Object == nil {
			continue
		}
		switch u.GetKind() {
		case "Stage":
			ref, _, _ := unstructured.NestedString(u.Object, "spec", "resourceRef", "kind")
			names[ref+"/"+u.GetName()] = true
		case "KwokctlConfiguration":
		default:
			t.Errorf("unexpected %s %q in stages.yaml", u.GetKind(), u.GetName())
		}
	}
	// kwokctl drops its default stages once any is given, so nodes need
	// their own and every pod phase the production pods go through needs one.
	for _, want := range []string{
		"Node/flightdeck-node-initialize", "Node/flightdeck-node-heartbeat",
		"Pod/flightdeck-pod-create", "Pod/flightdeck-pod-ready", "Pod/flightdeck-pod-crash",
		"Pod/flightdeck-pod-crash-again", "Pod/flightdeck-pod-delete",
	} {
		if !names[want] {
			t.Errorf("stages.yaml has no %s (has %v)", want, names)
		}
	}
}

func TestMissingTrustsOnlyExecutables(t *testing.T) {
	dir := t.TempDir()
	if got := len(missing(dir)); got != 7 {
		t.Fatalf("empty cache: %d missing, want 7", got)
	}
	for _, s := range binarySpecs() {
		mode := os.FileMode(0o755)
		if s.name == "etcd" {
			mode = 0o644 // a leftover that was never made executable
		}
		if err := os.WriteFile(filepath.Join(dir, s.name+exeSuffix()), []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
	}
	m := missing(dir)
	if len(m) != 1 || m[0].name != "etcd" {
		t.Fatalf("missing = %v, want only etcd", m)
	}
}
