package sentrystub

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
)

// ErrorKind is one kind of error the simulated application raises.
type ErrorKind struct {
	Type    string  // exception type, e.g. "DBConnection.ConnectionError"
	Message string  // exception value; each "{n}" becomes a random number per event
	Weight  float64 // relative frequency within the profile
	Culprit string  // sent as the event's transaction, which Sentry shows as the culprit
}

// Profile is the error traffic of one version of the application.
type Profile struct {
	ErrorsPerMinute float64
	Kinds           []ErrorKind
}

// The noisy connection-pool timeout that the runbook says to expect after
// every deploy; it is part of the baseline so that it is never "new".
var dbConnectionKind = ErrorKind{
	Type:    "DBConnection.ConnectionError",
	Message: "connection not available and request was dropped from queue after 2000ms",
	Culprit: "App.Repo.checkout/2",
}

// GoodProfile is the steady baseline of a healthy release: a few errors a
// minute, all of kinds that have been seen for a long time.
func GoodProfile() Profile {
	db := dbConnectionKind
	db.Weight = 5
	return Profile{
		ErrorsPerMinute: 4,
		Kinds: []ErrorKind{
			db,
			{Type: "Postgrex.Error", Message: "ERROR 57014 (query_canceled) canceling statement due to statement timeout", Weight: 2, Culprit: "App.Reports.daily_summary/1"},
			{Type: "Phoenix.Router.NoRouteError", Message: "no route found for GET /wp-login.php (AppWeb.Router)", Weight: 2, Culprit: "AppWeb.Router.call/2"},
			{Type: "Mint.TransportError", Message: "timeout", Weight: 1, Culprit: "App.Payments.Client.charge/2"},
		},
	}
}

// BadProfile is a broken release: errors spike fifteenfold, mostly of kinds
// the good release never raised.
func BadProfile() Profile {
	db := dbConnectionKind
	db.Weight = 3
	return Profile{
		ErrorsPerMinute: 60,
		Kinds: []ErrorKind{
			db,
			{Type: "KeyError", Message: "key :clinic_id not found in: %{appointment_id: {n}, patient_id: {n}}", Weight: 4, Culprit: "App.Appointments.schedule/2"},
			{Type: "Ecto.Query.CastError", Message: "value `\"undefined\"` in `where` cannot be cast to type :id in query", Weight: 2, Culprit: "AppWeb.InvoiceController.show/2"},
			{Type: "FunctionClauseError", Message: "no function clause matching in App.Billing.line_total/1", Weight: 1, Culprit: "App.Billing.line_total/1"},
			{Type: "Postgrex.Error", Message: "ERROR 57014 (query_canceled) canceling statement due to statement timeout", Weight: 1, Culprit: "App.Reports.daily_summary/1"},
		},
	}
}

// ProfileForImage picks the profile for a container image: the broken
// release's (BadImage) or the good one's.
func ProfileForImage(image string) Profile {
	if BadImage(image) {
		return BadProfile()
	}
	return GoodProfile()
}

// BadImage reports whether image is the broken release: its tag contains
// "bad" (such as app:v2-bad). The sandbox's pods crash-loop on the same
// rule, and its health endpoint answers degraded.
func BadImage(image string) bool {
	return strings.Contains(strings.ToLower(ImageTag(image)), "bad")
}

// ImageTag is the tag of a container image reference, "" when it has
// none: registry.local:5000/acme/app:v2@sha256:… is v2.
func ImageTag(image string) string {
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	_, tag, _ := strings.Cut(name, ":")
	return tag
}

// Simulator sends an application's error traffic to a Sentry DSN through the
// official SDK.
type Simulator struct {
	DSN         string
	Environment string
	// Profile reports the current traffic profile and release. It is
	// called at start and then about every RefreshEvery, so it can follow
	// what the cluster is actually running. It runs on the sending
	// goroutine, so a slow one delays events (they are sent late, with the
	// timestamps they were due at). Nil means GoodProfile with no release.
	Profile func() (Profile, string)
	Rand    *rand.Rand // nil: seeded from the clock

	// Speed runs simulated time faster than real time: at 60, one real
	// second carries a minute of traffic, and event timestamps advance a
	// minute per second from Start. 0 means 1.
	Speed float64
	// Start is the simulated time of the first instant of Run; zero means
	// the real time at which Run starts.
	Start time.Time
	// Users is the size of the pool user ids are drawn from; 0 means 25.
	Users int
	// RefreshEvery is the real time between Profile calls; 0 means 1s.
	RefreshEvery time.Duration
}

