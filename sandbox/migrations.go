package sandbox

import (
	"os"
	"path/filepath"
)

// The sandbox's pending migrations: what the runbook's pre-flight judges
// and its dry run measures on the clone. Up writes both forms afresh, so
// the demo always starts from the hazardous one.
const (
	MigrationsDir     = "migrations"
	SafeMigrationsDir = "migrations-safe"
	PendingMigration  = "20261203090000_appointment_reminders.sql"
)

// PendingMigrationSQL has four hazards on the million-row appointments,
// each of which the pre-flight must flag, and two safe statements. IF
// [NOT] EXISTS makes a second dry run on the same clone harmless.
const PendingMigrationSQL = `-- Reminders for upcoming appointments.
SET lock_timeout = '2s';
ALTER TABLE appointments ADD COLUMN IF NOT EXISTS reminder_sent_at timestamptz;

-- A token per appointment for the reminder link.
ALTER TABLE appointments ADD COLUMN IF NOT EXISTS reminder_token uuid DEFAULT gen_random_uuid();

-- Appointments longer than 9 hours for boarding.
ALTER TABLE appointments ALTER COLUMN duration_min TYPE integer;

-- The reminder job looks appointments up by status.
CREATE INDEX IF NOT EXISTS appointments_status_idx ON appointments (status);

-- "Unused": patient pages go through the clinic index now.
DROP INDEX IF EXISTS appointments_patient_id_idx;
`

// SafeMigrationSQL is the same change written to keep production serving:
// the column without a volatile default (backfilled in batches by the
// application, the default set after), the index built CONCURRENTLY, the
// type change and the drop left for a migration of their own.
const SafeMigrationSQL = `-- Reminders for upcoming appointments, the safe way.
SET lock_timeout = '2s';
ALTER TABLE appointments ADD COLUMN IF NOT EXISTS reminder_sent_at timestamptz;
ALTER TABLE appointments ADD COLUMN IF NOT EXISTS reminder_token uuid;
ALTER TABLE appointments ALTER COLUMN reminder_token SET DEFAULT gen_random_uuid();
CREATE INDEX CONCURRENTLY IF NOT EXISTS appointments_status_idx ON appointments (status);
`

// writeMigrations puts the pending migration where [migrations] files
// finds it, and its safe form beside it for the demo to copy over.
func writeMigrations(dir string) error {
	for _, m := range []struct{ sub, sql string }{{MigrationsDir, PendingMigrationSQL}, {SafeMigrationsDir, SafeMigrationSQL}} {
		d := filepath.Join(dir, m.sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, PendingMigration), []byte(m.sql), 0o644); err != nil {
			return err
		}
	}
	return nil
}
