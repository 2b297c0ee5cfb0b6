package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// KubeRESTConfig builds a client configuration the way kubectl does: the
// default loading rules (KUBECONFIG, ~/.kube/config), an explicit file when
// the config names one, and the configured context, so exec auth plugins
// such as gke-gcloud-auth-plugin keep working.
//
// An exec plugin never gets the terminal: the cockpit owns it, and a plugin
// that prompted or read a key would corrupt the screen or wait unseen.
// client-go gives a plugin the process's stderr with no way to change it;
// the cockpit points that stderr at its log while the screen is up.
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
	if rc.ExecProvider != nil {
		rc.ExecProvider.InteractiveMode = clientcmdapi.NeverExecInteractiveMode
		rc.ExecProvider.StdinUnavailable = true
		rc.ExecProvider.StdinUnavailableMessage = "flightdeck runs credential plugins without a terminal"
	}
	return rc, rc.Host, nil
}

// ExplainKubeErr adds what to do to an error from a kubeconfig's exec
// credential plugin: it ran without a terminal, so a plugin that wanted a
// login could not ask for one, and what it said went to the log, not the
// screen.
func ExplainKubeErr(rc *rest.Config, err error) error {
	if err == nil || rc == nil || rc.ExecProvider == nil || !strings.Contains(err.Error(), "getting credentials") {
		return err
	}
	return fmt.Errorf("%w (the kubeconfig's credential plugin %s ran without a terminal and failed: sign in with it in a shell first, e.g. kubectl get namespaces, then retry; under the cockpit, what it prints is in flightdeck's log)",
		err, filepath.Base(rc.ExecProvider.Command))
}

// ProbeKubernetes asks the API server for its version, then whether the
// user may do what the cockpit does; with lock, also what the team's
// deploy lock does in its namespace.
func ProbeKubernetes(ctx context.Context, k *config.Kubernetes, lock *config.Lock) snapshot.Reach {
	rc, host, err := KubeRESTConfig(k)
	if err != nil {
		return snapshot.Reach{Target: "kubeconfig", Err: err}
	}
	r := snapshot.Reach{Target: host}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		r.Err = err
		return r
	}
	// ServerVersion ignores contexts; ask for /version with ours so a hung
	// apiserver is abandoned when the probe's time is up.
	body, err := dc.RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		r.Err = ExplainKubeErr(rc, err)
		return r
	}
	var v version.Info
	if err := json.Unmarshal(body, &v); err != nil {
		r.Err = fmt.Errorf("/version: %w", err)
		return r
	}
	r.Detail = "Kubernetes " + v.GitVersion
	if k.Context != "" {
		r.Detail += ", context " + k.Context
	}
	return checkKubeAccess(ctx, rc, k, lock, r)
}

