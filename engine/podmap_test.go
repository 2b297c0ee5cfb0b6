package engine

import (
	"testing"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// TestPodsByClient: a session names its pod by application_name (as the
// sandbox's workload and a deployment using the downward API set it), cut
// to Postgres's 63 bytes for long pod names, or by the pod's address; an
// address two pods share names neither.
func TestPodsByClient(t *testing.T) {
	long := "payments-reconciliation-nightly-batch-processor-7d9f5c6b8d-x2x9k" // 64 bytes
	st := snapshot.Rollout{Deployments: []snapshot.Deployment{
		{Name: "api", Pods: []snapshot.Pod{
			{Name: "api-7d9f5c6b8d-x2x9k", IP: "10.8.1.7"},
			{Name: "api-7d9f5c6b8d-q8w4z", IP: "10.8.2.3"},
			{Name: "api-7d9f5c6b8d-pending"}, // no address yet
		}},
		{Name: "node-agent", Pods: []snapshot.Pod{
			{Name: "node-agent-a", IP: "10.0.1.11"},
			{Name: "node-agent-b", IP: "10.0.1.11"}, // host network: the node's address
		}},
		{Name: "batch", Pods: []snapshot.Pod{{Name: long, IP: "10.8.3.9"}}},
	}}
	pods := podsByClient(st)
	for client, want := range map[string]string{
		"api-7d9f5c6b8d-x2x9k":   "api-7d9f5c6b8d-x2x9k",
		"10.8.1.7":               "api-7d9f5c6b8d-x2x9k",
		"10.8.2.3":               "api-7d9f5c6b8d-q8w4z",
		"api-7d9f5c6b8d-pending": "api-7d9f5c6b8d-pending",
		"node-agent-b":           "node-agent-b",
		long[:63]:                long,
		long:                     long,
		"10.0.1.11":              "",
		"127.0.0.1":              "",
		"":                       "",
		"psql":                   "",
	} {
		if got := pods[client]; got != want {
			t.Errorf("client %q: pod %q, want %q", client, got, want)
		}
	}
}
