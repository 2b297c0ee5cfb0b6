package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Record is one line of the journal. Fields are optional per Type.
type Record struct {
	Seq      uint64          `json:"seq"`              // assigned by Append: 1,2,3... continuing after replayed records
	At       time.Time       `json:"at"`               // set by Append to time.Now() if zero; always stored in UTC
	Type     string          `json:"type"`             // deploy.start, step.check, step.skip, step.reopen, action.intent, action.result, note, ...
	By       string          `json:"by,omitempty"`     // operator
	Step     string          `json:"step,omitempty"`   // runbook step id
	Action   string          `json:"action,omitempty"` // action run id pairing an intent with its result
	Kind     string          `json:"kind,omitempty"`   // action kind: command, step.check, kube.rollback, ...
	Summary  string          `json:"summary,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	OK       *bool           `json:"ok,omitempty"`
	Exit     *int            `json:"exit,omitempty"`
	Error    string          `json:"error,omitempty"`
	Duration Millis          `json:"duration_ms,omitempty"`
	Tail     []string        `json:"tail,omitempty"` // last lines of command output
	Data     json.RawMessage `json:"data,omitempty"` // kind-specific detail
}

// Millis is a duration stored as integer milliseconds, the unit people read
// in a journal; sub-millisecond precision is dropped.
type Millis time.Duration

// Duration converts back to a time.Duration.
func (m Millis) Duration() time.Duration { return time.Duration(m) }

func (m Millis) String() string { return time.Duration(m).String() }

// MarshalJSON writes whole milliseconds, truncating toward zero.
func (m Millis) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, time.Duration(m).Milliseconds(), 10), nil
}

// UnmarshalJSON accepts integer or fractional milliseconds; fractions can
// only come from hand-written or foreign files.
func (m *Millis) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*m = Millis(time.Duration(n) * time.Millisecond)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration_ms: %q is not a number of milliseconds", b)
	}
	*m = Millis(time.Duration(f * float64(time.Millisecond)))
	return nil
}

// Options tune a Journal. The zero value is the safe default.
type Options struct {
	// Redact is applied to every string field (By, Step, Summary, Reason,
	// Error, each Tail line, and Data) before a record is written, so
	// secrets never reach disk. nil means no redaction. It must be safe to
	// apply twice (replacing secrets with a placeholder is), because Data is
	// redacted both as decoded strings and as raw text.
	Redact func(string) string
	// NoSync skips fsync after each Append. It exists only to measure what
	// fsync costs; a journal opened with it loses its crash guarantees.
	NoSync bool
}

// ErrInUse is matched (with errors.Is) by the error Open returns when
// another flightdeck holds the journal's lock.
var ErrInUse = errors.New("journal is in use by another flightdeck")

type inUseError struct{ path string }

func (e *inUseError) Error() string {
	return fmt.Sprintf("journal %s is in use by another flightdeck (it holds the lock on this deploy's record); close that cockpit first, or wait for it to exit, then try again", e.path)
}

func (e *inUseError) Is(target error) bool { return target == ErrInUse }

// WriteError is returned by Append once the journal has failed. The deploy
// record on disk stops at the last acknowledged Append.
type WriteError struct {
	Path string
	Err  error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("journal %s could not be written: %v; nothing after this point is recorded: fix the disk (space, permissions, hardware) and restart flightdeck, which replays everything recorded so far", e.Path, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// Journal appends records to one journal file. It is safe for concurrent use.
type Journal struct {
	path   string
	redact func(string) string
	noSync bool

	mu     sync.Mutex
	f      *os.File
	seq    uint64
	failed *WriteError
	closed bool
	buf    bytes.Buffer
}

// Open creates parent directories (0700) and the file (0600) if needed, locks
// it against other writers, and returns every record it already holds.
//
// A torn last line (see the package doc) is copied to "<path>.torn-<unixnano>",
// the file is truncated to the end of the last complete record, and the event
// is reported in Replay.Torn. A damaged line before the last is a
// *CorruptError. If another flightdeck holds the journal the error matches
// ErrInUse and names the path.
func Open(path string, opts Options) (*Journal, Replay, error) {
	dir := filepath.Dir(path)
	if err := mkdirDurable(dir); err != nil {
		return nil, Replay{}, fmt.Errorf("open journal %s: create directory: %w; check that the state directory is writable", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, Replay{}, fmt.Errorf("open journal: %w; check that the state directory is writable by this user", err)
	}
	inUse, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, Replay{}, fmt.Errorf("open journal %s: lock: %w", path, err)
	}
	if inUse {
		f.Close()
		return nil, Replay{}, &inUseError{path: path}
	}
	// The file may have just been created; its directory entry must be
	// durable before any record in it can be.
	if err := syncDir(dir); err != nil {
		unlockFile(f)
		f.Close()
		return nil, Replay{}, fmt.Errorf("open journal %s: fsync directory: %w", path, err)
	}
	j := &Journal{path: path, redact: opts.Redact, noSync: opts.NoSync, f: f}
	rep, err := j.recover()
	if err != nil {
		unlockFile(f)
		f.Close()
		return nil, Replay{}, err
	}
	for _, r := range rep.Records {
		j.seq = max(j.seq, r.Seq)
	}
	return j, rep, nil
}

// recover replays the file and cuts off a torn tail, saving it first.
func (j *Journal) recover() (Replay, error) {
	st, err := j.f.Stat()
	if err != nil {
		return Replay{}, fmt.Errorf("open journal %s: %w", j.path, err)
	}
	rep, err := parse(j.path, io.NewSectionReader(j.f, 0, st.Size()))
	if err != nil {
		return Replay{}, err
	}
	if t := rep.Torn; t != nil {
		saved, err := j.saveTorn(t.Offset, st.Size()-t.Offset)
		if err != nil {
			return Replay{}, fmt.Errorf("open journal %s: line %d is torn (a crash mid-write) but saving its %d bytes failed, so the file was left untouched: %w; free space or fix permissions next to the journal and start again",
				j.path, t.Line, t.Bytes, err)
		}
		t.SavedTo = saved
		if err := j.f.Truncate(t.Offset); err != nil {
			return Replay{}, fmt.Errorf("open journal %s: truncate torn line %d (already saved to %s): %w", j.path, t.Line, saved, err)
		}
	}
	// A process killed between write and fsync leaves records that are only
	// in the page cache; make them durable before anyone acts on them. This
	// also makes the truncation and a newly created file's size durable.
	if err := j.f.Sync(); err != nil {
		return Replay{}, fmt.Errorf("open journal %s: fsync: %w", j.path, err)
	}
	return rep, nil
}

func (j *Journal) saveTorn(off, n int64) (string, error) {
	var (
		name string
		out  *os.File
		err  error
	)
	for i := int64(0); ; i++ {
		name = fmt.Sprintf("%s.torn-%d", j.path, time.Now().UnixNano()+i)
		out, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, os.ErrExist) || i > 100 {
			break
		}
	}
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, io.NewSectionReader(j.f, off, n))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The copy must be durable before the truncate destroys the original.
		err = syncDir(filepath.Dir(name))
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// mkdirDurable creates dir and fsyncs the parent of every directory it
// created, so a new deploy directory cannot vanish in a power cut along with
// the fsynced journal inside it.
func mkdirDurable(dir string) error {
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// Path returns the file the journal writes to.
func (j *Journal) Path() string { return j.path }

// Append redacts r, assigns Seq (last seq + 1) and At (now, if zero), writes
// it as one line with a single write call, and fsyncs before returning the
// record exactly as it will replay. A failed write or fsync fails the journal
// for good: this and every later Append return a *WriteError. A record that
// cannot be encoded (no Type, Data that is not JSON) is rejected without
// failing the journal.
func (j *Journal) Append(r Record) (Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failed != nil {
		return Record{}, j.failed
	}
	if j.closed {
		return Record{}, fmt.Errorf("journal %s: append after Close", j.path)
	}
	if r.Type == "" {
		return Record{}, fmt.Errorf("journal %s: record has no type; nothing written", j.path)
	}
	r = j.prepare(r)
	if r.Data != nil && !json.Valid(r.Data) {
		return Record{}, fmt.Errorf("journal %s: %s record data is not valid JSON (after redaction); nothing written: fix the code building it, or a Redact that breaks JSON", j.path, r.Type)
	}
	r.Seq = j.seq + 1

	j.buf.Reset()
	enc := json.NewEncoder(&j.buf)
	// Command lines are full of && and <; keep them readable in the file.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil { // Encode appends the '\n'
		return Record{}, fmt.Errorf("journal %s: encode %s record: %w; nothing written", j.path, r.Type, err)
	}
	line := j.buf.Bytes()

	// One write call so the line lands whole or, after a crash, as a torn
	// tail that Open can cut off; never interleaved with another record.
	n, err := j.f.Write(line)
	if err == nil && n != len(line) {
		err = io.ErrShortWrite
	}
	if err == nil && !j.noSync {
		err = j.f.Sync()
	}
	if err != nil {
		j.failed = &WriteError{Path: j.path, Err: err}
		return Record{}, j.failed
	}
	j.seq = r.Seq
	if j.buf.Cap() > 1<<20 {
		// Do not pin a huge buffer for the life of the deploy.
		j.buf = bytes.Buffer{}
	}
	return r, nil
}

// prepare returns a copy of r normalised to exactly what replay will produce,
// sharing no slices with the caller.
func (j *Journal) prepare(r Record) Record {
	red := j.redact
	if red == nil {
		red = func(s string) string { return s }
	}
	r.By = red(r.By)
	r.Step = red(r.Step)
	r.Summary = red(r.Summary)
	r.Reason = red(r.Reason)
	r.Error = red(r.Error)
	if len(r.Tail) == 0 {
		r.Tail = nil
	} else {
		tail := make([]string, len(r.Tail))
		for i, s := range r.Tail {
			tail[i] = red(s)
		}
		r.Tail = tail
	}
	if r.OK != nil {
		ok := *r.OK
		r.OK = &ok
	}
	if r.Exit != nil {
		exit := *r.Exit
		r.Exit = &exit
	}
	r.Data = redactData(r.Data, j.redact)
	if r.At.IsZero() {
		r.At = time.Now()
	}
	r.At = r.At.UTC().Round(0)
	r.Duration = Millis(time.Duration(r.Duration).Truncate(time.Millisecond))
	return r
}

// Close releases the lock. Appends after Close fail; closing twice is a no-op.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	var err error
	if j.noSync && j.failed == nil {
		err = j.f.Sync()
	}
	unlockFile(j.f)
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close journal %s: %w", j.path, err)
	}
	return nil
}
