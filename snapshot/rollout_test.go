package snapshot

import (
	"strings"
	"testing"
)

// rollout.no_crashloops promises more than CrashLoopBackOff: a pod whose
// image cannot be pulled never runs either.
func TestNoCrashloopsCountsImagePulls(t *testing.T) {
	s := Rollout{Deployments: []Deployment{{Name: "api", Pods: []Pod{
		{Name: "a", Status: "CrashLoopBackOff"}, {Name: "b", Status: "ImagePullBackOff"},
		{Name: "c", Status: "ErrImagePull"}, {Name: "d", Status: "Running"}, {Name: "e", Status: "Pending"},
	}}}}
	f := s.Facts()["rollout.no_crashloops"]
	if f.Bool || !strings.Contains(f.Detail, "3 failing to start: 1 CrashLoopBackOff, 1 ErrImagePull, 1 ImagePullBackOff") {
		t.Fatalf("%+v", f)
	}
	s.Deployments[0].Pods = s.Deployments[0].Pods[3:]
	if f := s.Facts()["rollout.no_crashloops"]; !f.Bool {
		t.Fatalf("running and pending pods fail the gate: %+v", f)
	}
}
