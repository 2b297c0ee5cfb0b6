package journal

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// benchRecord is a typical command result: the kind of record written most
// often during a deploy.
func benchRecord() Record {
	tail := make([]string, 20)
	for i := range tail {
		tail[i] = fmt.Sprintf("2026-05-04T12:00:%02dZ deployment \"api\" rollout: %d of 20 updated replicas are available...", i, i+1)
	}
	return Record{
		Type: "action.result", By: "ana", Step: "rollout", Action: "a-42", Kind: "command",
		Summary:  "kubectl -n prod rollout status deploy/api --timeout=5m",
		OK:       ptr(true),
		Exit:     ptr(0),
		Duration: Millis(83 * time.Second),
		Tail:     tail,
		Data:     json.RawMessage(`{"cmd":["kubectl","-n","prod","rollout","status","deploy/api"],"cwd":"/srv/deploy","env":{"KUBECONFIG":"/etc/kube/prod"}}`),
	}
}

func benchAppend(b *testing.B, opts Options) {
	j, _, err := Open(Path(b.TempDir(), "bench", time.Now()), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	r := benchRecord()
	line, err := json.Marshal(r)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.Append(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJournalAppend is the real cost of a durable record: one write and
// one fsync.
func BenchmarkJournalAppend(b *testing.B) { benchAppend(b, Options{}) }

// BenchmarkJournalAppendNoSync isolates encoding and write from fsync.
func BenchmarkJournalAppendNoSync(b *testing.B) { benchAppend(b, Options{NoSync: true}) }
