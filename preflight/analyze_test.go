package preflight

import (
	"slices"
	"strings"
	"testing"
)

// sandboxMigration is the sandbox's migration, as its authors wrote it.
const sandboxMigration = `SET lock_timeout = '2s';
ALTER TABLE appointments ADD COLUMN reminder_sent_at timestamptz;
ALTER TABLE appointments ADD COLUMN reminder_token uuid DEFAULT gen_random_uuid();
ALTER TABLE appointments ALTER COLUMN duration_min TYPE integer;
CREATE INDEX appointments_status_idx ON appointments (status);
DROP INDEX appointments_patient_id_idx;
`

// sandboxSafe is the same change written to keep production moving.
const sandboxSafe = `SET lock_timeout = '2s';
ALTER TABLE appointments ADD COLUMN reminder_sent_at timestamptz;
ALTER TABLE appointments ADD COLUMN reminder_token uuid;
ALTER TABLE appointments ALTER COLUMN reminder_token SET DEFAULT gen_random_uuid();
CREATE INDEX CONCURRENTLY appointments_status_idx ON appointments (status);
`

const timeout = "SET lock_timeout = '2s';\n"

func rel(name string, l Lock) Relation { return Relation{Name: name, Lock: l} }
func idx(name string, l Lock) Relation { return Relation{Name: name, Index: true, Lock: l} }
func rels(r ...Relation) []Relation    { return r }
func codes(c ...string) []string       { return c }

type analyzeCase struct {
	name string
	sql  string
	// at is the statement judged, from 1; 0 is the last.
	at                      int
	kind                    string
	rels                    []Relation
	rewrites, scans         bool
	inTx, timeout, newTable bool
	verdict                 Verdict
	codes                   []string
	doc                     string
}

