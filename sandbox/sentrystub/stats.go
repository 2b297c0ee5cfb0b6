package sentrystub

import (
	"net/http"
	"time"
)

// maxRollupPoints is Sentry's cap on buckets per series; a finer interval
// falls back to the default for the range.
const maxRollupPoints = 10000

// defaultInterval is Sentry's get_interval_from_range at normal fidelity.
func defaultInterval(r time.Duration) time.Duration {
	switch {
	case r >= 60*24*time.Hour:
		return 24 * time.Hour
	case r >= 30*24*time.Hour:
		return 4 * time.Hour
	case r > 24*time.Hour:
		return time.Hour
	case r > time.Hour:
		return 5 * time.Minute
	}
	return 15 * time.Minute
}

// yAxes the stand-in can compute, with the type Sentry reports in meta.
var yAxes = map[string]string{
	"count()":                "integer",
	"count_unique(user)":     "integer",
	"count_unique(issue)":    "integer",
	"count_unique(issue.id)": "integer",
}

type statsSeries struct {
	Data          [][2]any       `json:"data"`
	Order         *int           `json:"order,omitempty"`
	IsMetricsData bool           `json:"isMetricsData"`
	Start         int64          `json:"start"`
	End           int64          `json:"end"`
	Meta          map[string]any `json:"meta"`
}

// handleEventsStats serves GET /api/0/organizations/{org}/events-stats/.
//
// The shape and bucket edges follow Sentry's SnubaTSResultSerializer: one
// [timestamp, [{"count": n}]] pair per interval from the interval containing
// start up to, but excluding, the interval containing end (the incomplete
// current interval is left out unless partial=1), empty intervals present
// with a count of 0, and start/end in the body being those bucket edges.
func (s *Server) handleEventsStats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.now()
	start, end, err := dateRange(q, now)
	if err != nil {
		writeError(w, err)
		return
	}
	span := end.Sub(start)
	rollup, ok := parseStatsPeriod(q.Get("interval"))
	if q.Get("interval") == "" || !ok || rollup < time.Second || span/rollup > maxRollupPoints {
		rollup = defaultInterval(span)
	}
	axes := q["yAxis"]
	if len(axes) == 0 {
		axes = []string{"count()"}
	}
	for _, a := range axes {
		if _, ok := yAxes[a]; !ok {
			writeError(w, badRequest("%s is not a valid function", a))
			return
		}
	}
	dataset := q.Get("dataset")
	if dataset == "" {
		dataset = "discover"
	}
	filt, err := s.compileQuery(q.Get("query"), false, now)
	if err != nil {
		writeError(w, err)
		return
	}

	step := int64(rollup / time.Second)
	rs := floorDiv(start.Unix(), step) * step
	re := floorDiv(end.Unix(), step) * step
	last := re // exclusive
	if re-rs == step {
		// Sentry widens a range that straddles exactly two buckets so
		// that both are returned.
		last = re + 1
	}
	if q.Get("partial") == "1" && re < end.Unix() {
		last = re + 1
	}
	var keys []int64
	for k := rs; k < last; k += step {
		keys = append(keys, k)
	}
	index := make(map[int64]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	counts := make([][]int, len(axes))
	uniques := make([][]map[string]bool, len(axes))
	for i := range axes {
		counts[i] = make([]int, len(keys))
		uniques[i] = make([]map[string]bool, len(keys))
	}

	s.mu.Lock()
	projects, err := s.selectProjects(q)
	if err == nil {
		var envs map[string]bool
		envs, err = s.selectEnvs(q)
		if err == nil && dataset != "transactions" {
			for _, e := range s.events {
				if !projects[e.project] || (envs != nil && !envs[e.environment]) {
					continue
				}
				if e.at.Before(start) || !e.at.Before(end) || !filt.matchEvent(e) {
					continue
				}
				b, ok := index[floorDiv(e.at.Unix(), step)*step]
				if !ok {
					continue
				}
				for i, a := range axes {
					switch a {
					case "count()":
						counts[i][b]++
					case "count_unique(user)":
						addUnique(uniques[i], b, e.userKey)
					default:
						addUnique(uniques[i], b, e.issue.shortID)
					}
				}
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}

	series := func(i int) *statsSeries {
		out := &statsSeries{
			Data:  make([][2]any, len(keys)),
			Start: rs,
			End:   re,
			Meta: map[string]any{
				"fields":                 map[string]string{axes[i]: yAxes[axes[i]]},
				"units":                  map[string]any{axes[i]: nil},
				"isMetricsData":          false,
				"isMetricsExtractedData": false,
				"tips":                   map[string]any{},
				"datasetReason":          "unchanged",
				"dataset":                dataset,
			},
		}
		if re-rs == step {
			out.End = re + 1
		}
		for b, k := range keys {
			n := counts[i][b]
			if uniques[i][b] != nil {
				n = len(uniques[i][b])
			}
			out.Data[b] = [2]any{k, []map[string]int{{"count": n}}}
		}
		return out
	}
	if len(axes) == 1 {
		writeJSON(w, http.StatusOK, series(0))
		return
	}
	// Several yAxis values: one series per axis keyed by its name, each
	// with its position in "order".
	multi := map[string]*statsSeries{}
	for i, a := range axes {
		sr := series(i)
		order := i
		sr.Order = &order
		multi[a] = sr
	}
	writeJSON(w, http.StatusOK, multi)
}

func addUnique(u []map[string]bool, b int, key string) {
	if key == "" {
		return
	}
	if u[b] == nil {
		u[b] = map[string]bool{}
	}
	u[b][key] = true
}

// floorDiv rounds towards negative infinity, so timestamps before 1970 (as a
// fuzzer or a bad client may send) still land in the right bucket.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
