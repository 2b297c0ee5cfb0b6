package panes

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/internal/runbook"
	"github.com/flightdeckhq/flightdeck/internal/theme"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// RolloutView is what the rollout pane shows.
type RolloutView struct {
	Source  SourceView // connection, scope, health
	State   snapshot.Rollout
	HasData bool
	Now     time.Time
	Focused bool
	Offset  int // first row shown, when scrolled
	Cursor  int // the selected deployment
	// LKG is each deployment's rollback target, by its Key.
	LKG map[string]snapshot.LastKnownGood
	// Smoke is the [[smoke]] checks' last runs; nil without any.
	Smoke *snapshot.Smoke
	Loc   *time.Location // the deploy window's zone, for the time a check began failing
}

type rolloutKeys struct {
	scrollKeys
	Pause, Restart, Scale, Undo key.Binding
}

// KubeOp is what the operator asked to do to a deployment.
type KubeOp string

const (
	OpPauseResume KubeOp = "pause/resume"
	OpRestart     KubeOp = "restart"
	OpScale       KubeOp = "scale"
	OpUndo        KubeOp = "undo"
)

// KubeRequest asks the root to act on one deployment.
type KubeRequest struct {
	Op              KubeOp
	Cluster         string
	Namespace, Name string
	Paused          bool
	Replicas        int32
	Revision        int64   // the current revision, for undo
	History         []int64 // revisions undo may go back to, newest first
}

// Rollout is the pod rollout pane: Deployments, ReplicaSets and pods.
type Rollout struct {
	Data     RolloutView
	keys     rolloutKeys
	th       theme.Theme
	visible  int
	readOnly bool
}

// RolloutSettings are what the rollout pane shows of the [kubernetes]
// section.
type RolloutSettings struct {
	ConfigPath      string // the config file, named while the section is missing
	Configured      bool   // there is a [kubernetes] section
	Context         string // empty for the kubeconfig's current context
	Namespaces      []string
	Deployments     []string
	Selector        string
	ProgressTimeout time.Duration
	Location        *time.Location // the deploy window's zone
	// Clusters name each cluster with what it watches ("standby:
	// context kwok-standby"), when there are several.
	Clusters []string
}

// NewRollout builds the pane for the [kubernetes] section.
func NewRollout(k RolloutSettings, th theme.Theme) *Rollout {
	v := SourceView{Number: 2, Title: "Rollout", Section: "kubernetes", ConfigPath: k.ConfigPath,
		Explain: "Deployments, ReplicaSets and pods, and what image runs where"}
	if k.Configured {
		v.Configured = true
		ctx := k.Context
		if ctx == "" {
			ctx = "(current context)"
		}
		if len(k.Clusters) > 0 {
			v.Scope = append(v.Scope, k.Clusters...)
		} else {
			v.Scope = append(v.Scope, "context "+ctx)
		}
		v.Scope = append(v.Scope, "namespaces "+strings.Join(k.Namespaces, ", "))
		if len(k.Deployments) > 0 {
			v.Scope = append(v.Scope, "deployments "+strings.Join(k.Deployments, ", "))
		}
		if k.Selector != "" {
			v.Scope = append(v.Scope, "selector "+k.Selector)
		}
		v.Scope = append(v.Scope, "stalled after "+gates.FormatDuration(k.ProgressTimeout)+" without progress")
	}
	return &Rollout{Data: RolloutView{Source: v, Loc: k.Location}, th: th, keys: rolloutKeys{
		scrollKeys: newScrollKeys(),
		Pause:      key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause/resume rollout")),
		Restart:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "restart")),
		Scale:      key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "scale")),
		Undo:       key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "roll back to a revision")),
	}}
}

// Title implements Pane.
func (r *Rollout) Title() string { return "Rollout" }

// SetFocused implements Pane.
func (r *Rollout) SetFocused(f bool) { r.Data.Focused = f; r.Data.Source.Focused = f }

// SetTheme implements Pane.
func (r *Rollout) SetTheme(th theme.Theme) { r.th = th }

// RolloutContext is what the rollout pane shows beside its feed: what the
// cockpit knows of the deployments rather than reads from the cluster.
type RolloutContext struct {
	// LKG is each deployment's rollback target, by its Key.
	LKG map[string]snapshot.LastKnownGood
	// Smoke is the smoke source's reading; nil when there is none (yet,
	// or no [[smoke]] checks). They are shown here because they say
	// whether what rolled out works.
	Smoke *snapshot.Smoke
}

