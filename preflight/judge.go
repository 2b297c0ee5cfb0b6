package preflight

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Judge joins each statement's hazards from the parse tree with what
// production says of the relations it touches: an index still in use, the
// transactions a lock would queue behind, the size of what is rewritten.
//
// A Production never asked (no target, never read) leaves the static
// hazards alone: there is no production to consult. One that could not be
// read makes every statement that touches an existing relation Unknown,
// never OK: the figures that would clear it are missing.
func Judge(as []Analysis, p Production) []Judged {
	asked := p.Target != "" || !p.At.IsZero() || p.Err != nil
	out := make([]Judged, len(as))
	for i, a := range as {
		j := Judged{Analysis: a, Findings: slices.Clone(a.Hazards)}
		if asked && len(a.Relations) > 0 && !a.NewTable {
			if p.Err != nil {
				j.Findings = append(j.Findings, unreadHazard(a, p))
			} else {
				rels := strongestPerRelation(a.Relations)
				sizeHazards(j.Findings, rels, p)
				j.Findings = append(j.Findings, indexHazards(a, rels, p)...)
				j.Findings = append(j.Findings, queueHazards(a, rels, p)...)
				j.Figures = figureLine(rels, p)
			}
		}
		slices.SortStableFunc(j.Findings, func(x, y Hazard) int {
			return cmp.Compare(y.Verdict.rank(), x.Verdict.rank())
		})
		j.Verdict = worstFinding(j.Findings)
		out[i] = j
	}
	return out
}

// worstFinding is OK for none.
func worstFinding(hs []Hazard) Verdict {
	v := OK
	for _, h := range hs {
		v = Worse(v, h.Verdict)
	}
	return v
}

func unreadHazard(a Analysis, p Production) Hazard {
	where := "production"
	if p.Target != "" {
		where = "production (" + p.Target + ")"
	}
	names := make([]string, 0, len(a.Relations))
	for _, r := range a.Relations {
		if !slices.Contains(names, r.Name) {
			names = append(names, r.Name)
		}
	}
	return Hazard{
		Code:    HazardProduction,
		Verdict: Unknown,
		Reason: fmt.Sprintf("%s could not be read: %s; nobody can vouch for %s: how big it is, whether it is in use, or who holds it now",
			where, strings.Join(strings.Fields(p.Err.Error()), " "), strings.Join(names, ", ")),
		Fix: "make production reachable from the cockpit and judge again",
	}
}

// strongestPerRelation keeps each relation once, in the order written,
// with the strongest lock the statement takes on it.
func strongestPerRelation(rs []Relation) []Relation {
	var out []Relation
	for _, r := range rs {
		i := slices.IndexFunc(out, func(o Relation) bool { return o.Name == r.Name && o.Index == r.Index })
		if i < 0 {
			out = append(out, r)
			continue
		}
		out[i].Lock = max(out[i].Lock, r.Lock)
	}
	return out
}

// judgedTable names the table a relation stands for in a sentence: the
// relation itself, or an index's table without its schema when that is
// public. "" when production does not know it.
func judgedTable(r Relation, p Production) string {
	if !r.Index {
		return r.Name
	}
	f, ok := p.Indexes[r.Name]
	if !ok || !f.Exists {
		return ""
	}
	return strings.TrimPrefix(f.Table, "public.")
}

// judgedTableFacts is production's account of the table r stands for.
func judgedTableFacts(r Relation, p Production) (TableFacts, bool) {
	if !r.Index {
		f, ok := p.Tables[r.Name]
		return f, ok && f.Exists
	}
	ix, ok := p.Indexes[r.Name]
	if !ok || !ix.Exists {
		return TableFacts{}, false
	}
	f, ok := p.Tables[ix.Table]
	return f, ok && f.Exists
}

// sizeHazards puts production's size of the table into the reasons whose
// cost grows with it. The parse tree's reason names the table as written;
// the size goes right after that name, or at the end when it is not there.
func sizeHazards(hs []Hazard, rels []Relation, p Production) {
	type sized struct{ name, size string }
	var tables []sized
	for _, r := range rels {
		f, ok := judgedTableFacts(r, p)
		name := judgedTable(r, p)
		if !ok || name == "" || slices.ContainsFunc(tables, func(s sized) bool { return s.name == name }) {
			continue
		}
		tables = append(tables, sized{name, figureTableSize(f)})
	}
	if len(tables) == 0 {
		return
	}
	for i, h := range hs {
		if h.Code != HazardRewrite && h.Code != HazardScan && h.Code != HazardBlockingIndex {
			continue
		}
		placed := false
		for _, t := range tables {
			if r, ok := insertAfterName(h.Reason, t.name, " ("+t.size+")"); ok {
				h.Reason, placed = r, true
			}
		}
		if !placed {
			parts := make([]string, len(tables))
			for k, t := range tables {
				parts[k] = t.name + " " + t.size
			}
			h.Reason += " (on production: " + strings.Join(parts, "; ") + ")"
		}
		hs[i] = h
	}
}

