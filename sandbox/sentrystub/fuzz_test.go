package sentrystub

import (
	"testing"
	"time"
)

// FuzzEnvelope feeds arbitrary bytes through the envelope parser, the event
// decoder and grouping: whatever a client sends, the stand-in must answer
// rather than panic.
func FuzzEnvelope(f *testing.F) {
	f.Add([]byte(`{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"2026-11-22T10:00:00Z"}
{"type":"event","length":78}
{"exception":[{"type":"E","value":"v 12"}],"timestamp":"2026-11-22T09:59:00Z"}
`))
	f.Add([]byte(`{}
{"type":"event"}
{"message":{"formatted":"x","message":"%s"},"user":{"id":7},"tags":[["a","b"]],"timestamp":1795000000.5}
{"type":"attachment","length":3}
abc
`))
	f.Add([]byte(`{"dsn":"http://k@h/1"}
{"type":"event","length":-1}
`))
	f.Add([]byte(`{}
{"type":"event"}
{"exception":{"values":[{"type":1,"value":{"a":1},"stacktrace":{"frames":[{"in_app":true}]}}]},"fingerprint":["{{ default }}","x"],"level":7}
`))
	f.Add([]byte("{}\n{\"type\":\"event\",\"length\":99999999999999999999}\n"))
	s := New(Options{})
	received := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := parseEnvelope(b)
		if err != nil {
			return
		}
		for _, it := range env.items {
			if it.Length != nil && len(it.payload) != *it.Length {
				t.Fatalf("item payload %d bytes, header says %d", len(it.payload), *it.Length)
			}
			if it.Type != "event" {
				continue
			}
			d, err := decodeEvent(it.payload, received)
			if err != nil {
				continue
			}
			if d.at.IsZero() || d.at.After(received.Add(maxFuture)) {
				t.Fatalf("timestamp %v escaped clamping", d.at)
			}
			s.ingest(1, d)
		}
	})
}
