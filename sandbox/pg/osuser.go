package pg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// serverOSUser is the account the server runs as when the caller is root.
// It is the name Debian's packages use, so an existing account is shared
// rather than duplicated.
const serverOSUser = "postgres"

// osUser is the account initdb, pg_ctl and the server run as.
type osUser struct {
	name     string
	uid, gid uint32
	groups   []uint32
	home     string
	// switchTo is set when the caller is root and every server command must
	// drop to this account; otherwise the caller already is it.
	switchTo bool
}

// serverUser picks the server's account, creating "postgres" with useradd
// if the caller is root and it does not exist yet (when create is set).
func serverUser(ctx context.Context, progress io.Writer, create bool) (osUser, error) {
	if !isRoot() {
		u := osUser{uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), name: strconv.Itoa(os.Getuid())}
		if cur, err := user.Current(); err == nil {
			u.name, u.home = cur.Username, cur.HomeDir
		}
		return u, nil
	}
	pu, err := user.Lookup(serverOSUser)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) && create {
		fmt.Fprintf(progress, "creating OS user %q for the server (postgres refuses to run as root)\n", serverOSUser)
		cmd := exec.CommandContext(ctx, "useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "PostgreSQL administrator", serverOSUser)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			// Another Up may have created it a moment ago.
			if pu, err2 := user.Lookup(serverOSUser); err2 == nil {
				return fromPasswd(pu)
			}
			return osUser{}, fmt.Errorf("create OS user %q for the sandbox server with useradd: %w: %s (create the account by hand, or run as an unprivileged user)",
				serverOSUser, err, strings.TrimSpace(out.String()))
		}
		pu, err = user.Lookup(serverOSUser)
	}
	if err != nil {
		return osUser{}, fmt.Errorf("look up OS user %q, which the sandbox server runs as when started by root: %w", serverOSUser, err)
	}
	return fromPasswd(pu)
}

func fromPasswd(pu *user.User) (osUser, error) {
	uid, err1 := strconv.ParseUint(pu.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(pu.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return osUser{}, fmt.Errorf("OS user %q has a non-numeric uid or gid: %w", pu.Username, err)
	}
	u := osUser{name: pu.Username, uid: uint32(uid), gid: uint32(gid), home: pu.HomeDir, switchTo: true}
	if ids, err := pu.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				u.groups = append(u.groups, uint32(g))
			}
		}
	}
	return u, nil
}

// env is the environment server commands run with. PG* variables are
// dropped because they would redirect pg_ctl and initdb to some other
// server or data directory; HOME follows the account, since a root HOME is
// unreadable to it.
func (u osUser) env(root string) []string {
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || k == "HOME" || k == "USER" || k == "LOGNAME" || k == "LC_ALL" {
			continue
		}
		env = append(env, kv)
	}
	home := u.home
	if u.switchTo || home == "" {
		home = root
	}
	return append(env, "HOME="+home, "USER="+u.name, "LOGNAME="+u.name, "LC_ALL=C")
}

// blockingAncestor names the first existing directory on the way to dir
// that u may not pass through, or "". It reads only permission bits: an ACL
// granting access goes unnoticed, which at worst moves the cluster out of
// Dir needlessly.
func blockingAncestor(dir string, u osUser) string {
	p := string(filepath.Separator)
	for _, part := range strings.Split(filepath.Clean(dir), string(filepath.Separator)) {
		if part == "" {
			continue
		}
		p = filepath.Join(p, part)
		uid, gid, mode, ok := ownerAndMode(p)
		if !ok {
			return ""
		}
		var bit os.FileMode = 0o001
		switch {
		case uid == u.uid:
			bit = 0o100
		case gid == u.gid || containsGID(u.groups, gid):
			bit = 0o010
		}
		if mode&bit == 0 {
			return p
		}
	}
	return ""
}

func containsGID(gs []uint32, g uint32) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}
