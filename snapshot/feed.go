// Package snapshot holds what the cockpit's views render: one reading of
// each system (a rollout, the database locks, the board, the error rate),
// how healthy its source is, and the pure helpers that judge and word them.
//
// It exists so that the views render these without linking the clients
// that read them: it imports the standard library and the gates and
// nothing else. Package sources fills these types from Kubernetes,
// Postgres, Jira, git and Sentry; package panes draws them.
package snapshot

import "time"

// Update is one reading of a source with its type erased, as it travels
// from the source's supervisor to the TUI.
type Update struct {
	Source string
	Seq    uint64
	At     time.Time // when the data was read (last good read if Err is set)
	Data   any
	Err    error
	// GoodAt is when the last good data was read; zero if there never was any.
	GoodAt time.Time
	// Attempt counts consecutive failures; zero when healthy.
	Attempt int
	// RetryIn is the backoff before the next attempt, when the source failed.
	RetryIn time.Duration
}

// Feed is what a view of one source is shown: the source's last good
// reading, if there was one, and how the source is doing now.
type Feed[T any] struct {
	// Data is the last good reading; when the source is down it is the
	// one before it failed.
	Data T
	// HasData is false until the source has read anything good.
	HasData bool
	Health  Health
	// Reach are the probe answers of a system the cockpit only checks
	// for reachability (no live source); nil otherwise.
	Reach []Reach
	// Now is the cockpit's clock, for the age of what is shown.
	Now time.Time
}
