package sandbox

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// tierDeployments maps the workload's tiers to the production deployments
// whose pods would run them.
var tierDeployments = map[string]string{"web": "api", "worker": "worker"}

// PodNames gives the workload's sessions the names of the running
// production pods, as the application does through the downward API, so
// the cockpit's locks pane names the pod behind each session. The pod list
// is read at most every two seconds.
type PodNames struct {
	kubeconfig string
	log        *slog.Logger

	client kubernetes.Interface // only the refreshing caller touches it

	mu         sync.Mutex
	pods       map[string][]string // deployment → running pods, by name
	known      bool                // pods was read at least once
	readAt     time.Time
	refreshing bool
}

// NewPodNames reads pods through kubeconfig; log may be nil.
func NewPodNames(kubeconfig string, log *slog.Logger) *PodNames {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PodNames{kubeconfig: kubeconfig, log: log}
}

// AppName is the pod session n of tier plays: the tier's deployment's
// running pods in name order, taken in turn. Until the pods can be read it
// is acme-<tier>-<n>.
func (p *PodNames) AppName(tier string, n int) string {
	pods := p.current()[tierDeployments[tier]]
	if len(pods) == 0 || n < 1 {
		return "acme-" + tier + "-" + strconv.Itoa(n)
	}
	return pods[(n-1)%len(pods)]
}

// Gone reports that name is no longer a running pod, or that a stand-in
// name's tier now has pods: either way the session should take a new name.
// When the API server cannot be read, nothing is gone.
func (p *PodNames) Gone(name string) bool {
	pods, known := p.read()
	if !known {
		return false
	}
	for _, list := range pods {
		if i := sort.SearchStrings(list, name); i < len(list) && list[i] == name {
			return false
		}
	}
	for tier, dep := range tierDeployments {
		if strings.HasPrefix(name, "acme-"+tier+"-") {
			return len(pods[dep]) > 0
		}
	}
	return true
}

func (p *PodNames) current() map[string][]string {
	pods, _ := p.read()
	return pods
}

// read returns the pods by deployment, and whether they were ever read.
// The map is replaced, never changed, so callers may keep it. One caller
// at a time refreshes it; the others meanwhile get the last reading, so a
// slow API server delays one session, not all of them.
func (p *PodNames) read() (map[string][]string, bool) {
	p.mu.Lock()
	if p.refreshing || time.Since(p.readAt) < 2*time.Second {
		defer p.mu.Unlock()
		return p.pods, p.known
	}
	p.refreshing, p.readAt = true, time.Now()
	p.mu.Unlock()
	pods, err := p.list()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refreshing = false
	if err != nil {
		// Keep the last names: an API server outage does not end pods.
		p.log.Warn("pod names", "err", err)
	} else {
		p.pods, p.known = pods, true
	}
	return p.pods, p.known
}

func (p *PodNames) list() (map[string][]string, error) {
	if p.client == nil {
		rc, err := clientcmd.BuildConfigFromFlags("", p.kubeconfig)
		if err != nil {
			return nil, err
		}
		rc.Timeout = 2 * time.Second
		if p.client, err = kubernetes.NewForConfig(rc); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pods := map[string][]string{}
	for _, dep := range tierDeployments {
		list, err := p.client.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + dep})
		if err != nil {
			return nil, err
		}
		for _, pod := range list.Items {
			if pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil {
				pods[dep] = append(pods[dep], pod.Name)
			}
		}
		sort.Strings(pods[dep])
	}
	return pods, nil
}
