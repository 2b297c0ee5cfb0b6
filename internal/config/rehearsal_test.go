package config

import (
	"testing"
	"time"
)

func TestRehearsalErrors(t *testing.T) {
	doc := minimal + `
[rehearsal]
gate_timeout = "0s" # TIMEOUT
history = 0 # HISTORY
skip = [
  { step = "main/do-it", reason = "known red" },
  { step = "main/do-itt", reason = "typo" }, # TYPO
  { step = "main/do-it", reason = "again" }, # TWICE
  { step = "main/do-it" }, # NOREASON
]
`
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "rehearsal.gate_timeout", lineOf(t, doc, "# TIMEOUT"), "gate_timeout must be more than 0")
	wantErr(t, errs, "rehearsal.history", lineOf(t, doc, "# HISTORY"), "history must be from 1 to 100 runs, not 0")
	wantErr(t, errs, "rehearsal.skip[1].step", lineOf(t, doc, "# TYPO"), `no step has the id "main/do-itt"`, `did you mean "main/do-it"?`)
	wantErr(t, errs, "rehearsal.skip[2].step", lineOf(t, doc, "# TWICE"), `"main/do-it" is skipped twice`)
	wantErr(t, errs, "rehearsal.skip[3].reason", lineOf(t, doc, "# NOREASON"), `missing required key "reason"`)

	doc = minimal + "\n[rehearsal]\ngate_timout = \"1m\" # MISSPELT\n"
	errs = parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "rehearsal.gate_timout", lineOf(t, doc, "# MISSPELT"), "unknown key", `did you mean "gate_timeout"?`)
}

func TestRehearsalDefaults(t *testing.T) {
	c := mustParse(t, minimal, LoadOptions{})
	if r := c.RehearsalOrDefault(); r.GateTimeout.D() != 2*time.Minute || r.History != 5 || len(r.Skip) != 0 {
		t.Errorf("without [rehearsal]: %+v", r)
	}
	c = mustParse(t, minimal+"\n[[rehearsal.skip]]\nstep = \"main/do-it\"\nreason = \"nothing to do in a rehearsal\"\n", LoadOptions{})
	r := c.RehearsalOrDefault()
	if r.GateTimeout.D() != 2*time.Minute || r.History != 5 || len(r.Skip) != 1 || r.Skip[0].Reason != "nothing to do in a rehearsal" {
		t.Errorf("[rehearsal] with only a skip: %+v", r)
	}
}
