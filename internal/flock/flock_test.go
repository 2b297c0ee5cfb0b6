package flock

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestLockExcludesASecondHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	ctx := context.Background()
	unlock, err := Lock(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{}, 1)
	got := make(chan func(), 1)
	go func() {
		u, err := Lock(ctx, path, func() { waited <- struct{}{} })
		if err != nil {
			t.Error(err)
			got <- func() {}
			return
		}
		got <- u
	}()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("second locker did not wait")
	}
	select {
	case <-got:
		t.Fatal("second locker got the lock while the first held it")
	case <-time.After(700 * time.Millisecond):
	}
	unlock()
	select {
	case u := <-got:
		u()
	case <-time.After(5 * time.Second):
		t.Fatal("second locker never got the lock after release")
	}

	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	unlock, err = Lock(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := Lock(cctx, path, nil); err == nil {
		t.Fatal("lockFile succeeded past a held lock")
	}
}
