package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func openT(t *testing.T, path string, opts Options) (*Journal, Replay) {
	t.Helper()
	j, rep, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return j, rep
}

func appendT(t *testing.T, j *Journal, r Record) Record {
	t.Helper()
	got, err := j.Append(r)
	if err != nil {
		t.Fatalf("Append(%s): %v", r.Type, err)
	}
	return got
}

// normalise makes records comparable with reflect.DeepEqual: times compare
// by instant, not by location or monotonic reading.
func normalise(rs []Record) []Record {
	out := make([]Record, len(rs))
	for i, r := range rs {
		r.At = r.At.UTC().Round(0)
		out[i] = r
	}
	return out
}

func sampleRecords() []Record {
	london := time.FixedZone("BST", 3600)
	return []Record{
		{Type: "deploy.start", By: "ana", Summary: "deploy api v1.2.3 to production",
			Data: json.RawMessage(`{"version": "v1.2.3", "replicas": 3}`)},
		{Type: "step.check", By: "ana", Step: "pre.backup", Summary: "backup verified"},
		{Type: "action.intent", By: "ana", Step: "rollout", Action: "a-1", Kind: "command",
			Summary: "kubectl apply -f api.yaml && kubectl rollout status deploy/api"},
		{Type: "action.result", Step: "rollout", Action: "a-1", Kind: "command",
			OK: ptr(true), Exit: ptr(0), Duration: Millis(1234567890 * time.Nanosecond),
			Tail: []string{"deployment.apps/api configured", "", "\tWaiting for rollout <1/3>…", `quote " and \ backslash`}},
		{Type: "action.result", Step: "smoke", Action: "a-2", Kind: "command",
			OK: ptr(false), Exit: ptr(2), Error: "exit status 2", Duration: Millis(3 * time.Second)},
		{Type: "step.skip", By: "ben", Step: "canary", Reason: "no canary pool in this region"},
		{Type: "note", By: "ben", Summary: "pinned time", At: time.Date(2026, 3, 30, 0, 30, 0, 123456789, london)},
		{Type: "step.reopen", By: "ana", Step: "smoke", Reason: "retry after fix",
			Data: json.RawMessage(`null`)},
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := Path(dir, "Round Trip", time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))

	j, rep := openT(t, path, Options{})
	if len(rep.Records) != 0 || rep.Torn != nil {
		t.Fatalf("new journal replayed %+v", rep)
	}
	var written []Record
	for i, r := range sampleRecords() {
		got := appendT(t, j, r)
		if got.Seq != uint64(i+1) {
			t.Fatalf("record %d got seq %d", i, got.Seq)
		}
		if got.At.IsZero() {
			t.Fatalf("record %d: At not set", i)
		}
		written = append(written, got)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	if d := written[3].Duration.Duration(); d != 1234*time.Millisecond {
		t.Errorf("duration stored as %v, want whole milliseconds 1.234s", d)
	}
	if want := sampleRecords()[6].At; !written[6].At.Equal(want) {
		t.Errorf("explicit At changed: %v, want %v", written[6].At, want)
	}
	if written[7].Data != nil {
		t.Errorf("null data should be dropped, got %s", written[7].Data)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte("\n")); n != len(written) {
		t.Fatalf("file has %d lines, want one per record (%d)", n, len(written))
	}
	if !bytes.Contains(raw, []byte("&&")) {
		t.Errorf("command line was HTML-escaped in the file:\n%s", raw)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("journal mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("deploy dir mode = %v, %v; want 0700", st.Mode().Perm(), err)
	}

	j, rep = openT(t, path, Options{})
	if rep.Torn != nil {
		t.Fatalf("clean file reported torn: %v", rep.Torn)
	}
	if !reflect.DeepEqual(normalise(rep.Records), normalise(written)) {
		t.Fatalf("replay differs from what was written\n got: %+v\nwant: %+v", rep.Records, written)
	}
	next := appendT(t, j, Record{Type: "note", Summary: "after reopen"})
	if want := uint64(len(written) + 1); next.Seq != want {
		t.Fatalf("seq after reopen = %d, want %d", next.Seq, want)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := j.Append(Record{Type: "note"}); err == nil {
		t.Fatal("Append after Close succeeded")
	}

	rep, err = Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := normalise(append(written, next)); !reflect.DeepEqual(normalise(rep.Records), want) {
		t.Fatalf("Read differs\n got: %+v\nwant: %+v", rep.Records, want)
	}
}

func TestAppendDoesNotAliasCaller(t *testing.T) {
	j, _ := openT(t, filepath.Join(t.TempDir(), "j.jsonl"), Options{})
	defer j.Close()
	in := Record{Type: "action.result", Tail: []string{"a", "b"}, Exit: ptr(1), Data: json.RawMessage(`{"a":1}`)}
	got := appendT(t, j, in)
	in.Tail[0] = "changed"
	*in.Exit = 9
	in.Data[2] = 'b'
	if got.Tail[0] != "a" || *got.Exit != 1 || string(got.Data) != `{"a":1}` {
		t.Fatalf("returned record shares memory with the caller's: %+v", got)
	}
}

func TestAppendRejectsBadRecordWithoutFailing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := openT(t, path, Options{})
	defer j.Close()
	if _, err := j.Append(Record{}); err == nil || !strings.Contains(err.Error(), "no type") {
		t.Fatalf("record without type: err = %v", err)
	}
	if _, err := j.Append(Record{Type: "note", Data: json.RawMessage(`{"broken"`)}); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("invalid data: err = %v", err)
	}
	if got := appendT(t, j, Record{Type: "note"}); got.Seq != 1 {
		t.Fatalf("rejected records consumed seqs: got %d", got.Seq)
	}
}

// writeRecords creates a journal at path holding n clean records.
func writeRecords(t *testing.T, path string, n int) []Record {
	t.Helper()
	j, _ := openT(t, path, Options{})
	var out []Record
	for i := range n {
		out = append(out, appendT(t, j, Record{Type: "note", Summary: fmt.Sprintf("record %d", i+1),
			Tail: []string{"line one", "line two"}}))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func appendRaw(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestTornTail(t *testing.T) {
	full, err := json.Marshal(Record{Seq: 4, Type: "action.result", Summary: "a record the crash interrupted", Tail: []string{"x", "y"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		existing int
		torn     []byte
	}{
		{"half a line", 3, full[:len(full)/2]},
		{"whole record missing its newline", 3, full},
		{"invalid JSON last line", 3, []byte("{\"seq\":4,\"type\":\"note\",\"summary\":garbage}\n")},
		{"zeros from a power cut", 3, make([]byte, 4096)},
		{"blank last line", 3, []byte("\n")},
		{"first line torn", 0, full[:10]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "deploy", "2026-05-04.jsonl")
			var want []Record
			if tc.existing > 0 {
				want = writeRecords(t, path, tc.existing)
			} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			} else if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			cleanSize := fileSize(t, path)
			appendRaw(t, path, tc.torn)
			wantTorn := TornTail{Path: path, Line: tc.existing + 1, Offset: cleanSize, Bytes: len(tc.torn)}

			// Read reports the tear but must not touch the file.
			rep, err := Read(path)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if rep.Torn == nil || *rep.Torn != wantTorn {
				t.Fatalf("Read torn = %+v, want %+v", rep.Torn, wantTorn)
			}
			if !reflect.DeepEqual(normalise(rep.Records), normalise(want)) {
				t.Fatalf("Read records = %+v, want %+v", rep.Records, want)
			}
			if got := fileSize(t, path); got != cleanSize+int64(len(tc.torn)) {
				t.Fatalf("Read changed the file size to %d", got)
			}

			j, rep := openT(t, path, Options{})
			if rep.Torn == nil {
				t.Fatal("Open did not report the torn tail")
			}
			got := *rep.Torn
			if got.SavedTo == "" || !strings.HasPrefix(got.SavedTo, path+".torn-") {
				t.Fatalf("torn bytes saved to %q", got.SavedTo)
			}
			saved := got.SavedTo
			got.SavedTo = ""
			if got != wantTorn {
				t.Fatalf("torn = %+v, want %+v", got, wantTorn)
			}
			b, err := os.ReadFile(saved)
			if err != nil {
				t.Fatalf("reading saved torn bytes: %v", err)
			}
			if !bytes.Equal(b, tc.torn) {
				t.Fatalf("saved torn bytes = %q, want %q", b, tc.torn)
			}
			msg := rep.Torn.String()
			for _, s := range []string{path, fmt.Sprintf("line %d", wantTorn.Line), fmt.Sprintf("%d bytes", len(tc.torn)), saved} {
				if !strings.Contains(msg, s) {
					t.Errorf("torn message %q does not mention %q", msg, s)
				}
			}
			if got := fileSize(t, path); got != cleanSize {
				t.Fatalf("file not truncated: size %d, want %d", got, cleanSize)
			}
			if !reflect.DeepEqual(normalise(rep.Records), normalise(want)) {
				t.Fatalf("replayed %+v, want %+v", rep.Records, want)
			}

			next := appendT(t, j, Record{Type: "note", Summary: "after the crash"})
			if next.Seq != uint64(tc.existing+1) {
				t.Fatalf("seq after torn tail = %d, want %d", next.Seq, tc.existing+1)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err = Read(path)
			if err != nil {
				t.Fatalf("Read after repair: %v", err)
			}
			if rep.Torn != nil {
				t.Fatalf("repaired file still torn: %v", rep.Torn)
			}
			if !reflect.DeepEqual(normalise(rep.Records), normalise(append(want, next))) {
				t.Fatalf("after repair replayed %+v", rep.Records)
			}
		})
	}
}

func TestCorruptLineInMiddle(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  string
	}{
		{"invalid JSON", "{\"seq\":2,\"type\":\n"},
		{"not an object", "null\n"},
		{"blank line", "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.jsonl")
			writeRecords(t, path, 4)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.SplitAfter(raw, []byte("\n"))
			lines[1] = []byte(tc.bad)
			corrupted := bytes.Join(lines, nil)
			if err := os.WriteFile(path, corrupted, 0o600); err != nil {
				t.Fatal(err)
			}

			check := func(op string, err error) {
				t.Helper()
				var ce *CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("%s: err = %v, want *CorruptError", op, err)
				}
				if ce.Line != 2 || ce.Offset != int64(len(lines[0])) {
					t.Fatalf("%s: corrupt line %d at %d, want line 2 at %d", op, ce.Line, ce.Offset, len(lines[0]))
				}
				if msg := err.Error(); !strings.Contains(msg, "line 2") || !strings.Contains(msg, path) {
					t.Fatalf("%s: error %q does not name the path and line", op, msg)
				}
			}
			_, _, err = Open(path, Options{})
			check("Open", err)
			_, err = Read(path)
			check("Read", err)

			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, corrupted) {
				t.Fatal("a failed Open modified the file")
			}
			// The failed Open must not leave the lock held.
			_, _, err = Open(path, Options{})
			check("second Open", err)
		})
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := openT(t, path, Options{})
	_, _, err := Open(path, Options{})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open: err = %v, want ErrInUse", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "in use by another flightdeck") || !strings.Contains(msg, path) {
		t.Fatalf("lock error %q does not say the journal is in use or name the path", msg)
	}
	if _, err := Read(path); err != nil {
		t.Fatalf("Read while locked: %v", err)
	}
	appendT(t, j, Record{Type: "note"})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, rep := openT(t, path, Options{})
	defer j.Close()
	if len(rep.Records) != 1 {
		t.Fatalf("replayed %d records, want 1", len(rep.Records))
	}
}

