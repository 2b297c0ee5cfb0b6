package sources

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/flightdeckhq/flightdeck/internal/config"
)

// JiraAuth sets the credentials Jira expects: Basic email:token on Cloud,
// a personal access token as Bearer on Data Center.
func JiraAuth(req *http.Request, j *config.Jira) {
	if j.Flavor == "datacenter" {
		req.Header.Set("Authorization", "Bearer "+j.Token.Value())
		return
	}
	req.SetBasicAuth(j.Email, j.Token.Value())
}

// ProbeJira fetches the authenticated user, which proves the URL, the
// credentials and the API flavour in one request.
func ProbeJira(ctx context.Context, j *config.Jira) Reach {
	api := "/rest/api/3/myself"
	if j.Flavor == "datacenter" {
		api = "/rest/api/2/myself"
	}
	u := strings.TrimRight(j.URL, "/") + api
	r := Reach{Target: j.URL}
	var me struct {
		DisplayName string `json:"displayName"`
	}
	r.Err = getJSON(ctx, u, func(req *http.Request) { JiraAuth(req, j) }, &me, "check [jira] email and token")
	if r.Err == nil {
		r.Detail = "signed in as " + me.DisplayName
	}
	return r
}

// getJSON does one authenticated GET and decodes the answer, turning the
// status codes a person can act on into sentences.
func getJSON(ctx context.Context, u string, auth func(*http.Request), into any, authHint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: %s", resp.Status, authHint)
	case resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%s: rate limited, retry after %s s", resp.Status, resp.Header.Get("Retry-After"))
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: unexpected answer (not the expected JSON): %w", u, err)
	}
	return nil
}
