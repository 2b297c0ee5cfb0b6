package sources

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/gates"
	"github.com/flightdeckhq/flightdeck/preflight"
	"github.com/flightdeckhq/flightdeck/snapshot"
)

// stampEvery is how often the migration files are looked at for a change:
// a file fixed in an editor shows its new verdicts within seconds.
const stampEvery = 2 * time.Second

// Migrations is the pre-flight of the pending migrations: read, judged
// statement by statement and joined with production, again whenever a file
// changes and every [migrations] poll.
type Migrations struct {
	Config *config.Config
	Day    time.Time

	refresh Refresher
	mu      sync.Mutex
	// observed are the clone's observations of the last dry run, by
	// statement fingerprint.
	observed map[string]preflight.Observed
	measured time.Time
}

// Name implements Source.
func (m *Migrations) Name() string { return "migrations" }

// SetObserved hands the source a dry run's observations, shown beside the
// predictions until the next dry run.
func (m *Migrations) SetObserved(at time.Time, obs []preflight.Observed) {
	byPrint := make(map[string]preflight.Observed, len(obs))
	for _, o := range obs {
		byPrint[o.Fingerprint] = o
	}
	m.mu.Lock()
	m.observed, m.measured = byPrint, at
	m.mu.Unlock()
	m.refresh.Refresh()
}

// Refresh asks for a pre-flight now.
func (m *Migrations) Refresh() { m.refresh.Refresh() }

// Run implements Source. Nothing it finds is an error of the source: a
// migration that does not parse, a command that fails and a production that
// does not answer are all part of the pre-flight it shows.
func (m *Migrations) Run(ctx context.Context, emit func(Snapshot[snapshot.Preflight])) error {
	origin := MigrationOrigin(m.Config, m.Day)
	every := m.Config.Migrations.Poll.D()
	tick := time.NewTicker(stampEvery)
	defer tick.Stop()
	var (
		seq      uint64
		stamp    string
		lastRead time.Time
	)
	for {
		if now, st := time.Now(), origin.Stamp(); st != stamp || now.Sub(lastRead) >= every || lastRead.IsZero() {
			stamp, lastRead = st, now
			data := m.read(ctx, origin)
			if ctx.Err() != nil {
				return nil
			}
			seq++
			emit(Snapshot[snapshot.Preflight]{Seq: seq, At: time.Now(), Data: data})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-m.refresh.pokes():
			lastRead = time.Time{}
		}
	}
}

func (m *Migrations) read(ctx context.Context, origin preflight.Origin) snapshot.Preflight {
	m.mu.Lock()
	observed, measured := m.observed, m.measured
	m.mu.Unlock()
	p := RunPreflight(ctx, m.Config, m.Day, origin)
	p.Measured = measured
	for i := range p.Statements {
		if o, ok := observed[p.Statements[i].Fingerprint]; ok {
			p.Statements[i].Observed, p.Statements[i].ObservedErr, p.Statements[i].Took = DescribeObserved(o), o.Err, o.Took
		}
	}
	return p
}

// MigrationOrigin is where [migrations] says the statements come from, its
// templates expanded for day.
func MigrationOrigin(cfg *config.Config, day time.Time) preflight.Origin {
	m := cfg.Migrations
	vars := cfg.TemplateVars(day)
	o := preflight.Origin{Dir: cfg.Deploy.Workdir, Timeout: cfg.Deploy.CommandTimeout.D()}
	for _, f := range m.Files {
		if x, err := config.Expand(f, vars, false); err == nil {
			f = x
		}
		o.Files = append(o.Files, f)
	}
	if m.Command != "" {
		o.Command = m.Command
		if x, err := config.Expand(m.Command, vars, true); err == nil {
			o.Command = x
		}
	}
	for k, v := range cfg.Deploy.Env {
		if x, err := config.Expand(v, vars, false); err == nil {
			v = x
		}
		o.Env = append(o.Env, k+"="+v)
	}
	return o
}

// MigrationsTarget is the [[postgres.target]] the pre-flight asks.
func MigrationsTarget(cfg *config.Config) (config.PostgresTarget, bool) {
	for _, t := range cfg.Postgres.Targets {
		if t.Name == cfg.Migrations.Target {
			return t, true
		}
	}
	return config.PostgresTarget{}, false
}

// RunPreflight reads the migrations, judges every statement and asks
// production about what they touch: the whole pre-flight, once. The
// preflight command and the cockpit's source both run it.
func RunPreflight(ctx context.Context, cfg *config.Config, day time.Time, origin preflight.Origin) snapshot.Preflight {
	start := time.Now()
	p := snapshot.Preflight{Origin: describeOrigin(origin), Target: cfg.Migrations.Target}
	stmts, err := origin.Load(ctx)
	if err != nil {
		p.Err = err.Error()
		_, p.ParseErr = err.(*preflight.ParseError)
		p.Took = time.Since(start)
		return p
	}
	analyses := preflight.Analyze(stmts)
	var prod preflight.Production
	target, _ := MigrationsTarget(cfg)
	cc, err := PostgresPgxConfig(target, cfg.TemplateVars(day))
	if err != nil {
		prod = preflight.Production{Target: target.Name, Err: err}
	} else {
		cc.RuntimeParams["application_name"] = "flightdeck-preflight"
		prod = preflight.ReadProduction(ctx, target.Name, cc, analyses)
	}
	if prod.Err != nil {
		p.ProductionErr = prod.Err.Error()
	}
	p.ProductionAt = prod.At
	for _, j := range preflight.Judge(analyses, prod) {
		p.Statements = append(p.Statements, shownStatement(j))
	}
	p.Took = time.Since(start)
	return p
}

func describeOrigin(o preflight.Origin) string {
	var parts []string
	parts = append(parts, o.Files...)
	if o.Command != "" {
		parts = append(parts, "$ "+o.Command)
	}
	return strings.Join(parts, ", ")
}

func shownStatement(j preflight.Judged) snapshot.PreflightStatement {
	s := snapshot.PreflightStatement{
		Where: j.Where(), SQL: j.SQL, Kind: j.Kind, Fingerprint: j.Fingerprint,
		Rewrites: j.Rewrites, Scans: j.Scans, Verdict: j.Verdict.String(), Figures: j.Figures,
	}
	var locks []string
	for _, r := range j.Relations {
		if r.Lock != preflight.NoLock {
			locks = append(locks, r.Lock.String()+" on "+r.Name)
		}
	}
	s.Locks = strings.Join(locks, ", ")
	for _, h := range j.Findings {
		s.Findings = append(s.Findings, snapshot.PreflightFinding{Code: h.Code, Verdict: h.Verdict.String(), Reason: h.Reason, Fix: h.Fix})
	}
	return s
}

// DescribeObserved is a clone observation in a line: "ACCESS EXCLUSIVE on
// public.appointments 3.2s".
func DescribeObserved(o preflight.Observed) string {
	if len(o.Locks) == 0 {
		if o.Err != "" {
			return "failed: " + snapshot.OneLine(o.Err)
		}
		return fmt.Sprintf("no relation lock seen (%s)", gates.FormatDuration(o.Took))
	}
	// A rewrite locks every index of the table too: the table's lock says
	// what the deploy needs to know, the count says the rest.
	const shown = 2
	var parts []string
	for i, l := range o.Locks {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(o.Locks)-shown))
			break
		}
		parts = append(parts, fmt.Sprintf("%s on %s %s", l.Lock, l.Relation, gates.FormatDuration(l.Held)))
	}
	return strings.Join(parts, ", ")
}