// Show is how the rollout pane learns what to show: the rollout source's
// feed, the rollback targets and the smoke checks.
func (r *Rollout) Show(f snapshot.Feed[snapshot.Rollout], c RolloutContext) {
	r.Data.State, r.Data.HasData, r.Data.Now = f.Data, f.HasData, f.Now
	r.Data.Source.Health, r.Data.Source.Reach = f.Health, f.Reach
	r.Data.LKG = c.LKG
	r.Data.Smoke = c.Smoke
}

// Update implements Pane.
func (r *Rollout) Update(msg tea.Msg) (Pane, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return r, nil
	}
	deps := r.Data.State.Deployments
	switch {
	case key.Matches(k, r.keys.Up):
		r.Data.Cursor = max(r.Data.Cursor-1, 0)
	case key.Matches(k, r.keys.Down):
		r.Data.Cursor = min(r.Data.Cursor+1, max(len(deps)-1, 0))
	case r.Data.Cursor >= len(deps):
	case pressed(k, r.keys.Pause, r.readOnly):
		d := deps[r.Data.Cursor]
		return r, kubeRequest(KubeRequest{Op: OpPauseResume, Cluster: d.Cluster, Namespace: d.Namespace, Name: d.Name, Paused: d.Paused})
	case pressed(k, r.keys.Restart, r.readOnly):
		d := deps[r.Data.Cursor]
		return r, kubeRequest(KubeRequest{Op: OpRestart, Cluster: d.Cluster, Namespace: d.Namespace, Name: d.Name})
	case pressed(k, r.keys.Scale, r.readOnly):
		d := deps[r.Data.Cursor]
		return r, kubeRequest(KubeRequest{Op: OpScale, Cluster: d.Cluster, Namespace: d.Namespace, Name: d.Name, Replicas: d.Desired})
	case pressed(k, r.keys.Undo, r.readOnly):
		d := deps[r.Data.Cursor]
		req := KubeRequest{Op: OpUndo, Cluster: d.Cluster, Namespace: d.Namespace, Name: d.Name, Revision: d.Revision}
		for _, h := range d.History {
			if h.Number != d.Revision {
				req.History = append(req.History, h.Number)
			}
		}
		return r, kubeRequest(req)
	case key.Matches(k, r.keys.PageUp):
		r.Data.Offset = max(r.Data.Offset-max(r.visible-2, 1), 0)
	case key.Matches(k, r.keys.PageDown):
		r.Data.Offset += max(r.visible-2, 1)
	case key.Matches(k, r.keys.Top):
		r.Data.Offset = 0
	}
	return r, nil
}

func kubeRequest(req KubeRequest) tea.Cmd { return func() tea.Msg { return req } }

// SetReadOnly hides the keys that change deployments; pressing them still
// reaches the root, which says why nothing happens.
func (r *Rollout) SetReadOnly(ro bool) {
	r.readOnly = ro
	for _, b := range []*key.Binding{&r.keys.Pause, &r.keys.Restart, &r.keys.Scale, &r.keys.Undo} {
		b.SetEnabled(!ro)
	}
}

// View implements Pane.
func (r *Rollout) View(width, height int) string {
	r.visible = height - 2
	return RenderRollout(r.Data, width, height, r.th)
}

// ShortHelp implements help.KeyMap.
func (r *Rollout) ShortHelp() []key.Binding {
	return []key.Binding{r.keys.Pause, r.keys.Restart, r.keys.Scale, r.keys.Undo, r.keys.Up, r.keys.Down}
}

// FullHelp implements help.KeyMap.
func (r *Rollout) FullHelp() [][]key.Binding {
	return [][]key.Binding{{r.keys.Pause, r.keys.Restart, r.keys.Scale, r.keys.Undo}, {r.keys.Up, r.keys.Down, r.keys.PageUp, r.keys.PageDown, r.keys.Top}}
}

func bar(done, total int32, w int) string {
	if w <= 0 || total <= 0 {
		return ""
	}
	n := int(int64(done) * int64(w) / int64(total))
	n = min(max(n, 0), w)
	return strings.Repeat("█", n) + strings.Repeat("░", w-n)
}

func phasePaint(p snapshot.RolloutPhase, th theme.Theme) theme.Paint {
	switch p {
	case snapshot.Complete:
		return th.OK
	case snapshot.Stalled:
		return th.Bad
	case snapshot.Paused:
		return th.Warn
	}
	return th.Info
}

