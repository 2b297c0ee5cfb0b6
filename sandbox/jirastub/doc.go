// Package jirastub is a stand-in for Jira that the sandbox and the tests run
// where no Jira can: one project, one board, the team's deploy workflow, and
// the documented REST shapes of the endpoints the cockpit uses, including
// their paging, errors and rate limiting. It also builds a real git
// repository whose history agrees with the board, apart from a documented
// handful of deliberate mistakes for the cockpit to catch.
//
// # Endpoints
//
// Every request needs Basic auth (email:token) or, Data Center style,
// "Authorization: Bearer <token>"; otherwise 401. Errors carry Jira's body,
// {"errorMessages":[...],"errors":{}}.
//
//	GET  /rest/api/{2,3}/myself
//	GET  /rest/agile/1.0/board/{id}                  (404 for any other board)
//	GET  /rest/agile/1.0/board/{id}/configuration    seven columns, one status each
//	GET  /rest/api/{2,3}/search/jql                  Cloud enhanced search
//	POST /rest/api/{2,3}/search/jql                  same, JSON body
//	GET  /rest/api/2/search, POST /rest/api/2/search Data Center offset paging
//	GET  /rest/api/3/search                          410, as Cloud retired it
//	GET  /rest/api/{2,3}/issue/{key}
//	GET  /rest/api/{2,3}/issue/{key}/transitions     ?transitionId= ?expand=transitions.fields
//	POST /rest/api/{2,3}/issue/{key}/transitions     {"transition":{"id":"71"}} → 204
//
// Enhanced search returns {issues, nextPageToken, isLast}; the token is
// absent on the last page, as Cloud does. It pages by position in the
// query's order, not by offset, so a card leaving the result between pages
// costs no other card its place. It returns only id, key and self unless
// fields are asked for, and refuses JQL without a restriction, as Cloud
// does. The offset search returns {startAt, maxResults, total, issues}, all
// fields by default, and maxResults=0 counts. Both cap maxResults at
// Options.PageSize and honour a smaller one.
//
// The fields parameter takes a comma list (or, in a body, an array) of
// summary, status, priority, assignee, labels, fixVersions, project and
// customfield_10020, plus *all, *navigable and -name exclusions.
//
// # Sprint field
//
// Sprints are served as Jira Cloud serves them, in customfield_10020
// (SprintField): an array of {id, name, state, boardId, goal, startDate,
// endDate[, completeDate]}, or null. CurrentSprint is id 147 and active;
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
// Transition ids are per target status: In Progress 11, Code Review 21,
// Merged to Master 31, Staging 41, QA Hold 51, Testing For Production 61,
// Production 71, and Reopen (Production → In Progress) 81. A card may
// only take the transitions its current status allows:
//
//	In Progress            → Code Review
//	Code Review            → In Progress, Merged to Master
//	Merged to Master       → Staging
//	Staging                → QA Hold, Testing For Production, Production
//	QA Hold                → Testing For Production, Production, Staging
//	Testing For Production → Production, QA Hold
//	Production             → In Progress (Reopen)
//
// # Front door
//
// Before a request reaches the API it may be delayed (Options.Latency),
// failed on purpose (SetFailure; 503s carry Retry-After), or refused with
// 429, Retry-After in whole seconds and the X-RateLimit-* headers when it
// exceeds Options.RateLimit per second (a token bucket holding one second's
// worth), and only then is it authenticated.
package jirastub
