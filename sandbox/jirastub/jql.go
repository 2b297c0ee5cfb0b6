package jirastub

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The JQL subset here is what a deploy cockpit sends: clauses over project,
// status, key, priority, labels, assignee, fixVersion, sprint, summary and
// statusCategory with = != IN NOT IN IS [NOT] EMPTY ~ !~, joined by AND, OR,
// NOT and parentheses, and ORDER BY. Anything else is refused with a 400
// whose message is worded the way Jira words it, so a client's error
// handling meets realistic text.

type tokKind int

const (
	tkEOF tokKind = iota
	tkWord
	tkString
	tkLParen
	tkRParen
	tkComma
	tkOp
)

type token struct {
	kind      tokKind
	text      string // unescaped for strings
	line, col int
}

func (t token) is(word string) bool {
	switch t.kind {
	case tkWord:
		return strings.EqualFold(t.text, word)
	case tkOp:
		switch word {
		case "and":
			return t.text == "&&" || t.text == "&"
		case "or":
			return t.text == "||" || t.text == "|"
		case "not":
			return t.text == "!"
		}
	}
	return false
}

// Words that must be quoted to be used as values or field names.
var reservedWords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "is": true,
	"empty": true, "null": true, "order": true, "by": true,
}

type bailout struct{ msg string }

// expecting words a syntax error the way Jira does: what was expected and
// what came instead, or that the query ended first.
func expecting(t token, what, hint string) bailout {
	if t.kind == tkEOF {
		return bailout{"Error in the JQL Query: Expecting " + what + " before the end of the query."}
	}
	return bailout{fmt.Sprintf("Error in the JQL Query: Expecting %s but got '%s'.%s (line %d, character %d)", what, t.text, hint, t.line, t.col)}
}

func syntaxErr(t token, msg string) bailout {
	return bailout{fmt.Sprintf("Error in the JQL Query: %s. (line %d, character %d)", msg, t.line, t.col)}
}

func isWordRune(r rune) bool {
	return r == '-' || r == '_' || r == '.' || r == ':' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func lex(src string) (toks []token, err *bailout) {
	line, col := 1, 0
	i := 0
	next := func() rune {
		r, n := utf8.DecodeRuneInString(src[i:])
		i += n
		if r == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
		return r
	}
	peek := func() rune {
		if i >= len(src) {
			return -1
		}
		r, _ := utf8.DecodeRuneInString(src[i:])
		return r
	}
	for i < len(src) {
		r := next()
		start := token{line: line, col: col}
		switch {
		case unicode.IsSpace(r):
			continue
		case r == '(':
			start.kind, start.text = tkLParen, "("
		case r == ')':
			start.kind, start.text = tkRParen, ")"
		case r == ',':
			start.kind, start.text = tkComma, ","
		case r == '"' || r == '\'':
			var b strings.Builder
			closed := false
			for i < len(src) {
				c := next()
				if c == r {
					closed = true
					break
				}
				if c != '\\' {
					b.WriteRune(c)
					continue
				}
				e := next()
				switch e {
				case '"', '\'', '\\', ' ':
					b.WriteRune(e)
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case 'u':
					if i+4 <= len(src) {
						if n, perr := strconv.ParseUint(src[i:i+4], 16, 32); perr == nil {
							for range 4 {
								next()
							}
							b.WriteRune(rune(n))
							continue
						}
					}
					fallthrough
				default:
					return nil, &bailout{fmt.Sprintf("Error in the JQL Query: '\\%c' is an illegal JQL escape sequence. "+
						`The valid escape sequences are \', \", \t, \n, \r, \\, '\ ' and \uXXXX. (line %d, character %d)`, e, line, col)}
				}
			}
			if !closed {
				return nil, &bailout{fmt.Sprintf("Error in the JQL Query: The quoted string '%s' has not been completed. (line %d, character %d)",
					b.String(), start.line, start.col)}
			}
			start.kind, start.text = tkString, b.String()
		case r == '=' || r == '~':
			start.kind, start.text = tkOp, string(r)
		case r == '!' || r == '<' || r == '>':
			start.kind, start.text = tkOp, string(r)
			if p := peek(); p == '=' || (r == '!' && p == '~') {
				start.text += string(next())
			}
		case r == '&' || r == '|':
			start.kind, start.text = tkOp, string(r)
			if peek() == r {
				start.text += string(next())
			}
		case isWordRune(r):
			j := i - utf8.RuneLen(r)
			for i < len(src) && isWordRune(peek()) {
				next()
			}
			start.kind, start.text = tkWord, src[j:i]
		default:
			return nil, &bailout{fmt.Sprintf("Error in the JQL Query: The character '%c' is a reserved JQL character. "+
				"You must enclose it in a string or use the escape '\\u%04x' instead. (line %d, character %d)", r, r, start.line, start.col)}
		}
		toks = append(toks, start)
	}
	return append(toks, token{kind: tkEOF, text: "EOF", line: line, col: col + 1}), nil
}

type expr interface{}

type binExpr struct {
	and  bool
	l, r expr
}

type notExpr struct{ x expr }

type operandKind int

const (
	opValue operandKind = iota
	opList
	opFunc
)

type clause struct {
	field token
	op    string // lower: = != ~ !~ < > <= >= in "not in" is "is not"
	opTok token
	kind  operandKind
	vals  []token // the value, the list, or the function's arguments
	fn    token
}

type sortKey struct {
	field    token
	desc     bool
	explicit bool
}

type query struct {
	where expr
	order []sortKey
}

type parser struct {
	toks  []token
	i     int
	depth int
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 100

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

// parseJQL returns the query or Jira's message for the first syntax error.
func parseJQL(src string) (q *query, msg string) {
	toks, lerr := lex(src)
	if lerr != nil {
		return nil, lerr.msg
	}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			q, msg = nil, b.msg
		}
	}()
	p := &parser{toks: toks}
	q = &query{}
	if t := p.peek(); t.kind != tkEOF && !p.atOrderBy() {
		q.where = p.or()
	}
	if p.atOrderBy() {
		p.next()
		p.next()
		q.order = p.orderBy()
	}
	if t := p.peek(); t.kind != tkEOF {
		panic(expecting(t, "either 'OR' or 'AND'", ""))
	}
	return q, ""
}

