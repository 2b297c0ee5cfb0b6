package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Replay is what a journal held when it was opened or read.
type Replay struct {
	Records []Record
	Torn    *TornTail // nil when the file was clean
}

// TornTail describes an incomplete last line: the write a crash interrupted.
type TornTail struct {
	Path    string // the journal it was found in
	Line    int    // 1-based line number of the torn line
	Offset  int64  // byte offset where it began (Open truncates the file to this)
	Bytes   int    // how many bytes were torn off
	SavedTo string // where Open copied them; empty from Read, which changes nothing
}

// String is meant to be shown to the operator as is.
func (t *TornTail) String() string {
	if t == nil {
		return ""
	}
	if t.SavedTo == "" {
		return fmt.Sprintf("journal %s: line %d is torn (%d bytes, a crash mid-write); everything before it replayed",
			t.Path, t.Line, t.Bytes)
	}
	return fmt.Sprintf("journal %s: line %d was torn (%d bytes, a crash mid-write); saved to %s; everything before it replayed",
		t.Path, t.Line, t.Bytes, t.SavedTo)
}

// CorruptError reports a damaged line that is not the last one. A crash can
// only damage the last line, so this means the file was edited or the disk
// is failing; dropping the line would silently rewrite deploy history.
type CorruptError struct {
	Path   string
	Line   int   // 1-based
	Offset int64 // byte offset where the line begins
	Err    error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("journal %s: line %d (byte offset %d) is not a valid record but more records follow it, so it is not a crash artefact: %v; refusing to drop history: inspect and repair that line by hand, then start flightdeck again",
		e.Path, e.Line, e.Offset, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Read reads a journal without locking or modifying it, for reports and
// tests. A torn tail is reported in Replay.Torn (with SavedTo empty) rather
// than as an error.
func Read(path string) (Replay, error) {
	f, err := os.Open(path)
	if err != nil {
		return Replay{}, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	return parse(path, f)
}

// parse decodes records from r. A damaged last line becomes Replay.Torn;
// damage anywhere else is a *CorruptError.
func parse(path string, r io.Reader) (Replay, error) {
	var rep Replay
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	for line := 1; ; line++ {
		// ReadBytes has no line-length limit: a record with a long command
		// tail must replay however large it grew.
		b, err := br.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			return rep, nil
		}
		if err != nil && err != io.EOF {
			return Replay{}, fmt.Errorf("read journal %s at line %d: %w", path, line, err)
		}
		if err == io.EOF {
			// Every Append ends its single write with '\n', so bytes after
			// the last newline are a write that never completed and was
			// never acknowledged, however they happen to parse.
			rep.Torn = &TornTail{Path: path, Line: line, Offset: off, Bytes: len(b)}
			return rep, nil
		}
		rec, derr := decodeLine(b)
		if derr != nil {
			_, perr := br.Peek(1)
			if perr != nil && perr != io.EOF {
				return Replay{}, fmt.Errorf("read journal %s after line %d: %w", path, line, perr)
			}
			if perr == io.EOF {
				// A complete but garbled last line: after a power cut the
				// filesystem may have extended the file without writing all
				// of its blocks.
				rep.Torn = &TornTail{Path: path, Line: line, Offset: off, Bytes: len(b)}
				return rep, nil
			}
			return Replay{}, &CorruptError{Path: path, Line: line, Offset: off, Err: derr}
		}
		rep.Records = append(rep.Records, rec)
		off += int64(len(b))
	}
}

func decodeLine(b []byte) (Record, error) {
	var rec Record
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		// json.Unmarshal would accept "null" as an empty record.
		return rec, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(t, &rec); err != nil {
		return rec, err
	}
	return rec, nil
}
