package gates

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Expr
		wantErr string
	}{
		{in: "rollout.complete", want: Expr{Name: "rollout.complete"}},
		{in: "  jira.columns_clean  ", want: Expr{Name: "jira.columns_clean"}},
		{in: "locks.max_wait < 30s", want: Expr{Name: "locks.max_wait", Op: Less, Duration: 30 * time.Second}},
		{in: "locks.max_wait<30s", want: Expr{Name: "locks.max_wait", Op: Less, Duration: 30 * time.Second}},
		{in: "locks.max_hold <= 1m30s", want: Expr{Name: "locks.max_hold", Op: LessEqual, Duration: 90 * time.Second}},
		{in: "locks.root_blocker_age>=2m", want: Expr{Name: "locks.root_blocker_age", Op: GreaterEqual, Duration: 2 * time.Minute}},
		{in: "db.long_running_queries == 0", want: Expr{Name: "db.long_running_queries", Op: Equal, Number: 0}},
		{in: "db.long_running_queries==0", want: Expr{Name: "db.long_running_queries", Op: Equal, Number: 0}},
		{in: "db.long_running_queries != 3", want: Expr{Name: "db.long_running_queries", Op: NotEqual, Number: 3}},
		{in: "db.long_running_queries > 2.5", want: Expr{Name: "db.long_running_queries", Op: Greater, Number: 2.5}},

		{in: "", wantErr: `empty gate`},
		{in: "rollout.compete", wantErr: `unknown gate "rollout.compete" (did you mean "rollout.complete"?)`},
		{in: "locks.max_wiat < 30s", wantErr: `unknown gate "locks.max_wiat" (did you mean "locks.max_wait"?)`},
		{in: "weather.sunny", wantErr: `unknown gate "weather.sunny": known gates are rollout.complete,`},
		{in: "locks.max_wait", wantErr: `gate "locks.max_wait" compares a duration: write e.g. "locks.max_wait < 30s"`},
		{in: "db.long_running_queries", wantErr: `gate "db.long_running_queries" compares a number: write e.g. "db.long_running_queries == 0"`},
		{in: "rollout.complete == 1", wantErr: `gate "rollout.complete" is true or false and takes no comparison: write just "rollout.complete"`},
		{in: "locks.max_wait < 30", wantErr: `bad duration "30" in gate "locks.max_wait < 30": add a unit, e.g. 30s`},
		{in: "locks.max_wait < thirty", wantErr: `bad duration "thirty" in gate "locks.max_wait < thirty": write e.g. 30s`},
		{in: "locks.max_wait < -5s", wantErr: `negative duration "-5s"`},
		{in: "locks.max_wait <", wantErr: `gate "locks.max_wait <": missing a value after "<"`},
		{in: "locks.max_wait = 30s", wantErr: `"=" is assignment: compare with ==`},
		{in: "locks.max_wait => 30s", wantErr: `unknown operator "=>": write >=`},
		{in: "locks.max_wait <> 30s", wantErr: `unknown operator "<>"`},
		{in: "locks.max_wait under 30s", wantErr: `expected an operator (< <= > >= == !=) but found "under"`},
		{in: "db.long_running_queries == none", wantErr: `bad number "none"`},
		{in: "!rollout.complete", wantErr: `negation is not supported`},
		{in: "< 30s", wantErr: `does not start with a gate name`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			tt.want.Raw = tt.in
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestExprString(t *testing.T) {
	for in, want := range map[string]string{
		"locks.max_wait<90s":          "locks.max_wait < 1m30s",
		"db.long_running_queries==0":  "db.long_running_queries == 0",
		" rollout.complete ":          "rollout.complete",
		"locks.max_hold <= 2m":        "locks.max_hold <= 2m",
		"locks.root_blocker_age < 1h": "locks.root_blocker_age < 1h",
	} {
		e, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
	}
}

func TestKnownIsConsistent(t *testing.T) {
	sources := map[string]bool{"kubernetes": true, "postgres": true, "jira": true, "sentry": true, "git": true, "migrations": true, "smoke": true}
	seen := map[string]bool{}
	for _, s := range Known {
		if seen[s.Name] {
			t.Errorf("%s listed twice", s.Name)
		}
		seen[s.Name] = true
		if !sources[s.Source] {
			t.Errorf("%s: source %q is not a config section", s.Name, s.Source)
		}
		if s.Doc == "" {
			t.Errorf("%s: no Doc", s.Name)
		}
		if _, ok := Lookup(s.Name); !ok {
			t.Errorf("Lookup(%q) failed", s.Name)
		}
	}
	if len(Known) != 13 {
		t.Errorf("len(Known) = %d, want 13", len(Known))
	}
}

func mustParse(t *testing.T, s string) Expr {
	t.Helper()
	e, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEval(t *testing.T) {
	facts := Facts{
		"rollout.complete":        {Known: true, Bool: false, Detail: "api 4/6 ready"},
		"rollout.no_crashloops":   {Known: true, Bool: true},
		"locks.max_wait":          {Known: true, Duration: 12 * time.Second},
		"locks.max_hold":          {Known: true, Duration: 45 * time.Second, Detail: "pid 4412 on orders"},
		"db.long_running_queries": {Known: true, Number: 0},
		"sentry.no_spike":         {Known: false, Detail: "401 Unauthorized"},
		"jira.columns_clean":      {Known: true, Bool: true, Detail: "42 cards clean"},
	}
	tests := []struct {
		gate   string
		state  State
		value  string
		reason string
	}{
		{"rollout.complete", Fail, "api 4/6 ready", ""},
		{"rollout.no_crashloops", Pass, "true", ""},
		{"jira.columns_clean", Pass, "42 cards clean", ""},
		{"locks.max_wait < 30s", Pass, "12s < 30s", ""},
		{"locks.max_wait < 12s", Fail, "12s, want < 12s", ""},
		{"locks.max_wait <= 12s", Pass, "12s <= 12s", ""},
		{"locks.max_wait > 5s", Pass, "12s > 5s", ""},
		{"locks.max_wait >= 13s", Fail, "12s, want >= 13s", ""},
		{"locks.max_hold < 30s", Fail, "45s, want < 30s (pid 4412 on orders)", ""},
		{"db.long_running_queries == 0", Pass, "0 == 0", ""},
		{"db.long_running_queries != 0", Fail, "0, want != 0", ""},
		{"locks.root_blocker_age < 30s", Unknown, "", "no data from postgres yet"},
		{"sentry.no_spike", Unknown, "", "no data from sentry yet (401 Unauthorized)"},
		{"git.branches_in_sync", Unknown, "", "no data from git yet"},
	}
	for _, tt := range tests {
		t.Run(tt.gate, func(t *testing.T) {
			got := mustParse(t, tt.gate).Eval(facts)
			want := Result{State: tt.state, Value: tt.value, Reason: tt.reason}
			if got != want {
				t.Fatalf("Eval = %+v, want %+v", got, want)
			}
		})
	}
}

func TestEvalNilFacts(t *testing.T) {
	r := mustParse(t, "rollout.complete").Eval(nil)
	if r.State != Unknown || r.Reason != "no data from kubernetes yet" {
		t.Fatalf("Eval(nil) = %+v", r)
	}
}

func TestEvalMalformedExprNeverPasses(t *testing.T) {
	facts := Facts{"locks.max_wait": {Known: true}}
	if r := (Expr{Name: "locks.max_wait"}).Eval(facts); r.State == Pass {
		t.Fatalf("an Expr without operator passed: %+v", r)
	}
	if r := (Expr{Name: "nope"}).Eval(facts); r.State != Unknown {
		t.Fatalf("unknown gate evaluated to %v", r.State)
	}
}

func TestStateString(t *testing.T) {
	if Unknown.String() != "unknown" || Pass.String() != "pass" || Fail.String() != "fail" {
		t.Fatal("State.String")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0s",
		350 * time.Millisecond:                "350ms",
		1234567 * time.Microsecond:            "1.23s",
		12*time.Second + 340*time.Millisecond: "12.3s",
		time.Minute:                           "1m",
		72*time.Second + 400*time.Millisecond: "1m12s",
		2 * time.Hour:                         "2h",
		90 * time.Minute:                      "1h30m",
		-5 * time.Second:                      "-5s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