// checkKubeAccess proves what the deploy needs beyond an answer: the
// watched namespaces (and the lock's) exist, and the user may do
// everything the cockpit does in them. These are the questions the
// cockpit also asks at start.
func checkKubeAccess(ctx context.Context, rc *rest.Config, k *config.Kubernetes, lock *config.Lock, r snapshot.Reach) snapshot.Reach {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		r.Err = err
		return r
	}
	namespaces := k.Namespaces
	if lock != nil && !slices.Contains(namespaces, lock.Namespace) {
		namespaces = append(slices.Clip(namespaces), lock.Namespace)
	}
	var problems, fixes []string
	missing, err := missingNamespaces(ctx, cs, namespaces)
	if err != nil {
		r.Err = ExplainKubeErr(rc, err)
		return r
	}
	var watchedMissing []string
	for _, ns := range missing {
		if slices.Contains(k.Namespaces, ns) {
			watchedMissing = append(watchedMissing, ns)
		}
	}
	if len(watchedMissing) > 0 {
		problems = append(problems, fmt.Sprintf("namespace %s does not exist", strings.Join(watchedMissing, ", ")))
		fixes = append(fixes, "correct [kubernetes] namespaces (kubectl get namespaces lists them)")
	}
	lockMissing := lock != nil && slices.Contains(missing, lock.Namespace)
	if lockMissing && !slices.Contains(k.Namespaces, lock.Namespace) {
		problems = append(problems, fmt.Sprintf("the deploy lock's namespace %s does not exist", lock.Namespace))
		fixes = append(fixes, fmt.Sprintf("kubectl create namespace %s, or correct [lock] namespace", lock.Namespace))
	}
	var present []string
	for _, ns := range k.Namespaces {
		if !slices.Contains(missing, ns) {
			present = append(present, ns)
		}
	}
	denials, err := KubeAccess(ctx, cs, present, CockpitRights)
	if err == nil && lock != nil && !lockMissing {
		var more []KubeDenial
		more, err = KubeAccess(ctx, cs, []string{lock.Namespace}, LeaseRights)
		denials = append(denials, more...)
	}
	switch {
	case apierrors.IsForbidden(err):
		problems = append(problems, "may not create selfsubjectaccessreviews (authorization.k8s.io), so neither this check nor the cockpit can tell what it may do")
		fixes = append(fixes, "bind the user to the ClusterRole system:basic-user, which every authenticated user has by default")
	case err != nil:
		r.Err = ExplainKubeErr(rc, err)
		return r
	case len(denials) > 0:
		problems = append(problems, "may not "+DescribeDenials(denials))
		fixes = append(fixes, DenialsFix(kubeUser(ctx, cs), denials))
	}
	if len(problems) > 0 {
		r.Err = errors.New(strings.Join(problems, "; "))
		r.Fix = strings.Join(fixes, "; ")
		return r
	}
	r.Detail += fmt.Sprintf("; in %s every verb the cockpit uses is allowed", strings.Join(k.Namespaces, ", "))
	if lock != nil {
		r.Detail += fmt.Sprintf("; the deploy lock's Lease in %s may be read, created and updated", lock.Namespace)
	}
	return r
}

// Kube watches the configured deployments, their ReplicaSets and pods, and
// warning events, with shared informers: no list polling. Every change marks
// the state dirty; snapshots are built at most every SnapshotEvery.
type Kube struct {
	Config *config.Kubernetes
	// SnapshotEvery bounds how often a burst of watch events is turned
	// into a snapshot.
	SnapshotEvery time.Duration
	Now           func() time.Time
}

// Name implements Source.
func (k *Kube) Name() string { return "kubernetes" }

// stripForCache drops what the pane never reads before objects enter the
// informer caches: managed fields and last-applied annotations are most of
// an object's size on a busy cluster.
func stripForCache(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		if a := m.GetAnnotations(); a != nil {
			if _, ok := a["kubectl.kubernetes.io/last-applied-configuration"]; ok {
				delete(a, "kubectl.kubernetes.io/last-applied-configuration")
				m.SetAnnotations(a)
			}
		}
	}
	return obj, nil
}

type nsInformers struct {
	deps, rss, pods, evs cache.SharedIndexInformer
}

// Run implements Source. Several clusters are watched side by side and
// shown as one reading, each deployment named with its cluster.
func (k *Kube) Run(ctx context.Context, emit func(Snapshot[snapshot.Rollout])) error {
	if k.Config.Several() {
		return k.runClusters(ctx, emit)
	}
	return k.watch(ctx, k.Config, emit)
}