// Run sends events until ctx ends, then flushes what the SDK still holds.
// Arrivals form a Poisson process at the profile's rate; when the rate
// changes the next arrival is redrawn at the new rate, which the process's
// memorylessness allows.
func (sim *Simulator) Run(ctx context.Context) error {
	prof, rel := sim.profile()
	clientRelease := rel
	if clientRelease == "" {
		// Non-empty so that the SDK does not shell out to git looking
		// for a default; every event's release is overwritten below.
		clientRelease = "unknown"
	}
	release := rel
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:         sim.DSN,
		Environment: sim.Environment,
		Release:     clientRelease,
		// A transport of our own keeps the SDK on its plain HTTP
		// transport, whose queue of 1000 is ample for bursts at high
		// Speed; the telemetry buffer drops events beyond 100.
		Transport: sentry.NewHTTPTransport(),
	})
	if err != nil {
		return fmt.Errorf("sentrystub: simulator cannot use DSN %q: %w", sim.DSN, err)
	}
	// The release must follow the profile event by event, including back
	// to "none", which ClientOptions.Release cannot express.
	client.AddEventProcessor(func(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
		ev.Release = release
		return ev
	})
	defer func() {
		client.Flush(5 * time.Second)
		client.Close()
	}()

	rng := sim.Rand
	if rng == nil {
		seed := uint64(time.Now().UnixNano())
		rng = rand.New(rand.NewPCG(seed, seed>>7|1))
	}
	speed := sim.Speed
	if speed <= 0 {
		speed = 1
	}
	refresh := sim.RefreshEvery
	if refresh <= 0 {
		refresh = time.Second
	}
	users := sim.Users
	if users <= 0 {
		users = 25
	}
	realStart := time.Now()
	simStart := sim.Start
	if simStart.IsZero() {
		simStart = realStart
	}
	simTime := func(t time.Time) time.Time {
		return simStart.Add(time.Duration(float64(t.Sub(realStart)) * speed))
	}
	gap := func(p Profile) time.Duration {
		if p.ErrorsPerMinute <= 0 || len(p.Kinds) == 0 {
			return -1
		}
		perRealSecond := p.ErrorsPerMinute / 60 * speed
		return time.Duration(rng.ExpFloat64() / perRealSecond * float64(time.Second))
	}
	schedule := func(from time.Time, p Profile) time.Time {
		g := gap(p)
		if g < 0 {
			return time.Time{}
		}
		return from.Add(g)
	}

	next := schedule(realStart, prof)
	nextRefresh := realStart.Add(refresh)
	// On the way out, arrivals that fell due while the loop was starved
	// of CPU are still sent: they happened before the stop.
	drain := func() {
		stop := time.Now()
		for !next.IsZero() && !next.After(stop) {
			sim.send(client, prof, simTime(next), users, rng)
			next = schedule(next, prof)
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			drain()
			return nil
		}
		now := time.Now()
		if !now.Before(nextRefresh) {
			p, r := sim.profile()
			if p.ErrorsPerMinute != prof.ErrorsPerMinute || len(p.Kinds) != len(prof.Kinds) {
				next = schedule(now, p)
			}
			prof, release = p, r
			nextRefresh = now.Add(refresh)
			continue
		}
		if !next.IsZero() && !now.Before(next) {
			sim.send(client, prof, simTime(next), users, rng)
			// Scheduling from the previous arrival rather than from now
			// keeps the rate right when sending falls behind.
			next = schedule(next, prof)
			continue
		}
		wake := nextRefresh
		if !next.IsZero() && next.Before(wake) {
			wake = next
		}
		timer.Reset(wake.Sub(now))
		select {
		case <-ctx.Done():
			drain()
			return nil
		case <-timer.C:
		}
	}
}

func (sim *Simulator) profile() (Profile, string) {
	if sim.Profile == nil {
		return GoodProfile(), ""
	}
	return sim.Profile()
}

var instances = []string{"app-7f9c4-x2lqp", "app-7f9c4-b8kzn", "app-7f9c4-q4wtd"}

// send captures one event. The event processor installed by Run sets the
// release, since it runs after the SDK's own defaults.
func (sim *Simulator) send(client *sentry.Client, p Profile, at time.Time, users int, rng *rand.Rand) {
	k := pickKind(p.Kinds, rng)
	handled := true
	ev := &sentry.Event{
		Level:       sentry.LevelError,
		Timestamp:   at,
		Environment: sim.Environment,
		Transaction: k.Culprit,
		User:        sentry.User{ID: "user-" + strconv.Itoa(rng.IntN(users)+1)},
		Tags:        map[string]string{"instance": instances[rng.IntN(len(instances))]},
		Exception: []sentry.Exception{{
			Type:      k.Type,
			Value:     expandMessage(k.Message, rng),
			Mechanism: &sentry.Mechanism{Type: "generic", Handled: &handled},
		}},
	}
	client.CaptureEvent(ev, nil, nil)
}

func pickKind(kinds []ErrorKind, rng *rand.Rand) ErrorKind {
	total := 0.0
	for _, k := range kinds {
		total += max(k.Weight, 0)
	}
	if total <= 0 {
		return kinds[rng.IntN(len(kinds))]
	}
	x := rng.Float64() * total
	for _, k := range kinds {
		x -= max(k.Weight, 0)
		if x < 0 {
			return k
		}
	}
	return kinds[len(kinds)-1]
}

func expandMessage(m string, rng *rand.Rand) string {
	for strings.Contains(m, "{n}") {
		m = strings.Replace(m, "{n}", strconv.Itoa(1000+rng.IntN(9000)), 1)
	}
	return m
}