// RenderRollout draws each deployment's rollout, its pods with problems
// first, and recent warning events. Only the rows that fit are built, so a
// namespace of thousands of pods costs what the screen shows.
func RenderRollout(v RolloutView, width, height int, th theme.Theme) string {
	if !v.Source.Configured || !v.HasData {
		return RenderSource(v.Source, width, height, th)
	}
	inner, rows := width-2, height-2
	title := "2 Rollout"
	if inner < 1 || rows < 1 {
		return Frame(title, v.Focused, nil, width, height, th)
	}
	var body []string
	room := func() bool { return len(body) < rows+v.Offset }
	add := func(s string) {
		if room() {
			body = append(body, s)
		}
	}
	if v.Source.Health.State != snapshot.OK {
		add(Trunc(HealthMark(v.Source.Health, th), inner))
	}
	// First, since a long list of pods would push them out of sight:
	// they say whether what rolled out works.
	for _, l := range smokeLines(v.Smoke, zoneOr(v.Loc), inner, th) {
		add(l)
	}
	if len(v.State.Deployments) == 0 {
		add(th.Dim.S("no deployments match the [kubernetes] section"))
	}
	if len(v.State.Clusters) == 0 {
		for i, d := range v.State.Deployments {
			if !room() {
				break
			}
			renderDeployment(d, v.LKG[d.Key()], i == v.Cursor && v.Focused, v.Now, inner, th, add)
		}
	}
	for _, c := range v.State.Clusters {
		if !room() {
			break
		}
		add(clusterLine(c, v.State, inner, th))
		for i, d := range v.State.Deployments {
			if d.Cluster == c.Name && room() {
				renderDeployment(d, v.LKG[d.Key()], i == v.Cursor && v.Focused, v.Now, inner, th, add)
			}
		}
	}
	if len(v.State.Events) > 0 && room() {
		add(th.Header.S("warnings"))
		for i, e := range v.State.Events {
			if i == 5 || !room() {
				break
			}
			age := runbook.Short(v.Now.Sub(e.At))
			obj := e.Object
			if e.Cluster != "" {
				obj = e.Cluster + " " + obj
			}
			add(Trunc(th.Warn.S(fmt.Sprintf("%5s %s %s: ", age, obj, e.Reason))+th.Dim.S(snapshot.OneLine(e.Message)), inner))
		}
	}
	if v.Offset > 0 {
		off := min(v.Offset, max(len(body)-1, 0))
		body = body[off:]
		title += fmt.Sprintf(" ↓%d", off)
	}
	return Frame(title, v.Focused, body, width, height, th)
}

// clusterLine heads a cluster's deployments: its name, role and context,
// or why it is down while the deployments under it are the last seen.
func clusterLine(c snapshot.Cluster, s snapshot.Rollout, w int, th theme.Theme) string {
	line := th.Header.S("cluster " + c.Name)
	if c.Role != "" && c.Role != c.Name {
		line += th.Dim.S(" · " + c.Role)
	}
	if c.Context != "" {
		line += th.Dim.S(" · " + c.Context)
	}
	if runs := s.Runs(c.Name); runs != "" && c.Err == "" {
		line += th.Dim.S(" · runs ") + th.Info.S(runs)
	}
	switch {
	case c.Err != "":
		line += " " + th.Bad.S("✕ down: "+snapshot.OneLine(c.Err)) + th.Dim.S(" (last seen below)")
	case !c.Read:
		line += " " + th.Dim.S("… not read yet")
	}
	return Trunc(line, w)
}

// smokeLines is one line per [[smoke]] check: "smoke ✓ api health 200
// 42ms", "smoke ✕ api health 503, want 200 (3 in a row, since 10:41:02)".
func smokeLines(s *snapshot.Smoke, z *time.Location, w int, th theme.Theme) []string {
	if s == nil || len(s.Checks) == 0 {
		return nil
	}
	if s.Waiting() {
		return []string{Trunc(th.Dim.S("smoke: waits for the deploy to start"), w)}
	}
	nameW := 0
	for _, c := range s.Checks {
		nameW = max(nameW, ansi.StringWidth(snapshot.OneLine(c.Name)))
	}
	nameW = min(nameW, 24)
	out := make([]string, 0, len(s.Checks))
	for _, c := range s.Checks {
		name := Fit(snapshot.OneLine(c.Name), nameW)
		var line string
		switch {
		case c.Runs == 0:
			line = th.Dim.S("smoke … " + name + " not run yet")
		case c.Passing:
			line = th.OK.S("smoke ✓") + " " + name + " " + th.Dim.S(fmt.Sprintf("%d %s", c.Status, gates.FormatDuration(c.Latency)))
		default:
			since := "since " + c.Since.In(z).Format("15:04:05")
			if c.Failures > 1 {
				since = fmt.Sprintf("%d in a row, %s", c.Failures, since)
			}
			line = th.Bad.S("smoke ✕") + " " + name + " " + th.Bad.S(snapshot.OneLine(c.Last.Why)) + th.Dim.S(" ("+since+")")
		}
		out = append(out, Trunc(line, w))
	}
	return out
}

