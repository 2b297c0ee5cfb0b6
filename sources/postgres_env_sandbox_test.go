package sources_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/actions"
	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
	"github.com/flightdeckhq/flightdeck/sources"
)

// connectEveryWay signs in to tgt by each of the cockpit's paths: check's
// probe, the locks pane's session and the signal actions' session.
func connectEveryWay(t *testing.T, tgt config.PostgresTarget) map[string]error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := map[string]error{}
	errs["check"] = sources.ProbePostgres(ctx, tgt, nil).Err
	p := &sources.LockProbe{Target: tgt}
	_, errs["locks"] = p.Read(ctx)
	p.Close()
	// A preview of a cancel signs in and lists the target's root blockers
	// (none, for this test's purposes) without signalling anyone.
	_, errs["signal"] = (&actions.PGSignal{Target: tgt}).Preview(ctx)
	if errs["signal"] != nil && strings.Contains(errs["signal"].Error(), "nothing is blocked") {
		errs["signal"] = nil
	}
	return errs
}

// TestPostgresTargetsUseLibpqSources: a target whose DSN and config carry
// no password signs in with PGPASSFILE or PGPASSWORD, and a DSN that names
// only the database takes host, port, user and sslmode from PG* variables,
// on every connect path; with none of them it fails on the password.
func TestPostgresTargetsUseLibpqSources(t *testing.T) {
	info := sandboxtest.Start(t)
	u, err := url.Parse(info.PostgresApp)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	user := u.User.Username()
	u.User = url.User(user)
	noPassword := config.PostgresTarget{Name: "production", DSN: u.String()}
	// Nothing of the machine's own (~/.pgpass, an exported PGPASSWORD) may
	// make the test pass by accident.
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("PGPASSWORD", "")

	t.Run("none", func(t *testing.T) {
		for path, err := range connectEveryWay(t, noPassword) {
			if err == nil || !strings.Contains(err.Error(), "password") {
				t.Errorf("%s: signed in with no password anywhere (%v)", path, err)
			}
		}
	})
	t.Run("PGPASSFILE", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "pgpass")
		line := fmt.Sprintf("%s:%s:*:%s:%s\n", u.Hostname(), u.Port(), user, password)
		if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PGPASSFILE", file)
		for path, err := range connectEveryWay(t, noPassword) {
			if err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
		// A password reference that resolves to nothing does not hide
		// the file.
		empty := noPassword
		empty.Password = config.ResolvedSecret("env:PG_PASSWORD_PRODUCTION", "")
		for path, err := range connectEveryWay(t, empty) {
			if err != nil {
				t.Errorf("%s, empty password secret: %v", path, err)
			}
		}
	})
	t.Run("PGPASSWORD", func(t *testing.T) {
		t.Setenv("PGPASSWORD", password)
		for path, err := range connectEveryWay(t, noPassword) {
			if err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
	})
	t.Run("PG variables", func(t *testing.T) {
		t.Setenv("PGHOST", u.Hostname())
		t.Setenv("PGPORT", u.Port())
		t.Setenv("PGUSER", user)
		t.Setenv("PGSSLMODE", "disable")
		t.Setenv("PGPASSWORD", password)
		tgt := config.PostgresTarget{Name: "production", DSN: "dbname=" + strings.TrimPrefix(u.Path, "/")}
		for path, err := range connectEveryWay(t, tgt) {
			if err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
	})
}
