package journal

import (
	"bytes"
	"encoding/json"
)

// redactData removes secrets from Data and returns it compacted, as the
// encoder will write it, so that Append returns exactly what replays.
// Invalid JSON is returned as is for Append to reject.
//
// Redacting the raw text alone is not enough: encoding/json escapes '&', '<',
// '>', quotes, backslashes and control characters, so a secret such as
// "p&ss" sits in Data as "p\u0026ss" and a text replace never sees it. String
// values and keys are therefore redacted after decoding too.
func redactData(data json.RawMessage, redact func(string) string) json.RawMessage {
	if len(data) == 0 {
		return nil
	}
	out := []byte(data)
	if redact != nil {
		if v, ok := decodeAll(out); ok {
			changed := false
			v = redactValue(v, redact, &changed)
			if changed {
				if b, err := encodeCompact(v); err == nil {
					out = b
				}
			}
		}
		out = []byte(redact(string(out)))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return append(json.RawMessage(nil), out...)
	}
	if buf.String() == "null" {
		// Nothing to record; writing "data":null would replay differently.
		return nil
	}
	return json.RawMessage(buf.Bytes())
}

func decodeAll(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep numbers exactly as written
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false // trailing data: leave it to the text pass
	}
	return v, true
}

func redactValue(v any, redact func(string) string, changed *bool) any {
	switch v := v.(type) {
	case string:
		r := redact(v)
		if r != v {
			*changed = true
		}
		return r
	case []any:
		for i := range v {
			v[i] = redactValue(v[i], redact, changed)
		}
		return v
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			rk := redact(k)
			if rk != k {
				*changed = true
			}
			m[rk] = redactValue(e, redact, changed)
		}
		return m
	default:
		return v
	}
}

func encodeCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
