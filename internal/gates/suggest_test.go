package gates

import "testing"

func TestSuggest(t *testing.T) {
	keys := []string{"id", "title", "estimate", "notes", "command", "timeout", "workdir", "gate", "action", "args"}
	tests := []struct {
		word string
		cand []string
		want string
	}{
		{"estimat", keys, "estimate"},
		{"estiamte", keys, "estimate"},
		{"Estimate", keys, "estimate"},
		{"titel", keys, "title"},
		{"comand", keys, "command"},
		{"gates", keys, "gate"},
		{"xyz", keys, ""},
		{"completely_unrelated", keys, ""},
		{"estimate", keys, ""}, // exact: nothing to suggest
		{"dat", []string{"date", "deploy", "env", "release"}, "date"},
		{"kubernets", []string{"kubernetes", "postgres", "jira"}, "kubernetes"},
		{"ab", []string{"id"}, ""},
		{"", keys, ""},
		{"x", nil, ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.word, tt.cand); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}
