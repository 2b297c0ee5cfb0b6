// Package journal is the durable record of a deploy.
//
// A journal is an append-only file of JSON Lines stored at
// <stateDir>/<deploy-slug>/<YYYY-MM-DD>.jsonl. Every step change, command
// run and action intent/result is one Record, encoded as a single JSON object
// on a single line terminated by '\n'. Seq numbers run 1, 2, 3, ... in file
// order, times are RFC 3339 in UTC and durations are integer milliseconds.
// Unknown fields are ignored when reading so that files written by a newer
// flightdeck stay readable by an older one. Restarting the cockpit replays the
// file to rebuild the deploy's state.
//
// A rehearsal (flightdeck rehearse) writes a journal of its own per run, at
// <stateDir>/<deploy-slug>/rehearsals/<YYYY-MM-DD>T<HHMMSS>.jsonl, so it
// never resumes nor counts as the day's real deploy.
//
// Crash guarantees:
//
//   - Append returns only after the line has gone to the file in one write
//     and the file has been fsynced. A record that Append acknowledged
//     survives SIGKILL and power loss, as far as the disk honours fsync.
//   - Because records are written whole and one at a time, a crash can at
//     worst leave one incomplete line at the very end: the write that was in
//     flight and never acknowledged. Open detects it, copies the bytes to
//     "<path>.torn-<unixnano>" so nothing is thrown away, truncates the file
//     to the last complete record and reports it in Replay.Torn.
//   - Damage anywhere before the last line cannot come from a crash, so Open
//     refuses the file instead of silently dropping history.
//   - After any failed write or fsync the journal refuses every later Append.
//     After a failed fsync the kernel may already have discarded the dirty
//     pages, so a retry could "succeed" without the data being on disk; and
//     appending after a partial write would bury a recoverable torn tail in
//     the middle of the file.
//   - Only one flightdeck may write a journal at a time: Open takes an
//     exclusive flock, which the kernel releases if the process dies.
//
// Secrets are removed before anything reaches disk via Options.Redact.
package journal
