package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

const withPostgres = `
[postgres]
[[postgres.target]]
name = "production"
dsn = "host=db dbname=app"
[[postgres.target]]
name = "clone"
dsn = "host=db dbname=clone"
`

func TestMigrationsSection(t *testing.T) {
	cfg, err := Parse("m.toml", []byte(minimal+withPostgres+`
[migrations]
files = ["db/migrations/*.sql"]
`), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Migrations
	if m.Target != "production" || m.LockTimeout.D() != 5*time.Second || m.Poll.D() != 30*time.Second {
		t.Fatalf("defaults: %+v", m)
	}
	for _, c := range []struct{ body, want string }{
		{withPostgres + "[migrations]\ntarget = \"production\"\n", "no migrations to read: neither files nor command is set"},
		{withPostgres + "[migrations]\nfiles = [\"x.sql\"]\ntarget = \"prodution\"\n", `migrations.target: no [[postgres.target]] is named "prodution" (did you mean "production"?)`},
		{"[migrations]\nfiles = [\"x.sql\"]\n", "there is no [postgres] section"},
		{withPostgres + "[migrations]\ncommand = \"dump {{nope}}\"\n", "nope"},
	} {
		_, err := Parse("m.toml", []byte(minimal+c.body), LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: want an error with %q, got %v", c.body, c.want, err)
		}
	}
}

func TestMigrationsGateAndDryRunNeedTheSection(t *testing.T) {
	doc := minimal + withPostgres + `
[[phase.step]]
title = "Pre-flight"
estimate = "1m"
gate = "migrations.safe"

[[phase.step]]
title = "Dry run"
estimate = "1m"
action = "migrations.dry_run"
args = { target = "clone" }
`
	_, err := Parse("m.toml", []byte(doc), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "gate migrations.safe reads from migrations, but there is no [migrations] section") ||
		!strings.Contains(err.Error(), "action migrations.dry_run needs a [migrations] section") {
		t.Fatalf("want both refused without [migrations], got %v", err)
	}
	if _, err := Parse("m.toml", []byte(doc+"\n[migrations]\nfiles = [\"x.sql\"]\n"), LoadOptions{}); err != nil {
		t.Fatalf("with [migrations]: %v", err)
	}
}

func TestRequiresNamesSteps(t *testing.T) {
	doc := minimal + `
[[phase.step]]
id = "main/push"
title = "Push"
estimate = "1m"
requires = ["main/do-it", "main/preflght", "main/push"]
`
	_, err := Parse("r.toml", []byte(doc), LoadOptions{})
	if err == nil {
		t.Fatal("want errors")
	}
	line := lineOf(t, doc, "requires =")
	for _, want := range []string{
		`no step has the id "main/preflght"`,
		`step "main/push" requires itself`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if !strings.Contains(err.Error(), ":"+strconv.Itoa(line)+":") {
		t.Errorf("the errors do not name line %d: %v", line, err)
	}
	if strings.Contains(err.Error(), `"main/do-it"`) {
		t.Errorf("a step that exists was refused: %v", err)
	}
}
