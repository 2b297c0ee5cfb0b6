package preflight

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Files are read glob by glob, each glob's matches by name, then the
// command's output; a file matched twice is read once.
func TestLoadOrder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "db", "002_b.sql"), "CREATE TABLE b (id int);\n")
	writeFile(t, filepath.Join(dir, "db", "001_a.sql"), "-- first\nCREATE TABLE a (id int);\n")
	writeFile(t, filepath.Join(dir, "extra", "x.sql"), "CREATE TABLE x (id int);\n")
	o := Origin{Dir: dir, Files: []string{"db/*.sql", filepath.Join(dir, "extra", "*.sql"), "db/001_a.sql"},
		Command: "printf 'CREATE TABLE c (id int);\\n'"}
	stmts, err := o.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range stmts {
		got = append(got, s.Where()+" "+s.SQL)
	}
	want := []string{
		"db/001_a.sql:2 CREATE TABLE a (id int)",
		"db/002_b.sql:1 CREATE TABLE b (id int)",
		"extra/x.sql:1 CREATE TABLE x (id int)",
		"command:1 CREATE TABLE c (id int)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	before := o.Stamp()
	time.Sleep(10 * time.Millisecond)
	writeFile(t, filepath.Join(dir, "db", "002_b.sql"), "CREATE TABLE b (id bigint);\n")
	if o.Stamp() == before {
		t.Error("the stamp did not change when a file was written")
	}
}

// SQL the parser refuses is placed in its file; a failing command shows
// what it printed on both streams.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "m.sql"), "SET lock_timeout = '2s';\n\nALTER TABL t ADD COLUMN x int;\n")
	_, err := Origin{Dir: dir, Files: []string{"m.sql"}}.Load(context.Background())
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "m.sql" || pe.Line != 3 || !strings.Contains(pe.Message, `syntax error at or near "TABL"`) {
		t.Fatalf("bad SQL: %v", err)
	}
	_, err = Origin{Dir: dir, Command: "echo 'pending: 2'; echo 'rails: database missing' >&2; exit 3"}.Load(context.Background())
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "pending: 2") || !strings.Contains(err.Error(), "rails: database missing") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("failing command: %v", err)
	}
	start := time.Now()
	_, err = Origin{Dir: dir, Command: "sleep 30 & sleep 30", Timeout: 300 * time.Millisecond}.Load(context.Background())
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "still running after 300ms") {
		t.Fatalf("slow command: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a command past its timeout took %s to stop: its children kept the output open", took)
	}
	stmts, err := Origin{Dir: dir, Files: []string{"none/*.sql"}}.Load(context.Background())
	if err != nil || len(stmts) != 0 {
		t.Errorf("no files: %v %v", stmts, err)
	}
}
