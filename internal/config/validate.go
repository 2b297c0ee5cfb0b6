package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // so time zones load on hosts without system tzdata

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// add records an error at a position.
func (l *loader) add(line, col int, key, msg, hint string) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Col: col, Key: key, Msg: msg, Hint: hint})
}

// errKey reports a problem with a key as a whole (it should not be there, it
// duplicates another), pointing at the key.
func (l *loader) errKey(path, msg, hint string) {
	line, col := l.ix.keyPos(path)
	l.add(line, col, path, msg, hint)
}

// errVal reports a bad value, pointing at the value.
func (l *loader) errVal(path, msg, hint string) {
	line, col := l.ix.valPos(path)
	l.add(line, col, path, msg, hint)
}

// isBad reports whether path, or a table holding it, was already reported
// as malformed by the decoder.
func (l *loader) isBad(path string) bool {
	for p := path; p != ""; p = parentPath(p) {
		if l.bad[p] {
			return true
		}
	}
	return false
}

// required checks that a key is written and not empty. example is the line
// to add, e.g. `name = "Acme production deploy"`. A missing key is reported
// on the header of its table, which is where the line has to go.
func (l *loader) required(path string, empty bool, example string) bool {
	if l.isBad(path) {
		return false
	}
	if !l.ix.has(path) {
		line, col := l.ix.keyPos(parentPath(path))
		l.add(line, col, path, fmt.Sprintf("missing required key %q", lastKey(path)), "add "+example)
		return false
	}
	if empty {
		l.errVal(path, fmt.Sprintf("%s must not be empty", lastKey(path)), "set it, e.g. "+example)
		return false
	}
	return true
}

// duration applies a default to an unset duration and rejects a set one that
// is not positive.
func (l *loader) duration(path string, d *Duration, def time.Duration) {
	if l.isBad(path) || !l.ix.has(path) {
		*d = Duration(def)
		return
	}
	if *d <= 0 {
		l.errVal(path, fmt.Sprintf("%s must be more than 0, not %s", lastKey(path), d.D()), fmt.Sprintf("remove it for the default of %s", Duration(def)))
	}
}

// template checks the {{name}} references in a value.
func (l *loader) template(path, s string, known []string, shell bool) {
	refs, err := scanTemplate(s)
	if err != nil {
		l.errVal(path, err.Error(), "")
		return
	}
	for _, r := range refs {
		if slices.Contains(known, r.name) {
			continue
		}
		hint := "known variables: " + braced(known)
		if sug := gates.Suggest(r.name, known); sug != "" {
			hint = fmt.Sprintf("did you mean {{%s}}?", sug)
		} else if slices.Contains(builtinVars, r.name) {
			hint = fmt.Sprintf("{{%s}} is not available here; %s", r.name, hint)
		} else {
			hint = fmt.Sprintf("define it under [vars], or use one of %s", braced(known))
		}
		l.errVal(path, fmt.Sprintf("unknown template variable {{%s}}", r.name), hint)
	}
	if shell {
		for _, r := range quotedRefs(s, refs) {
			l.errVal(path, fmt.Sprintf("{{%s}} is inside quotes", r.name),
				fmt.Sprintf(`the cockpit shell-quotes every value: move it outside the quotes, e.g. "deploy "{{%s}}`, r.name))
		}
	}
}

func containsFold(list []string, s string) (string, bool) {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return x, true
		}
	}
	return "", false
}

