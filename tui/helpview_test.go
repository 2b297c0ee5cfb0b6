package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

func helpKeyPress(m *Model, s string) {
	var k tea.KeyPressMsg
	switch s {
	case "up":
		k = tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		k = tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgup":
		k = tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		k = tea.KeyPressMsg{Code: tea.KeyPgDown}
	default:
		k = tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
	}
	m.Update(k)
}

// TestHelpFollowsFocus: the focused pane's keys come first, then the ones
// that work everywhere, then the other panes'.
func TestHelpFollowsFocus(t *testing.T) {
	m := huddleModel(t, false, 200, 80)
	for _, c := range []struct {
		key, first string
	}{{"1", "1 Checklist"}, {"3", "3 DB locks"}, {"4", "4 Jira"}} {
		helpKeyPress(m, c.key)
		helpKeyPress(m, "?")
		out := ansi.Strip(strings.Join(m.helpBox(m.width, m.height), "\n"))
		first, every := strings.Index(out, c.first), strings.Index(out, "Everywhere")
		if first < 0 || every < 0 || first > every {
			t.Fatalf("focus %s: want %q before Everywhere:\n%s", c.key, c.first, out)
		}
		for _, other := range []string{"1 Checklist", "2 Rollout", "3 DB locks", "4 Jira", "5 Errors", "6 Output"} {
			if i := strings.Index(out, other); other != c.first && i >= 0 && i < every {
				t.Fatalf("focus %s: %q is before Everywhere:\n%s", c.key, other, out)
			}
		}
		helpKeyPress(m, "x")
		if m.mode != modeNormal {
			t.Fatal("a key that does not scroll must close the help")
		}
	}
}

// TestHelpScrolls: at 80×24 the help is longer than the screen; the
// scroll keys page through all of it and mark what is above and below.
func TestHelpScrolls(t *testing.T) {
	m := huddleModel(t, false, 80, 24)
	helpKeyPress(m, "?")
	p := m.helpPage(80, 24)
	if p.rows == 0 {
		t.Fatal("the help fits 80×24; this test needs it not to")
	}
	seen := map[string]bool{}
	look := func() string {
		box := m.helpBox(80, 24)
		for _, l := range box {
			seen[strings.TrimSpace(strings.Trim(ansi.Strip(l), "│"))] = true
		}
		return ansi.Strip(strings.Join(box, "\n"))
	}
	out := look()
	if strings.Contains(out, "↑ more") || !strings.Contains(out, "↓ more") {
		t.Fatalf("first page:\n%s", out)
	}
	for i := 0; i < len(p.lines); i++ {
		helpKeyPress(m, "j")
		look()
	}
	if m.helpOff != p.maxOff() {
		t.Fatalf("j past the end: offset %d, want %d", m.helpOff, p.maxOff())
	}
	if out := look(); !strings.Contains(out, "↑ more") || strings.Contains(out, "↓ more") {
		t.Fatalf("last page:\n%s", out)
	}
	for _, l := range p.lines {
		if l := strings.TrimSpace(ansi.Strip(l)); l != "" && !seen[l] {
			t.Errorf("never shown: %q", l)
		}
	}
	helpKeyPress(m, "pgup")
	if off := m.helpOff; off >= p.maxOff() || off < 0 {
		t.Fatalf("pgup: offset %d", off)
	}
	for i := 0; i < len(p.lines); i++ {
		helpKeyPress(m, "up")
		helpKeyPress(m, "k")
	}
	if m.helpOff != 0 || m.mode != modeHelp {
		t.Fatalf("up and k to the top: offset %d mode %d", m.helpOff, m.mode)
	}
	helpKeyPress(m, "pgdown")
	helpKeyPress(m, "down")
	if m.helpOff == 0 {
		t.Fatal("pgdown and down did not scroll")
	}
	helpKeyPress(m, "?")
	helpKeyPress(m, "?")
	if m.mode != modeHelp || m.helpOff != 0 {
		t.Fatalf("help opened again: mode %d offset %d, want it at the top", m.mode, m.helpOff)
	}
}

// TestHelpGolden: the help's first page at a huddle's 80×24, without colour.
func TestHelpGolden(t *testing.T) {
	m := huddleModel(t, false, 80, 24)
	helpKeyPress(m, "?")
	golden.RequireEqual(t, strings.Join(m.helpBox(80, 24), "\n")+"\n")
}

// TestScrolledHelpFillsTheTerminal: scrolled to its end, the help still
// leaves the frame exactly the terminal's size.
func TestScrolledHelpFillsTheTerminal(t *testing.T) {
	for _, sz := range [][2]int{{60, 15}, {80, 24}, {100, 30}, {149, 45}, {200, 60}} {
		w, h := sz[0], sz[1]
		for _, ro := range []bool{false, true} {
			m := huddleModel(t, ro, w, h)
			helpKeyPress(m, "?")
			for i := 0; i < 100; i++ {
				helpKeyPress(m, "pgdown")
			}
			if m.mode != modeHelp {
				t.Fatalf("%dx%d: pgdown closed the help", w, h)
			}
			lines := strings.Split(m.Render(), "\n")
			if len(lines) != h {
				t.Fatalf("%dx%d: %d lines", w, h, len(lines))
			}
			for i, l := range lines {
				if lw := ansi.StringWidth(l); lw != w {
					t.Fatalf("%dx%d: line %d is %d wide: %q", w, h, i, lw, ansi.Strip(l))
				}
			}
		}
	}
}
