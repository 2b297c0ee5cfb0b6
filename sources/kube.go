package sources

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// KubeRESTConfig builds a client configuration the way kubectl does: the
// default loading rules (KUBECONFIG, ~/.kube/config), an explicit file when
// the config names one, and the configured context, so exec auth plugins
// such as gke-gcloud-auth-plugin keep working.
func KubeRESTConfig(k *config.Kubernetes) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.Kubeconfig != "" {
		rules.ExplicitPath = k.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	rc, err := cc.ClientConfig()
	if err != nil {
		where := "the default kubeconfig"
		if k.Kubeconfig != "" {
			where = k.Kubeconfig
		}
		return nil, "", fmt.Errorf("loading %s (context %q): %w", where, k.Context, err)
	}
	// A busy production cluster: enough headroom that a rollback's patches
	// are never queued behind the client's own rate limiter.
	rc.QPS, rc.Burst = 50, 100
	rc.UserAgent = "flightdeck"
	return rc, rc.Host, nil
}

// ProbeKubernetes asks the API server for its version.
func ProbeKubernetes(ctx context.Context, k *config.Kubernetes) Reach {
	rc, host, err := KubeRESTConfig(k)
	if err != nil {
		return Reach{Target: "kubeconfig", Err: err}
	}
	r := Reach{Target: host}
	rc = rest.CopyConfig(rc)
	if dl, ok := ctx.Deadline(); ok {
		rc.Timeout = timeUntil(dl)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		r.Err = err
		return r
	}
	v, err := dc.ServerVersion()
	if err != nil {
		r.Err = err
		return r
	}
	r.Detail = "Kubernetes " + v.GitVersion
	if k.Context != "" {
		r.Detail += ", context " + k.Context
	}
	return r
}

func timeUntil(t time.Time) time.Duration {
	d := time.Until(t)
	if d < 0 {
		return 0
	}
	return d
}
