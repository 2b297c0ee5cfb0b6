package tui

import "charm.land/bubbles/v2/key"

// globalKeys work from every pane.
type globalKeys struct {
	Next, Prev, Focus, Zoom, Help, Quit, Dismiss, Rollback, Finish key.Binding
}

func newGlobalKeys() globalKeys {
	return globalKeys{
		Next:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		Prev:    key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),
		Focus:   key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6"), key.WithHelp("1-6", "go to pane")),
		Zoom:    key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "zoom pane")),
		Help:    key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:    key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Dismiss: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "dismiss message")),
		// Handled by the root from any pane; the binding is for help.
		Rollback: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "roll back to last known good")),
		Finish:   key.NewBinding(key.WithKeys("F"), key.WithHelp("F", "finish the deploy now")),
	}
}

func (k globalKeys) short() []key.Binding {
	return []key.Binding{k.Rollback, k.Next, k.Zoom, k.Help, k.Quit}
}

func (k globalKeys) full() []key.Binding {
	return []key.Binding{k.Rollback, k.Finish, k.Next, k.Prev, k.Focus, k.Zoom, k.Help, k.Dismiss, k.Quit}
}
