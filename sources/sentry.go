package sources

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// ProbeSentry fetches the organization with the configured token.
func ProbeSentry(ctx context.Context, s *config.Sentry) Reach {
	u := strings.TrimRight(s.URL, "/") + "/api/0/organizations/" + url.PathEscape(s.Org) + "/"
	r := Reach{Target: s.URL}
	var org struct {
		Name string `json:"name"`
	}
	r.Err = getJSON(ctx, u, func(req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+s.Token.Value())
	}, &org, "check [sentry] token and org")
	if r.Err == nil {
		r.Detail = "organization " + org.Name
	}
	return r
}
