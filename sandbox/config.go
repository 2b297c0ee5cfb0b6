package sandbox

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/share"
	gossh "golang.org/x/crypto/ssh"

	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
)

// sandboxZone is the seed team's zone; the window is laid around the time
// the sandbox comes up, so a demo is always inside it.
const sandboxZone = "Europe/London"

// window returns HH:MM start and end for a 3½-hour window opening on the
// quarter hour before now, kept within the day (windows do not cross
// midnight).
func window(now time.Time) (string, string) {
	loc, err := time.LoadLocation(sandboxZone)
	if err != nil {
		loc = time.UTC
	}
	n := now.In(loc)
	start := time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute()/15*15, 0, 0, loc)
	end := start.Add(3*time.Hour + 30*time.Minute)
	if end.Day() != start.Day() {
		return start.Format("15:04"), "23:59"
	}
	return start.Format("15:04"), end.Format("15:04")
}

// splitPassword takes the password out of a URL DSN: the cockpit's config
// refuses passwords in DSNs, so it goes to a secret file instead.
func splitPassword(dsn string) (string, string) {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn, ""
	}
	pw, _ := u.User.Password()
	u.User = url.User(u.User.Username())
	return u.String(), pw
}

// pgpassLine is the .pgpass entry for the app role on the sandbox server,
// any database (the clone's too), with ':' and backslash escaped as libpq wants.
func pgpassLine(dsn, password string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return ""
	}
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	return fmt.Sprintf("%s:%s:*:%s:%s\n", esc.Replace(u.Hostname()), u.Port(), esc.Replace(u.User.Username()), esc.Replace(password))
}

// viewerKey makes the demo's teammate: a key pair whose public half is the
// one line of the sandbox's authorized_keys. It returns the private key's
// path, for ssh -i.
func viewerKey(info *Info) string {
	dir := filepath.Join(info.Dir, "share")
	priv := filepath.Join(dir, "viewer_ed25519")
	signer, err := share.EnsureKey(priv)
	if err != nil {
		return priv
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey()))) + " demo-viewer@sandbox\n"
	_ = os.WriteFile(filepath.Join(dir, "viewers"), []byte(line), 0o600)
	return priv
}

func tomlString(s string) string { return strconv.Quote(s) }

