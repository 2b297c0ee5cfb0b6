// Package view is what a view of the deploy — the driver's terminal, an
// observer, a viewer over SSH — sees of the engine and may ask of it. It is
// light on purpose: a view renders these types without linking the clients
// the engine talks to.
package view

import (
	"context"
	"errors"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/journal"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// Engine is everything a view needs of the running deploy.
type Engine interface {
	// Subscribe delivers the deploy to one view until ctx ends: first the
	// whole of it (Batch.Initial), then what changed. Sources are newest
	// wins; records, output lines and ends arrive in full and in order. A
	// view that stops reading is sent the whole state again once it reads.
	Subscribe(ctx context.Context, v Viewer) <-chan Batch
	// Request turns what a view asks into a previewed action. Actions that
	// need no confirmation run at once (Proposal.Started).
	Request(ctx context.Context, v Viewer, r Request) (Proposal, error)
	// Confirm runs a proposal. It is refused for a read-only viewer.
	Confirm(ctx context.Context, v Viewer, id string) error
	// Drop forgets a proposal the operator declined.
	Drop(id string)
}

// ErrReadOnly refuses a change asked for by a read-only viewer.
var ErrReadOnly = errors.New("read-only mode: this view only watches; nothing it asks for changes the world")

// Viewer names who asks. A read-only viewer may subscribe and ask for
// previews of nothing that changes the world.
type Viewer struct {
	Name     string
	ReadOnly bool
}

// Batch is what changed since the last one a view read.
type Batch struct {
	// Initial: the view is to drop what it holds and start from this
	// batch, which carries the whole state: History and Runs are set.
	Initial bool
	History []journal.Record
	Runs    []RunInfo
	// Learned is how long each step usually takes, by step id, from
	// earlier journals: set with Initial.
	Learned map[string]runbook.Usual
	// Updates has the newest snapshot of each source that changed.
	Updates []snapshot.Update
	// Status is the engine's judgement of the deploy now; nil when
	// unchanged.
	Status *Status
	Events []Event
}

// Status is derived state: health, gates and what runs.
type Status struct {
	Now    time.Time
	Health map[string]snapshot.Health // by config section
	Gates  map[string]gates.Result
	// LKG is what a rollback goes back to, by snapshot.Deployment.Key; nil until the
	// first reading of the deployments.
	LKG map[string]snapshot.LastKnownGood
	// Orphans are steps whose command a previous cockpit left running, with
	// their process groups.
	Orphans map[string]int
	Running []Running
	// PodsByClient maps what a database sees of a client to its pod.
	PodsByClient map[string]string
	// KubeDenied says what the API server refuses this user of everything
	// the cockpit does; empty when nothing is.
	KubeDenied string
	// Watchers are the read-only views on this deploy, by name, sorted.
	Watchers []string
	// Advisory is raised when a post-deploy signal has turned bad: the
	// engine recommends a rollback. Nil while none is.
	Advisory *Advisory
}

// Advisory is the engine's rollback recommendation.
type Advisory struct {
	Since   time.Time
	Signals []string // what turned bad, each in a few words
}

// Running is an action in flight.
type Running struct {
	ID, Step, Title string
	Command         bool
}

// Event is one must-deliver item; exactly one part is set.
type Event struct {
	// Run and Lines: output lines of a command run, in order.
	Run   string
	Lines []string
	// Record was just written to the journal.
	Record *journal.Record
	// Started: a command run began.
	Started *RunInfo
	// Ended: an action finished; its lines and records came before.
	Ended *Ended
	// Notice is a line for the status bar.
	Notice *Notice
	// OrphanEnded: a command a previous cockpit left has ended.
	OrphanEnded string
}

// Ended is how an action ended.
type Ended struct {
	ID, Kind, Step string
	OK             bool
	Summary        string
	Exit           *int
	Err            string
	Took           time.Duration
	Command        bool
}

// Notice is what the engine has to say to everyone watching.
type Notice struct {
	Text string
	Err  bool
	// FollowUp adds to the message before it rather than replacing it
	// (what follows a rollback: the alert, the marker).
	FollowUp bool
}

// RunInfo is one command run, as the Output pane shows it.
type RunInfo struct {
	ID, Step, Title, Command string
	Started                  time.Time
	Running                  bool
	Took                     time.Duration
	Exit                     *int
	Err                      string
	Lines                    []string
	// FromJournal: Lines are the journal's tail, the run's file is gone.
	FromJournal bool
	// Orphan is the process group a previous cockpit left; OrphanAlive
	// whether it still runs.
	Orphan      int
	OrphanAlive bool
}

// Op is what a view asks the engine to do.
type Op string

// What a view may ask. Each names the fields of Request it reads.
const (
	OpRunStep      Op = "run"    // Step
	OpCheckStep    Op = "check"  // Step, and Reason: a note journaled with the tick (optional)
	OpSkipStep     Op = "skip"   // Step, Reason
	OpReopenStep   Op = "reopen" // Step
	OpCancelStep   Op = "cancel" // Step: stop its running action
	OpRollback     Op = "rollback"
	OpPause        Op = "pause"             // Namespace, Name
	OpResume       Op = "resume"            // Namespace, Name
	OpRestart      Op = "restart"           // Namespace, Name
	OpScale        Op = "scale"             // Namespace, Name, Replicas
	OpUndo         Op = "undo"              // Namespace, Name, Revision
	OpCancelPID    Op = "cancel-backend"    // Target, PIDs
	OpTerminate    Op = "terminate-backend" // Target, PIDs
	OpRefreshBoard Op = "refresh-board"
	OpGitFetch     Op = "git-fetch"
	OpMoveAll      Op = "move-all"  // the post-deploy moves of every card
	OpMoveCard     Op = "move-card" // Key, To
	OpWaitOrphan   Op = "wait"      // Run: follow a left-over command
	OpStopOrphan   Op = "stop"      // Run: stop a left-over command's group
	OpStopAll      Op = "stop-all"  // stop every running action (quitting)
	OpFinish       Op = "finish"    // journal deploy.finish now, with what is still open
)

// Request is one thing a view asks for.
type Request struct {
	Op        Op
	Step      string
	Reason    string
	Cluster   string // for a deployment, when there are several clusters
	Namespace string
	Name      string
	Replicas  int32
	Revision  int64
	Target    string
	PIDs      []int32
	Key, From string
	To        string
	Run       string
	// Tagged are the backends tagged in the view's locks pane, by target:
	// a cancel or terminate step acts on them when its target has some.
	Tagged map[string][]int32
}

// Changes reports whether the request would change the world or the
// journal: a read-only viewer is refused it.
func (r Request) Changes() bool {
	switch r.Op {
	case OpRefreshBoard, OpWaitOrphan:
		return false
	}
	return true
}

// Proposal is a previewed action waiting for confirmation, or one that
// started at once (Started) because there was nothing to confirm.
type Proposal struct {
	ID      string
	Kind    string
	Step    string // the runbook step it belongs to, or ""
	Summary string
	Title   string // the preview's one line
	Lines   []string
	Started bool
	// Note is what to tell the operator of an action that started at once.
	Note string
}