func TestRedact(t *testing.T) {
	// '&' and '<' are escaped by encoding/json, so this secret only stays out
	// of the file if Data is redacted after decoding, not just as text.
	const secret = "hunter2&<s3cr3t>"
	redact := func(s string) string { return strings.ReplaceAll(s, secret, "[REDACTED]") }
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := openT(t, path, Options{Redact: redact})

	data, err := json.Marshal(map[string]any{
		"env":   []string{"DB_PASSWORD=" + secret},
		"token": secret,
		"n":     json.Number("12345678901234567890"),
	})
	if err != nil {
		t.Fatal(err)
	}
	in := Record{
		Type: "action.result", By: "ana " + secret, Step: "s-" + secret,
		Summary: "psql postgres://app:" + secret + "@db/prod",
		Reason:  "because " + secret,
		Error:   "auth failed for " + secret,
		Tail:    []string{"connecting", "password=" + secret, secret},
		Data:    data,
	}
	got := appendT(t, j, in)
	raw := appendT(t, j, Record{Type: "note", Data: json.RawMessage(`{"raw":"` + secret + `"}`)})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, []byte("s3cr3t")) || bytes.Contains(file, []byte("hunter2")) {
		t.Fatalf("secret reached the file:\n%s", file)
	}
	if !strings.Contains(got.Summary, "[REDACTED]") || !strings.Contains(got.Tail[1], "[REDACTED]") {
		t.Fatalf("returned record not redacted: %+v", got)
	}
	if in.Tail[1] != "password="+secret {
		t.Fatal("Append redacted the caller's slice in place")
	}
	var d map[string]any
	if err := json.Unmarshal(got.Data, &d); err != nil {
		t.Fatalf("redacted data is not JSON: %v", err)
	}
	if d["token"] != "[REDACTED]" || string(raw.Data) != `{"raw":"[REDACTED]"}` {
		t.Fatalf("data not redacted: %s / %s", got.Data, raw.Data)
	}
	if !bytes.Contains(got.Data, []byte("12345678901234567890")) {
		t.Fatalf("redaction changed a number: %s", got.Data)
	}
	rep, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalise(rep.Records), normalise([]Record{got, raw})) {
		t.Fatalf("replay differs from the returned records\n got: %+v\nwant: %+v", rep.Records, []Record{got, raw})
	}
}

