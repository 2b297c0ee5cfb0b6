package actions_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/sandbox/sentrystub"
	"github.com/flightdeckhq/flightdeck/sources"
)

const markerToken = "sntrys_marker_secret_42"

func newMarkerStub(t *testing.T) (*sentrystub.Server, *sources.SentryClient) {
	t.Helper()
	s := sentrystub.New(sentrystub.Options{Token: markerToken, Projects: []sentrystub.Project{{ID: 4, Slug: "vetspire"}}})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	c := sources.NewSentryClient(&config.Sentry{URL: ts.URL, Org: "acme", Projects: []string{"vetspire"}, Environment: "production",
		Token: config.ResolvedSecret("env:SENTRY_AUTH_TOKEN", markerToken)}, nil)
	return s, c
}

// openTestJournal is a real journal, redacting like the cockpit's.
func openNotifyJournal(t *testing.T, redact func(string) string) *journal.Journal {
	t.Helper()
	j, _, err := journal.Open(filepath.Join(t.TempDir(), "deploy.jsonl"), journal.Options{Redact: redact})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j
}

func readNotifyJournal(t *testing.T, j *journal.Journal) []journal.Record {
	t.Helper()
	rep, err := journal.Read(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	return rep.Records
}

func TestDeployMarkersRecordedInSentry(t *testing.T) {
	stub, client := newMarkerStub(t)
	j := openNotifyJournal(t, nil)
	r := &actions.Runner{Journal: j, By: "maria"}
	started := time.Date(2026, 11, 23, 9, 2, 0, 0, time.UTC)
	clock := started
	now := func() time.Time { return clock }
	mark := func(stage string) actions.Outcome {
		t.Helper()
		a := &actions.DeployMarker{Client: client, Release: "2026.11.23", Stage: stage, Deploy: "Vetspire production deploy", Started: started, StepID: "post/marker-" + stage, Now: now}
		out := r.Execute(context.Background(), r.NextID(), a, "mark "+stage, 10*time.Second)
		if out.Err != nil || !out.Result.OK {
			t.Fatalf("%s marker: %v (%s)", stage, out.Err, out.Result.Summary)
		}
		return out
	}

	p, err := (&actions.DeployMarker{Client: client, Release: "2026.11.23", Stage: actions.StageStart}).Preview(context.Background())
	if err != nil || !strings.Contains(strings.Join(p.Lines, "\n"), "release 2026.11.23 will be created") {
		t.Fatalf("preview %+v, %v", p, err)
	}

	first := mark(actions.StageStart)
	clock = clock.Add(7 * time.Minute)
	mark(actions.StageRollback)
	clock = clock.Add(20 * time.Minute)
	mark(actions.StageFinish)

	deploys := stub.Deploys("2026.11.23")
	if len(deploys) != 3 {
		t.Fatalf("%d deploys recorded, want start, rollback and finish: %+v", len(deploys), deploys)
	}
	wantNames := []string{"Vetspire production deploy: start", "Vetspire production deploy: rollback", "Vetspire production deploy: finish"}
	for i, d := range deploys {
		if d.Name != wantNames[i] || d.Environment != "production" || len(d.Projects) != 1 || d.Projects[0] != "vetspire" {
			t.Errorf("deploy %d = %+v", i, d)
		}
	}
	if !deploys[0].DateFinished.Equal(started) || !deploys[1].DateFinished.Equal(started.Add(7*time.Minute)) {
		t.Errorf("marker times %v, %v", deploys[0].DateFinished, deploys[1].DateFinished)
	}
	if !deploys[2].DateStarted.Equal(started) || !deploys[2].DateFinished.Equal(started.Add(27*time.Minute)) {
		t.Errorf("finish spans %v to %v, want the whole deploy", deploys[2].DateStarted, deploys[2].DateFinished)
	}

	var res actions.DeployMarkerResult
	if err := json.Unmarshal(first.Result.Detail, &res); err != nil {
		t.Fatal(err)
	}
	if !res.ReleaseCreated || res.DeployID == "" || res.Stage != "start" || res.Environment != "production" {
		t.Errorf("first detail %+v", res)
	}
	// Read-only mode allows markers, and each went through the journal.
	var results int
	for _, rec := range readNotifyJournal(t, j) {
		if rec.Type == runbook.RecResult && rec.Kind == actions.KindSentryDeployMarker {
			results++
			if rec.OK == nil || !*rec.OK || len(rec.Data) == 0 {
				t.Errorf("result record %+v", rec)
			}
		}
		if strings.Contains(string(rec.Data)+rec.Summary+rec.Error, markerToken) {
			t.Errorf("the token reached the journal: %+v", rec)
		}
	}
	if results != 3 {
		t.Errorf("%d results journaled", results)
	}
}

func TestDeployMarkerFailures(t *testing.T) {
	_, client := newMarkerStub(t)
	for _, c := range []struct {
		a    *actions.DeployMarker
		want string
	}{
		{&actions.DeployMarker{Client: client, Release: "v1", Stage: "middle"}, `stage "middle"`},
		{&actions.DeployMarker{Client: client, Stage: "start"}, "[deploy] release"},
		{&actions.DeployMarker{Release: "v1", Stage: "start"}, "[sentry] section"},
		// Sentry refuses "latest" as a release name.
		{&actions.DeployMarker{Client: client, Release: "latest", Stage: "start"}, "Release with name latest is not allowed"},
	} {
		res, err := c.a.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), c.want) || res.OK {
			t.Errorf("%+v: %v, want %q", c.a, err, c.want)
			continue
		}
		var d actions.DeployMarkerResult
		if json.Unmarshal(res.Detail, &d) != nil || d.Error == "" {
			t.Errorf("detail %s", res.Detail)
		}
	}
}
