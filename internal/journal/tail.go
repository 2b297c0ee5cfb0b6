package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// Tail reads a journal that another process writes, without locking it or
// changing it: each Next returns the records completed since the last.
type Tail struct {
	path string
	off  int64
	line int
}

// NewTail follows path from its beginning.
func NewTail(path string) *Tail { return &Tail{path: path} }

// Path is the journal followed.
func (t *Tail) Path() string { return t.path }

// Next returns the whole records written since the last call. A journal not
// written yet has none; a line still being written waits for its newline.
func (t *Tail) Next() ([]Record, error) {
	f, err := os.Open(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return nil, err
	}
	var out []Record
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		b, err := br.ReadBytes('\n')
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		rec, derr := decodeLine(b)
		if derr != nil {
			return out, &CorruptError{Path: t.path, Line: t.line + 1, Offset: t.off, Err: derr}
		}
		t.off += int64(len(b))
		t.line++
		out = append(out, rec)
	}
}

// String names what is followed, for the log.
func (t *Tail) String() string { return fmt.Sprintf("%s (line %d)", t.path, t.line) }