func renderDeployment(d snapshot.Deployment, lkg snapshot.LastKnownGood, selected bool, now time.Time, w int, th theme.Theme, add func(string)) {
	phase, phaseP := string(d.Phase), phasePaint(d.Phase, th)
	if d.Phase == snapshot.Stalled {
		phase, phaseP = "STALLED", th.BadAlarm
	}
	counts := fmt.Sprintf("%d/%d updated %d ready", d.Updated, d.Desired, d.Ready)
	name := d.Name
	if selected {
		name = th.Selected.S("▸ " + d.Name)
	}
	head := th.Bold.S(name) + " " + phaseP.S(phase) + "  " + counts
	if bw := w - 2 - len(d.Name) - len(phase) - len(counts) - 4; bw >= 6 {
		head += "  " + phasePaint(d.Phase, th).S(bar(d.Updated, d.Desired, min(bw, 20)))
	}
	add(Trunc(head, w))
	img := "  " + th.Info.S(snapshot.Tag(d.Image))
	if d.PrevImage != "" {
		img += th.Dim.S(" ← " + snapshot.Tag(d.PrevImage))
	}
	img += th.Dim.S(fmt.Sprintf("  rev %d", d.Revision))
	add(Trunc(img, w))
	if lkg.Image != "" && lkg.Image != d.Image {
		add(Trunc(th.Warn.S(fmt.Sprintf("  R rolls back to %s (rev %d, last known good)", snapshot.Tag(lkg.Image), lkg.Revision)), w))
	}
	if d.Why != "" && d.Phase != snapshot.Complete {
		add(Trunc("  "+phasePaint(d.Phase, th).S(snapshot.OneLine(d.Why)), w))
	}
	if d.OldPods > 0 {
		add(Trunc(th.Dim.S(fmt.Sprintf("  %d pods of older revisions still running", d.OldPods)), w))
	}
	if d.Dip != "" {
		add(Trunc(th.Bad.S("  old pods went before the new ones were ready: "+d.Dip), w))
	}
	if len(d.History) > 1 && selected {
		for i, h := range d.History {
			if i == 4 {
				break
			}
			cause := h.ChangeCause
			if cause == "" {
				cause = "-"
			}
			add(Trunc(th.Dim.S(fmt.Sprintf("  rev %d %s %s ago: %s", h.Number, snapshot.Tag(h.Image), runbook.Short(now.Sub(h.Created)), cause)), w))
		}
	}
	// Pod names carry the revision's hash: give them the room the other
	// columns leave, so two pods stay tellable apart, aligned per deployment.
	nameW := 0
	for _, p := range d.Pods {
		nameW = max(nameW, len(p.Name))
	}
	nameW = min(nameW, max(w-40, 10))
	for i, p := range d.Pods {
		if !p.Problem && i >= 3 {
			if rest := len(d.Pods) - i; rest > 0 {
				add(th.Dim.S(fmt.Sprintf("  … %d more pods fine", rest)))
			}
			break
		}
		add(podRow(p, nameW, now, w, th))
	}
}

func podRow(p snapshot.Pod, nameW int, now time.Time, w int, th theme.Theme) string {
	paint := th.Text
	if p.Problem {
		paint = th.Bad
	}
	restarts := ""
	if p.Restarts > 0 {
		restarts = fmt.Sprintf(" ↻%d", p.Restarts)
	}
	row := fmt.Sprintf("  %-*s %d/%d %s%s %s r%d", nameW, Trunc(p.Name, nameW),
		p.Ready, p.Total, p.Status, restarts, runbook.Short(now.Sub(p.Created)), p.Revision)
	if p.Node != "" && w >= 90 {
		row += " " + p.Node
	}
	if p.Problem && p.Reason != "" && w >= 60 {
		row += " — " + snapshot.OneLine(p.Reason)
	}
	return Trunc(paint.S(row), w)
}
