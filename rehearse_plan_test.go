package main

import (
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

const planConfig = `
[deploy]
name = "Plan"
environment = "production"

[window]
start = "09:00"
end = "12:00"
timezone = "UTC"

[[phase]]
name = "Main"

[[phase.step]]
id = "main/plan"
title = "Plan"
estimate = "1m"

[[phase.step]]
id = "main/push"
title = "Push"
estimate = "1m"
command = "true"

[[phase]]
name = "Disaster Recovery"
contingency = true

[[phase.step]]
id = "dr/rollback"
title = "Roll back"
estimate = "1m"
command = "true"

[[phase.step]]
id = "dr/alert"
title = "Alert"
estimate = "1m"

[[phase]]
name = "Sandbox drills"
contingency = true

[[phase.step]]
id = "drill/bad"
title = "Ship a bad release"
estimate = "1m"
command = "true"

[rehearsal]
gate_timeout = "30s"
skip = [{ step = "main/plan", reason = "no plan in a rehearsal" }]
`

func TestPlanRehearsal(t *testing.T) {
	cfg, err := config.Parse("plan.toml", []byte(planConfig), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := planRehearsal(cfg, rehearseFlags{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.steps, " ") != "main/plan main/push" || p.gateTimeout != 30*time.Second || p.skips["main/plan"] != "no plan in a rehearsal" {
		t.Errorf("the normal flow alone: %+v", p)
	}

	// Drills run after the normal flow, in the order named: a step by its
	// id, a phase by its name; the flag's skip and timeout win.
	p, err = planRehearsal(cfg, rehearseFlags{gateTimeout: time.Minute, drills: []string{"drill/bad", "disaster recovery", "dr/alert"},
		skips: []string{"main/plan=planned yesterday", "dr/alert = nobody to alert"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.steps, " "); got != "main/plan main/push drill/bad dr/rollback dr/alert" {
		t.Errorf("steps %s", got)
	}
	if p.gateTimeout != time.Minute || p.skips["main/plan"] != "planned yesterday" || p.skips["dr/alert"] != "nobody to alert" {
		t.Errorf("flags over [rehearsal]: %+v", p)
	}
	if p, err := planRehearsal(cfg, rehearseFlags{drills: []string{"sandbox-drills"}}); err != nil || strings.Join(p.steps, " ") != "main/plan main/push drill/bad" {
		t.Errorf("a phase by its slug: %v %v", p.steps, err)
	}

	for _, c := range []struct {
		f    rehearseFlags
		want string
	}{
		{rehearseFlags{drills: []string{"drill/bda"}}, `--drill drill/bda: no contingency step or phase is called that: did you mean "drill/bad"?`},
		{rehearseFlags{drills: []string{"main/push"}}, `"Push" is in "Main", part of the normal flow`},
		{rehearseFlags{skips: []string{"main/pusj=x"}}, `no step has the id "main/pusj": did you mean "main/push"?`},
		{rehearseFlags{skips: []string{"main/push"}}, "a skip needs a reason"},
		{rehearseFlags{skips: []string{"main/push= "}}, "a skip needs a reason"},
		{rehearseFlags{gateTimeout: -time.Second}, "--gate-timeout -1s"},
	} {
		if _, err := planRehearsal(cfg, c.f); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.f, err, c.want)
		}
	}
}
