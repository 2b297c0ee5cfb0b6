package main

import (
	"strings"
	"testing"
	"time"

	"github.com/flightdeckhq/flightdeck/teamlock"
)

// TestWatchingCockpitHearsTheLockChange: a cockpit that opened read-only
// because of a teammate's lease is told when that lease is released,
// lapses or passes to someone else, once each, and never takes it itself.
func TestWatchingCockpitHearsTheLockChange(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 12, 0, 0, time.UTC)
	ana := teamlock.State{Holder: "ana@laptop", Reason: "deploy", Since: at, Renewed: at, Duration: time.Minute}
	for _, c := range []struct {
		name     string
		was, now teamlock.State
		want     string
	}{
		{"renewed", ana, ana, ""},
		{"released", ana, teamlock.State{Released: teamlock.Release{By: "ana@laptop", Reason: "done"}}, "the deploy lock is free (released by ana@laptop): quit and start the cockpit again to drive"},
		{"lapsed", ana, func() teamlock.State { s := ana; s.Expired = true; return s }(), "ana@laptop's lease on the deploy lock lapsed at 09:13: quit and start"},
		{"still lapsed", func() teamlock.State { s := ana; s.Expired = true; return s }(), func() teamlock.State { s := ana; s.Expired = true; return s }(), ""},
		{"taken over", ana, teamlock.State{Holder: "bob@desk", Reason: "deploy", Since: at, Renewed: at, Duration: time.Minute}, "bob@desk"},
	} {
		text, changed := holderNews(c.was, c.now)
		if changed != (c.want != "") || !strings.Contains(text, c.want) {
			t.Errorf("%s: %q (changed %v), want %q", c.name, text, changed, c.want)
		}
	}
}
