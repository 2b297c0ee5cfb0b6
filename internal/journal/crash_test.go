package journal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash tests re-run this test binary as a child process so that a real
// process can hold the lock and be SIGKILLed. The helper does nothing unless
// JOURNAL_HELPER_PATH is set.
const (
	helperPathEnv   = "JOURNAL_HELPER_PATH"
	helperModeEnv   = "JOURNAL_HELPER_MODE"
	helperNoSyncEnv = "JOURNAL_HELPER_NOSYNC"

	// helperMaxRecords bounds the disk a runaway helper can fill if its
	// parent never kills it.
	helperMaxRecords = 20_000
	bigTailLines     = 2000
)

func bigTail() []string {
	tail := make([]string, bigTailLines)
	for i := range tail {
		tail[i] = fmt.Sprintf("%04d %s", i, strings.Repeat("output ", 20))
	}
	return tail
}

// TestHelperAppender is the child side of the crash tests.
//
//	append (default): append records forever, printing "ack <seq>" for each
//	                  one Append acknowledged
//	hold:             open the journal, print "locked", wait for stdin to close
//	try:              try to open the journal and print the outcome
func TestHelperAppender(t *testing.T) {
	path := os.Getenv(helperPathEnv)
	if path == "" {
		return
	}
	fail := func(err error) {
		fmt.Printf("error: %v\n", err)
		os.Exit(1)
	}
	switch os.Getenv(helperModeEnv) {
	case "hold":
		j, _, err := Open(path, Options{})
		if err != nil {
			fail(err)
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		j.Close()
	case "try":
		j, _, err := Open(path, Options{})
		switch {
		case errors.Is(err, ErrInUse):
			fmt.Printf("in use: %v\n", err)
		case err != nil:
			fail(err)
		default:
			j.Close()
			fmt.Println("opened")
		}
	default:
		j, _, err := Open(path, Options{NoSync: os.Getenv(helperNoSyncEnv) == "1"})
		if err != nil {
			fail(err)
		}
		tail := bigTail()
		for i := range helperMaxRecords {
			r := Record{Type: "note", Summary: "small " + strconv.Itoa(i)}
			if i%3 == 2 {
				// Several hundred KB in one write, so a kill can land
				// in the middle of it.
				r = Record{Type: "action.result", Kind: "command", Summary: "big " + strconv.Itoa(i),
					Exit: ptr(0), OK: ptr(true), Tail: tail}
			}
			got, err := j.Append(r)
			if err != nil {
				fail(err)
			}
			// os.Stdout is unbuffered: the parent sees the ack as soon as
			// Append has returned.
			fmt.Printf("ack %d\n", got.Seq)
		}
	}
	os.Exit(0)
}

type helper struct {
	cmd    *exec.Cmd
	out    *bufio.Scanner
	stdin  io.WriteCloser
	stderr bytes.Buffer
}

func startHelper(t *testing.T, path, mode string, env ...string) *helper {
	t.Helper()
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skipf("cross-process journal tests need unix processes and flock")
	}
	h := &helper{cmd: exec.Command(os.Args[0], "-test.run=^TestHelperAppender$")}
	h.cmd.Env = append(os.Environ(), append([]string{helperPathEnv + "=" + path, helperModeEnv + "=" + mode}, env...)...)
	h.cmd.Stderr = &h.stderr
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A safety net so a wedged child cannot hang the test run; the test
	// itself never depends on how long anything takes.
	watchdog := time.AfterFunc(2*time.Minute, func() { h.cmd.Process.Kill() })
	t.Cleanup(func() {
		watchdog.Stop()
		h.cmd.Process.Kill()
		h.stdin.Close()
	})
	h.out = bufio.NewScanner(stdout)
	return h
}

// line returns the child's next line of output, failing if it has none.
func (h *helper) line(t *testing.T) string {
	t.Helper()
	if !h.out.Scan() {
		h.cmd.Wait()
		t.Fatalf("helper exited early (%v); stderr:\n%s", h.cmd.ProcessState, h.stderr.String())
	}
	return h.out.Text()
}

func TestSIGKILLMidAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("writes tens of MB and kills child processes")
	}
	const iterations = 5
	want := bigTail()
	torn := 0
	for iter := range iterations {
		// A fresh journal each time: replaying the earlier iterations' tens
		// of MB would only slow the test down; recovery of a file a killed
		// process wrote is what is under test, and that happens every time.
		path := Path(t.TempDir(), "crash test", time.Now())
		// Without fsync the child spends its time in write rather than
		// fsync, so a kill is more likely to tear a record. Page-cache
		// contents survive SIGKILL, so the guarantee is the same.
		noSync := "0"
		if iter%2 == 1 {
			noSync = "1"
		}
		h := startHelper(t, path, "append", helperNoSyncEnv+"="+noSync)

		var acked []uint64
		parseAck := func(s string) {
			seq, err := strconv.ParseUint(strings.TrimPrefix(s, "ack "), 10, 64)
			if !strings.HasPrefix(s, "ack ") || err != nil {
				t.Fatalf("iteration %d: unexpected helper output %q; stderr:\n%s", iter, s, h.stderr.String())
			}
			if want := uint64(len(acked) + 1); seq != want {
				t.Fatalf("iteration %d: helper acknowledged seq %d, want %d", iter, seq, want)
			}
			acked = append(acked, seq)
		}
		// Vary the kill point a little between iterations.
		for len(acked) < 50+7*iter {
			parseAck(h.line(t))
		}
		if err := h.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		// Acks printed before the kill landed still count.
		for h.out.Scan() {
			parseAck(h.out.Text())
		}
		err := h.cmd.Wait()
		if st := h.cmd.ProcessState; st == nil || st.Exited() {
			t.Fatalf("iteration %d: helper was not killed (%v, %v); stderr:\n%s", iter, st, err, h.stderr.String())
		}
		lastAck := uint64(len(acked))

		j, rep, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("iteration %d: Open after SIGKILL: %v", iter, err)
		}
		for i, r := range rep.Records {
			if r.Seq != uint64(i+1) {
				t.Fatalf("iteration %d: record %d has seq %d; replay is not contiguous", iter, i+1, r.Seq)
			}
			if r.Type == "action.result" && (len(r.Tail) != bigTailLines || r.Tail[bigTailLines-1] != want[bigTailLines-1]) {
				t.Fatalf("iteration %d: large record %d replayed with a damaged tail (%d lines)", iter, r.Seq, len(r.Tail))
			}
		}
		n := uint64(len(rep.Records))
		// Every acknowledged record must be there. At most one more can be:
		// the record that was fully written when the kill arrived but not
		// yet acknowledged.
		if n < lastAck || n > lastAck+1 {
			t.Fatalf("iteration %d: replayed %d records, helper acknowledged up to %d", iter, n, lastAck)
		}
		if rep.Torn != nil {
			torn++
			t.Logf("iteration %d: %v", iter, rep.Torn)
			if rep.Torn.Line != int(n)+1 {
				t.Fatalf("iteration %d: torn line %d, want %d", iter, rep.Torn.Line, n+1)
			}
			st, err := os.Stat(rep.Torn.SavedTo)
			if err != nil || st.Size() != int64(rep.Torn.Bytes) {
				t.Fatalf("iteration %d: saved torn bytes: %v, %v", iter, st, err)
			}
			if got := fileSize(t, path); got != rep.Torn.Offset {
				t.Fatalf("iteration %d: file is %d bytes, torn tail began at %d", iter, got, rep.Torn.Offset)
			}
		}
		r, err := j.Append(Record{Type: "note", Summary: "recovered after kill"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != n+1 {
			t.Fatalf("iteration %d: first append after recovery got seq %d, want %d", iter, r.Seq, n+1)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		rep, err = Read(path)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Torn != nil || uint64(len(rep.Records)) != n+1 {
			t.Fatalf("iteration %d: after recovery the journal has %d records (want %d), torn %v", iter, len(rep.Records), n+1, rep.Torn)
		}
	}
	t.Logf("%d of %d kills left a torn tail", torn, iterations)
}

func TestLockAcrossProcesses(t *testing.T) {
	path := Path(t.TempDir(), "lock test", time.Now())

	// Another process holds it: we are refused.
	h := startHelper(t, path, "hold")
	if got := h.line(t); got != "locked" {
		t.Fatalf("helper said %q, want locked; stderr:\n%s", got, h.stderr.String())
	}
	_, _, err := Open(path, Options{})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open while another process holds the journal: err = %v", err)
	}
	// A killed holder must not leave a stale lock.
	h.cmd.Process.Kill()
	h.cmd.Wait()
	j, _ := openT(t, path, Options{})

	// We hold it: another process is refused.
	h = startHelper(t, path, "try")
	if got := h.line(t); !strings.HasPrefix(got, "in use: ") || !strings.Contains(got, "in use by another flightdeck") {
		t.Fatalf("helper opening a held journal said %q", got)
	}
	h.cmd.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	h = startHelper(t, path, "try")
	if got := h.line(t); got != "opened" {
		t.Fatalf("helper opening a released journal said %q", got)
	}
	h.cmd.Wait()
}