func (p *parser) atOrderBy() bool {
	return p.peek().is("order") && p.toks[min(p.i+1, len(p.toks)-1)].is("by")
}

func (p *parser) or() expr {
	l := p.and()
	for p.peek().is("or") {
		p.next()
		l = &binExpr{and: false, l: l, r: p.and()}
	}
	return l
}

func (p *parser) and() expr {
	l := p.not()
	for p.peek().is("and") {
		p.next()
		l = &binExpr{and: true, l: l, r: p.not()}
	}
	return l
}

func (p *parser) not() expr {
	t := p.peek()
	if t.is("not") || t.kind == tkLParen {
		p.depth++
		if p.depth > maxDepth {
			panic(syntaxErr(t, "The query is nested too deeply"))
		}
		defer func() { p.depth-- }()
	}
	switch {
	case t.is("not"):
		p.next()
		return &notExpr{x: p.not()}
	case t.kind == tkLParen:
		p.next()
		e := p.or()
		if c := p.next(); c.kind != tkRParen {
			panic(expecting(c, "')'", ""))
		}
		return e
	}
	return p.clause()
}

func (p *parser) clause() expr {
	f := p.next()
	if f.kind != tkString && (f.kind != tkWord || reservedWords[strings.ToLower(f.text)]) {
		panic(expecting(f, "a field name", ""))
	}
	c := &clause{field: f}
	c.opTok = p.next()
	switch t := c.opTok; {
	case t.kind == tkOp && slices.Contains([]string{"=", "!=", "~", "!~", "<", ">", "<=", ">="}, t.text):
		c.op = t.text
	case t.is("in"):
		c.op = "in"
	case t.is("not") && p.peek().is("in"):
		p.next()
		c.op = "not in"
	case t.is("is"):
		c.op = "is"
		if p.peek().is("not") {
			p.next()
			c.op = "is not"
		}
	default:
		panic(expecting(t, "operator", " The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."))
	}
	if c.op == "is" || c.op == "is not" {
		v := p.next()
		if !v.is("empty") && !v.is("null") {
			panic(expecting(v, "'EMPTY'", ""))
		}
		c.vals = []token{v}
		return c
	}
	p.operand(c)
	return c
}

