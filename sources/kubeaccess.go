package sources

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// KubeRight is one kind of request the cockpit makes of the API server in
// each watched namespace.
type KubeRight struct {
	Verb, Group, Resource string
}

// String is how a person says it: "patch deployments".
func (r KubeRight) String() string { return r.Verb + " " + r.Resource }

// kubectlResource is the resource as kubectl and RBAC rules name it.
func (r KubeRight) kubectlResource() string {
	if r.Group == "" {
		return r.Resource
	}
	return r.Resource + "." + r.Group
}

// CockpitRights are what the cockpit asks of each watched namespace: the
// rollout pane's informers list and watch deployments, ReplicaSets, pods and
// events; rollback, pause, resume, restart and scale read and patch
// deployments and list their ReplicaSets for the revision history.
var CockpitRights = []KubeRight{
	{"list", "apps", "deployments"},
	{"watch", "apps", "deployments"},
	{"get", "apps", "deployments"},
	{"patch", "apps", "deployments"},
	{"list", "apps", "replicasets"},
	{"watch", "apps", "replicasets"},
	{"list", "", "pods"},
	{"watch", "", "pods"},
	{"list", "", "events"},
	{"watch", "", "events"},
}

// LeaseRights are what the team's deploy lock ([lock]) asks of its
// namespace: read the deploy's Lease, create it the first time, and take,
// renew, mark and release it by updates.
var LeaseRights = []KubeRight{
	{"get", "coordination.k8s.io", "leases"},
	{"create", "coordination.k8s.io", "leases"},
	{"update", "coordination.k8s.io", "leases"},
}

var patchDeployments = KubeRight{"patch", "apps", "deployments"}

// KubeDenial is a right the API server refuses this user in a namespace.
type KubeDenial struct {
	Namespace string
	Right     KubeRight
}

// reviewsAtOnce bounds the SelfSubjectAccessReviews in flight: enough that
// a remote cluster answers a full check quickly, few enough to be polite.
const reviewsAtOnce = 8

// KubeAccess asks the API server, with one SelfSubjectAccessReview per
// right and namespace, which of rights this user lacks. It fails only when
// the server could not be asked.
func KubeAccess(ctx context.Context, cs kubernetes.Interface, namespaces []string, rights []KubeRight) ([]KubeDenial, error) {
	type ask struct {
		ns    string
		right KubeRight
	}
	var asks []ask
	for _, ns := range namespaces {
		for _, r := range rights {
			asks = append(asks, ask{ns, r})
		}
	}
	allowed := make([]bool, len(asks))
	errs := make([]error, len(asks))
	slots := make(chan struct{}, reviewsAtOnce)
	var wg sync.WaitGroup
	for i, a := range asks {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: a.ns, Verb: a.right.Verb, Group: a.right.Group, Resource: a.right.Resource},
			}}
			res, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				errs[i] = fmt.Errorf("asking whether this user may %s in %s: %w", a.right, a.ns, err)
				return
			}
			allowed[i] = res.Status.Allowed
		})
	}
	wg.Wait()
	var denied []KubeDenial
	for i, a := range asks {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if !allowed[i] {
			denied = append(denied, KubeDenial{Namespace: a.ns, Right: a.right})
		}
	}
	return denied, nil
}

// RollbackDenied returns the namespaces where this user may not patch
// deployments. Knowing before an incident beats finding out during one.
func RollbackDenied(ctx context.Context, cs kubernetes.Interface, namespaces []string) ([]string, error) {
	denials, err := KubeAccess(ctx, cs, namespaces, []KubeRight{patchDeployments})
	if err != nil {
		return nil, err
	}
	var nss []string
	for _, d := range denials {
		nss = append(nss, d.Namespace)
	}
	return nss, nil
}

// DescribeDenials says what is refused, namespace by namespace:
// "in production: patch deployments, watch pods".
func DescribeDenials(denials []KubeDenial) string {
	var parts []string
	for _, ns := range denialNamespaces(denials) {
		var rs []string
		for _, d := range denials {
			if d.Namespace == ns {
				rs = append(rs, d.Right.String())
			}
		}
		parts = append(parts, "in "+ns+": "+strings.Join(rs, ", "))
	}
	return strings.Join(parts, "; ")
}

// DenialsFix says how to grant what is missing, as an RBAC rule per
// resource, and how to verify it.
func DenialsFix(user string, denials []KubeDenial) string {
	if user == "" {
		user = "the kubeconfig's user"
	}
	var parts []string
	for _, ns := range denialNamespaces(denials) {
		verbs := map[string][]string{}
		var order []string
		for _, d := range denials {
			if d.Namespace != ns {
				continue
			}
			res := d.Right.kubectlResource()
			if verbs[res] == nil {
				order = append(order, res)
			}
			verbs[res] = append(verbs[res], d.Right.Verb)
		}
		var rules []string
		for _, res := range order {
			rules = append(rules, strings.Join(verbs[res], ",")+" on "+res)
		}
		parts = append(parts, fmt.Sprintf("in %s, a Role granting %s bound to %s (check: kubectl auth can-i --list -n %s)",
			ns, strings.Join(rules, "; "), user, ns))
	}
	return "grant " + strings.Join(parts, "; ")
}

func denialNamespaces(denials []KubeDenial) []string {
	seen := map[string]bool{}
	var nss []string
	for _, d := range denials {
		if !seen[d.Namespace] {
			seen[d.Namespace] = true
			nss = append(nss, d.Namespace)
		}
	}
	sort.Strings(nss)
	return nss
}

// kubeUser asks the API server who the kubeconfig's credentials are, for
// the fix to name; "" when the server cannot say.
func kubeUser(ctx context.Context, cs kubernetes.Interface) string {
	res, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return ""
	}
	return res.Status.UserInfo.Username
}

// missingNamespaces lists the namespaces the API server says do not exist.
// A user who may not read namespaces (the cockpit does not need to) cannot
// tell: those count as present, and their rights are still checked.
func missingNamespaces(ctx context.Context, cs kubernetes.Interface, namespaces []string) ([]string, error) {
	var missing []string
	for _, ns := range namespaces {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		switch {
		case err == nil, apierrors.IsForbidden(err):
		case apierrors.IsNotFound(err):
			missing = append(missing, ns)
		default:
			return nil, fmt.Errorf("reading namespace %s: %w", ns, err)
		}
	}
	return missing, nil
}