// allVars is every variable a template may use: the builtins, then [vars]
// in sorted order so hints read the same on every run.
func (l *loader) allVars() []string {
	names := slices.Clone(builtinVars)
	for _, k := range sortedKeys(l.cfg.Vars) {
		if !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	return names
}

func (l *loader) validate() {
	l.validateDeploy()
	l.validateWindow()
	l.validateRollbackBy()
	l.validateVars()
	l.validateKubernetes()
	l.validatePostgres()
	l.validateGit() // before jira, whose columns name git branches
	l.validateJira()
	l.validateSentry()
	l.validateSlack()
	l.validateShare()
	l.validateMigrations()
	l.validateLock()
	l.validateSmoke()
	l.validatePhases()
	l.validateRehearsal() // after the phases: it names their steps
	l.validateSecretRefs()
}

func (l *loader) validateDeploy() {
	d := &l.cfg.Deploy
	if !l.ix.has("deploy") {
		l.add(1, 1, "deploy", "missing [deploy] section", `add [deploy] with name = "Acme production deploy" and environment = "production"`)
	} else {
		l.required("deploy.name", strings.TrimSpace(d.Name) == "", `name = "Acme production deploy"`)
		l.required("deploy.environment", strings.TrimSpace(d.Environment) == "", `environment = "production"`)
	}
	l.template("deploy.release", d.Release, []string{"date", "deploy", "env", "operator"}, false)
	if d.Operator == "" {
		d.Operator = l.opts.Getenv("USER")
	}
	if d.Operator == "" {
		d.Operator = "operator"
	}
	if d.Shell == "" {
		d.Shell = "/bin/sh"
	}
	if d.Workdir == "" {
		d.Workdir = l.dir
	} else {
		d.Workdir = resolvePath(d.Workdir, l.dir, l.opts.Getenv)
	}
	l.duration("deploy.command_timeout", &d.CommandTimeout, 10*time.Minute)
	for _, name := range slices.Sorted(maps.Keys(d.Env)) {
		path := "deploy.env." + name
		if !envName.MatchString(name) {
			l.errKey(path, fmt.Sprintf("%q is not an environment variable name", name), "letters, digits and _, not starting with a digit, e.g. PGPASSFILE")
			continue
		}
		if secretLike(name) {
			l.errKey(path, fmt.Sprintf("%s would put a secret in the config", name), "give the tool a file instead: PGPASSFILE for Postgres, a credentials file for others")
			continue
		}
		l.template(path, d.Env[name], l.allVars(), false)
	}
}

// secretLike names the variables that hold a secret itself rather than
// where to find one.
func secretLike(name string) bool {
	n := strings.ToUpper(name)
	return strings.Contains(n, "PASSWORD") || strings.HasSuffix(n, "_TOKEN") || strings.HasSuffix(n, "SECRET") || n == "PGPASSWORD"
}

var hhmm = regexp.MustCompile(`^([0-9]{1,2}):([0-9]{2})$`)

func parseHHMM(s string) (int, bool) {
	m := hhmm.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	if h > 23 || mi > 59 {
		return 0, false
	}
	return h*60 + mi, true
}

// Zone names people write that load but do not mean what they intend: a
// fixed offset where the team's clock changes with daylight saving.
var fixedZones = map[string]string{
	"GMT": "Europe/London", "BST": "Europe/London", "WET": "Europe/Lisbon",
	"CET": "Europe/Paris", "CEST": "Europe/Paris", "EET": "Europe/Helsinki",
	"EST": "America/New_York", "EDT": "America/New_York", "CST": "America/Chicago",
	"CDT": "America/Chicago", "MST": "America/Denver", "MDT": "America/Denver",
	"PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
}

var commonZones = []string{
	"UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
	"Europe/Amsterdam", "Europe/Madrid", "Europe/Rome", "Europe/Warsaw", "Europe/Stockholm",
	"Europe/Helsinki", "Europe/Athens", "Europe/Kiev", "Europe/Istanbul", "Europe/Moscow",
	"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
	"America/Los_Angeles", "America/Anchorage", "America/Toronto", "America/Vancouver",
	"America/Sao_Paulo", "America/Mexico_City", "Asia/Kolkata", "Asia/Dubai", "Asia/Singapore",
	"Asia/Tokyo", "Asia/Shanghai", "Asia/Hong_Kong", "Australia/Sydney", "Australia/Melbourne",
	"Pacific/Auckland", "Africa/Johannesburg", "Africa/Lagos",
}

func (l *loader) validateWindow() {
	w := &l.cfg.Window
	if !l.ix.has("window") {
		l.add(1, 1, "window", "missing [window] section",
			`add [window] with start = "09:00", end = "12:30" and timezone = "Europe/London"`)
		return
	}
	startOK, endOK := false, false
	if l.required("window.start", w.Start == "", `start = "09:00"`) {
		w.StartMinute, startOK = parseHHMM(w.Start)
		if !startOK {
			l.errVal("window.start", fmt.Sprintf("bad time %q", w.Start), `write 24-hour HH:MM, e.g. "09:00"`)
		}
	}
	if l.required("window.end", w.End == "", `end = "12:30"`) {
		w.EndMinute, endOK = parseHHMM(w.End)
		if !endOK {
			l.errVal("window.end", fmt.Sprintf("bad time %q", w.End), `write 24-hour HH:MM, e.g. "12:30"`)
		}
	}
	if startOK && endOK && w.EndMinute <= w.StartMinute {
		l.errVal("window.end", fmt.Sprintf("window ends at %s, not after it starts at %s", w.End, w.Start),
			"a window may not cross midnight: end it by 23:59 and start the next day's deploy at 00:00")
	}
	if !l.required("window.timezone", w.Timezone == "", `timezone = "Europe/London"`) {
		return
	}
	if iana, ok := fixedZones[strings.ToUpper(w.Timezone)]; ok {
		l.errVal("window.timezone", fmt.Sprintf("%q is not a place's time zone: it ignores daylight saving", w.Timezone),
			fmt.Sprintf(`use the IANA name of the place, e.g. %q; write "UTC" for a fixed zone`, iana))
		return
	}
	if w.Timezone == "Local" {
		l.errVal("window.timezone", `"Local" depends on the machine running the cockpit`, `name the zone, e.g. "Europe/London"`)
		return
	}
	loc, err := time.LoadLocation(w.Timezone)
	if err != nil {
		hint := `use an IANA name, e.g. "Europe/London" or "America/New_York"`
		if sug := gates.Suggest(w.Timezone, commonZones); sug != "" {
			hint = fmt.Sprintf("did you mean %q?", sug)
		}
		l.errVal("window.timezone", fmt.Sprintf("unknown time zone %q", w.Timezone), hint)
		return
	}
	w.Location = loc
}

// validateRollbackBy runs after the window: rollback_by must fall inside
// it.
func (l *loader) validateRollbackBy() {
	w := &l.cfg.Window
	w.RollbackMinute = -1
	l.duration("window.rollback_margin", &w.RollbackMargin, 10*time.Minute)
	if w.RollbackBy == "" {
		return
	}
	m, ok := parseHHMM(w.RollbackBy)
	switch {
	case !ok:
		l.errVal("window.rollback_by", fmt.Sprintf("bad time %q", w.RollbackBy), `write 24-hour HH:MM, e.g. "12:05"`)
	case m <= w.StartMinute || m > w.EndMinute:
		l.errVal("window.rollback_by", fmt.Sprintf("rollback_by %s is not inside the window %s–%s", w.RollbackBy, w.Start, w.End),
			"the last moment a rollback still fits before the window ends")
	default:
		w.RollbackMinute = m
	}
}

func (l *loader) validateLock() {
	k := l.cfg.Lock
	if k == nil {
		return
	}
	if l.cfg.Kubernetes == nil {
		l.errKey("lock", "the team lock is a Kubernetes Lease, but there is no [kubernetes] section", "add [kubernetes], or remove [lock]")
		return
	}
	if p := l.cfg.Kubernetes.Primary(); k.Namespace == "" && p != nil && len(p.Namespaces) > 0 {
		k.Namespace = p.Namespaces[0]
	}
	if k.Namespace == "" {
		l.errKey("lock", "no namespace for the Lease", `add namespace = "deploys"`)
	}
	l.duration("lock.duration", &k.Duration, time.Minute)
	if k.Duration > 0 && k.Duration.D() < 10*time.Second && !l.isBad("lock.duration") {
		l.errVal("lock.duration", fmt.Sprintf("duration must be at least 10s, not %s", k.Duration), "1m is the default: a vanished driver's lease can be taken over after it")
	}
}

func (l *loader) validateSmoke() {
	names := map[string]bool{}
	for i := range l.cfg.Smoke {
		sm := &l.cfg.Smoke[i]
		path := fmt.Sprintf("smoke[%d]", i)
		if l.required(path+".name", strings.TrimSpace(sm.Name) == "", `name = "api health"`) {
			if names[sm.Name] {
				l.errVal(path+".name", fmt.Sprintf("two [[smoke]] checks are named %q", sm.Name), "give each its own name")
			}
			names[sm.Name] = true
		}
		if l.required(path+".url", strings.TrimSpace(sm.URL) == "", `url = "https://api.example.com/health"`) {
			l.template(path+".url", sm.URL, l.allVars(), false)
			if !strings.Contains(sm.URL, "{{") {
				l.checkURL(path+".url", sm.URL, `url = "https://api.example.com/health"`)
			}
		}
		if sm.Status == 0 {
			sm.Status = 200
		} else if sm.Status < 100 || sm.Status > 599 {
			l.errVal(path+".status", fmt.Sprintf("%d is not an HTTP status", sm.Status), "200 is the default")
		}
		if sm.Body != "" {
			if _, err := regexp.Compile(sm.Body); err != nil {
				l.errVal(path+".body", fmt.Sprintf("body is not a regular expression: %v", err), `e.g. body = "\"status\":\s*\"ok\""`)
			}
		}
		l.duration(path+".interval", &sm.Interval, 10*time.Second)
		l.duration(path+".timeout", &sm.Timeout, 5*time.Second)
	}
}

func (l *loader) validateVars() {
	for _, k := range sortedKeys(l.cfg.Vars) {
		path := "vars." + k
		switch {
		case slices.Contains(builtinVars, k):
			l.errKey(path, fmt.Sprintf("{{%s}} is built in and cannot be redefined", k), "pick another name")
		case !isVarName(k):
			l.errKey(path, fmt.Sprintf("%q cannot be used as {{%s}}", k, k), "use letters, digits, _ and -, starting with a letter")
		default:
			l.template(path, l.cfg.Vars[k], builtinVars, false)
		}
	}
}

var k8sName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

func (l *loader) validateKubernetes() {
	k := l.cfg.Kubernetes
	if k == nil {
		return
	}
	if k.Kubeconfig != "" {
		k.Kubeconfig = resolvePath(k.Kubeconfig, l.dir, l.opts.Getenv)
	}
	l.duration("kubernetes.progress_timeout", &k.ProgressTimeout, 10*time.Minute)
	if len(k.Clusters) == 0 {
		l.validateKubeTargets("kubernetes", k.Namespaces, k.Deployments, k.Selector)
		return
	}
	l.kubeNames("kubernetes.namespaces", k.Namespaces, "namespace", "namespaces are lowercase letters, digits and -")
	l.kubeNames("kubernetes.deployments", k.Deployments, "deployment name", "deployment names are lowercase letters, digits, . and -")
	names := map[string]string{}
	same := map[string]string{} // kubeconfig and context → cluster
	for i, c := range k.Clusters {
		path := fmt.Sprintf("kubernetes.cluster[%d]", i)
		if l.required(path+".name", c.Name == "", `name = "primary"`) {
			switch other, dup := names[c.Name]; {
			case dup:
				l.errVal(path+".name", fmt.Sprintf("duplicate cluster name %q: line %d has it too", c.Name, l.ix.line(other)), "give each cluster its own name")
			case !k8sName.MatchString(c.Name):
				l.errVal(path+".name", fmt.Sprintf("%q is not a cluster name", c.Name), "lowercase letters, digits and -, as primary or eu-standby")
			}
			names[c.Name] = path + ".name"
		}
		if c.Role != "" && !k8sName.MatchString(c.Role) {
			l.errVal(path+".role", fmt.Sprintf("%q is not a role", c.Role), "one lowercase word, such as primary or standby")
		}
		eff := &Kubernetes{Name: c.Name, Role: c.Role, Kubeconfig: k.Kubeconfig, Context: c.Context,
			Namespaces: k.Namespaces, Deployments: k.Deployments, Selector: k.Selector, ProgressTimeout: k.ProgressTimeout}
		if c.Kubeconfig != "" {
			eff.Kubeconfig = resolvePath(c.Kubeconfig, l.dir, l.opts.Getenv)
		}
		where := eff.Kubeconfig + "\x00" + eff.Context
		if other, dup := same[where]; dup {
			l.errKey(path, fmt.Sprintf("cluster %q has the same kubeconfig and context as cluster %q", c.Name, other),
				`give it a context = "prod-eu" (kubectl config get-contexts lists them) or a kubeconfig of its own`)
		}
		same[where] = c.Name
		if len(c.Namespaces) > 0 {
			eff.Namespaces = c.Namespaces
		}
		if len(c.Deployments) > 0 || c.Selector != "" {
			eff.Deployments, eff.Selector = c.Deployments, c.Selector
		}
		l.validateKubeTargets(path, eff.Namespaces, eff.Deployments, eff.Selector)
		k.list = append(k.list, eff)
	}
}

func (l *loader) kubeNames(path string, names []string, what, hint string) {
	for i, n := range names {
		if !k8sName.MatchString(n) {
			l.errVal(fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("%q is not a %s", n, what), hint)
		}
	}
}

// validateKubeTargets checks what one cluster watches; path is
// "kubernetes" or one of its clusters.
func (l *loader) validateKubeTargets(path string, namespaces, deployments []string, selector string) {
	// A cluster's inherited lists were checked as the table's.
	own := func(key string) bool { return path == "kubernetes" || l.ix.has(path+"."+key) }
	if len(namespaces) == 0 && !l.isBad(path+".namespaces") && !l.isBad("kubernetes.namespaces") {
		l.errKey(path, "no namespaces to watch", `add namespaces = ["production"]`)
	} else if own("namespaces") {
		l.kubeNames(path+".namespaces", namespaces, "namespace", "namespaces are lowercase letters, digits and -")
	}
	if len(deployments) == 0 && strings.TrimSpace(selector) == "" && !l.isBad(path+".deployments") && !l.isBad(path+".selector") &&
		!l.isBad("kubernetes.deployments") && !l.isBad("kubernetes.selector") {
		l.errKey(path, "no deployments to watch", `add deployments = ["api"] or selector = "app=api"`)
	} else if own("deployments") {
		l.kubeNames(path+".deployments", deployments, "deployment name", "deployment names are lowercase letters, digits, . and -")
	}
}

var (
	urlPassword = regexp.MustCompile(`^postgres(ql)?://[^/@?]*:[^/@?]*@`)
	kvPassword  = regexp.MustCompile(`(^|\s)password\s*=`)
)

func (l *loader) validatePostgres() {
	p := l.cfg.Postgres
	if p == nil {
		return
	}
	l.duration("postgres.poll", &p.Poll, time.Second)
	if min := 250 * time.Millisecond; p.Poll > 0 && p.Poll.D() < min && !l.isBad("postgres.poll") {
		// Every poll asks pg_blocking_pids, which takes every lock-manager
		// partition: faster would weigh on the very server being watched.
		l.errVal("postgres.poll", fmt.Sprintf("poll must be at least %s, not %s", Duration(min), p.Poll), "1s is the default")
	}
	l.duration("postgres.lock_threshold", &p.LockThreshold, 30*time.Second)
	l.duration("postgres.long_query", &p.LongQuery, 60*time.Second)
	if len(p.Targets) == 0 && !l.isBad("postgres.target") {
		l.errKey("postgres", "no databases to watch", `add a [[postgres.target]] with name = "production" and dsn = "..."`)
	}
	seen := map[string]string{}
	for i := range p.Targets {
		t := &p.Targets[i]
		path := fmt.Sprintf("postgres.target[%d]", i)
		if l.required(path+".name", t.Name == "", `name = "production"`) {
			if other, dup := seen[t.Name]; dup {
				l.errVal(path+".name", fmt.Sprintf("duplicate target name %q: line %d has it too", t.Name, l.ix.line(other)), "give each target its own name")
			} else {
				seen[t.Name] = path + ".name"
			}
		}
		if !l.required(path+".dsn", strings.TrimSpace(t.DSN) == "", `dsn = "postgres://deploy@db.internal:5432/app"`) {
			continue
		}
		if urlPassword.MatchString(t.DSN) || kvPassword.MatchString(t.DSN) {
			// Do not echo the DSN: it holds the password.
			l.errVal(path+".dsn", "the dsn contains a password", fmt.Sprintf(`remove it from the dsn and set password = "env:PGPASSWORD_%s" under [[postgres.target]], or rely on PGPASSWORD/.pgpass`, strings.ToUpper(envSafe(t.Name))))
		}
		l.template(path+".dsn", t.DSN, l.allVars(), false)
	}
}

func envSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

func (l *loader) checkURL(path, raw, example string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.errVal(path, fmt.Sprintf("%q is not an http(s) URL", raw), "write e.g. "+example)
		return raw
	}
	return strings.TrimRight(strings.TrimSpace(raw), "/")
}

