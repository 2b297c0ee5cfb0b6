package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flightdeckhq/flightdeck/sources"
)

// KindSentryDeployMarker is the deploy-marker action, as runbook steps name
// it and the journal records it.
const KindSentryDeployMarker = "sentry.deploy_marker"

// Stages of a deploy marker.
const (
	StageStart    = "start"
	StageFinish   = "finish"
	StageRollback = "rollback"
)

// DeployMarker records a stage of the deploy as a Sentry deploy of the
// release, so Sentry's own charts and release pages show when the deploy
// started, finished or was rolled back. The release is created first when
// Sentry does not know it yet: Sentry refuses a deploy of an unknown release.
type DeployMarker struct {
	Client  *sources.SentryClient
	Release string
	Stage   string // StageStart, StageFinish or StageRollback
	// Deploy names the deploy in the marker, e.g. the config's deploy name.
	Deploy string
	// Started is when the deploy started, sent with the finish marker so
	// Sentry shows its length; zero leaves it out.
	Started time.Time
	StepID  string
	Now     func() time.Time // nil: time.Now
}

// DeployMarkerResult is the Detail of a deploy marker's Result.
type DeployMarkerResult struct {
	Release        string `json:"release"`
	Stage          string `json:"stage"`
	Environment    string `json:"environment"`
	Name           string `json:"name"`
	ReleaseCreated bool   `json:"release_created"`
	DeployID       string `json:"deploy_id,omitempty"`
	DateStarted    string `json:"date_started,omitempty"`
	DateFinished   string `json:"date_finished,omitempty"`
	Error          string `json:"error,omitempty"`
}

// Kind implements Action.
func (d *DeployMarker) Kind() string { return KindSentryDeployMarker }

// Step implements Action.
func (d *DeployMarker) Step() string { return d.StepID }

// Dangerous implements Action: a marker changes nothing a user of the
// application sees, so it runs in read-only mode too; it is still journaled.
func (d *DeployMarker) Dangerous() bool { return false }

// Outward implements Outward: it reaches another system, so read-only mode
// refuses it.
func (d *DeployMarker) Outward() bool { return true }

func (d *DeployMarker) check() error {
	if d.Client == nil {
		return errors.New("no Sentry client: add a [sentry] section to the config")
	}
	if d.Release == "" {
		return errors.New("no release to mark: set [deploy] release in the config")
	}
	switch d.Stage {
	case StageStart, StageFinish, StageRollback:
	default:
		return fmt.Errorf("stage %q is not start, finish or rollback", d.Stage)
	}
	if d.Client.Environment() == "" {
		return errors.New("a Sentry deploy needs an environment: set [sentry] environment")
	}
	return nil
}

func (d *DeployMarker) name() string {
	if d.Deploy == "" {
		return "flightdeck: " + d.Stage
	}
	return d.Deploy + ": " + d.Stage
}

// Preview implements Action. It asks Sentry whether the release exists, so
// the preview says whether it will be created.
func (d *DeployMarker) Preview(ctx context.Context) (Preview, error) {
	p := Preview{Title: fmt.Sprintf("Mark the %s of release %s in Sentry", d.Stage, d.Release)}
	if err := d.check(); err != nil {
		return p, err
	}
	exists, err := d.Client.ReleaseExists(ctx, d.Release)
	switch {
	case err != nil:
		p.Lines = append(p.Lines, "release "+d.Release+": could not ask Sentry ("+err.Error()+"); it will be created if missing")
	case exists:
		p.Lines = append(p.Lines, "release "+d.Release+" exists")
	default:
		p.Lines = append(p.Lines, "release "+d.Release+" will be created")
	}
	p.Lines = append(p.Lines, fmt.Sprintf("deploy %q to environment %s", d.name(), d.Client.Environment()))
	return p, nil
}

// Run implements Action.
func (d *DeployMarker) Run(ctx context.Context) (Result, error) {
	res := DeployMarkerResult{Release: d.Release, Stage: d.Stage, Name: d.name()}
	if d.Client != nil {
		res.Environment = d.Client.Environment()
	}
	fail := func(summary string, err error) (Result, error) {
		res.Error = err.Error()
		detail, _ := json.Marshal(res)
		return Result{Summary: summary, Detail: detail}, err
	}
	if err := d.check(); err != nil {
		return fail("not run: "+err.Error(), err)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	created, err := d.Client.CreateRelease(ctx, d.Release)
	if err != nil {
		return fail("release "+d.Release+" not created in Sentry", err)
	}
	res.ReleaseCreated = created
	req := sources.DeployRequest{Name: res.Name}
	at := now().UTC()
	switch d.Stage {
	case StageFinish:
		req.DateStarted, req.DateFinished = d.Started, at
	default:
		// A start or rollback is a moment: Sentry draws the marker at
		// dateFinished, so it is the moment it happened.
		req.DateStarted, req.DateFinished = at, at
	}
	dep, err := d.Client.CreateDeploy(ctx, d.Release, req)
	if err != nil {
		return fail(d.Stage+" marker of "+d.Release+" not recorded in Sentry", err)
	}
	res.DeployID = dep.ID
	if !dep.DateStarted.IsZero() {
		res.DateStarted = dep.DateStarted.Format(time.RFC3339)
	}
	if !dep.DateFinished.IsZero() {
		res.DateFinished = dep.DateFinished.Format(time.RFC3339)
	}
	detail, _ := json.Marshal(res)
	summary := fmt.Sprintf("Sentry: %s of %s marked in %s", d.Stage, d.Release, res.Environment)
	if created {
		summary += " (release created)"
	}
	return Result{OK: true, Summary: summary, Detail: detail}, nil
}
