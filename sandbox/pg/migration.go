package pg

import (
	"context"
	"fmt"
)

// MigrationApp is the application_name the migration sets, so the lock
// pane (and a test) can tell it from the workload it blocks.
const MigrationApp = "acme-migrate"

// MigrationVersion is the schema_migrations row the migration records.
const MigrationVersion = 20261122090000

// MigrationSQL is the migration the runbook's dry run exists to catch: it
// takes an ACCESS EXCLUSIVE lock on appointments and keeps it for
// holdSeconds, standing in for a table rewrite (a column type change on a
// big table) that takes that long. Every query on appointments, reads
// included, queues behind it until it commits. Rerunning it is harmless.
// It is plain SQL, so psql -f and RunMigration run the same text.
func MigrationSQL(holdSeconds int) string {
	if holdSeconds < 0 {
		holdSeconds = 0
	}
	return fmt.Sprintf(`-- %[1]d_add_reminder_sent_at_to_appointments
--
-- Takes an ACCESS EXCLUSIVE lock on %[2]s for %[3]d seconds, as a table
-- rewrite of that size would. Every query on %[2]s waits behind it.
-- Run with:  psql -v ON_ERROR_STOP=1 "$DSN" -f migrate.sql
SET application_name = '%[4]s';
BEGIN;
LOCK TABLE %[2]s IN ACCESS EXCLUSIVE MODE;
ALTER TABLE %[2]s ADD COLUMN IF NOT EXISTS reminder_sent_at timestamptz;
SELECT pg_sleep(%[3]d);
INSERT INTO schema_migrations (version) VALUES (%[1]d) ON CONFLICT DO NOTHING;
COMMIT;
`, MigrationVersion, BigTable, holdSeconds, MigrationApp)
}

// RunMigration runs MigrationSQL(holdSeconds) against dsn without psql. It
// returns once the migration has committed. If ctx ends first, the
// statement is cancelled on the server and the transaction rolls back,
// releasing the lock at once rather than when the sleep would have ended.
func RunMigration(ctx context.Context, dsn string, holdSeconds int) error {
	conn, err := connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("run the sandbox migration: %w", err)
	}
	defer closeConn(conn)
	// Without arguments pgx sends the script as one simple-protocol query,
	// which is what psql -f does statement by statement.
	if _, err := conn.Exec(ctx, MigrationSQL(holdSeconds)); err != nil {
		return fmt.Errorf("run the sandbox migration on %s: %w", where(dsn), err)
	}
	return nil
}
