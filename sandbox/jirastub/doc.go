// Package jirastub is a stand-in for Jira that the sandbox and the tests run
// where no Jira can: one project, one board, the team's deploy workflow, and
// the documented REST shapes of the endpoints the cockpit uses, including
// their paging, errors and rate limiting, and the awkward parts of
// Atlassian's published documents that a client written against a
// friendlier stand-in would get wrong (vendor_test.go names the document
// each one follows). It also builds a real git repository whose history
// agrees with the board, apart from a documented handful of deliberate
// mistakes for the cockpit to catch.
//
// # Endpoints
//
// Every request needs Basic auth (email:token) or, Data Center style,
// "Authorization: Bearer <token>"; otherwise 401. Errors carry Jira's body,
// {"errorMessages":[...],"errors":{}}.
//
//	GET  /rest/api/{2,3}/myself
//	GET  /rest/agile/1.0/board/{id}                  (404 for any other board)
//	GET  /rest/agile/1.0/board/{id}/configuration    seven columns, statuses by id
//	GET  /rest/api/{2,3}/field                       the site's fields, sprint field included
//	GET  /rest/api/{2,3}/search/jql                  Cloud enhanced search
//	POST /rest/api/{2,3}/search/jql                  same, JSON body
//	GET  /rest/api/2/search, POST /rest/api/2/search Data Center offset paging
//	GET  /rest/api/3/search                          410, as Cloud retired it
//	GET  /rest/api/{2,3}/issue/{key}
//	GET  /rest/api/{2,3}/issue/{key}/transitions     ?transitionId= ?expand=transitions.fields
//	POST /rest/api/{2,3}/issue/{key}/transitions     {"transition":{"id":"71"}} → 204
//
// # Board
//
// Columns list their statuses by id, as the documented board configuration
// does, and a column's name is not always its statuses' names:
//
//	In Progress             In Progress (3), Reopened (4)
//	Code Review             In Review (10001)
//	Merged to Master        Merged (10002)
//	Staging                 Staging (10003)
//	QA Hold                 QA Hold (10004), Waiting for QA (10007)
//	Testing For Production  Testing For Production (10005)
//	Production              Released (10006)
//
// A status named Production (10008) is on no column. The seed has a card
// in each second status (ACME-39 Reopened, ACME-19 Waiting for QA).
//
// # Search
//
// Enhanced search returns {issues, nextPageToken, isLast}. On the only
// page the token is null; on the last of several it is absent: the
// platform document says each in a different place. It pages by position
// in the query's order, not by offset, so a card leaving the result
// between pages costs no other card its place. It returns only id, key and
// self unless fields are asked for, and refuses JQL without a restriction,
// as Cloud does. The offset search returns {startAt, maxResults, total, issues}, all
// fields by default, and maxResults=0 counts; with Options.OmitTotal it
// leaves total out, as the documented result allows. Both cap maxResults
// at Options.PageSize and honour a smaller one.
//
// The fields parameter takes a comma list (or, in a body, an array) of
// summary, status, priority, assignee, labels, fixVersions, project, the
// sprint field and the rank field, plus *all, *navigable and -name
// exclusions.
//
// # Sprint field
//
// Sprints are in customfield_10007 (SprintField, or Options.SprintField),
// not the customfield_10020 many Cloud sites use: clients must find the
// field in GET /rest/api/N/field by its schema, JiraSprintSchema. Its value
// is an array of {id, name, state, boardId, goal, startDate, endDate[,
// completeDate]}, or null. customfield_10020 is the rank field here, as in
// the documented board configuration. CurrentSprint is id 147 and active;
// PreviousSprint is id 146 and closed.
//
// # JQL
//
// A real parser for the subset a cockpit sends: fields project, status,
// key (issuekey, id), priority, labels, assignee, fixVersion, sprint,
// summary and statusCategory; operators = != IN NOT IN IS [NOT] EMPTY ~ !~;
// AND OR NOT (also && || !) and parentheses; quoted or unquoted values,
// case-insensitive keywords; functions currentUser(), openSprints(),
// closedSprints(), releasedVersions(), unreleasedVersions(); ORDER BY key,
// Rank, priority, status, summary, assignee or project, ASC or DESC. The
// default order is key ascending; priority sorts most urgent first unless
// told otherwise. As in Jira, != and NOT IN never match an empty field,
// values that do not exist are errors, and syntax errors give the line and
// character. Unquoted values may contain letters, digits and - _ . : (the
// dot is accepted so release names need no quotes).
//
// # Workflow
//
// Transitions are named for the column they lead to and have one id per
// target status: In Progress 11, Code Review 21 (to In Review), Merged to
// Master 31 (to Merged), Staging 41, QA Hold 51, Wait for QA 52,
// Testing For Production 61, Production 71 (to Released), Reopen 81 (to
// Reopened) and Hand over to ops 91, to the status Production on no
// column, listed first wherever it is offered. A card may only take the
// transitions its current status allows:
//
//	In Progress, Reopened  → Code Review
//	In Review              → In Progress, Merged to Master
//	Merged                 → Staging
//	Staging                → Hand over to ops, QA Hold, Testing For Production, Production
//	QA Hold                → Hand over to ops, Testing For Production, Production, Staging, Wait for QA
//	Waiting for QA         → Hand over to ops, QA Hold, Testing For Production, Production, Staging
//	Testing For Production → Hand over to ops, Production, QA Hold
//	Released, Production   → Reopen
//
// # Front door
//
// Before a request reaches the API it may be delayed (Options.Latency),
// failed on purpose (SetFailure; 503s carry Retry-After), or refused with
// 429, Retry-After in whole seconds and the X-RateLimit-* headers when it
// exceeds Options.RateLimit per second (a token bucket holding one second's
// worth), and only then is it authenticated.
package jirastub
