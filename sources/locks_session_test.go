package sources

import (
	"context"
	"testing"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

// TestProbeSessionIsSafe: the probe's own session cannot write, gives up
// on a statement after 2 s and on a lock after 1 s, and says who it is in
// pg_stat_activity.
func TestProbeSessionIsSafe(t *testing.T) {
	info := sandboxtest.Start(t)
	p := &LockProbe{Target: config.PostgresTarget{Name: "production", DSN: info.PostgresApp}}
	defer p.Close()
	if _, err := p.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"default_transaction_read_only":       "on",
		"statement_timeout":                   "2s",
		"lock_timeout":                        "1s",
		"idle_in_transaction_session_timeout": "5s",
		"application_name":                    "flightdeck",
	}
	for name, v := range want {
		var got string
		if err := p.conn.QueryRow(context.Background(), "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	if _, err := p.conn.Exec(context.Background(), "CREATE TEMP TABLE probe_write_test (x int)"); err == nil {
		t.Error("the probe's session could create a table")
	}
}
