package pg

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// InstallCommand installs the server binaries on Debian and Ubuntu, the
// platforms the sandbox is exercised on.
const InstallCommand = "apt-get install postgresql"

// ErrNoServer is returned (wrapped) by BinDir, and so by Up, when the
// PostgreSQL server programs are not installed.
var ErrNoServer = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")

// debianRoot is where Debian's postgresql-<major> packages put each major
// version's programs, which are not on PATH. A variable so tests can point
// it at an empty directory.
var debianRoot = "/usr/lib/postgresql"

var serverPrograms = []string{"initdb", "pg_ctl", "postgres"}

// BinDir finds the directory holding initdb, pg_ctl and postgres: the one
// pg_config names, else the newest Debian-style /usr/lib/postgresql/<major>/bin,
// else wherever postgres on PATH really lives. pg_config comes first because
// it describes the installation a developer chose; its directory is still
// checked, since Debian's pg_config belongs to libpq-dev and may name a
// major version whose server is not installed.
func BinDir() (string, error) {
	var looked []string
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		out, err := exec.Command(pgConfig, "--bindir").Output()
		if err == nil {
			dir := strings.TrimSpace(string(out))
			if hasServer(dir) {
				return dir, nil
			}
			looked = append(looked, dir+" (from pg_config --bindir)")
		}
	}

	dirs, _ := filepath.Glob(filepath.Join(debianRoot, "*", "bin"))
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if hasServer(dir) {
			return dir, nil
		}
	}
	looked = append(looked, filepath.Join(debianRoot, "<version>", "bin"))

	// Symlinks such as /usr/local/bin/postgres lead to the real directory,
	// where the other programs are sure to be too.
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if dir := filepath.Dir(real); hasServer(dir) {
				return dir, nil
			}
		}
		if dir := filepath.Dir(p); hasServer(dir) {
			return dir, nil
		}
	}
	looked = append(looked, "PATH")

	return "", fmt.Errorf("%w (looked in %s): install them with `%s` (Debian, Ubuntu; the postgresql-contrib package adds pg_stat_statements), or put a directory holding initdb, pg_ctl and postgres on PATH",
		ErrNoServer, strings.Join(looked, ", "), InstallCommand)
}

func hasServer(dir string) bool {
	if dir == "" {
		return false
	}
	for _, name := range serverPrograms {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionOf orders Debian's per-version directories numerically, so 10
// sorts above 9.6.
func versionOf(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// serverVersion reports the server's major and full version ("15",
// "15.18") from `postgres --version`, for settings that not every
// supported major version knows.
func serverVersion(binDir string) (major int, full string, err error) {
	out, err := exec.Command(filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return 0, "", fmt.Errorf("run %s --version: %w", filepath.Join(binDir, "postgres"), err)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return 0, "", fmt.Errorf("unrecognised version from %s --version: %q", filepath.Join(binDir, "postgres"), strings.TrimSpace(string(out)))
	}
	major, _ = strconv.Atoi(m[1])
	full = m[1]
	if m[2] != "" {
		full += "." + m[2]
	}
	return major, full, nil
}

// hasStatStatements reports whether the contrib module pg_stat_statements
// is installed for this server: its library, which shared_preload_libraries
// loads, and its control file, which CREATE EXTENSION reads. Preloading a
// missing library would stop the server from starting at all.
func hasStatStatements(binDir string) bool {
	libDirs := []string{filepath.Join(binDir, "..", "lib"), filepath.Join(binDir, "..", "lib", "postgresql")}
	shareDirs := []string{filepath.Join(binDir, "..", "share"), filepath.Join(binDir, "..", "share", "postgresql")}
	if pgConfig := filepath.Join(binDir, "pg_config"); hasFile(pgConfig) {
		if out, err := exec.Command(pgConfig, "--pkglibdir", "--sharedir").Output(); err == nil {
			if lines := strings.Fields(string(out)); len(lines) == 2 {
				libDirs = append([]string{lines[0]}, libDirs...)
				shareDirs = append([]string{lines[1]}, shareDirs...)
			}
		}
	}
	lib, control := false, false
	for _, d := range libDirs {
		if hasFile(filepath.Join(d, "pg_stat_statements.so")) || hasFile(filepath.Join(d, "pg_stat_statements.dylib")) {
			lib = true
		}
	}
	for _, d := range shareDirs {
		if hasFile(filepath.Join(d, "extension", "pg_stat_statements.control")) {
			control = true
		}
	}
	return lib && control
}

func hasFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