func (p *parser) operand(c *clause) {
	t := p.peek()
	switch {
	case t.kind == tkLParen:
		p.next()
		c.kind = opList
		c.vals = p.list(true)
	case t.kind == tkWord && p.toks[p.i+1].kind == tkLParen:
		p.next()
		p.next()
		c.kind, c.fn = opFunc, t
		if p.peek().kind == tkRParen {
			p.next()
			return
		}
		c.vals = p.list(false)
	default:
		c.kind = opValue
		c.vals = []token{p.value(true)}
	}
}

// list reads values up to and including the closing parenthesis.
func (p *parser) list(emptyOK bool) []token {
	var vals []token
	for {
		vals = append(vals, p.value(emptyOK))
		sep := p.next()
		if sep.kind == tkRParen {
			return vals
		}
		if sep.kind != tkComma {
			panic(expecting(sep, "')'", ""))
		}
	}
}

func (p *parser) value(emptyOK bool) token {
	t := p.next()
	switch {
	case t.kind == tkString:
		return t
	case t.kind == tkWord && emptyOK && (t.is("empty") || t.is("null")):
		return t
	case t.kind == tkWord && reservedWords[strings.ToLower(t.text)]:
		panic(syntaxErr(t, fmt.Sprintf("'%s' is a reserved JQL word. You must surround it in quotation marks to use it in a query", t.text)))
	case t.kind == tkWord:
		return t
	}
	panic(expecting(t, "either a value, list or function", ""))
}

func (p *parser) orderBy() []sortKey {
	var keys []sortKey
	for {
		f := p.next()
		if f.kind != tkString && (f.kind != tkWord || reservedWords[strings.ToLower(f.text)]) {
			panic(expecting(f, "a field name", ""))
		}
		k := sortKey{field: f}
		if t := p.peek(); t.is("asc") || t.is("desc") {
			p.next()
			k.desc, k.explicit = t.is("desc"), true
		}
		keys = append(keys, k)
		if p.peek().kind != tkComma {
			return keys
		}
		p.next()
	}
}

func isEmptyTok(t token) bool { return t.kind == tkWord && (t.is("empty") || t.is("null")) }

// fieldSpec describes how one JQL field is searched.
type fieldSpec struct {
	name     string
	ops      []string
	funcs    map[string]func(s *Server) []string
	maxArgs  int
	resolve  func(s *Server, v string) (string, string) // canonical lower value, or Jira's message
	values   func(s *Server, is Issue) []string         // the issue's lower-cased values
	sortable bool
}

