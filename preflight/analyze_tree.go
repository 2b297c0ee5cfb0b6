package preflight

import (
	"slices"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// qname is a relation's name as written, schema optional.
type qname struct{ schema, name string }

// matches: an unqualified name could be the qualified one, through the
// search path.
func (q qname) matches(o qname) bool {
	return q.name == o.name && (q.schema == "" || o.schema == "" || q.schema == o.schema)
}

func (q qname) String() string { return joinName(q.schema, q.name) }

// qnameOf reads a name given as a list of strings: [schema,] name.
func qnameOf(items []*pg_query.Node) qname {
	var parts []string
	for _, it := range items {
		parts = append(parts, it.GetString_().GetSval())
	}
	switch len(parts) {
	case 0:
		return qname{}
	case 1:
		return qname{name: parts[0]}
	}
	return qname{schema: parts[len(parts)-2], name: parts[len(parts)-1]}
}

func relName(rv *pg_query.RangeVar) string {
	return joinName(rv.Catalogname, rv.Schemaname, rv.Relname)
}

func joinName(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(quoteIdent(p))
	}
	return b.String()
}

// quoteIdent writes a name so that the parser reads it back unchanged:
// bare when it is lower case, quoted otherwise. The parser already folded
// the unquoted names to lower case, so "appointments" stays as written.
func quoteIdent(s string) string {
	bare := s != ""
	for i, r := range s {
		ok := r == '_' || r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '$')
		if !ok {
			bare = false
			break
		}
	}
	if bare {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// walk calls fn on every message under m, m included, until fn says stop
// descending (false).
func walk(m protoreflect.Message, fn func(protoreflect.Message) bool) {
	if !fn(m) {
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walk(l.Get(i).Message(), fn)
			}
			return true
		}
		walk(v.Message(), fn)
		return true
	})
}

// tablesRead lists the relations a query names, in the order written,
// leaving out the names of its own WITH queries and the one relation a
// statement writes (skip).
func tablesRead(n protoreflect.ProtoMessage, skip *pg_query.RangeVar) []*pg_query.RangeVar {
	var rvs []*pg_query.RangeVar
	ctes := map[string]bool{}
	walk(n.ProtoReflect(), func(m protoreflect.Message) bool {
		switch x := m.Interface().(type) {
		case *pg_query.RangeVar:
			if x != skip {
				rvs = append(rvs, x)
			}
			return false
		case *pg_query.CommonTableExpr:
			ctes[x.Ctename] = true
		}
		return true
	})
	rvs = slices.DeleteFunc(rvs, func(rv *pg_query.RangeVar) bool {
		return rv.Schemaname == "" && ctes[rv.Relname]
	})
	slices.SortStableFunc(rvs, func(a, b *pg_query.RangeVar) int { return int(a.Location - b.Location) })
	return rvs
}

// treeVersion is the parser's version, which the deparser insists a tree
// carries; the library exports it only on a parse result.
var treeVersion = sync.OnceValue(func() int32 {
	r, err := pg_query.Parse("SELECT")
	if err != nil {
		return 0
	}
	return r.Version
})

// deparse writes a statement's tree back as SQL; "" when the deparser
// cannot.
func deparse(n *pg_query.Node) string {
	sql, err := pg_query.Deparse(&pg_query.ParseResult{Version: treeVersion(), Stmts: []*pg_query.RawStmt{{Stmt: n}}})
	if err != nil {
		return ""
	}
	return sql
}

// Functions a column default may call, by how Postgres marks them
// (pg_proc.provolatile). A volatile default is computed once per existing
// row, which rewrites the table; a stable or immutable one is computed once
// and stored in the catalog (Postgres 11 and later).
var volatileFuncs = map[string]bool{
	"random": true, "random_normal": true, "setseed": true,
	"clock_timestamp": true, "timeofday": true,
	"gen_random_uuid": true, "gen_random_bytes": true, "uuidv4": true, "uuidv7": true,
	"uuid_generate_v1": true, "uuid_generate_v1mc": true, "uuid_generate_v4": true,
	"nextval": true, "currval": true, "lastval": true, "setval": true,
	"txid_current": true, "txid_current_if_assigned": true,
	"pg_current_xact_id": true, "pg_current_xact_id_if_assigned": true,
}

var steadyFuncs = map[string]bool{
	"now": true, "transaction_timestamp": true, "statement_timestamp": true,
	"current_setting": true, "current_database": true, "current_schema": true,
	"to_timestamp": true, "to_char": true, "to_date": true, "to_number": true,
	"date_trunc": true, "date_part": true, "extract": true, "timezone": true, "age": true,
	"make_date": true, "make_time": true, "make_timestamp": true, "make_timestamptz": true, "make_interval": true,
	"json_build_object": true, "jsonb_build_object": true, "json_build_array": true, "jsonb_build_array": true,
	"array_fill": true, "lower": true, "upper": true, "concat": true, "concat_ws": true, "format": true,
	"length": true, "abs": true, "round": true, "floor": true, "ceil": true, "md5": true,
	"repeat": true, "replace": true, "substr": true, "substring": true, "btrim": true, "ltrim": true, "rtrim": true,
	"uuid_nil": true, "int4": true, "int8": true, "text": true, "numeric": true, "bool": true,
	"float8": true, "timestamptz": true, "timestamp": true, "date": true, "interval": true,
}

// volatility reads a default expression: the first volatile function it
// calls, else the first function whose volatility is not known here.
func volatility(expr *pg_query.Node) (volatile, unknown string) {
	if expr == nil {
		return "", ""
	}
	walk(expr.ProtoReflect(), func(m protoreflect.Message) bool {
		fc, ok := m.Interface().(*pg_query.FuncCall)
		if !ok || volatile != "" {
			return volatile == ""
		}
		name := qnameOf(fc.Funcname).name
		switch {
		case volatileFuncs[name]:
			volatile = name
		case !steadyFuncs[name] && unknown == "":
			unknown = name
		}
		return true
	})
	return volatile, unknown
}
