// Package pg runs the sandbox's Postgres: a real server from the host's
// PostgreSQL packages, initialised and started with initdb and pg_ctl under
// a state directory, holding a small veterinary-practice application
// ("acme") with one big, busy table. It exists so `make demo` and the
// integration tests can show what the runbook fears in a deploy window: a
// migration that takes an ACCESS EXCLUSIVE lock while the application keeps
// issuing queries, every one of which then queues behind it.
//
// The pieces of that story:
//
//   - Up, Stop, Down and Status manage the server. Up is idempotent: it
//     reuses a running server and keeps the data of a stopped one.
//   - Seed creates the application schema and about a million appointments.
//   - RunWorkload (or a Workload, which also counts) plays the application:
//     web and worker connections named acme-web-<n> and acme-worker-<n>.
//   - MigrationSQL and RunMigration are the migration that blocks them; Up
//     also writes it to Dir/postgres/migrate.sql for psql.
//   - CreateClone and CloneName make the dated clone the runbook dry-runs
//     migrations on.
//
// The server runs as an unprivileged OS user, since postgres refuses to run
// as root: "postgres" (created if missing) when the caller is root, else
// the caller. It listens on 127.0.0.1 only.
package pg