// renderConfig writes the seed runbook adapted to the sandbox: the same
// phases and steps, with commands that really work here.
func renderConfig(info *Info, exe string, now time.Time) string {
	start, end := window(now)
	appDSN, appPassword := splitPassword(info.PostgresApp)
	cloneDSN, _ := splitPassword(info.PostgresClone)
	adminDSN, _ := splitPassword(info.PostgresAdmin)
	pwFile := filepath.Join(info.Dir, "secrets", "pg-password")
	_ = os.WriteFile(pwFile, []byte(appPassword+"\n"), 0o600)
	// Command steps reach Postgres the libpq way: psql reads the password
	// from PGPASSFILE (set in [deploy.env]), never from a prompt.
	_ = os.WriteFile(filepath.Join(info.Dir, "secrets", "pgpass"), []byte(pgpassLine(info.PostgresApp, appPassword)), 0o600)
	image := k8s.ImageRepo + ":release-"

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	// put writes a block verbatim: the runbook's shell and SQL have %
	// signs of their own (LIKE 'acme-clone-%') that a format would eat.
	put := func(text string) { b.WriteString(text + "\n") }
	w(`# Written by flightdeck-sandbox up. The seed runbook adapted to the local
# sandbox: a real Kubernetes control plane, a real Postgres with a workload,
# and stand-ins for Jira, Sentry and Slack. Rewritten on every sandbox up.

[deploy]
name = "Acme sandbox deploy"
environment = "production"
release = "release-{{date}}"
workdir = %s
command_timeout = "5m"

[deploy.env]
PGPASSFILE = "{{sandbox}}/secrets/pgpass"

[window]
start = %q
end = %q
timezone = %q

[vars]
kubectl = %s
kubeconfig = %s
standby_kubeconfig = %s
admin_dsn = %s
app_dsn = %s
clone = %q
clone_dsn = %s
migration = %s
flightdeck-sandbox = %s
image = %q
sandbox = %s
`, tomlString(info.GitRepo), start, end, sandboxZone,
		tomlString(info.Kubectl), tomlString(info.Kubeconfig), tomlString(standbyKubeconfig(info)), tomlString(adminDSN), tomlString(appDSN), info.CloneName,
		tomlString(cloneDSN), tomlString(info.MigrationFile), tomlString(exe), image, tomlString(info.Dir))

	put(`[[phase]]
name = "Pre-Deployment"

[[phase.step]]
id = "pre/deployment-plan"
title = "A deployment plan exists"
estimate = "2m"
notes = "Clone the last deployment plan and rename it for today."

[[phase.step]]
id = "pre/clone-database"
title = "Clone the production database"
estimate = "2m"
command = "{{flightdeck-sandbox}} clone --dir {{sandbox}} --name {{clone}}"
notes = "CREATE DATABASE {{clone}} TEMPLATE acme, on the sandbox's Postgres."

[[phase.step]]
id = "pre/prune-clones"
title = "Delete clones older than three deploys ago"
estimate = "1m"
command = '''
psql {{admin_dsn}} -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'acme-clone-%' ORDER BY datname DESC OFFSET 4" |
  while read -r db; do echo "dropping $db"; psql {{admin_dsn}} -c "DROP DATABASE \"$db\""; done'''

[[phase.step]]
id = "pre/jira-columns"
title = "JIRA is up to date for every deployment column"
estimate = "5m"
gate = "jira.columns_clean"

[[phase.step]]
id = "pre/qa-hold-blockers"
title = "QA Hold has no deployment blockers"
estimate = "2m"
notes = "The Jira pane flags QA Hold cards labelled or prioritised as blockers."

[[phase.step]]
id = "pre/pull-branches"
title = "Bring master, staging and production up to date locally"
estimate = "1m"
command = "git checkout master && git pull && git checkout staging && git pull && git checkout production && git pull"

[[phase.step]]
id = "pre/merge-down"
title = "Merge hotfixes down: production into staging into master"
estimate = "1m"
command = "git checkout staging && git merge --no-edit production && git push && git checkout master && git merge --no-edit staging && git push"

[[phase]]
name = "Deployment Proper"

[[phase.step]]
id = "deploy/merge-staging"
title = "Merge staging into production"
estimate = "1m"
command = "git checkout production && git merge --no-edit staging"

[[phase.step]]
id = "deploy/preflight-migrations"
title = "Pre-flight: the pending migrations are safe for production"
estimate = "2m"
gate = "migrations.safe"
notes = """The DB pane's pre-flight judges each statement of {{sandbox}}/migrations
against production. Fix the file (the safe form is in {{sandbox}}/migrations-safe),
or skip this step with s and the reason the risk is accepted."""

[[phase.step]]
id = "deploy/dry-run-migrations"
title = "Dry-run the migrations on today's clone"
estimate = "3m"
action = "migrations.dry_run"
args = { target = "clone" }
notes = "Each statement runs on the clone with a lock_timeout; the DB pane shows the locks it really held beside the prediction."

[[phase.step]]
id = "deploy/clone-locks"
title = "Nothing locks the database for more than ~30 seconds"
estimate = "2m"
gate = "locks.max_hold < 30s"

[[phase.step]]
id = "deploy/push-production"
title = "Push production and roll the new image out"
estimate = "3m"
requires = ["deploy/preflight-migrations"]
starts_deploy = true
command = '''
git push origin production &&
sha=$(git rev-parse --short=7 production) &&
for kc in {{kubeconfig}} {{standby_kubeconfig}}; do
  {{kubectl}} --kubeconfig $kc -n production set image deployment/api deployment/worker app={{image}}$sha || exit 1
done'''

[[phase.step]]
id = "deploy/sentry-marker"
title = "Mark the deploy in Sentry"
estimate = "1m"
action = "sentry.deploy_marker"
args = { stage = "start" }

[[phase.step]]
id = "deploy/merge-master"
title = "Merge master into staging and push"
estimate = "1m"
command = "git checkout staging && git merge --no-edit master && git push origin staging"

[[phase]]
name = "Post-Deployment"

[[phase.step]]
id = "post/jira-to-production"
title = "Move Staging, QA Hold and Testing For Production cards to Production"
estimate = "1m"
action = "jira.move"
args = { move = "Production" }

[[phase.step]]
id = "post/jira-to-staging"
title = "Move Merged to Master cards to Staging"
estimate = "1m"
action = "jira.move"
args = { move = "Staging" }

[[phase.step]]
id = "post/rollout-complete"
title = "Production rollout complete"
estimate = "3m"
gate = "rollout.complete"

[[phase.step]]
id = "post/no-crashloops"
title = "No pods crash-looping"
estimate = "1m"
gate = "rollout.no_crashloops"
`)
	if info.AppHealthURL != "" {
		put(`[[phase.step]]
id = "post/smoke"
title = "Smoke checks pass"
estimate = "2m"
gate = "smoke.passing"
`)
	}
	put(`[[phase.step]]
id = "post/announce"
title = "Tell #general the deployment was successful"
estimate = "1m"
action = "slack.notify"
args = { channel = "#general", text = ":rocket: {{release}} is live in {{env}}. Deployed by {{operator}}." }

[[phase.step]]
id = "post/sentry-spikes"
title = "Sentry: no error spikes"
estimate = "5m"
gate = "sentry.no_spike"

[[phase.step]]
id = "post/sentry-new-issues"
title = "Sentry: no new errors"
estimate = "2m"
gate = "sentry.no_new_issues"

[[phase.step]]
id = "post/sentry-finish"
title = "Mark the deploy finished in Sentry"
estimate = "1m"
action = "sentry.deploy_marker"
args = { stage = "finish" }

[[phase]]
name = "Disaster Recovery"
contingency = true

[[phase.step]]
id = "dr/rollback"
title = "Pods missing or down: roll back the deployment"
estimate = "3m"
action = "kube.rollback"

[[phase.step]]
id = "dr/rollout-undo"
title = "Roll back by hand (kubectl rollout undo)"
estimate = "2m"
command = "for kc in {{kubeconfig}} {{standby_kubeconfig}}; do {{kubectl}} --kubeconfig $kc -n production rollout undo deployment/api deployment/worker || exit 1; done"

[[phase.step]]
id = "dr/watch-pods"
title = "Watch pods: is the issue resolved?"
estimate = "3m"
gate = "rollout.complete"

[[phase.step]]
id = "dr/alert"
title = "Alert the EM/TL/DevOps channel"
estimate = "1m"
action = "slack.notify"
args = { channel = "#dev-ops", text = ":rotating_light: {{deploy}} {{release}} rolled back. Deployer: {{operator}}." }

[[phase.step]]
id = "dr/long-running-queries"
title = "List long-running queries"
estimate = "1m"
command = "psql {{admin_dsn}} -c \"SELECT pid, now() - query_start AS age, state, left(query, 60) AS query FROM pg_stat_activity WHERE state <> 'idle' ORDER BY age DESC\""

[[phase.step]]
id = "dr/cancel-backends"
title = "Cancel the blocking queries"
estimate = "2m"
action = "postgres.cancel"
args = { target = "production" }

[[phase.step]]
id = "dr/terminate-backends"
title = "Terminate them if cancelling did not help"
estimate = "2m"
action = "postgres.terminate"
args = { target = "production" }

[[phase]]
name = "Sandbox drills"
contingency = true

[[phase.step]]
id = "drill/bad-release"
title = "Ship a bad release (pods crash-loop)"
estimate = "1m"
command = "for kc in {{kubeconfig}} {{standby_kubeconfig}}; do {{kubectl}} --kubeconfig $kc -n production set image deployment/api deployment/worker app={{image}}bad-{{date}} || exit 1; done"

[[phase.step]]
id = "drill/lock-production"
title = "Run the migration on production (blocks the workload)"
estimate = "1m"
command = "psql {{app_dsn}} -v ON_ERROR_STOP=1 -f {{migration}}"
`)

	w(`[kubernetes]
kubeconfig = %s
namespaces = ["production"]
deployments = ["api", "worker"]
progress_timeout = "1m"
%s
[migrations]
files = ["{{sandbox}}/migrations/*.sql"]
target = "production"
lock_timeout = "5s"

[postgres]
poll = "1s"
lock_threshold = "30s"
long_query = "30s"

[[postgres.target]]
name = "production"
dsn = %s
password = %q

[[postgres.target]]
name = "clone"
dsn = "%s"
password = %q

[git]
repo = %s
remote = "origin"
branches = ["master", "staging", "production"]

[jira]
url = %q
flavor = "cloud"
email = %q
token = %q
board = %d
project = %q
poll = "15s"
fix_version = "2026.11.22"
blocker_labels = ["blocker"]
blocker_priorities = ["Blocker", "Highest"]

[[jira.column]]
name = "In Progress"
not_merged_to = "master"

[[jira.column]]
name = "Code Review"
not_merged_to = "master"

[[jira.column]]
name = "Merged to Master"
merged_to = "master"
check_release = true

[[jira.column]]
name = "Staging"
merged_to = "staging"
check_release = true

[[jira.column]]
name = "QA Hold"
merged_to = "staging"
check_release = true
no_blockers = true

[[jira.column]]
name = "Testing For Production"
merged_to = "staging"
check_release = true

[[jira.column]]
name = "Production"

[[jira.move]]
from = ["Staging", "QA Hold", "Testing For Production"]
to = "Production"

[[jira.move]]
from = ["Merged to Master"]
to = "Staging"

[sentry]
url = %q
org = %q
projects = [%q]
environment = "production"
token = %q
poll = "10s"
baseline = "30m"
spike_factor = 3
spike_floor = 10
spike_intervals = 2
ignore = ["^DBConnection"]

[slack]
webhook = %q
channel = "#general"
incident_channel = "#dev-ops"

# flightdeck --share 127.0.0.1:2222, then from another terminal:
#   ssh -p 2222 -i %s localhost
[share]
authorized_keys = %q
`, tomlString(info.Kubeconfig), clustersTOML(info), tomlString(appDSN), "file:"+pwFile, strings.ReplaceAll(cloneDSN, info.CloneName, "{{clone}}"), "file:"+pwFile,
		tomlString(info.GitRepo),
		info.JiraURL, info.JiraEmail, "file:"+info.JiraTokenFile, JiraBoard, JiraProject,
		info.SentryURL, SentryOrg, SentryProj, "file:"+info.SentryTokenFile,
		"file:"+filepath.Join(info.Dir, "secrets", "slack-webhook"),
		viewerKey(info), filepath.Join(info.Dir, "share", "viewers"))
	// A daemon from before the health endpoint has no address for it: no
	// checks then, rather than ones that can never pass.
	if info.AppHealthURL != "" {
		w(`
# The application's health endpoint, checked from the deploy's start; it
# answers 503 while an image tagged "bad" runs (drill/bad-release).
[[smoke]]
name = "api health"
url = %q
status = 200
body = '"status":\s*"ok"'
interval = "5s"
timeout = "2s"`, info.AppHealthURL)
	}
	_ = os.WriteFile(filepath.Join(info.Dir, "secrets", "slack-webhook"), []byte(info.SlackWebhook+"\n"), 0o600)

	w(`
# The team's deploy lock: a Lease in production (flightdeck lock status).
[lock]
namespace = %q
duration = "1m"`, Namespace)

	// Two gates are red on purpose, to show what the cockpit catches: an
	// unattended run skips them with the reasons its journal keeps, and
	// drives every other step for real.
	put(`
# flightdeck rehearse drives this runbook unattended. The two red gates
# are the sandbox's deliberate faults; every other step runs for real.
[rehearsal]
gate_timeout = "2m"
skip = [
  { step = "pre/jira-columns", reason = "the Jira stand-in is seeded with four deliberate inconsistencies (the board pane names them)" },
  { step = "deploy/preflight-migrations", reason = "the sandbox's pending migration is deliberately unsafe (flightdeck preflight says why); the dry run on the clone still runs" },
]`)
	return b.String()
}

// standbyKubeconfig is the standby cluster's kubeconfig; the primary's for
// a sandbox started before it had one, so runbook commands still work.
func standbyKubeconfig(info *Info) string {
	if info.StandbyKubeconfig == "" {
		return info.Kubeconfig
	}
	return info.StandbyKubeconfig
}

// clustersTOML names the sandbox's two clusters: the primary and the
// standby kept for a fast rollback (seed 003's). Each kubeconfig's current
// context is its cluster.
func clustersTOML(info *Info) string {
	if info.StandbyKubeconfig == "" {
		return ""
	}
	return fmt.Sprintf(`
[[kubernetes.cluster]]
name = "primary"
role = "primary"

[[kubernetes.cluster]]
name = "standby"
role = "standby"
kubeconfig = %s
`, tomlString(info.StandbyKubeconfig))
}