// watch is one cluster's informers, turned into readings until ctx ends.
func (k *Kube) watch(ctx context.Context, c *config.Kubernetes, emit func(Snapshot[snapshot.Rollout])) error {
	rc, _, err := KubeRESTConfig(c)
	if err != nil {
		return err
	}
	rc = rest.CopyConfig(rc)
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	// A failing apiserver must show up as an error, not as a silent
	// informer retry loop: ask once before settling into watches.
	if _, err := cs.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw(); err != nil {
		return ExplainKubeErr(rc, err)
	}
	every := k.SnapshotEvery
	if every == 0 {
		every = 100 * time.Millisecond
	}
	now := k.Now
	if now == nil {
		now = time.Now
	}
	dirty := make(chan struct{}, 1)
	poke := func() {
		select {
		case dirty <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	watchErr := make(chan error, 1)
	var all []nsInformers
	var factories []informers.SharedInformerFactory
	for _, ns := range c.Namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
			informers.WithTransform(stripForCache))
		evf := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
			informers.WithTransform(stripForCache),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "type=Warning" }))
		in := nsInformers{
			deps: f.Apps().V1().Deployments().Informer(),
			rss:  f.Apps().V1().ReplicaSets().Informer(),
			pods: f.Core().V1().Pods().Informer(),
			evs:  evf.Core().V1().Events().Informer(),
		}
		for _, inf := range []cache.SharedIndexInformer{in.deps, in.rss, in.pods, in.evs} {
			if _, err := inf.AddEventHandler(handler); err != nil {
				return err
			}
			_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
				select {
				case watchErr <- err:
				default:
				}
				poke()
			})
		}
		all = append(all, in)
		factories = append(factories, f, evf)
	}
	ictx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		for _, f := range factories {
			f.Shutdown()
		}
	}()
	for _, f := range factories {
		f.Start(ictx.Done())
	}
	for _, in := range all {
		if !cache.WaitForCacheSync(ctx.Done(), in.deps.HasSynced, in.rss.HasSynced, in.pods.HasSynced, in.evs.HasSynced) {
			return ctx.Err()
		}
	}
	dips := NewCapacityWatch()
	var sel labels.Selector
	if c.Selector != "" {
		if sel, err = labels.Parse(c.Selector); err != nil {
			return fmt.Errorf("[kubernetes] selector %q: %w", c.Selector, err)
		}
	}
	wanted := map[string]bool{}
	for _, n := range c.Deployments {
		wanted[n] = true
	}
	var seq uint64
	var healthErr error
	for {
		var deps []*appsv1.Deployment
		var rss []*appsv1.ReplicaSet
		var pods []*corev1.Pod
		var evs []*corev1.Event
		for _, in := range all {
			for _, o := range in.deps.GetStore().List() {
				d := o.(*appsv1.Deployment)
				if (len(wanted) == 0 || wanted[d.Name]) && (sel == nil || sel.Matches(labels.Set(d.Labels))) {
					deps = append(deps, d)
				}
			}
			for _, o := range in.rss.GetStore().List() {
				rss = append(rss, o.(*appsv1.ReplicaSet))
			}
			for _, o := range in.pods.GetStore().List() {
				pods = append(pods, o.(*corev1.Pod))
			}
			for _, o := range in.evs.GetStore().List() {
				evs = append(evs, o.(*corev1.Event))
			}
		}
		seq++
		t := now()
		snap := Snapshot[snapshot.Rollout]{Seq: seq, At: t, Data: dips.Observe(BuildRollout(deps, rss, pods, evs, t, c.ProgressTimeout.D()).InCluster(c.Name), t)}
		select {
		case err := <-watchErr:
			// The watch broke; the caches hold what was last seen. The
			// supervisor keeps it as last good data and shows the system
			// as down until a watch works again.
			snap.Err = fmt.Errorf("watch failed, retrying: %w", ExplainKubeErr(rc, err))
		default:
		}
		if healthErr != nil {
			snap.Err = fmt.Errorf("API server not answering, retrying: %w", ExplainKubeErr(rc, healthErr))
		}
		emit(snap)
		if err := k.wait(ctx, cs, dirty, every, &healthErr); err != nil {
			return nil
		}
	}
}

// HealthEvery is how often the source asks the API server whether it is
// there. Informers retry quietly when it goes away; this is what turns an
// outage into "down" on screen within seconds. It is one tiny request, not
// a list.
var HealthEvery = 3 * time.Second

// wait blocks until there is something new to show: a watch event (then
// lets a burst settle for every), or a change in the API server's health.
func (k *Kube) wait(ctx context.Context, cs kubernetes.Interface, dirty <-chan struct{}, every time.Duration, healthErr *error) error {
	tick := time.NewTicker(HealthEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-dirty:
			timer := time.NewTimer(every)
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C:
			}
			return nil
		case <-tick.C:
			hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(hctx).Raw()
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			was := *healthErr
			*healthErr = err
			if (was == nil) != (err == nil) {
				return nil
			}
		}
	}
}