var jiraProject = regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`)

var jiraCustomField = regexp.MustCompile(`^customfield_[0-9]+$`)

func (l *loader) validateJira() {
	j := l.cfg.Jira
	if j == nil {
		return
	}
	if l.required("jira.url", j.URL == "", `url = "https://acme.atlassian.net"`) {
		j.URL = l.checkURL("jira.url", j.URL, `"https://acme.atlassian.net"`)
	}
	switch j.Flavor {
	case "":
		j.Flavor = JiraCloud
	case JiraCloud, JiraDatacenter:
	default:
		hint := `write "cloud" (Atlassian-hosted, email and API token) or "datacenter" (self-hosted, personal access token)`
		if s := gates.Suggest(j.Flavor, []string{JiraCloud, JiraDatacenter}); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		l.errVal("jira.flavor", fmt.Sprintf("unknown flavor %q", j.Flavor), hint)
	}
	if j.Flavor == JiraCloud {
		if l.required("jira.email", j.Email == "", `email = "deployer@acme.com"`) && !strings.Contains(j.Email, "@") {
			l.errVal("jira.email", fmt.Sprintf("%q is not an email address", j.Email), "Jira Cloud authenticates with the account's email and an API token")
		}
	}
	l.required("jira.token", !j.Token.IsSet(), `token = "env:JIRA_TOKEN"`)
	if !l.ix.has("jira.board") && !l.isBad("jira.board") {
		l.required("jira.board", false, "board = 42 (the number in the board's URL)")
	} else if j.Board <= 0 && !l.isBad("jira.board") {
		l.errVal("jira.board", fmt.Sprintf("board must be a positive number, not %d", j.Board), "use the number in the board's URL: .../boards/42")
	}
	if l.required("jira.project", j.Project == "", `project = "VET"`) && !jiraProject.MatchString(j.Project) {
		hint := "use the prefix of the issue keys, in capitals: VET for VET-123"
		if jiraProject.MatchString(strings.ToUpper(j.Project)) {
			hint = fmt.Sprintf("project keys are upper case: %q", strings.ToUpper(j.Project))
		}
		l.errVal("jira.project", fmt.Sprintf("%q is not a Jira project key", j.Project), hint)
	}
	l.duration("jira.poll", &j.Poll, 60*time.Second)
	l.template("jira.fix_version", j.FixVersion, l.allVars(), false)
	l.template("jira.sprint", j.Sprint, l.allVars(), false)
	if j.SprintField != "" && !jiraCustomField.MatchString(j.SprintField) {
		hint := "write the field's id, e.g. sprint_field = \"customfield_10020\", or remove it to find the field by its type"
		if n, err := strconv.Atoi(strings.TrimSpace(j.SprintField)); err == nil && n > 0 {
			hint = fmt.Sprintf("write the whole id: sprint_field = \"customfield_%d\"", n)
		}
		l.errVal("jira.sprint_field", fmt.Sprintf("%q is not a custom field id", j.SprintField), hint)
	}
	if !l.ix.has("jira.blocker_labels") {
		j.BlockerLabels = []string{"blocker"}
	}
	if !l.ix.has("jira.blocker_priorities") {
		j.BlockerPriorities = []string{"Blocker", "Highest"}
	}

	var columns []string
	colPath := map[string]string{}
	for i, c := range j.Columns {
		path := fmt.Sprintf("jira.column[%d]", i)
		if !l.required(path+".name", strings.TrimSpace(c.Name) == "", `name = "In Progress"`) {
			continue
		}
		if other, dup := containsFold(columns, c.Name); dup {
			l.errVal(path+".name", fmt.Sprintf("column %q is listed twice: line %d has it too", c.Name, l.ix.line(colPath[other])), "merge the two [[jira.column]] sections")
			continue
		}
		columns = append(columns, c.Name)
		colPath[c.Name] = path
		if c.MergedTo != "" && c.MergedTo == c.NotMergedTo {
			l.errVal(path+".not_merged_to", fmt.Sprintf("cards cannot be both merged and not merged to %q", c.MergedTo), "keep one of merged_to and not_merged_to")
		}
		l.checkBranch(path+".merged_to", c.MergedTo)
		l.checkBranch(path+".not_merged_to", c.NotMergedTo)
	}
	for i, m := range j.Moves {
		path := fmt.Sprintf("jira.move[%d]", i)
		if l.required(path+".from", len(m.From) == 0, `from = ["Staging"]`) {
			for k, f := range m.From {
				l.checkColumn(fmt.Sprintf("%s.from[%d]", path, k), f, columns)
				if strings.EqualFold(f, m.To) {
					l.errVal(fmt.Sprintf("%s.from[%d]", path, k), fmt.Sprintf("moves cards from %q to itself", f), "remove it from from")
				}
			}
		}
		if l.required(path+".to", strings.TrimSpace(m.To) == "", `to = "Production"`) {
			l.checkColumn(path+".to", m.To, columns)
		}
	}
}

// checkBranch checks that a branch named in a Jira column is one the git
// section tracks, when there is one.
func (l *loader) checkBranch(path, branch string) {
	g := l.cfg.Git
	if branch == "" || g == nil || slices.Contains(g.Branches, branch) {
		return
	}
	hint := fmt.Sprintf("add it to [git] branches, or use one of %s", strings.Join(g.Branches, ", "))
	if s := gates.Suggest(branch, g.Branches); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	}
	l.errVal(path, fmt.Sprintf("branch %q is not in [git] branches", branch), hint)
}

// checkColumn checks a column named by a move against the configured
// columns. Names compare case-insensitively, as Jira's column names do for
// people.
func (l *loader) checkColumn(path, name string, columns []string) {
	if len(columns) == 0 {
		return
	}
	if _, ok := containsFold(columns, name); ok {
		return
	}
	l.bad[path] = true
	hint := "list every column a move uses as a [[jira.column]] (the checks in it are optional)"
	if s := gates.Suggest(name, columns); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	}
	l.errVal(path, fmt.Sprintf("unknown column %q", name), hint)
}

func (l *loader) validateGit() {
	g := l.cfg.Git
	if g == nil {
		return
	}
	if l.required("git.repo", strings.TrimSpace(g.Repo) == "", `repo = "~/src/app"`) {
		g.Repo = resolvePath(g.Repo, l.dir, l.opts.Getenv)
	}
	if g.Remote == "" {
		g.Remote = "origin"
	}
	if !l.ix.has("git.branches") {
		g.Branches = []string{"master", "staging", "production"}
	} else if len(g.Branches) == 0 {
		l.errVal("git.branches", "branches is empty", `list them in merge order, e.g. ["master", "staging", "production"], or remove the key for that default`)
	}
	seen := map[string]bool{}
	for i, b := range g.Branches {
		path := fmt.Sprintf("git.branches[%d]", i)
		switch {
		case strings.TrimSpace(b) == "" || strings.ContainsAny(b, " ~^:?*[\\"):
			l.errVal(path, fmt.Sprintf("%q is not a branch name", b), "")
		case seen[b]:
			l.errVal(path, fmt.Sprintf("branch %q is listed twice", b), "remove one")
		}
		seen[b] = true
	}
}

func (l *loader) validateSentry() {
	s := l.cfg.Sentry
	if s == nil {
		return
	}
	if s.URL == "" {
		s.URL = "https://sentry.io"
	} else {
		s.URL = l.checkURL("sentry.url", s.URL, `"https://sentry.io"`)
	}
	l.required("sentry.org", strings.TrimSpace(s.Org) == "", `org = "acme" (the slug in sentry.io/organizations/acme)`)
	if l.required("sentry.projects", len(s.Projects) == 0, `projects = ["api"]`) {
		for i, p := range s.Projects {
			if strings.TrimSpace(p) == "" {
				l.errVal(fmt.Sprintf("sentry.projects[%d]", i), "empty project slug", "")
			}
		}
	}
	l.required("sentry.token", !s.Token.IsSet(), `token = "env:SENTRY_TOKEN"`)
	l.duration("sentry.poll", &s.Poll, 30*time.Second)
	l.duration("sentry.baseline", &s.Baseline, 60*time.Minute)
	if !l.ix.has("sentry.spike_factor") {
		s.SpikeFactor = 3
	} else if s.SpikeFactor <= 1 && !l.isBad("sentry.spike_factor") {
		l.errVal("sentry.spike_factor", fmt.Sprintf("spike_factor must be more than 1, not %g", s.SpikeFactor), "it multiplies the baseline error rate: 3 means three times the usual rate")
	}
	if !l.ix.has("sentry.advisory_new_issues") {
		s.AdvisoryNewIssues = 1
	} else if s.AdvisoryNewIssues < 1 && !l.isBad("sentry.advisory_new_issues") {
		l.errVal("sentry.advisory_new_issues", fmt.Sprintf("advisory_new_issues must be 1 or more, not %d", s.AdvisoryNewIssues), "it is how many new issues since the deploy's start recommend a rollback")
	}
	if !l.ix.has("sentry.spike_floor") {
		s.SpikeFloor = 10
	} else if s.SpikeFloor < 0 && !l.isBad("sentry.spike_floor") {
		l.errVal("sentry.spike_floor", fmt.Sprintf("spike_floor must not be negative, not %g", s.SpikeFloor), "it is the error rate per minute below which nothing counts as a spike")
	}
	if !l.ix.has("sentry.spike_intervals") {
		s.SpikeIntervals = 3
	} else if s.SpikeIntervals < 1 && !l.isBad("sentry.spike_intervals") {
		l.errVal("sentry.spike_intervals", fmt.Sprintf("spike_intervals must be at least 1, not %d", s.SpikeIntervals), "it is how many one-minute intervals in a row must be above the threshold")
	}
	for i, re := range s.Ignore {
		if _, err := regexp.Compile(re); err != nil {
			l.errVal(fmt.Sprintf("sentry.ignore[%d]", i), fmt.Sprintf("bad regular expression: %v", err), `in TOML, write regexps in single quotes so backslashes stay as they are: 'DBConnection\.ConnectionError'`)
		}
	}
}

var slackChannelID = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)

func (l *loader) validateSlack() {
	s := l.cfg.Slack
	if s == nil {
		return
	}
	l.required("slack.webhook", !s.Webhook.IsSet(), `webhook = "env:SLACK_WEBHOOK_URL"`)
	l.checkChannel("slack.channel", s.Channel)
	l.checkChannel("slack.incident_channel", s.IncidentChannel)
}

func (l *loader) checkChannel(path, ch string) {
	if ch == "" || strings.HasPrefix(ch, "#") || slackChannelID.MatchString(ch) {
		return
	}
	l.errVal(path, fmt.Sprintf("%q is not a channel", ch), fmt.Sprintf("write it with its #: %q", "#"+strings.TrimPrefix(ch, "@")))
}

func (l *loader) validateShare() {
	s := l.cfg.Share
	if s == nil {
		return
	}
	l.required("share.authorized_keys", s.AuthorizedKeys == "", `authorized_keys = "~/.ssh/flightdeck_viewers"`)
	if s.AuthorizedKeys != "" {
		s.AuthorizedKeys = resolvePath(s.AuthorizedKeys, l.dir, l.opts.Getenv)
	}
	if s.Listen != "" {
		if _, port, err := net.SplitHostPort(s.Listen); err != nil || port == "" {
			l.errVal("share.listen", fmt.Sprintf("%q is not host:port", s.Listen), `listen = ":2222" (localhost) or "0.0.0.0:2222" (every interface)`)
		}
	}
	if l.ix.has("share.max_viewers") && s.MaxViewers <= 0 {
		l.errVal("share.max_viewers", fmt.Sprintf("max_viewers must be more than 0, not %d", s.MaxViewers), "remove it for the default of 20")
	}
	if s.MaxViewers <= 0 {
		s.MaxViewers = 20
	}
	l.duration("share.idle_timeout", &s.IdleTimeout, 30*time.Minute)
}

func (l *loader) validateMigrations() {
	m := l.cfg.Migrations
	if m == nil {
		return
	}
	if len(m.Files) == 0 && strings.TrimSpace(m.Command) == "" && !l.isBad("migrations.files") && !l.isBad("migrations.command") {
		l.errKey("migrations", "no migrations to read: neither files nor command is set",
			`add files = ["db/migrations/*.sql"], or command = "bin/rails db:migrate:status --dry-run" (it prints the pending SQL)`)
	}
	for i, f := range m.Files {
		path := fmt.Sprintf("migrations.files[%d]", i)
		if strings.TrimSpace(f) == "" {
			l.errVal("migrations.files", "an empty glob", `write e.g. "db/migrations/*.sql"`)
			continue
		}
		l.template(path, f, l.allVars(), false)
	}
	if m.Command != "" {
		l.template("migrations.command", m.Command, l.allVars(), true)
	}
	l.duration("migrations.lock_timeout", &m.LockTimeout, 5*time.Second)
	l.duration("migrations.poll", &m.Poll, 30*time.Second)
	if l.cfg.Postgres == nil {
		l.errKey("migrations", "the pre-flight asks production how the migrations' tables and indexes are used, but there is no [postgres] section",
			`add [[postgres.target]] with name = "production"`)
		return
	}
	var names []string
	for _, t := range l.cfg.Postgres.Targets {
		names = append(names, t.Name)
	}
	if m.Target == "" {
		if len(names) > 0 {
			m.Target = names[0]
		}
		return
	}
	if !slices.Contains(names, m.Target) {
		hint := "targets: " + strings.Join(names, ", ")
		if sug := gates.Suggest(m.Target, names); sug != "" {
			hint = fmt.Sprintf("did you mean %q?", sug)
		}
		l.errVal("migrations.target", fmt.Sprintf("no [[postgres.target]] is named %q", m.Target), hint)
	}
}

var stepID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)

func (l *loader) validatePhases() {
	c := l.cfg
	if len(c.Phases) == 0 {
		if !l.isBad("phase") {
			l.add(1, 1, "phase", "no phases", "add a [[phase]] with name = \"...\" and [[phase.step]] entries under it")
		}
		return
	}
	ids := map[string]int{} // id → line of the step that has it
	for i := range c.Phases {
		ph := &c.Phases[i]
		ppath := fmt.Sprintf("phase[%d]", i)
		l.required(ppath+".name", strings.TrimSpace(ph.Name) == "", `name = "Pre-Deployment"`)
		if len(ph.Steps) == 0 && !l.isBad(ppath+".step") {
			l.errKey(ppath, fmt.Sprintf("phase %q has no steps", ph.Name), "add [[phase.step]] entries after it")
		}
		for j := range ph.Steps {
			spath := fmt.Sprintf("%s.step[%d]", ppath, j)
			l.validateStep(ph, &ph.Steps[j], spath, ids)
		}
	}
	l.validateRequires(ids)
	l.validateStartsDeploy()
}

// validateStartsDeploy allows one step to start the deploy, in the normal
// flow: a contingency step runs only when something went wrong.
func (l *loader) validateStartsDeploy() {
	first := ""
	for i := range l.cfg.Phases {
		ph := &l.cfg.Phases[i]
		for j := range ph.Steps {
			s := &ph.Steps[j]
			if !s.StartsDeploy {
				continue
			}
			path := fmt.Sprintf("phase[%d].step[%d].starts_deploy", i, j)
			switch {
			case ph.Contingency:
				l.errVal(path, fmt.Sprintf("%q is in the contingency phase %q: the deploy does not start there", s.Title, ph.Name), "mark the push or rollout step instead")
			case first != "":
				l.errVal(path, fmt.Sprintf("two steps start the deploy: %q and %q", first, s.Title), "mark only the step that pushes or rolls out")
			default:
				first = s.Title
			}
		}
	}
}

// validateRequires runs once every step has its id.
func (l *loader) validateRequires(ids map[string]int) {
	known := make([]string, 0, len(ids))
	for id := range ids {
		known = append(known, id)
	}
	sort.Strings(known)
	for i := range l.cfg.Phases {
		for j := range l.cfg.Phases[i].Steps {
			s := &l.cfg.Phases[i].Steps[j]
			path := fmt.Sprintf("phase[%d].step[%d].requires", i, j)
			for _, r := range s.Requires {
				switch _, ok := ids[r]; {
				case r == s.ID:
					l.errVal(path, fmt.Sprintf("step %q requires itself", r), "name the steps that must be closed before this one")
				case !ok:
					hint := "name a step by its id"
					if sug := gates.Suggest(r, known); sug != "" {
						hint = fmt.Sprintf("did you mean %q?", sug)
					}
					l.errVal(path, fmt.Sprintf("no step has the id %q", r), hint)
				}
			}
		}
	}
}

func (l *loader) validateStep(ph *Phase, s *Step, path string, ids map[string]int) {
	c := l.cfg
	s.Line = l.ix.line(path)
	l.required(path+".title", strings.TrimSpace(s.Title) == "", `title = "Merge staging into production"`)
	if !l.isBad(path + ".estimate") {
		if !l.ix.has(path + ".estimate") {
			l.required(path+".estimate", false, `estimate = "5m" (how long the step usually takes)`)
		} else if s.Estimate <= 0 {
			l.errVal(path+".estimate", fmt.Sprintf("estimate must be more than 0, not %s", s.Estimate.D()), `use e.g. "1m" for a quick step`)
		}
	}

	// ID
	if s.ID == "" && !l.ix.has(path+".id") {
		title := slug(s.Title)
		if title == "" {
			title = fmt.Sprintf("step-%d", len(ids)+1)
		}
		s.ID = slug(ph.Name) + "/" + title
	} else if !stepID.MatchString(s.ID) {
		l.errVal(path+".id", fmt.Sprintf("%q is not a step id", s.ID), "use letters, digits, and . _ / -, e.g. pre/clone-db")
	}
	if s.ID != "" {
		if other, dup := ids[s.ID]; dup {
			hint := "give one of them a different id"
			if !l.ix.has(path + ".id") {
				hint = `two steps have the same title in this phase: give one an id = "..."`
			}
			l.errKey(path+".id", fmt.Sprintf("duplicate step id %q: the step at line %d has it too", s.ID, other), hint)
		} else {
			ids[s.ID] = s.Line
		}
	}

	// Kind: at most one of command, gate, action.
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"command", s.Command != ""}, {"gate", s.Gate != ""}, {"action", s.Action != ""}} {
		if k.set || l.ix.has(path+"."+k.name) {
			kinds = append(kinds, k.name)
		}
	}
	if len(kinds) > 1 {
		l.errKey(path+"."+kinds[1], fmt.Sprintf("a step does one thing, but this one has both %s and %s", kinds[0], kinds[1]), "split it into two steps")
	}
	s.Kind = Manual
	if len(kinds) > 0 {
		s.Kind = StepKind(kinds[0])
	}
	l.template(path+".notes", s.Notes, l.allVars(), false)

	if s.Kind != Command {
		for _, k := range []string{"timeout", "workdir"} {
			if l.ix.has(path + "." + k) {
				l.errKey(path+"."+k, fmt.Sprintf("%s only applies to command steps", k), "remove it, or give the step a command")
			}
		}
	}
	if s.Kind != Action && l.ix.has(path+".args") {
		l.errKey(path+".args", "args only apply to action steps", "remove them, or give the step an action")
	}

	switch s.Kind {
	case Command:
		if strings.TrimSpace(s.Command) == "" {
			l.errVal(path+".command", "empty command", "remove command = \"\" for a manual step")
		}
		l.template(path+".command", s.Command, l.allVars(), true)
		if l.ix.has(path+".timeout") && !l.isBad(path+".timeout") {
			l.duration(path+".timeout", &s.Timeout, c.Deploy.CommandTimeout.D())
		} else {
			s.Timeout = c.Deploy.CommandTimeout
		}
		if s.Workdir == "" {
			s.Workdir = c.Deploy.Workdir
		} else {
			s.Workdir = resolvePath(s.Workdir, c.Deploy.Workdir, l.opts.Getenv)
		}
	case Gate:
		e, err := gates.Parse(s.Gate)
		if err != nil {
			l.errVal(path+".gate", err.Error(), "")
			break
		}
		s.GateExpr = e
		spec, _ := gates.Lookup(e.Name)
		if !c.configured(spec.Source) {
			header := "[" + spec.Source + "]"
			if spec.Source == "smoke" {
				header = "[[smoke]]" // a list of checks, not one section
			}
			l.errVal(path+".gate", fmt.Sprintf("gate %s reads from %s, but there is no %s section", e.Name, spec.Source, header),
				fmt.Sprintf("add a %s section, or make this a manual step", header))
		}
	case Action:
		l.validateAction(s, path)
	}
}

func (l *loader) validateAction(s *Step, path string) {
	c := l.cfg
	spec, ok := ActionKinds[s.Action]
	if !ok {
		hint := "actions: " + strings.Join(ActionNames(), ", ")
		if sug := gates.Suggest(s.Action, ActionNames()); sug != "" {
			hint = fmt.Sprintf("did you mean %q?", sug)
		}
		l.errVal(path+".action", fmt.Sprintf("unknown action %q", s.Action), hint)
		return
	}
	if !c.configured(spec.Needs) {
		l.errVal(path+".action", fmt.Sprintf("action %s needs a [%s] section", s.Action, spec.Needs),
			fmt.Sprintf("add a [%s] section, or make this a manual step", spec.Needs))
	}
	for _, k := range sortedKeys(s.Args) {
		apath := path + ".args." + k
		if !slices.Contains(spec.Args, k) {
			hint := fmt.Sprintf("%s takes no args", s.Action)
			if len(spec.Args) > 0 {
				hint = fmt.Sprintf("%s takes: %s", s.Action, strings.Join(spec.Args, ", "))
			}
			if sug := gates.Suggest(k, spec.Args); sug != "" {
				hint = fmt.Sprintf("did you mean %q?", sug)
			}
			l.errKey(apath, fmt.Sprintf("unknown arg %q for action %s", k, s.Action), hint)
			continue
		}
		l.template(apath, s.Args[k], l.allVars(), false)
	}
	for _, r := range spec.Required {
		if strings.TrimSpace(s.Args[r]) == "" && !l.isBad(path+".args."+r) {
			p := path + ".args"
			if !l.ix.has(p) {
				p = path + ".action"
			}
			line, col := l.ix.keyPos(p)
			l.add(line, col, path+".args."+r, fmt.Sprintf("action %s needs args.%s", s.Action, r), fmt.Sprintf("add args = { %s = \"...\" }", r))
		}
	}
	l.checkActionArgs(s, path)
}

// checkActionArgs checks arg values that refer to other parts of the config.
func (l *loader) checkActionArgs(s *Step, path string) {
	c := l.cfg
	switch s.Action {
	case "sentry.deploy_marker":
		if st, ok := s.Args["stage"]; ok && st != "" && !slices.Contains(sentryStages, st) {
			l.errVal(path+".args.stage", fmt.Sprintf("unknown stage %q", st), "use start, finish or rollback")
		}
	case "postgres.cancel", "postgres.terminate":
		if t, ok := s.Args["target"]; ok && c.Postgres != nil {
			var names []string
			for _, pt := range c.Postgres.Targets {
				names = append(names, pt.Name)
			}
			if !slices.Contains(names, t) {
				hint := "targets: " + strings.Join(names, ", ")
				if sug := gates.Suggest(t, names); sug != "" {
					hint = fmt.Sprintf("did you mean %q?", sug)
				}
				l.errVal(path+".args.target", fmt.Sprintf("no [[postgres.target]] is named %q", t), hint)
			}
		}
	case "jira.move":
		movesOK := true
		if c.Jira != nil {
			for i := range c.Jira.Moves {
				movesOK = movesOK && !l.isBad(fmt.Sprintf("jira.move[%d].to", i))
			}
		}
		if m, ok := s.Args["move"]; ok && c.Jira != nil && movesOK {
			if n, err := strconv.Atoi(m); err == nil {
				if n < 0 || n >= len(c.Jira.Moves) {
					l.errVal(path+".args.move", fmt.Sprintf("there is no [[jira.move]] number %d", n), fmt.Sprintf("moves are numbered from 0; there are %d", len(c.Jira.Moves)))
				}
				break
			}
			var tos []string
			for _, mv := range c.Jira.Moves {
				tos = append(tos, mv.To)
			}
			if _, ok := containsFold(tos, m); !ok {
				hint := "name a move by its to column, or its number from 0"
				if sug := gates.Suggest(m, tos); sug != "" {
					hint = fmt.Sprintf("did you mean %q?", sug)
				}
				l.errVal(path+".args.move", fmt.Sprintf("no [[jira.move]] goes to %q", m), hint)
			}
		}
	case "kube.rollback", "kube.pause", "kube.resume", "kube.restart", "kube.scale":
		k := c.Kubernetes
		if d, ok := s.Args["deployment"]; ok && k != nil && len(k.AllDeployments()) > 0 && !k.AnySelector() && !slices.Contains(k.AllDeployments(), d) {
			hint := "watched: " + strings.Join(k.AllDeployments(), ", ")
			if sug := gates.Suggest(d, k.AllDeployments()); sug != "" {
				hint = fmt.Sprintf("did you mean %q?", sug)
			}
			l.errVal(path+".args.deployment", fmt.Sprintf("deployment %q is not in [kubernetes] deployments", d), hint)
		}
		if r, ok := s.Args["revision"]; ok {
			if n, err := strconv.Atoi(r); err != nil || n < 1 {
				l.errVal(path+".args.revision", fmt.Sprintf("revision %q is not a revision number", r), "use the number from kubectl rollout history, or remove it for the previous revision")
			}
		}
		if r, ok := s.Args["replicas"]; ok && strings.TrimSpace(r) != "" {
			if _, err := strconv.ParseUint(r, 10, 31); err != nil {
				l.errVal(path+".args.replicas", fmt.Sprintf("replicas %q is not a count of pods", r), "use a whole number, 0 or more")
			}
		}
	case "slack.notify":
		if ch, ok := s.Args["channel"]; ok {
			l.checkChannel(path+".args.channel", ch)
		} else if c.Slack != nil && c.Slack.Channel == "" {
			l.errVal(path+".action", "slack.notify has no channel to post to", `add args.channel = "#general", or set channel under [slack]`)
		}
	}
}

// slug makes an id component from a title: lower case, words joined by -,
// cut at a word boundary so ids stay readable in the journal.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	out := b.String()
	const max = 40
	if len(out) > max {
		out = out[:max]
		if i := strings.LastIndexByte(out, '-'); i > 0 {
			out = out[:i]
		}
	}
	return out
}
