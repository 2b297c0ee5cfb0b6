package snapshot

// JiraBoardColumn is one column of a board and the statuses mapped to it.
type JiraBoardColumn struct {
	Name      string
	StatusIDs []string
}

// JiraBoardConfig is the part of a board's configuration the cockpit reads.
type JiraBoardConfig struct {
	ID      int
	Name    string
	Columns []JiraBoardColumn
}

// JiraSprint is a sprint an issue belongs to.
type JiraSprint struct {
	ID    int
	Name  string
	State string // active, closed, future (lower case)
}

// JiraIssue is one issue with the fields the board shows.
type JiraIssue struct {
	Key         string
	Summary     string
	StatusID    string
	Status      string
	FixVersions []string
	Sprints     []JiraSprint
	Labels      []string
	Priority    string
	Assignee    string
	// Missing names the fields asked for that Jira's answer left out, in
	// the cockpit's words (status, fixVersions, sprint, ...); a rule that
	// needs one of them cannot be checked. "sprint" is also missing when
	// the site has no sprint field to ask for.
	Missing []string
}