func TestAppendFailureIsSticky(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := openT(t, path, Options{})
	appendT(t, j, Record{Type: "note", Summary: "before the disk died"})

	// Pull the file out from under the journal so the next write fails the
	// way a dead disk would.
	j.f.Close()

	for i := range 2 {
		_, err := j.Append(Record{Type: "note", Summary: "lost"})
		var we *WriteError
		if !errors.As(err, &we) {
			t.Fatalf("append %d after failure: err = %v, want *WriteError", i, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "could not be written") || !strings.Contains(msg, path) || !errors.Is(err, os.ErrClosed) {
			t.Fatalf("append %d: error %q must say it could not be written, name the path and wrap the cause", i, msg)
		}
	}
	j.Close()

	rep, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Records) != 1 || rep.Torn != nil {
		t.Fatalf("after failure the file holds %+v", rep)
	}
}

func TestConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := openT(t, path, Options{})
	const workers, each = 8, 25
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[uint64]bool{}
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, err := j.Append(Record{Type: "note", By: fmt.Sprint(w), Summary: fmt.Sprint(i)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[r.Seq] {
					t.Errorf("seq %d handed out twice", r.Seq)
				}
				seen[r.Seq] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Records) != workers*each {
		t.Fatalf("read %d records, want %d", len(rep.Records), workers*each)
	}
	for i, r := range rep.Records {
		if r.Seq != uint64(i+1) {
			t.Fatalf("line %d has seq %d: file order and seq disagree", i+1, r.Seq)
		}
	}
}

func TestReadLargeRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := openT(t, path, Options{})
	// Well past bufio.Scanner's default 64 KiB token limit.
	tail := make([]string, 200)
	for i := range tail {
		tail[i] = strings.Repeat("o", 10_000)
	}
	want := appendT(t, j, Record{Type: "action.result", Tail: tail})
	j.Close()
	rep, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Records) != 1 || !reflect.DeepEqual(rep.Records[0].Tail, want.Tail) {
		t.Fatal("large record did not round-trip")
	}
}

// TestTailFollowsAnotherWriter: a reader beside the process holding the
// journal gets each record once, in order, and never half a line.
func TestTailFollowsAnotherWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	tail := NewTail(path)
	if recs, err := tail.Next(); err != nil || len(recs) != 0 {
		t.Fatalf("no journal yet: %v %v", recs, err)
	}
	j, _, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := range 3 {
		if _, err := j.Append(Record{Type: "note", Summary: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := tail.Next()
	if err != nil || len(recs) != 3 || recs[2].Summary != "2" {
		t.Fatalf("first read: %+v %v", recs, err)
	}
	// Half a line, as a writer mid-append leaves it, is not a record yet.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"note","summary":"3"`)
	if recs, err := tail.Next(); err != nil || len(recs) != 0 {
		t.Fatalf("half a line read as %+v %v", recs, err)
	}
	f.WriteString("}\n")
	f.Close()
	if recs, err := tail.Next(); err != nil || len(recs) != 1 || recs[0].Summary != "3" {
		t.Fatalf("completed line: %+v %v", recs, err)
	}
}
