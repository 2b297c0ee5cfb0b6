package config

import (
	"fmt"
	"strings"
	"testing"
)

const twoClusters = `
[kubernetes]
kubeconfig = "/etc/kube/config"
namespaces = ["production"]
deployments = ["api", "worker"]
progress_timeout = "2m"

[[kubernetes.cluster]]
name = "primary"
role = "primary"
context = "prod-eu"

[[kubernetes.cluster]]
name = "standby"
role = "standby"
context = "prod-us"
kubeconfig = "/etc/kube/standby"
namespaces = ["prod"]
deployments = ["api"]
`

func TestClustersInheritTheTable(t *testing.T) {
	cfg, err := Parse("c.toml", []byte(minimal+twoClusters), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := cfg.Kubernetes
	list := k.ClusterList()
	if !k.Several() || len(list) != 2 {
		t.Fatalf("clusters: %+v", list)
	}
	p, s := list[0], list[1]
	if p.Name != "primary" || p.Context != "prod-eu" || p.Kubeconfig != "/etc/kube/config" ||
		strings.Join(p.Namespaces, ",") != "production" || strings.Join(p.Deployments, ",") != "api,worker" || p.ProgressTimeout.D().String() != "2m0s" {
		t.Errorf("primary inherits the table: %+v", p)
	}
	if s.Name != "standby" || s.Role != "standby" || s.Kubeconfig != "/etc/kube/standby" ||
		strings.Join(s.Namespaces, ",") != "prod" || strings.Join(s.Deployments, ",") != "api" {
		t.Errorf("standby keeps its own: %+v", s)
	}
	if k.Primary() != p {
		t.Errorf("primary: %+v", k.Primary())
	}
}

func TestOneClusterIsTheTable(t *testing.T) {
	cfg, err := Parse("c.toml", []byte(minimal+"[kubernetes]\nnamespaces = [\"production\"]\ndeployments = [\"api\"]\n"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := cfg.Kubernetes
	if k.Several() || len(k.ClusterList()) != 1 || k.ClusterList()[0] != k || k.Primary() != k || k.Name != "" {
		t.Errorf("a plain table is its own cluster: %+v", k.ClusterList())
	}
}

func TestClusterErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ body, want, line string }{
		{`
[kubernetes]
namespaces = ["production"]
deployments = ["api"]

[[kubernetes.cluster]]
name = "eu"
context = "a"

[[kubernetes.cluster]]
name = "eu"
context = "b"
`, `kubernetes.cluster[1].name: duplicate cluster name "eu"`, `name = "eu"` + "\ncontext = \"b\""},
		{`
[kubernetes]
deployments = ["api"]

[[kubernetes.cluster]]
name = "eu"
context = "a"
`, "kubernetes.cluster[0]: no namespaces to watch", "[[kubernetes.cluster]]"},
		{`
[kubernetes]
namespaces = ["production"]
deployments = ["api"]

[[kubernetes.cluster]]
name = "Primary EU"
context = "a"
`, `kubernetes.cluster[0].name: "Primary EU" is not a cluster name`, `name = "Primary EU"`},
		{`
[kubernetes]
namespaces = ["production"]
deployments = ["api"]

[[kubernetes.cluster]]
name = "eu"

[[kubernetes.cluster]]
name = "us"
`, `cluster "us" has the same kubeconfig and context as cluster "eu"`, "[[kubernetes.cluster]]\nname = \"us\""},
		{`
[kubernetes]
namespaces = ["production"]
deployments = ["api"]

[[kubernetes.cluster]]
name = "eu"
context = "a"
namespaces = ["Prod"]
`, `kubernetes.cluster[0].namespaces[0]: "Prod" is not a namespace`, `namespaces = ["Prod"]`},
	} {
		doc := minimal + c.body
		_, err := Parse("c.toml", []byte(doc), LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
			continue
		}
		if want := lineOfBlock(doc, c.line); !strings.Contains(err.Error(), fmt.Sprintf("c.toml:%d:", want)) {
			t.Errorf("%q: want line %d in %v", c.want, want, err)
		}
	}
}

// lineOfBlock is the line of the last occurrence of block in doc.
func lineOfBlock(doc, block string) int {
	i := strings.LastIndex(doc, block)
	return strings.Count(doc[:i], "\n") + 1
}

func TestStepDeploymentChecksEveryCluster(t *testing.T) {
	doc := minimal + `action = "kube.rollback"
args = { deployment = "worker" }
` + twoClusters
	if _, err := Parse("c.toml", []byte(doc), LoadOptions{}); err != nil {
		t.Fatalf("worker is watched in the primary: %v", err)
	}
	doc = strings.Replace(doc, `"worker" }`, `"wroker" }`, 1)
	if _, err := Parse("c.toml", []byte(doc), LoadOptions{}); err == nil || !strings.Contains(err.Error(), `did you mean "worker"?`) {
		t.Fatalf("want a did you mean: %v", err)
	}
}
