package panes

import (
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/config"
	"github.com/flightdeckhq/flightdeck/internal/theme"
)

// NewRollout is the pod rollout pane: Deployments, ReplicaSets and pods.
func NewRollout(cfg *config.Config, th theme.Theme) *SourcePane {
	v := SourceView{Number: 2, Title: "Rollout", Section: "kubernetes", ConfigPath: cfg.Path,
		Explain: "Deployments, ReplicaSets and pods, and what image runs where"}
	if k := cfg.Kubernetes; k != nil {
		v.Configured = true
		ctx := k.Context
		if ctx == "" {
			ctx = "(current context)"
		}
		v.Scope = append(v.Scope, "context "+ctx, "namespaces "+strings.Join(k.Namespaces, ", "))
		if len(k.Deployments) > 0 {
			v.Scope = append(v.Scope, "deployments "+strings.Join(k.Deployments, ", "))
		}
		if k.Selector != "" {
			v.Scope = append(v.Scope, "selector "+k.Selector)
		}
		v.Scope = append(v.Scope, "stalled after "+k.ProgressTimeout.String()+" without progress")
	}
	return &SourcePane{Data: v, th: th}
}
