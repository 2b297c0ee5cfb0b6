package sources

import (
	"encoding/json"
	"testing"
)

// TestJiraTextCannotDriveTheTerminal: a summary or a name with escape
// sequences and line breaks arrives as one printable line.
func TestJiraTextCannotDriveTheTerminal(t *testing.T) {
	fm := map[string]json.RawMessage{
		"summary":  json.RawMessage(`"Fix\u001b[2J login\nnow"`),
		"status":   json.RawMessage(`{"id":"3","name":"In\u0007 Progress"}`),
		"assignee": json.RawMessage(`{"displayName":"Ana\u001b]0;owned\u0007"}`),
	}
	is, err := decodeJiraFields("ACME-1", fm, JiraFields{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{is.Summary, is.Status, is.Assignee} {
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("%q keeps a control character", s)
			}
		}
	}
}
