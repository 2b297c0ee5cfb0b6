package config

import "testing"

const kubeSection = `
[kubernetes]
namespaces = ["production"]
deployments = ["api", "worker"]
`

func TestKubeScaleArgs(t *testing.T) {
	doc := minimal + `
[[phase.step]]
title = "Scale without args"
estimate = "1m"
action = "kube.scale" # BARE

[[phase.step]]
title = "Scale to a word"
estimate = "1m"
action = "kube.scale"
args = { deployment = "api", replicas = "three" } # WORD

[[phase.step]]
title = "Scale below zero"
estimate = "1m"
action = "kube.scale"
args = { deployment = "api", replicas = "-1" } # NEGATIVE

[[phase.step]]
title = "Scale what is not watched"
estimate = "1m"
action = "kube.scale"
args = { deployment = "apj", replicas = "2" } # UNWATCHED
` + kubeSection
	errs := parseErrs(t, doc, LoadOptions{})
	wantErr(t, errs, "phase[0].step[1].args.deployment", lineOf(t, doc, "# BARE"), "action kube.scale needs args.deployment")
	wantErr(t, errs, "phase[0].step[1].args.replicas", lineOf(t, doc, "# BARE"), "action kube.scale needs args.replicas")
	wantErr(t, errs, "phase[0].step[2].args.replicas", lineOf(t, doc, "# WORD"), `replicas "three" is not a count of pods`, "0 or more")
	wantErr(t, errs, "phase[0].step[3].args.replicas", lineOf(t, doc, "# NEGATIVE"), `replicas "-1" is not a count of pods`)
	wantErr(t, errs, "phase[0].step[4].args.deployment", lineOf(t, doc, "# UNWATCHED"), `deployment "apj" is not in [kubernetes] deployments`, `did you mean "api"?`)

	ok := mustParse(t, minimal+`
[[phase.step]]
title = "Scale the workers down"
estimate = "1m"
action = "kube.scale"
args = { deployment = "worker", replicas = "0" }

[[phase.step]]
title = "Pause the rollout"
estimate = "1m"
action = "kube.pause"
args = { deployment = "api" }
`+kubeSection, LoadOptions{})
	if st := ok.Phases[0].Steps[1]; st.Action != "kube.scale" || st.Args["replicas"] != "0" {
		t.Errorf("step %+v", st)
	}
}