// insertAfterName inserts what after the first whole-word occurrence of
// name (or of its unqualified part) in s.
func insertAfterName(s, name, what string) (string, bool) {
	candidates := []string{name}
	if dot := strings.LastIndexByte(name, '.'); dot >= 0 {
		candidates = append(candidates, name[dot+1:])
	}
	for _, n := range candidates {
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], n)
			if i < 0 {
				break
			}
			i += from
			end := i + len(n)
			if (i == 0 || !identifierByte(s[i-1])) && (end == len(s) || !identifierByte(s[end])) {
				if strings.HasPrefix(s[end:], " (") {
					return s, false // already sized
				}
				return s[:end] + what + s[end:], true
			}
			from = end
		}
	}
	return s, false
}

func identifierByte(c byte) bool {
	return c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func figureTableSize(f TableFacts) string {
	if f.Rows < 0 {
		return figureBytes(f.Bytes) + ", never analyzed"
	}
	return figureCount(f.Rows) + " rows, " + figureBytes(f.Bytes)
}

// indexHazards judges a DROP INDEX by what production does with the index.
func indexHazards(a Analysis, rels []Relation, p Production) []Hazard {
	if !strings.HasPrefix(a.Kind, "DROP INDEX") {
		return nil
	}
	var hs []Hazard
	for _, r := range rels {
		if !r.Index || r.Lock < ShareUpdateExclusive {
			continue
		}
		f, ok := p.Indexes[r.Name]
		if !ok {
			continue
		}
		if !f.Exists {
			hs = append(hs, Hazard{
				Code:    HazardProduction,
				Verdict: Warn,
				Reason: fmt.Sprintf("%s does not exist on production (%s): the migration was written against another schema, and the statement fails there unless it says IF EXISTS",
					r.Name, p.Target),
			})
			continue
		}
		table := strings.TrimPrefix(f.Table, "public.")
		if f.Constraint != "" {
			hs = append(hs, Hazard{
				Code:    HazardDropIndexUsed,
				Verdict: Block,
				Reason:  fmt.Sprintf("%s backs constraint %s on %s: drop the constraint instead (DROP INDEX fails while the constraint needs it)", r.Name, f.Constraint, table),
				Fix:     fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", f.Table, f.Constraint),
			})
		}
		if f.Scans > 0 {
			last := ""
			if !f.LastScan.IsZero() {
				last = " (last " + figureAgo(p.At.Sub(f.LastScan)) + ")"
			}
			fallback := table
			if t, ok := p.Tables[f.Table]; ok && t.Exists && t.Rows >= 0 {
				fallback += " (" + figureCount(t.Rows) + " rows)"
			}
			hs = append(hs, Hazard{
				Code:    HazardDropIndexUsed,
				Verdict: Block,
				Reason: fmt.Sprintf("%s was used %s times %s%s: dropping it is the Stripe outage — queries that use it fall back to scanning %s",
					r.Name, figureCount(f.Scans), figureSince(f.StatsReset, p.At), last, fallback),
				Fix: "keep it; to retire it, watch its scans stay flat through a full business cycle, then DROP INDEX CONCURRENTLY",
			})
		}
	}
	return hs
}

// queueHazards: a lock that blocks reads or writes waits behind every
// transaction holding a conflicting lock, and everything after it waits
// behind it.
func queueHazards(a Analysis, rels []Relation, p Production) []Hazard {
	var hs []Hazard
	what := "this statement"
	if a.Kind != "" {
		what = "this " + a.Kind
	}
	for _, r := range rels {
		if !r.Lock.BlocksWrites() && !r.Lock.BlocksReads() {
			continue
		}
		var in []Holder
		for _, h := range p.Holders[r.Name] {
			if h.Mode.Conflicts(r.Lock) {
				in = append(in, h)
			}
		}
		if len(in) == 0 {
			continue
		}
		table := judgedTable(r, p)
		if table == "" {
			table = r.Name
		}
		oldest := in[0]
		for _, h := range in[1:] {
			if h.XactAge > oldest.XactAge {
				oldest = h
			}
		}
		held := fmt.Sprintf("%d transactions hold locks on %s now (oldest %s, %s)", len(in), table, figureAge(oldest.XactAge), holderWho(oldest))
		them, self, end := "them", "it", "they end"
		if len(in) == 1 {
			held = fmt.Sprintf("1 transaction holds a lock on %s now (%s, %s)", table, figureAge(oldest.XactAge), holderWho(oldest))
			them, self, end = "it", "the "+strings.TrimPrefix(what, "this "), "that transaction ends"
		}
		behind := "every write to " + table
		if r.Lock.BlocksReads() {
			behind = "every query on " + table
		}
		h := Hazard{Code: HazardQueue}
		if a.LockTimeout {
			h.Verdict = Warn
			h.Reason = fmt.Sprintf("%s: %s gives up after lock_timeout instead of queueing, so the migration fails here unless %s first", held, what, end)
			h.Fix = "wait for them to end, or end them (the locks pane shows them), then run it"
		} else {
			h.Verdict = Block
			h.Reason = fmt.Sprintf("%s: %s waits behind %s, and %s queues behind %s until %s", held, what, them, behind, self, end)
			h.Fix = "SET lock_timeout = '2s' before it, so it gives up instead of stalling " + table + ", and retry"
		}
		if n := p.Waiting[r.Name]; n > 0 {
			h.Reason += fmt.Sprintf("; %d %s for a lock on it already", n, figurePlural(n, "session waits", "sessions wait"))
		}
		hs = append(hs, h)
	}
	return hs
}

func holderWho(h Holder) string {
	s := "pid " + strconv.Itoa(int(h.PID))
	if h.App != "" {
		s += " (" + h.App + ")"
	}
	if h.State != "" {
		s += " " + h.State
	}
	return s
}

// figureLine is production's account in one line, one part per relation.
func figureLine(rels []Relation, p Production) string {
	var parts []string
	for _, r := range rels {
		var b strings.Builder
		if r.Index {
			f, ok := p.Indexes[r.Name]
			if !ok {
				continue
			}
			if !f.Exists {
				parts = append(parts, r.Name+": not on production")
				continue
			}
			fmt.Fprintf(&b, "%s on %s: ", r.Name, f.Table)
			if f.Scans > 0 {
				fmt.Fprintf(&b, "%s scans %s", figureCount(f.Scans), figureSince(f.StatsReset, p.At))
				if !f.LastScan.IsZero() {
					b.WriteString(", last " + figureAgo(p.At.Sub(f.LastScan)))
				}
			} else {
				b.WriteString("unused " + figureSince(f.StatsReset, p.At))
			}
			if f.Constraint != "" {
				b.WriteString("; backs constraint " + f.Constraint)
			}
		} else {
			f, ok := p.Tables[r.Name]
			if !ok {
				continue
			}
			if !f.Exists {
				parts = append(parts, r.Name+": not on production")
				continue
			}
			fmt.Fprintf(&b, "%s: %s", r.Name, figureTableSize(f))
		}
		if n := len(p.Holders[r.Name]); n > 0 {
			fmt.Fprintf(&b, "; %d %s on it now", n, figurePlural(n, "transaction", "transactions"))
		}
		if n := p.Waiting[r.Name]; n > 0 {
			fmt.Fprintf(&b, "; %d waiting", n)
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, " · ")
}

// figureSince says from when the statistics count: "since 3 Nov".
func figureSince(reset, now time.Time) string {
	if reset.IsZero() {
		return "since the statistics began"
	}
	if now.IsZero() {
		now = time.Now()
	}
	reset = reset.In(now.Location())
	if reset.Year() == now.Year() {
		return reset.Format("since 2 Jan")
	}
	return reset.Format("since 2 Jan 2006")
}

func figureAgo(d time.Duration) string {
	if d < time.Second {
		return "just now"
	}
	return figureAge(d) + " ago"
}

// figureAge is a duration a person reads at a glance: "2s", "3m10s", "2h5m",
// "3d4h".
func figureAge(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.Itoa(int(d.Milliseconds())) + "ms"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return strconv.Itoa(m) + "m"
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return strconv.Itoa(days) + "d"
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// figureCount rounds a count to what matters at a glance: 312, 4.5k, 45k,
// 1.2M, 3.4B.
func figureCount(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10)
	}
	units := []struct {
		size float64
		name string
	}{{1e3, "k"}, {1e6, "M"}, {1e9, "B"}}
	for i, u := range units {
		x := float64(n) / u.size
		switch {
		case x < 9.95:
			return strconv.FormatFloat(x, 'f', 1, 64) + u.name
		case x < 999.5 || i == len(units)-1:
			return strconv.FormatFloat(x, 'f', 0, 64) + u.name
		}
	}
	panic("unreachable")
}

// figureBytes is a size as pg_size_pretty writes it (1024-based kB, MB,
// GB, TB), with a decimal below 10.
func figureBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	x := float64(n)
	for i, u := range units {
		x /= 1024
		switch {
		case x < 9.95:
			return strconv.FormatFloat(x, 'f', 1, 64) + " " + u
		case x < 1023.5 || i == len(units)-1:
			return strconv.FormatFloat(x, 'f', 0, 64) + " " + u
		}
	}
	panic("unreachable")
}

func figurePlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