var (
	equalityOps = []string{"=", "!=", "in", "not in", "is", "is not"}
	keyPattern  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*-[0-9]+$`)
)

func noSuchValue(field, v string) string {
	return fmt.Sprintf("The value '%s' does not exist for the field '%s'.", v, field)
}

func lowers(vs ...string) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if v != "" {
			out = append(out, strings.ToLower(v))
		}
	}
	return out
}

var fieldSpecs = map[string]*fieldSpec{}

func init() {
	project := &fieldSpec{
		name: "project", ops: equalityOps, sortable: true,
		resolve: func(s *Server, v string) (string, string) {
			for i, k := range s.projects {
				if strings.EqualFold(k, v) || v == strconv.Itoa(10000+i) {
					return strings.ToLower(k), ""
				}
			}
			return "", noSuchValue("project", v)
		},
		values: func(_ *Server, is Issue) []string { return lowers(projectOf(is.Key)) },
	}
	status := &fieldSpec{
		name: "status", ops: equalityOps, sortable: true,
		resolve: func(s *Server, v string) (string, string) {
			for _, st := range s.knownStatuses() {
				if strings.EqualFold(st, v) || v == s.statusID(st) {
					return strings.ToLower(st), ""
				}
			}
			return "", noSuchValue("status", v)
		},
		values: func(_ *Server, is Issue) []string { return lowers(is.Status) },
	}
	issueKey := &fieldSpec{
		name: "key", ops: equalityOps, sortable: true,
		resolve: func(s *Server, v string) (string, string) {
			if idx, ok := s.lookup(v); ok {
				return strings.ToLower(s.issues[idx].Key), ""
			}
			if !keyPattern.MatchString(v) {
				return "", fmt.Sprintf("The issue key '%s' for field 'key' is invalid.", v)
			}
			return "", fmt.Sprintf("An issue with key '%s' does not exist for field 'key'.", v)
		},
		values: func(_ *Server, is Issue) []string { return lowers(is.Key) },
	}
	priority := &fieldSpec{
		name: "priority", ops: equalityOps, sortable: true,
		resolve: func(s *Server, v string) (string, string) {
			for _, p := range s.knownPriorities() {
				if strings.EqualFold(p, v) || v == priorityID(p) {
					return strings.ToLower(p), ""
				}
			}
			return "", noSuchValue("priority", v)
		},
		values: func(_ *Server, is Issue) []string { return lowers(is.Priority) },
	}
	labels := &fieldSpec{
		name: "labels", ops: equalityOps,
		resolve: func(_ *Server, v string) (string, string) { return strings.ToLower(v), "" },
		values:  func(_ *Server, is Issue) []string { return lowers(is.Labels...) },
	}
	assignee := &fieldSpec{
		name: "assignee", ops: equalityOps, sortable: true,
		funcs: map[string]func(s *Server) []string{
			"currentuser": func(s *Server) []string { return lowers(s.user.name) },
		},
		resolve: func(s *Server, v string) (string, string) {
			if strings.EqualFold(v, s.user.email) || v == s.user.accountID {
				return strings.ToLower(s.user.name), ""
			}
			for _, n := range append(s.knownUsers(), s.user.name) {
				if strings.EqualFold(n, v) || v == accountID(n) {
					return strings.ToLower(n), ""
				}
			}
			return "", noSuchValue("assignee", v)
		},
		values: func(_ *Server, is Issue) []string { return lowers(is.Assignee) },
	}
	versionsBy := func(released bool) func(s *Server) []string {
		return func(s *Server) []string {
			var out []string
			for _, v := range s.versions {
				if v.Released == released {
					out = append(out, strings.ToLower(v.Name))
				}
			}
			return out
		}
	}
	fixVersion := &fieldSpec{
		name: "fixVersion", ops: equalityOps, maxArgs: 1,
		funcs: map[string]func(s *Server) []string{
			"releasedversions":   versionsBy(true),
			"unreleasedversions": versionsBy(false),
		},
		resolve: func(s *Server, v string) (string, string) {
			for _, vi := range s.versions {
				if strings.EqualFold(vi.Name, v) || v == vi.ID {
					return strings.ToLower(vi.Name), ""
				}
			}
			return "", noSuchValue("fixVersion", v)
		},
		values: func(_ *Server, is Issue) []string { return lowers(is.FixVersions...) },
	}
	sprintsBy := func(states ...string) func(s *Server) []string {
		return func(s *Server) []string {
			var out []string
			for _, sp := range s.sprints {
				if slices.Contains(states, sp.State) {
					out = append(out, strings.ToLower(sp.Name))
				}
			}
			return out
		}
	}
	sprint := &fieldSpec{
		name: "Sprint", ops: equalityOps,
		funcs: map[string]func(s *Server) []string{
			"opensprints":   sprintsBy("active", "future"),
			"closedsprints": sprintsBy("closed"),
		},
		resolve: func(s *Server, v string) (string, string) {
			for _, sp := range s.sprints {
				if strings.EqualFold(sp.Name, v) || v == strconv.Itoa(sp.ID) {
					return strings.ToLower(sp.Name), ""
				}
			}
			return "", noSuchValue("Sprint", v)
		},
		values: func(_ *Server, is Issue) []string { return lowers(is.Sprint) },
	}
	summary := &fieldSpec{
		name: "summary", ops: []string{"~", "!~", "is", "is not"}, sortable: true,
		resolve: func(_ *Server, v string) (string, string) { return strings.ToLower(v), "" },
		values:  func(_ *Server, is Issue) []string { return lowers(is.Summary) },
	}
	statusCategoryField := &fieldSpec{
		name: "statusCategory", ops: equalityOps,
		resolve: func(_ *Server, v string) (string, string) {
			for _, c := range []category{catToDo, catDoing, catDone} {
				if strings.EqualFold(v, c.Name) || strings.EqualFold(v, c.Key) || v == strconv.Itoa(c.ID) {
					return c.Key, ""
				}
			}
			return "", noSuchValue("statusCategory", v)
		},
		values: func(_ *Server, is Issue) []string { return []string{statusCategory(is.Status).Key} },
	}
	for alias, spec := range map[string]*fieldSpec{
		"project": project, "status": status, "key": issueKey, "issuekey": issueKey,
		"issue": issueKey, "id": issueKey, "priority": priority, "labels": labels,
		"assignee": assignee, "fixversion": fixVersion, "sprint": sprint,
		"summary": summary, "statuscategory": statusCategoryField,
	} {
		fieldSpecs[alias] = spec
	}
}

func (s *Server) knownStatuses() []string {
	out := workflowStatuses()
	for _, is := range s.issues {
		if !slices.Contains(out, is.Status) {
			out = append(out, is.Status)
		}
	}
	return out
}

func (s *Server) knownPriorities() []string {
	out := slices.Clone(priorities)
	for _, is := range s.issues {
		if is.Priority != "" && !containsFold(out, is.Priority) {
			out = append(out, is.Priority)
		}
	}
	return out
}

func (s *Server) knownUsers() []string {
	var out []string
	for _, is := range s.issues {
		if is.Assignee != "" && !slices.Contains(out, is.Assignee) {
			out = append(out, is.Assignee)
		}
	}
	return out
}

type pred func(is Issue) bool

// compiler turns a parsed query into a predicate, collecting every semantic
// error rather than stopping at the first, as Jira reports them together.
type compiler struct {
	s    *Server
	errs []string
}

func (c *compiler) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !slices.Contains(c.errs, msg) {
		c.errs = append(c.errs, msg)
	}
}

func (c *compiler) expr(e expr) pred {
	switch e := e.(type) {
	case *binExpr:
		l, r := c.expr(e.l), c.expr(e.r)
		if e.and {
			return func(is Issue) bool { return l(is) && r(is) }
		}
		return func(is Issue) bool { return l(is) || r(is) }
	case *notExpr:
		x := c.expr(e.x)
		return func(is Issue) bool { return !x(is) }
	case *clause:
		return c.clause(e)
	}
	return func(Issue) bool { return false }
}

func (c *compiler) clause(cl *clause) pred {
	none := func(Issue) bool { return false }
	name := cl.field.text
	spec, ok := fieldSpecs[strings.ToLower(name)]
	if !ok {
		if strings.EqualFold(name, "rank") {
			c.fail("Field 'Rank' does not support searching, only sorting.")
		} else {
			c.fail("Field '%s' does not exist or you do not have permission to view it.", name)
		}
		return none
	}
	if !slices.Contains(spec.ops, cl.op) {
		c.fail("The operator '%s' is not supported by the '%s' field.", strings.ToUpper(cl.op), spec.name)
		return none
	}
	switch cl.op {
	case "is", "is not":
		want := cl.op == "is"
		return func(is Issue) bool { return (len(spec.values(c.s, is)) == 0) == want }
	case "~", "!~":
		if cl.kind != opValue || isEmptyTok(cl.vals[0]) {
			c.fail("The operator '%s' does not support the value for field '%s'.", cl.op, spec.name)
			return none
		}
		text, _ := spec.resolve(c.s, cl.vals[0].text)
		want := cl.op == "~"
		return func(is Issue) bool {
			hit := false
			for _, v := range spec.values(c.s, is) {
				hit = hit || strings.Contains(v, text)
			}
			return hit == want
		}
	}
	if cl.kind == opList && (cl.op == "=" || cl.op == "!=") {
		c.fail("The operator '%s' does not support the list value for field '%s'.", cl.op, spec.name)
		return none
	}
	set := map[string]bool{}
	matchEmpty := false
	if cl.kind == opFunc {
		fname := strings.ToLower(cl.fn.text)
		f, ok := spec.funcs[fname]
		switch {
		case !ok && isKnownFunc(fname):
			c.fail("Function '%s' is not supported by the '%s' field.", cl.fn.text, spec.name)
			return none
		case !ok:
			c.fail("Unable to find JQL function '%s()'.", cl.fn.text)
			return none
		case len(cl.vals) > spec.maxArgs:
			c.fail("Function '%s' expected at most '%d' arguments but received '%d'.", cl.fn.text, spec.maxArgs, len(cl.vals))
			return none
		}
		for _, v := range f(c.s) {
			set[v] = true
		}
	} else {
		for _, t := range cl.vals {
			if isEmptyTok(t) {
				matchEmpty = true
				continue
			}
			v, msg := spec.resolve(c.s, t.text)
			if msg != "" {
				c.fail("%s", msg)
				continue
			}
			set[v] = true
		}
	}
	positive := cl.op == "=" || cl.op == "in"
	return func(is Issue) bool {
		vals := spec.values(c.s, is)
		hit := false
		for _, v := range vals {
			hit = hit || set[v]
		}
		if positive {
			return hit || (matchEmpty && len(vals) == 0)
		}
		// Negations never match an empty field, as in Jira: "assignee !=
		// bob" leaves out unassigned cards.
		return len(vals) > 0 && !hit
	}
}

func isKnownFunc(name string) bool {
	for _, spec := range fieldSpecs {
		if _, ok := spec.funcs[name]; ok {
			return true
		}
	}
	return false
}

// ordering is a search result and its order. The order always ends on rank,
// so it is total and a page token can resume after any issue.
type ordering struct {
	idx []int
	cmp func(a, b int) int
}

func (o ordering) less(a, b int) bool { return o.cmp(a, b) < 0 }

func keyParts(k string) (string, int) {
	p := projectOf(k)
	n, _ := strconv.Atoi(k[len(p)+1:])
	return strings.ToUpper(p), n
}

func (c *compiler) order(keys []sortKey) func(a, b int) int {
	if len(keys) == 0 {
		keys = []sortKey{{field: token{kind: tkWord, text: "key"}}}
	}
	var cmps []func(a, b int) int
	for _, k := range keys {
		name := strings.ToLower(k.field.text)
		var f func(a, b Issue) int
		desc := k.desc
		switch {
		case name == "rank":
			cmps = append(cmps, func(a, b int) int {
				if desc {
					return b - a
				}
				return a - b
			})
			continue
		case fieldSpecs[name] == nil:
			c.fail("Field '%s' does not exist or you do not have permission to view it.", k.field.text)
			continue
		case !fieldSpecs[name].sortable:
			c.fail("Field '%s' does not support sorting.", fieldSpecs[name].name)
			continue
		}
		switch fieldSpecs[name].name {
		case "key", "project":
			f = func(a, b Issue) int {
				pa, na := keyParts(a.Key)
				pb, nb := keyParts(b.Key)
				if name == "project" {
					return cmp.Compare(pa, pb)
				}
				return cmp.Or(cmp.Compare(pa, pb), cmp.Compare(na, nb))
			}
		case "priority":
			f = func(a, b Issue) int { return cmp.Compare(priorityWeight(a.Priority), priorityWeight(b.Priority)) }
			if !k.explicit {
				desc = true // most urgent first, Jira's default for priority
			}
		case "status":
			order := workflowStatuses()
			col := func(st string) int {
				if i := slices.Index(order, st); i >= 0 {
					return i
				}
				return len(order)
			}
			f = func(a, b Issue) int {
				return cmp.Or(cmp.Compare(col(a.Status), col(b.Status)), cmp.Compare(a.Status, b.Status))
			}
		case "summary":
			f = func(a, b Issue) int { return cmp.Compare(strings.ToLower(a.Summary), strings.ToLower(b.Summary)) }
		case "assignee":
			f = func(a, b Issue) int {
				// Unassigned cards sort after assigned ones.
				if (a.Assignee == "") != (b.Assignee == "") {
					if a.Assignee == "" {
						return 1
					}
					return -1
				}
				return cmp.Compare(strings.ToLower(a.Assignee), strings.ToLower(b.Assignee))
			}
		}
		d := desc
		cmps = append(cmps, func(a, b int) int {
			r := f(c.s.issues[a], c.s.issues[b])
			if d {
				return -r
			}
			return r
		})
	}
	return func(a, b int) int {
		for _, f := range cmps {
			if r := f(a, b); r != 0 {
				return r
			}
		}
		return a - b
	}
}

const unbounded = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."

// search runs jql over the board, returning matching indices in order or
// Jira's error messages. bounded demands a restriction, as Cloud's enhanced
// search does. It is called with s.mu held.
func (s *Server) search(jql string, bounded bool) (ordering, []string) {
	q, msg := parseJQL(jql)
	if msg != "" {
		return ordering{}, []string{msg}
	}
	if bounded && q.where == nil {
		return ordering{}, []string{unbounded}
	}
	c := &compiler{s: s}
	match := func(Issue) bool { return true }
	if q.where != nil {
		match = c.expr(q.where)
	}
	o := ordering{cmp: c.order(q.order)}
	if c.errs != nil {
		return ordering{}, c.errs
	}
	for i, is := range s.issues {
		if match(is) {
			o.idx = append(o.idx, i)
		}
	}
	slices.SortFunc(o.idx, o.cmp)
	return o, nil
}
