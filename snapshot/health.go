package snapshot

import "time"

// Health is how the status bar judges a source.
type Health struct {
	Source string
	State  HealthState
	Age    time.Duration // age of the last good data
	Reason string        // for Down: the last error
}

// HealthState is ok, stale or down.
type HealthState int

const (
	Waiting HealthState = iota // no reading yet
	OK
	Stale
	Down
)

func (s HealthState) String() string {
	switch s {
	case OK:
		return "ok"
	case Stale:
		return "stale"
	case Down:
		return "down"
	}
	return "waiting"
}

// Judge turns the last update of a source into its health at now. A source
// whose good data is older than staleAfter is stale even if it reported no
// error, since a hung connection looks exactly like that.
func Judge(u Update, now time.Time, staleAfter time.Duration) Health {
	h := Health{Source: u.Source}
	if !u.GoodAt.IsZero() {
		h.Age = now.Sub(u.GoodAt)
	}
	switch {
	case u.Seq == 0:
		h.State = Waiting
	case u.Err != nil:
		h.State = Down
		h.Reason = OneLine(u.Err.Error())
	case staleAfter > 0 && h.Age > staleAfter:
		h.State = Stale
	default:
		h.State = OK
	}
	return h
}

// Reach is the answer to "can the cockpit talk to this system right now?".
type Reach struct {
	Section string // config section, e.g. "postgres"
	Target  string // what was tried, e.g. a host:port or URL (never a secret)
	Detail  string // what answered, e.g. "PostgreSQL 15.18"
	Err     error
	// Fix says what to do about Err when the system answered but falls
	// short of what the deploy needs (a missing grant, say).
	Fix  string
	Took time.Duration
}

// OK reports whether the system answered.
func (r Reach) OK() bool { return r.Err == nil }

// Sections lists the config sections that name a system, in display order.
var Sections = []string{"kubernetes", "postgres", "jira", "git", "sentry", "slack"}
