//go:build unix

package proc

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	if Alive(0) || Alive(-1) {
		t.Fatal("non-pids count as alive")
	}
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	if Alive(done.Process.Pid) {
		t.Fatalf("pid %d was reaped but counts as alive", done.Process.Pid)
	}
	// A zombie: exited, not yet reaped.
	z := exec.Command("true")
	if err := z.Start(); err != nil {
		t.Fatal(err)
	}
	defer z.Wait()
	stat := "/proc/" + strconv.Itoa(z.Process.Pid) + "/stat"
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(stat)
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			if Alive(z.Process.Pid) {
				t.Fatal("a zombie counts as alive")
			}
			return
		}
	}
	t.Fatal("the child never became a zombie")
}