var analyzeCases = []analyzeCase{
	// The sandbox's migration, statement by statement.
	{name: "sandbox SET lock_timeout", sql: sandboxMigration, at: 1, kind: "SET", verdict: OK,
		doc: "postgresql.org/docs/17/sql-set.html: SET changes a run-time parameter; it locks no table"},
	{name: "sandbox ADD COLUMN no default", sql: sandboxMigration, at: 2, kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html: ADD COLUMN takes ACCESS EXCLUSIVE; without a default it changes only the catalog"},
	{name: "sandbox ADD COLUMN volatile default", sql: sandboxMigration, at: 3, kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-altertable.html Notes: adding a column with a volatile DEFAULT rewrites the table and its indexes"},
	{name: "sandbox ALTER COLUMN TYPE", sql: sandboxMigration, at: 4, kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-altertable.html Notes: changing the type of an existing column rewrites the table and its indexes (binary-coercible changes excepted)"},
	{name: "sandbox CREATE INDEX", sql: sandboxMigration, at: 5, kind: "CREATE INDEX",
		rels: rels(rel("appointments", Share)), scans: true, timeout: true, verdict: Block, codes: codes(HazardBlockingIndex),
		doc: "postgresql.org/docs/17/sql-createindex.html: a normal build locks the table against writes (SHARE); explicit-locking.html: SHARE acquired by CREATE INDEX (without CONCURRENTLY)"},
	{name: "sandbox DROP INDEX", sql: sandboxMigration, at: 6, kind: "DROP INDEX",
		rels: rels(idx("appointments_patient_id_idx", AccessExclusive)), timeout: true, verdict: Warn, codes: codes(HazardDropIndex),
		doc: "postgresql.org/docs/17/sql-dropindex.html: a normal DROP INDEX acquires an ACCESS EXCLUSIVE lock on the table; CONCURRENTLY avoids it"},

	// The safe form of the sandbox's migration.
	{name: "safe ADD COLUMN no default", sql: sandboxSafe, at: 3, kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html: a column with no default needs no rewrite"},
	{name: "safe SET DEFAULT volatile", sql: sandboxSafe, at: 4, kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html SET DEFAULT: defaults apply only to subsequent INSERT and UPDATE; existing rows are not changed"},
	{name: "safe CREATE INDEX CONCURRENTLY", sql: sandboxSafe, at: 5, kind: "CREATE INDEX",
		rels: rels(rel("appointments", ShareUpdateExclusive)), scans: true, timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/explicit-locking.html: SHARE UPDATE EXCLUSIVE acquired by CREATE INDEX CONCURRENTLY, which does not block writes"},

	// ADD COLUMN.
	{name: "ADD COLUMN without lock_timeout", sql: "ALTER TABLE appointments ADD COLUMN notes text;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), verdict: Warn, codes: codes(HazardNoLockTimeout),
		doc: "postgresql.org/docs/17/explicit-locking.html: ACCESS EXCLUSIVE conflicts with every mode, and a waiting lock request queues the requests behind it; sql-set / runtime-config-client: lock_timeout bounds that wait"},
	{name: "ADD COLUMN DEFAULT now()", sql: timeout + "ALTER TABLE appointments ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html Notes: a non-volatile DEFAULT is evaluated once and stored in the catalog, no rewrite (Postgres 11 and later)"},
	{name: "ADD COLUMN DEFAULT constant", sql: timeout + "ALTER TABLE appointments ADD COLUMN attempts int NOT NULL DEFAULT 0;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html Notes: a constant default needs no rewrite"},
	{name: "ADD COLUMN bigserial", sql: timeout + "ALTER TABLE appointments ADD COLUMN seq bigserial;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/datatype-numeric.html#DATATYPE-SERIAL: serial is a DEFAULT nextval(), and nextval is volatile; sql-altertable.html Notes: a volatile default rewrites"},
	{name: "ADD COLUMN GENERATED STORED", sql: timeout + "ALTER TABLE appointments ADD COLUMN ends_at timestamptz GENERATED ALWAYS AS (starts_at + interval '30 minutes') STORED;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-altertable.html Notes: adding a stored generated column rewrites the table"},
	{name: "ADD COLUMN identity", sql: timeout + "ALTER TABLE appointments ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-altertable.html Notes: adding an identity column rewrites the table"},
	{name: "ADD COLUMN default of unknown volatility", sql: timeout + "ALTER TABLE appointments ADD COLUMN code text DEFAULT make_code();", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Warn, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-altertable.html Notes: the rewrite depends on whether the default is volatile, which the parse tree cannot tell for a user function"},
	{name: "ADD COLUMN NOT NULL without default", sql: timeout + "ALTER TABLE appointments ADD COLUMN clinic_id bigint NOT NULL;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: Warn, codes: codes(HazardFails),
		doc: "postgresql.org/docs/17/sql-altertable.html: the new column is filled with NULL (no default), which a NOT NULL column refuses"},
	{name: "ADD COLUMN REFERENCES", sql: timeout + "ALTER TABLE appointments ADD COLUMN clinic_id bigint REFERENCES clinics (id);", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive), rel("clinics", ShareRowExclusive)), scans: true, timeout: true, verdict: Block, codes: codes(HazardScan),
		doc: "postgresql.org/docs/17/sql-altertable.html: a foreign key takes SHARE ROW EXCLUSIVE on the referenced table and is checked against every row unless NOT VALID"},

	// ALTER COLUMN.
	{name: "ALTER COLUMN TYPE varchar to text", sql: timeout + "ALTER TABLE patients ALTER COLUMN email TYPE text;", kind: "ALTER TABLE",
		rels: rels(rel("patients", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-altertable.html Notes: a binary-coercible type change skips the rewrite, which only the catalog can tell; judged as a rewrite with that noted"},
	{name: "SET NOT NULL", sql: timeout + "ALTER TABLE appointments ALTER COLUMN status SET NOT NULL;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), scans: true, timeout: true, verdict: Block, codes: codes(HazardScan),
		doc: "postgresql.org/docs/17/sql-altertable.html SET NOT NULL: checked by scanning the entire table unless a valid CHECK constraint proves no NULL"},
	{name: "SET NOT NULL after a validated CHECK", sql: timeout +
		"ALTER TABLE appointments ADD CONSTRAINT appointments_status_nn CHECK (status IS NOT NULL) NOT VALID;\n" +
		"ALTER TABLE appointments VALIDATE CONSTRAINT appointments_status_nn;\n" +
		"ALTER TABLE appointments ALTER COLUMN status SET NOT NULL;\n" +
		"ALTER TABLE appointments DROP CONSTRAINT appointments_status_nn;", at: 4, kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html SET NOT NULL: if a valid CHECK constraint is found which proves no NULL can exist, the table scan is skipped"},
	{name: "VALIDATE CONSTRAINT", sql: "ALTER TABLE appointments VALIDATE CONSTRAINT appointments_status_nn;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", ShareUpdateExclusive)), scans: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html VALIDATE CONSTRAINT: acquires only a SHARE UPDATE EXCLUSIVE lock on the table being altered"},
	{name: "SET STATISTICS", sql: "ALTER TABLE appointments ALTER COLUMN status SET STATISTICS 500;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", ShareUpdateExclusive)), verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html: SET STATISTICS acquires a SHARE UPDATE EXCLUSIVE lock"},
	{name: "strongest subcommand wins", sql: timeout + "ALTER TABLE appointments ALTER COLUMN status SET STATISTICS 500, ADD COLUMN notes text;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html: when multiple subcommands are given, the lock acquired is the strictest one required by any subcommand"},
	{name: "SET fillfactor and autovacuum", sql: "ALTER TABLE appointments SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01);", kind: "ALTER TABLE",
		rels: rels(rel("appointments", ShareUpdateExclusive)), verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html SET ( storage_parameter ): SHARE UPDATE EXCLUSIVE for fillfactor, toast and autovacuum storage parameters"},
	{name: "RESET autovacuum", sql: "ALTER TABLE appointments RESET (autovacuum_enabled);", kind: "ALTER TABLE",
		rels: rels(rel("appointments", ShareUpdateExclusive)), verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html RESET ( storage_parameter ): same lock as SET"},
	{name: "CLUSTER ON", sql: "ALTER TABLE appointments CLUSTER ON appointments_pkey;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", ShareUpdateExclusive)), verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html CLUSTER ON: changing cluster options acquires a SHARE UPDATE EXCLUSIVE lock"},
	{name: "SET WITHOUT CLUSTER", sql: "ALTER TABLE appointments SET WITHOUT CLUSTER;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", ShareUpdateExclusive)), verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html SET WITHOUT CLUSTER: SHARE UPDATE EXCLUSIVE"},
	{name: "DISABLE TRIGGER", sql: timeout + "ALTER TABLE appointments DISABLE TRIGGER appointments_touch;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", ShareRowExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html DISABLE/ENABLE TRIGGER: acquires a SHARE ROW EXCLUSIVE lock"},
	{name: "SET TABLESPACE", sql: timeout + "ALTER TABLE appointments SET TABLESPACE fast_ssd;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-altertable.html SET TABLESPACE: moves the table's data files, under ACCESS EXCLUSIVE"},
	{name: "SET LOGGED", sql: timeout + "ALTER TABLE appointments SET LOGGED;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-altertable.html SET LOGGED/UNLOGGED: changing it rewrites the table"},

	// Constraints.
	{name: "ADD FOREIGN KEY", sql: timeout + "ALTER TABLE appointments ADD CONSTRAINT appointments_patient_fk FOREIGN KEY (patient_id) REFERENCES patients (id);", kind: "ALTER TABLE",
		rels: rels(rel("appointments", ShareRowExclusive), rel("patients", ShareRowExclusive)), scans: true, timeout: true, verdict: Block, codes: codes(HazardScan),
		doc: "postgresql.org/docs/17/sql-altertable.html: ADD FOREIGN KEY requires SHARE ROW EXCLUSIVE on the altered and the referenced table, and scans unless NOT VALID"},
	{name: "ADD FOREIGN KEY NOT VALID", sql: timeout + "ALTER TABLE appointments ADD CONSTRAINT appointments_patient_fk FOREIGN KEY (patient_id) REFERENCES public.patients (id) NOT VALID;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", ShareRowExclusive), rel("public.patients", ShareRowExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html: with NOT VALID the potentially-lengthy initial check is skipped"},
	{name: "ADD CHECK", sql: timeout + "ALTER TABLE appointments ADD CONSTRAINT positive_duration CHECK (duration_min > 0);", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), scans: true, timeout: true, verdict: Block, codes: codes(HazardScan),
		doc: "postgresql.org/docs/17/sql-altertable.html ADD table_constraint: verifies every row unless NOT VALID; ACCESS EXCLUSIVE as no weaker lock is noted"},
	{name: "ADD CHECK NOT VALID", sql: timeout + "ALTER TABLE appointments ADD CONSTRAINT positive_duration CHECK (duration_min > 0) NOT VALID;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html: NOT VALID skips the check of existing rows"},
	{name: "ADD PRIMARY KEY", sql: timeout + "ALTER TABLE appointments ADD PRIMARY KEY (id);", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), scans: true, timeout: true, verdict: Block, codes: codes(HazardScan),
		doc: "postgresql.org/docs/17/sql-altertable.html: ADD PRIMARY KEY builds a unique index under ACCESS EXCLUSIVE; the USING INDEX form with CREATE INDEX CONCURRENTLY avoids it"},
	{name: "ADD UNIQUE USING INDEX", sql: timeout + "ALTER TABLE appointments ADD CONSTRAINT appointments_token_key UNIQUE USING INDEX appointments_token_idx;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html ADD table_constraint_using_index: in all other cases [than a PRIMARY KEY on nullable columns], this is a fast operation"},
	{name: "ADD EXCLUDE", sql: timeout + "ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);", kind: "ALTER TABLE",
		rels: rels(rel("bookings", AccessExclusive)), scans: true, timeout: true, verdict: Block, codes: codes(HazardScan),
		doc: "postgresql.org/docs/17/sql-altertable.html: ADD table_constraint other than FOREIGN KEY takes ACCESS EXCLUSIVE; an exclusion constraint builds its index"},

	// Partitions.
	{name: "ATTACH PARTITION", sql: timeout + "ALTER TABLE measurements ATTACH PARTITION measurements_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');", kind: "ALTER TABLE",
		rels: rels(rel("measurements", ShareUpdateExclusive), rel("measurements_2026", AccessExclusive)), scans: true, timeout: true, verdict: Warn, codes: codes(HazardScan),
		doc: "postgresql.org/docs/17/sql-altertable.html ATTACH PARTITION: SHARE UPDATE EXCLUSIVE on the parent, ACCESS EXCLUSIVE on the table attached, which is scanned unless a CHECK constraint implies the bound"},
	{name: "DETACH PARTITION", sql: timeout + "ALTER TABLE measurements DETACH PARTITION measurements_2020;", kind: "ALTER TABLE",
		rels: rels(rel("measurements", AccessExclusive), rel("measurements_2020", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html DETACH PARTITION: without CONCURRENTLY, ACCESS EXCLUSIVE on the parent"},
	{name: "DETACH PARTITION CONCURRENTLY", sql: timeout + "ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY;", kind: "ALTER TABLE",
		rels: rels(rel("measurements", ShareUpdateExclusive), rel("measurements_2020", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html DETACH PARTITION CONCURRENTLY: SHARE UPDATE EXCLUSIVE on the parent, ACCESS EXCLUSIVE on the partition in its second transaction"},
	{name: "DETACH PARTITION CONCURRENTLY in a block", sql: "BEGIN;\n" + timeout + "ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY;\nCOMMIT;", at: 3, kind: "ALTER TABLE",
		rels: rels(rel("measurements", ShareUpdateExclusive), rel("measurements_2020", AccessExclusive)), inTx: true, timeout: true, verdict: Block, codes: codes(HazardConcurrentInTx),
		doc: "postgresql.org/docs/17/sql-altertable.html: DETACH PARTITION CONCURRENTLY cannot be run in a transaction block"},
	{name: "CREATE TABLE PARTITION OF", sql: "CREATE TABLE measurements_2027 PARTITION OF measurements FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');", kind: "CREATE TABLE",
		rels: rels(rel("measurements_2027", AccessExclusive), rel("measurements", AccessExclusive)), verdict: Warn, codes: codes(HazardNoLockTimeout),
		doc: "postgresql.org/docs/17/ddl-partitioning.html: ATTACH PARTITION needs only SHARE UPDATE EXCLUSIVE on the partitioned table, as opposed to the ACCESS EXCLUSIVE that CREATE TABLE … PARTITION OF requires"},

	// Changes running code depends on.
	{name: "DROP COLUMN", sql: timeout + "ALTER TABLE appointments DROP COLUMN legacy_code;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: Warn, codes: codes(HazardBreaksCode),
		doc: "postgresql.org/docs/17/sql-altertable.html DROP COLUMN: ACCESS EXCLUSIVE; the column disappears for every query at commit"},
	{name: "RENAME COLUMN", sql: timeout + "ALTER TABLE appointments RENAME COLUMN duration_min TO duration_minutes;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: Warn, codes: codes(HazardBreaksCode),
		doc: "postgresql.org/docs/17/sql-altertable.html RENAME: ACCESS EXCLUSIVE; queries using the old name fail"},
	{name: "RENAME CONSTRAINT", sql: timeout + "ALTER TABLE appointments RENAME CONSTRAINT positive_duration TO appointments_duration_check;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html RENAME CONSTRAINT: ACCESS EXCLUSIVE, as no weaker lock is noted; code names constraints rarely"},
	{name: "RENAME TABLE", sql: timeout + "ALTER TABLE appointments RENAME TO visits;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: Warn, codes: codes(HazardBreaksCode),
		doc: "postgresql.org/docs/17/sql-altertable.html RENAME: ACCESS EXCLUSIVE; queries using the old name fail"},
	{name: "DROP TABLE", sql: timeout + "DROP TABLE legacy_reminders;", kind: "DROP TABLE",
		rels: rels(rel("legacy_reminders", AccessExclusive)), timeout: true, verdict: Warn, codes: codes(HazardBreaksCode),
		doc: "postgresql.org/docs/17/explicit-locking.html: ACCESS EXCLUSIVE acquired by DROP TABLE"},
	{name: "TRUNCATE", sql: timeout + "TRUNCATE reminder_queue, reminder_log;", kind: "TRUNCATE",
		rels: rels(rel("reminder_queue", AccessExclusive), rel("reminder_log", AccessExclusive)), timeout: true, verdict: Warn, codes: codes(HazardBreaksCode),
		doc: "postgresql.org/docs/17/sql-truncate.html: TRUNCATE acquires an ACCESS EXCLUSIVE lock on each table it operates on"},

	// Indexes.
	{name: "CREATE INDEX CONCURRENTLY in a block", sql: "BEGIN;\nCREATE UNIQUE INDEX CONCURRENTLY appointments_token_idx ON appointments (reminder_token);\nCOMMIT;", at: 2, kind: "CREATE INDEX",
		rels: rels(rel("appointments", ShareUpdateExclusive)), scans: true, inTx: true, verdict: Block, codes: codes(HazardConcurrentInTx),
		doc: "postgresql.org/docs/17/sql-createindex.html: a regular CREATE INDEX can run in a transaction block, CREATE INDEX CONCURRENTLY cannot"},
	{name: "CREATE INDEX on a table of this migration", sql: "CREATE TABLE reminders (id bigint, due_at timestamptz);\nCREATE INDEX reminders_due_idx ON reminders (due_at);", kind: "CREATE INDEX",
		rels: rels(rel("reminders", Share)), scans: true, newTable: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-createindex.html: SHARE blocks writes, and a table created by the same migration has no writers"},
	{name: "DROP INDEX CONCURRENTLY", sql: "DROP INDEX CONCURRENTLY appointments_patient_id_idx;", kind: "DROP INDEX",
		rels: rels(idx("appointments_patient_id_idx", ShareUpdateExclusive)), verdict: OK,
		doc: "postgresql.org/docs/17/sql-dropindex.html CONCURRENTLY: drops the index without locking out concurrent selects, inserts, updates and deletes"},
	{name: "DROP INDEX CONCURRENTLY in a block", sql: "BEGIN;\nDROP INDEX CONCURRENTLY IF EXISTS public.appointments_patient_id_idx;\nCOMMIT;", at: 2, kind: "DROP INDEX",
		rels: rels(idx("public.appointments_patient_id_idx", ShareUpdateExclusive)), inTx: true, verdict: Block, codes: codes(HazardConcurrentInTx),
		doc: "postgresql.org/docs/17/sql-dropindex.html: DROP INDEX CONCURRENTLY cannot be executed inside a transaction block"},
	{name: "DROP INDEX created by this migration", sql: "CREATE TABLE reminders (id bigint);\nCREATE INDEX reminders_id_idx ON reminders (id);\nDROP INDEX reminders_id_idx;", kind: "DROP INDEX",
		rels: rels(idx("reminders_id_idx", AccessExclusive)), newTable: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-dropindex.html: the lock is on the index's table, here created by the same migration"},
	{name: "REINDEX INDEX", sql: timeout + "REINDEX INDEX appointments_status_idx;", kind: "REINDEX",
		rels: rels(idx("appointments_status_idx", AccessExclusive)), scans: true, timeout: true, verdict: Block, codes: codes(HazardScan),
		doc: "postgresql.org/docs/17/sql-reindex.html: REINDEX locks out writes of the parent table and takes ACCESS EXCLUSIVE on the index, which blocks reads that use it"},
	{name: "REINDEX TABLE CONCURRENTLY", sql: "REINDEX TABLE CONCURRENTLY appointments;", kind: "REINDEX",
		rels: rels(rel("appointments", ShareUpdateExclusive)), scans: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-reindex.html CONCURRENTLY: rebuilds with SHARE UPDATE EXCLUSIVE, without blocking reads or writes"},
	{name: "REINDEX CONCURRENTLY in a block", sql: "BEGIN;\nREINDEX INDEX CONCURRENTLY appointments_status_idx;\nCOMMIT;", at: 2, kind: "REINDEX",
		rels: rels(idx("appointments_status_idx", ShareUpdateExclusive)), scans: true, inTx: true, verdict: Block, codes: codes(HazardConcurrentInTx),
		doc: "postgresql.org/docs/17/sql-reindex.html: REINDEX CONCURRENTLY cannot be executed inside a transaction block"},

	// Maintenance.
	{name: "VACUUM", sql: "VACUUM (ANALYZE) appointments;", kind: "VACUUM",
		rels: rels(rel("appointments", ShareUpdateExclusive)), verdict: OK,
		doc: "postgresql.org/docs/17/explicit-locking.html: SHARE UPDATE EXCLUSIVE acquired by VACUUM (without FULL)"},
	{name: "VACUUM in a block", sql: "BEGIN;\nVACUUM appointments;\nCOMMIT;", at: 2, kind: "VACUUM",
		rels: rels(rel("appointments", ShareUpdateExclusive)), inTx: true, verdict: Block, codes: codes(HazardConcurrentInTx),
		doc: "postgresql.org/docs/17/sql-vacuum.html: VACUUM cannot be executed inside a transaction block"},
	{name: "VACUUM FULL", sql: timeout + "VACUUM FULL appointments;", kind: "VACUUM",
		rels: rels(rel("appointments", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-vacuum.html FULL: rewrites the entire contents of the table into a new disk file; explicit-locking.html: ACCESS EXCLUSIVE"},
	{name: "ANALYZE", sql: "ANALYZE appointments;", kind: "ANALYZE",
		rels: rels(rel("appointments", ShareUpdateExclusive)), verdict: OK,
		doc: "postgresql.org/docs/17/explicit-locking.html: SHARE UPDATE EXCLUSIVE acquired by ANALYZE"},
	{name: "CLUSTER", sql: timeout + "CLUSTER appointments USING appointments_pkey;", kind: "CLUSTER",
		rels: rels(rel("appointments", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-cluster.html: an ACCESS EXCLUSIVE lock is acquired on the table being clustered, which is rewritten"},
	{name: "REFRESH MATERIALIZED VIEW", sql: timeout + "REFRESH MATERIALIZED VIEW daily_load;", kind: "REFRESH MATERIALIZED VIEW",
		rels: rels(rel("daily_load", AccessExclusive)), rewrites: true, scans: true, timeout: true, verdict: Block, codes: codes(HazardRewrite),
		doc: "postgresql.org/docs/17/sql-refreshmaterializedview.html: without CONCURRENTLY the view is replaced under a lock that blocks reads; explicit-locking.html: ACCESS EXCLUSIVE"},
	{name: "REFRESH MATERIALIZED VIEW CONCURRENTLY", sql: timeout + "REFRESH MATERIALIZED VIEW CONCURRENTLY daily_load;", kind: "REFRESH MATERIALIZED VIEW",
		rels: rels(rel("daily_load", Exclusive)), scans: true, timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/explicit-locking.html: EXCLUSIVE acquired by REFRESH MATERIALIZED VIEW CONCURRENTLY, which allows reads"},
	{name: "CREATE TRIGGER", sql: timeout + "CREATE TRIGGER appointments_touch BEFORE UPDATE ON appointments FOR EACH ROW EXECUTE FUNCTION touch();", kind: "CREATE TRIGGER",
		rels: rels(rel("appointments", ShareRowExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/explicit-locking.html: SHARE ROW EXCLUSIVE acquired by CREATE TRIGGER"},

	// LOCK TABLE.
	{name: "LOCK TABLE, held across the block", sql: "BEGIN;\nLOCK TABLE appointments;\nUPDATE appointments SET status = 'moved' WHERE clinic_id = 3;\nINSERT INTO audit (what) VALUES ('move');\nCOMMIT;", at: 2, kind: "LOCK TABLE",
		rels: rels(rel("appointments", AccessExclusive)), inTx: true, verdict: Warn, codes: codes(HazardNoLockTimeout, HazardHeldLong),
		doc: "postgresql.org/docs/17/sql-lock.html: with no mode, ACCESS EXCLUSIVE, held until the transaction ends"},
	{name: "LOCK TABLE IN ROW EXCLUSIVE MODE", sql: "BEGIN;\nLOCK TABLE appointments IN ROW EXCLUSIVE MODE;\nCOMMIT;", at: 2, kind: "LOCK TABLE",
		rels: rels(rel("appointments", RowExclusive)), inTx: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-lock.html: the lock mode named is the one taken"},
	{name: "LOCK TABLE outside a block", sql: timeout + "LOCK TABLE appointments IN SHARE MODE;", kind: "LOCK TABLE",
		rels: rels(rel("appointments", Share)), timeout: true, verdict: Warn, codes: codes(HazardFails),
		doc: "postgresql.org/docs/17/sql-lock.html: LOCK TABLE is useless outside a transaction block; PostgreSQL reports an error if it is used there"},

	// DML.
	{name: "UPDATE without WHERE", sql: "UPDATE appointments SET reminder_sent_at = now();", kind: "UPDATE",
		rels: rels(rel("appointments", RowExclusive)), verdict: Warn, codes: codes(HazardEveryRow),
		doc: "postgresql.org/docs/17/explicit-locking.html: ROW EXCLUSIVE acquired by UPDATE; every row it changes stays locked until commit (13.3.2)"},
	{name: "UPDATE … FROM with WHERE", sql: "UPDATE appointments a SET clinic_id = c.id FROM clinics c WHERE c.code = a.clinic_code AND a.id < 10000;", kind: "UPDATE",
		rels: rels(rel("appointments", RowExclusive), rel("clinics", AccessShare)), verdict: OK,
		doc: "postgresql.org/docs/17/explicit-locking.html: ROW EXCLUSIVE on the table modified, ACCESS SHARE on tables only read"},
	{name: "DELETE without WHERE", sql: "DELETE FROM reminder_queue;", kind: "DELETE",
		rels: rels(rel("reminder_queue", RowExclusive)), verdict: Warn, codes: codes(HazardEveryRow),
		doc: "postgresql.org/docs/17/explicit-locking.html: ROW EXCLUSIVE acquired by DELETE"},
	{name: "INSERT … SELECT", sql: "WITH due AS (SELECT id FROM appointments WHERE starts_at < now() + interval '1 day') INSERT INTO reminder_queue (appointment_id) SELECT id FROM due;", kind: "INSERT",
		rels: rels(rel("reminder_queue", RowExclusive), rel("appointments", AccessShare)), verdict: OK,
		doc: "postgresql.org/docs/17/explicit-locking.html: ROW EXCLUSIVE acquired by INSERT; ACCESS SHARE by reading a table"},
	{name: "SELECT FOR UPDATE", sql: "SELECT id FROM appointments WHERE id = 1 FOR UPDATE;", kind: "SELECT",
		rels: rels(rel("appointments", RowShare)), verdict: OK,
		doc: "postgresql.org/docs/17/explicit-locking.html: ROW SHARE acquired by SELECT … FOR UPDATE"},

	// New tables.
	{name: "CREATE TABLE", sql: "CREATE TABLE reminders (id bigserial PRIMARY KEY, due_at timestamptz NOT NULL);", kind: "CREATE TABLE",
		rels: rels(rel("reminders", AccessExclusive)), newTable: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-createtable.html: a new table; nothing else can hold a lock on it"},
	{name: "CREATE TABLE referencing a table", sql: "CREATE TABLE reminders (id bigint, appointment_id bigint REFERENCES appointments (id));", kind: "CREATE TABLE",
		rels: rels(rel("reminders", AccessExclusive), rel("appointments", ShareRowExclusive)), verdict: Warn, codes: codes(HazardNoLockTimeout),
		doc: "postgresql.org/docs/17/sql-createtable.html REFERENCES: adding a foreign key constraint requires a SHARE ROW EXCLUSIVE lock on the referenced table"},
	{name: "ALTER a table of this migration", sql: "CREATE TABLE reminders (id bigint);\nALTER TABLE reminders ADD COLUMN token uuid DEFAULT gen_random_uuid();", kind: "ALTER TABLE",
		rels: rels(rel("reminders", AccessExclusive)), rewrites: true, scans: true, newTable: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-altertable.html: the rewrite is of a table created by the same migration, which nobody else uses"},
	{name: "CREATE TABLE IF NOT EXISTS may be an old table", sql: "CREATE TABLE IF NOT EXISTS reminders (id bigint);\nCREATE INDEX reminders_id_idx ON reminders (id);", kind: "CREATE INDEX",
		rels: rels(rel("reminders", Share)), scans: true, verdict: Block, codes: codes(HazardBlockingIndex, HazardNoLockTimeout),
		doc: "postgresql.org/docs/17/sql-createtable.html IF NOT EXISTS: no error if a relation with the same name already exists, and no guarantee it is anything like the one that would have been created"},
	{name: "DROP a table of this migration", sql: "CREATE TABLE scratch (id int);\nDROP TABLE scratch;", kind: "DROP TABLE",
		rels: rels(rel("scratch", AccessExclusive)), newTable: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-droptable.html: no running code uses a table created by the same migration"},

	// Sessions: transaction blocks and lock_timeout.
	{name: "BEGIN", sql: "BEGIN;\nCOMMIT;", at: 1, kind: "BEGIN", verdict: OK,
		doc: "postgresql.org/docs/17/sql-begin.html: starts a transaction block; locks nothing"},
	{name: "COMMIT ends the block", sql: "BEGIN;\nCOMMIT;", kind: "COMMIT", inTx: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-commit.html: commits the current transaction; its locks are released"},
	{name: "SET lock_timeout TO milliseconds", sql: "SET lock_timeout TO 2000;\nALTER TABLE appointments ADD COLUMN notes text;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/runtime-config-client.html lock_timeout: a value without units is taken as milliseconds"},
	{name: "SET SESSION lock_timeout", sql: "SET SESSION lock_timeout = '1s';\nALTER TABLE appointments ADD COLUMN notes text;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-set.html SESSION: the default, the setting lasts for the session"},
	{name: "lock_timeout = 0 turns it off", sql: timeout + "SET lock_timeout = 0;\nALTER TABLE appointments ADD COLUMN notes text;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), verdict: Warn, codes: codes(HazardNoLockTimeout),
		doc: "postgresql.org/docs/17/runtime-config-client.html lock_timeout: a value of zero (the default) turns this off"},
	{name: "RESET lock_timeout", sql: timeout + "RESET lock_timeout;\nALTER TABLE appointments ADD COLUMN notes text;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), verdict: Warn, codes: codes(HazardNoLockTimeout),
		doc: "postgresql.org/docs/17/sql-reset.html: restores the default value, 0 for lock_timeout"},
	{name: "SET LOCAL ends with the block", sql: "BEGIN;\nSET LOCAL lock_timeout = '2s';\nALTER TABLE appointments ADD COLUMN notes text;\nCOMMIT;\nALTER TABLE appointments ADD COLUMN more text;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), verdict: Warn, codes: codes(HazardNoLockTimeout),
		doc: "postgresql.org/docs/17/sql-set.html LOCAL: the effect lasts only until the end of the current transaction"},
	{name: "SET LOCAL inside the block", sql: "BEGIN;\nSET LOCAL lock_timeout = '2s';\nALTER TABLE appointments ADD COLUMN notes text;\nCOMMIT;", at: 3, kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), inTx: true, timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-set.html LOCAL: in force for the rest of the transaction"},
	{name: "SET LOCAL outside a block", sql: "SET LOCAL lock_timeout = '2s';", kind: "SET", verdict: Warn, codes: codes(HazardNoEffect),
		doc: "postgresql.org/docs/17/sql-set.html: SET LOCAL outside a transaction block emits a warning and otherwise has no effect"},
	{name: "ROLLBACK undoes SET", sql: "BEGIN;\n" + timeout + "ROLLBACK;\nALTER TABLE appointments ADD COLUMN notes text;", kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), verdict: Warn, codes: codes(HazardNoLockTimeout),
		doc: "postgresql.org/docs/17/sql-set.html: if SET is issued within a transaction that is later aborted, its effects disappear"},
	{name: "ACCESS EXCLUSIVE held until COMMIT", sql: "BEGIN;\n" + timeout + "ALTER TABLE appointments ADD COLUMN notes text;\nUPDATE clinics SET open = true WHERE id = 3;\nINSERT INTO audit (what) VALUES ('notes');\nCOMMIT;", at: 3, kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), inTx: true, timeout: true, verdict: Warn, codes: codes(HazardHeldLong),
		doc: "postgresql.org/docs/17/explicit-locking.html: once acquired, a lock is normally held until the end of the transaction"},
	{name: "ACCESS EXCLUSIVE right before COMMIT", sql: "BEGIN;\n" + timeout + "UPDATE clinics SET open = true WHERE id = 3;\nALTER TABLE appointments ADD COLUMN notes text;\nCOMMIT;", at: 4, kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), inTx: true, timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/explicit-locking.html: held until the end of the transaction, which comes next"},
	{name: "a lock the block already holds is not awaited again", sql: "BEGIN;\nLOCK TABLE appointments;\nALTER TABLE appointments ADD COLUMN notes text;\nCOMMIT;", at: 3, kind: "ALTER TABLE",
		rels: rels(rel("appointments", AccessExclusive)), inTx: true, verdict: OK,
		doc: "postgresql.org/docs/17/explicit-locking.html: a transaction never conflicts with itself"},

	// Other statements.
	{name: "DO block", sql: "DO $$ BEGIN PERFORM 1; END $$;", kind: "DO", verdict: Warn, codes: codes(HazardUnclassified),
		doc: "postgresql.org/docs/17/sql-do.html: runs arbitrary procedural code, whose locks the parse tree does not show"},
	{name: "CREATE FUNCTION", sql: "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;", kind: "CREATE FUNCTION", verdict: OK,
		doc: "postgresql.org/docs/17/sql-createfunction.html: a catalog entry; no table is locked"},
	{name: "COMMENT ON COLUMN", sql: "COMMENT ON COLUMN appointments.reminder_token IS 'sent in the reminder link';", kind: "COMMENT",
		rels: rels(rel("appointments", ShareUpdateExclusive)), verdict: OK,
		doc: "postgresql.org/docs/17/sql-comment.html; src/backend/commands/comment.c takes SHARE UPDATE EXCLUSIVE on the object's relation"},
	{name: "GRANT", sql: "GRANT SELECT ON appointments TO reporting;", kind: "GRANT", verdict: OK,
		doc: "postgresql.org/docs/17/sql-grant.html: changes privileges in the catalog"},
	{name: "schema-qualified and quoted names", sql: timeout + `ALTER TABLE public."Appointments" ADD COLUMN notes text;`, kind: "ALTER TABLE",
		rels: rels(rel(`public."Appointments"`, AccessExclusive)), timeout: true, verdict: OK,
		doc: "postgresql.org/docs/17/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS: quoted identifiers keep their case"},
}

func TestAnalyzeCases(t *testing.T) {
	if len(analyzeCases) < 40 {
		t.Fatalf("%d cases", len(analyzeCases))
	}
	for _, c := range analyzeCases {
		t.Run(c.name, func(t *testing.T) {
			if c.doc == "" {
				t.Error("no doc")
			}
			stmts, err := Parse("db/migrate/20260101_reminders.sql", c.sql)
			if err != nil {
				t.Fatal(err)
			}
			all := Analyze(stmts)
			if len(all) != len(stmts) {
				t.Fatalf("%d analyses of %d statements", len(all), len(stmts))
			}
			at := len(all) - 1
			if c.at > 0 {
				at = c.at - 1
			}
			a := all[at]
			if a.Statement != stmts[at] {
				t.Errorf("statement %+v, want %+v", a.Statement, stmts[at])
			}
			var got []string
			for _, h := range a.Hazards {
				got = append(got, h.Code)
			}
			if a.Kind != c.kind || !slices.Equal(a.Relations, c.rels) || a.Rewrites != c.rewrites || a.Scans != c.scans ||
				a.InTransaction != c.inTx || a.LockTimeout != c.timeout || a.NewTable != c.newTable ||
				a.Verdict() != c.verdict || !slices.Equal(got, c.codes) {
				t.Errorf("%q\n got kind=%q rels=%v rewrites=%v scans=%v tx=%v timeout=%v new=%v verdict=%v codes=%v\nwant kind=%q rels=%v rewrites=%v scans=%v tx=%v timeout=%v new=%v verdict=%v codes=%v",
					a.SQL, a.Kind, a.Relations, a.Rewrites, a.Scans, a.InTransaction, a.LockTimeout, a.NewTable, a.Verdict(), got,
					c.kind, c.rels, c.rewrites, c.scans, c.inTx, c.timeout, c.newTable, c.verdict, c.codes)
				for _, h := range a.Hazards {
					t.Logf("%s: %s — %s", h.Code, h.Reason, h.Fix)
				}
			}
			checkHazards(t, a)
		})
	}
}

// checkHazards: a reason names what it is about, and a fix is given where
// a safe form exists.
func checkHazards(t *testing.T, a Analysis) {
	t.Helper()
	for _, h := range a.Hazards {
		if h.Reason == "" || strings.HasSuffix(h.Reason, ".") {
			t.Errorf("%s: reason %q", h.Code, h.Reason)
		}
		named := len(a.Relations) == 0
		for _, r := range a.Relations {
			named = named || strings.Contains(h.Reason, r.Name)
		}
		if !named {
			t.Errorf("%s: reason %q names none of %v", h.Code, h.Reason, a.Relations)
		}
		switch h.Code {
		case HazardBlockingIndex, HazardDropIndex, HazardNoLockTimeout, HazardConcurrentInTx,
			HazardEveryRow, HazardHeldLong, HazardScan, HazardNoEffect, HazardFails:
			if h.Fix == "" {
				t.Errorf("%s: no fix", h.Code)
			}
		}
	}
}

func TestSandboxFixes(t *testing.T) {
	stmts, err := Parse("migrate.sql", sandboxMigration)
	if err != nil {
		t.Fatal(err)
	}
	all := Analyze(stmts)
	want := map[int]string{
		2: "ALTER TABLE appointments ADD COLUMN reminder_token uuid; ALTER TABLE appointments ALTER COLUMN reminder_token SET DEFAULT gen_random_uuid(); then UPDATE appointments SET reminder_token = gen_random_uuid() WHERE reminder_token IS NULL",
		3: "ALTER TABLE appointments ADD COLUMN duration_min_new int;",
		4: "CREATE INDEX CONCURRENTLY appointments_status_idx ON appointments (status); — outside a transaction block",
		5: "DROP INDEX CONCURRENTLY appointments_patient_id_idx; — outside a transaction block",
	}
	for i, fix := range want {
		if h := all[i].Hazards; len(h) == 0 || !strings.Contains(h[0].Fix, fix) {
			t.Errorf("%s: fix %+v, want it to hold %q", all[i].Where(), h, fix)
		}
	}
	if r := all[3].Hazards[0].Reason; !strings.Contains(r, "varchar(n) to text") {
		t.Errorf("ALTER TYPE reason %q does not say binary-coercible changes skip the rewrite", r)
	}

	stmts, err = Parse("migrate.sql", sandboxSafe)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range Analyze(stmts) {
		if v := a.Verdict(); v != OK && v != Warn {
			t.Errorf("%s %q: %v %+v", a.Where(), a.SQL, v, a.Hazards)
		}
	}
}

// A fix is SQL the parser reads, and what it proposes is judged safe.
func TestFixesAreSafe(t *testing.T) {
	for _, sql := range []string{
		"ALTER TABLE appointments ALTER COLUMN status SET NOT NULL",
		"ALTER TABLE appointments ADD FOREIGN KEY (patient_id) REFERENCES patients (id)",
		"ALTER TABLE appointments ADD CONSTRAINT positive CHECK (duration_min > 0)",
	} {
		all := Analyze([]Statement{{File: "m.sql", Line: 1, SQL: sql}})
		fix := all[0].Hazards[0].Fix
		fix = strings.ReplaceAll(fix, "; then, in its own statement, ", "; ")
		stmts, err := Parse("fix.sql", timeout+fix)
		if err != nil {
			t.Fatalf("%q: fix %q: %v", sql, fix, err)
		}
		for _, a := range Analyze(stmts) {
			if a.Verdict() != OK {
				t.Errorf("%q: fix statement %q is %v: %+v", sql, a.SQL, a.Verdict(), a.Hazards)
			}
		}
	}
}

// Each file is a session of its own: what one file set or opened is gone
// in the next.
func TestAnalyzeFileIsASession(t *testing.T) {
	stmts := []Statement{
		{File: "001.sql", Line: 1, SQL: "SET lock_timeout = '2s'"},
		{File: "001.sql", Line: 2, SQL: "BEGIN"},
		{File: "001.sql", Line: 3, SQL: "CREATE TABLE reminders (id bigint)"},
		{File: "002.sql", Line: 1, SQL: "ALTER TABLE reminders ADD COLUMN due_at timestamptz"},
	}
	a := Analyze(stmts)[3]
	if a.LockTimeout || a.InTransaction || a.NewTable {
		t.Errorf("state leaked into the next file: %+v", a)
	}
	if got := a.Verdict(); got != Warn || a.Hazards[0].Code != HazardNoLockTimeout {
		t.Errorf("verdict %v %+v, want warn %s", got, a.Hazards, HazardNoLockTimeout)
	}
}

func TestAnalyzeUnparsable(t *testing.T) {
	a := Analyze([]Statement{{File: "command", Line: 1, SQL: "ALTER TABL x"}})[0]
	if a.Verdict() != Warn || len(a.Hazards) != 1 || a.Hazards[0].Code != HazardUnclassified {
		t.Errorf("%+v", a)
	}
}

func TestVerdictOfNoHazards(t *testing.T) {
	if v := (Analysis{}).Verdict(); v != OK {
		t.Errorf("no hazards: %v, want ok", v)
	}
	a := Analysis{Hazards: []Hazard{{Verdict: Warn}, {Verdict: Block}, {Verdict: OK}}}
	if v := a.Verdict(); v != Block {
		t.Errorf("worst of warn, block, ok: %v", v)
	}
}

// TestLockConflicts checks Lock.Conflicts against Table 13.2 "Conflicting
// Lock Modes" (postgresql.org/docs/17/explicit-locking.html), written as
// the documentation draws it: a row per requested mode, a column per
// existing mode, X where they conflict.
func TestLockConflicts(t *testing.T) {
	modes := []Lock{AccessShare, RowShare, RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive}
	table := []string{
		//          AS RS RE SUE S SRE E AE
		"ACCESS SHARE           . . . . . . . X",
		"ROW SHARE              . . . . . . X X",
		"ROW EXCLUSIVE          . . . . X X X X",
		"SHARE UPDATE EXCLUSIVE . . . X X X X X",
		"SHARE                  . . X X . X X X",
		"SHARE ROW EXCLUSIVE    . . X X X X X X",
		"EXCLUSIVE              . X X X X X X X",
		"ACCESS EXCLUSIVE       X X X X X X X X",
	}
	pairs := 0
	for i, row := range table {
		marks := strings.Fields(row)[len(strings.Fields(row))-8:]
		if name := strings.TrimSpace(row[:23]); name != modes[i].String() {
			t.Fatalf("row %d is %q, want %q", i, name, modes[i])
		}
		for k, m := range marks {
			pairs++
			want := m == "X"
			if got := modes[i].Conflicts(modes[k]); got != want {
				t.Errorf("%v.Conflicts(%v) = %v, want %v", modes[i], modes[k], got, want)
			}
		}
	}
	if pairs != 64 {
		t.Fatalf("%d pairs", pairs)
	}
	if NoLock.Conflicts(AccessExclusive) || AccessExclusive.Conflicts(NoLock) {
		t.Error("NoLock conflicts with something")
	}
}

func BenchmarkAnalyze(b *testing.B) {
	kinds := []string{
		"SET lock_timeout = '2s';",
		"ALTER TABLE appointments ADD COLUMN c%d timestamptz;",
		"ALTER TABLE appointments ADD COLUMN t%d uuid DEFAULT gen_random_uuid();",
		"CREATE INDEX CONCURRENTLY i%d ON appointments (status, starts_at);",
		"UPDATE appointments SET status = 'done' WHERE id BETWEEN 1 AND 5000;",
		"BEGIN;",
		"ALTER TABLE patients ALTER COLUMN email SET NOT NULL;",
		"COMMIT;",
		"CREATE TABLE r%d (id bigint PRIMARY KEY, appointment_id bigint REFERENCES appointments (id));",
		"DROP INDEX appointments_patient_id_idx;",
	}
	var b2 strings.Builder
	for i := 0; i < 200; i++ {
		k := kinds[i%len(kinds)]
		if strings.Contains(k, "%d") {
			k = strings.Replace(k, "%d", itoa(i), 1)
		}
		b2.WriteString("-- step\n" + k + "\n")
	}
	src := b2.String()
	b.ReportAllocs()
	for b.Loop() {
		stmts, err := Parse("bench.sql", src)
		if err != nil || len(stmts) != 200 {
			b.Fatal(len(stmts), err)
		}
		Analyze(stmts)
	}
}
