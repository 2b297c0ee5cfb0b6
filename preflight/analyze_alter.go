package preflight

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// notNullCheck is a CHECK (col IS NOT NULL) constraint the file added: once
// valid, SET NOT NULL on that column skips its scan.
type notNullCheck struct {
	table        qname
	name, column string
	valid        bool
}

// alterTable takes the strongest lock of its subcommands, as the ALTER
// TABLE reference says: ACCESS EXCLUSIVE unless a subcommand's own section
// notes a weaker one.
func (j *judge) alterTable(x *pg_query.AlterTableStmt) {
	rv := x.Relation
	j.lock(qname{rv.Schemaname, rv.Relname}, relName(rv), x.Objtype == pg_query.ObjectType_OBJECT_INDEX, NoLock)
	var l Lock
	for _, c := range x.Cmds {
		if cmd := c.GetAlterTableCmd(); cmd != nil {
			l = max(l, j.alterCmd(x, cmd))
		}
	}
	j.a.Relations[0].Lock = max(j.a.Relations[0].Lock, l)
}

func (j *judge) alterCmd(x *pg_query.AlterTableStmt, c *pg_query.AlterTableCmd) Lock {
	rv, t, old := x.Relation, relName(x.Relation), j.existing(0)
	tq := qname{rv.Schemaname, rv.Relname}
	switch c.Subtype {
	case pg_query.AlterTableType_AT_AddColumn:
		j.addColumn(rv, c.Def.GetColumnDef(), old)
	case pg_query.AlterTableType_AT_AlterColumnType:
		j.a.Rewrites, j.a.Scans = true, true
		if old {
			cd := &pg_query.ColumnDef{Colname: c.Name + "_new", TypeName: c.Def.GetColumnDef().GetTypeName()}
			j.hazard(HazardRewrite, Block,
				fmt.Sprintf("ALTER COLUMN %s TYPE rewrites %s and rebuilds its indexes under ACCESS EXCLUSIVE: nothing reads or writes %s until it finishes (a binary-coercible change, such as varchar(n) to text, skips the rewrite)",
					quoteIdent(c.Name), t, t),
				fmt.Sprintf("add a new column, backfill it in batches, swap it in code, then drop the old one: %s; — then UPDATE in batches, switch reads and writes to %s, and drop %s in a later migration",
					alterSQL(rv, addColumnCmd(cd)), quoteIdent(cd.Colname), quoteIdent(c.Name)))
		}
	case pg_query.AlterTableType_AT_SetNotNull:
		j.setNotNull(rv, c.Name, old)
	case pg_query.AlterTableType_AT_AddConstraint:
		return j.addConstraint(rv, c.Def.GetConstraint(), old)
	case pg_query.AlterTableType_AT_ValidateConstraint:
		j.a.Scans = true
		for i := range j.s.checks {
			if ck := &j.s.checks[i]; ck.table.matches(tq) && ck.name == c.Name {
				ck.valid = true
			}
		}
		return ShareUpdateExclusive
	case pg_query.AlterTableType_AT_DropConstraint:
		for i, ck := range j.s.checks {
			if ck.table.matches(tq) && ck.name == c.Name {
				j.s.checks = append(j.s.checks[:i], j.s.checks[i+1:]...)
				break
			}
		}
	case pg_query.AlterTableType_AT_DropColumn:
		if old {
			j.hazard(HazardBreaksCode, Warn,
				fmt.Sprintf("DROP COLUMN %s: running code that still reads or writes %s.%s fails (an ORM that lists every column included) until new code is deployed",
					quoteIdent(c.Name), t, quoteIdent(c.Name)),
				fmt.Sprintf("deploy code that no longer uses %s first (for example ignored_columns), then drop it in a later migration", quoteIdent(c.Name)))
		}
	case pg_query.AlterTableType_AT_SetStatistics, pg_query.AlterTableType_AT_SetOptions,
		pg_query.AlterTableType_AT_ResetOptions, pg_query.AlterTableType_AT_ClusterOn,
		pg_query.AlterTableType_AT_DropCluster, pg_query.AlterTableType_AT_DetachPartitionFinalize:
		return ShareUpdateExclusive
	case pg_query.AlterTableType_AT_SetRelOptions, pg_query.AlterTableType_AT_ResetRelOptions:
		return relOptionsLock(c.Def)
	case pg_query.AlterTableType_AT_EnableTrig, pg_query.AlterTableType_AT_EnableAlwaysTrig,
		pg_query.AlterTableType_AT_EnableReplicaTrig, pg_query.AlterTableType_AT_EnableTrigAll,
		pg_query.AlterTableType_AT_EnableTrigUser, pg_query.AlterTableType_AT_DisableTrig,
		pg_query.AlterTableType_AT_DisableTrigAll, pg_query.AlterTableType_AT_DisableTrigUser:
		return ShareRowExclusive
	case pg_query.AlterTableType_AT_AttachPartition:
		return j.attach(rv, c.Def.GetPartitionCmd())
	case pg_query.AlterTableType_AT_DetachPartition:
		pc := c.Def.GetPartitionCmd()
		j.rel(pc.GetName(), AccessExclusive)
		if pc.GetConcurrent() {
			j.outsideBlockOnly("DETACH PARTITION CONCURRENTLY")
			return ShareUpdateExclusive
		}
	case pg_query.AlterTableType_AT_SetTableSpace, pg_query.AlterTableType_AT_SetLogged,
		pg_query.AlterTableType_AT_SetUnLogged, pg_query.AlterTableType_AT_SetAccessMethod,
		pg_query.AlterTableType_AT_SetExpression:
		j.a.Rewrites, j.a.Scans = true, true
		if old {
			j.hazard(HazardRewrite, Block,
				fmt.Sprintf("%s copies every row of %s under ACCESS EXCLUSIVE: nothing reads or writes %s until it finishes",
					alterWords(c.Subtype), t, t), "")
		}
	}
	return AccessExclusive
}

func alterWords(t pg_query.AlterTableType) string {
	switch t {
	case pg_query.AlterTableType_AT_SetTableSpace:
		return "SET TABLESPACE"
	case pg_query.AlterTableType_AT_SetLogged:
		return "SET LOGGED"
	case pg_query.AlterTableType_AT_SetUnLogged:
		return "SET UNLOGGED"
	case pg_query.AlterTableType_AT_SetAccessMethod:
		return "SET ACCESS METHOD"
	}
	return "SET EXPRESSION"
}

func (j *judge) addConstraint(rv *pg_query.RangeVar, c *pg_query.Constraint, old bool) Lock {
	if c == nil {
		return AccessExclusive
	}
	t := relName(rv)
	switch c.Contype {
	case pg_query.ConstrType_CONSTR_FOREIGN:
		// SHARE ROW EXCLUSIVE on both tables: the foreign key adds
		// triggers to each.
		j.rel(c.Pktable, ShareRowExclusive)
		if !c.SkipValidation {
			j.a.Scans = true
			if old {
				j.notValid(rv, c, rv.Relname+"_"+firstName(c.FkAttrs)+"_fkey",
					fmt.Sprintf("ADD FOREIGN KEY checks every row of %s against %s while it holds SHARE ROW EXCLUSIVE on both: writes to either wait until it finishes", t, relName(c.Pktable)))
			}
		}
		return ShareRowExclusive
	case pg_query.ConstrType_CONSTR_CHECK:
		if col := notNullColumn(c.RawExpr); col != "" && (c.Conname != "" || !c.SkipValidation) {
			j.s.checks = append(j.s.checks, notNullCheck{qname{rv.Schemaname, rv.Relname}, c.Conname, col, !c.SkipValidation})
		}
		if !c.SkipValidation {
			j.a.Scans = true
			if old {
				j.notValid(rv, c, rv.Relname+"_check",
					fmt.Sprintf("ADD CHECK reads every row of %s under ACCESS EXCLUSIVE: nothing reads or writes %s until it finishes", t, t))
			}
		}
	case pg_query.ConstrType_CONSTR_PRIMARY, pg_query.ConstrType_CONSTR_UNIQUE:
		if c.Indexname != "" {
			break
		}
		j.a.Scans = true
		if old {
			j.uniqueByIndex(rv, c)
		}
	case pg_query.ConstrType_CONSTR_EXCLUSION:
		j.a.Scans = true
		if old {
			j.hazard(HazardScan, Block,
				fmt.Sprintf("ADD EXCLUDE builds its index on %s under ACCESS EXCLUSIVE, and no concurrent form exists: nothing reads or writes %s until it is built", t, t),
				"no online form exists: run it in a window when "+t+" can stop, and enforce the rule in the application until then")
		}
	}
	return AccessExclusive
}

// notValid: add the constraint NOT VALID (a catalog change), then
// VALIDATE CONSTRAINT, which reads the table under SHARE UPDATE EXCLUSIVE
// and lets writes through.
func (j *judge) notValid(rv *pg_query.RangeVar, c *pg_query.Constraint, name, reason string) {
	nv := proto.Clone(c).(*pg_query.Constraint)
	nv.SkipValidation, nv.InitiallyValid = true, false
	if nv.Conname == "" {
		nv.Conname = name
	}
	add := alterSQL(rv, &pg_query.AlterTableCmd{Subtype: pg_query.AlterTableType_AT_AddConstraint, Def: &pg_query.Node{Node: &pg_query.Node_Constraint{Constraint: nv}}})
	validate := alterSQL(rv, &pg_query.AlterTableCmd{Subtype: pg_query.AlterTableType_AT_ValidateConstraint, Name: nv.Conname})
	j.hazard(HazardScan, Block, reason, add+"; then, in its own statement, "+validate+";")
}

// uniqueByIndex: build the index concurrently, then attach it.
func (j *judge) uniqueByIndex(rv *pg_query.RangeVar, c *pg_query.Constraint) {
	name := c.Conname
	var keys []string
	for _, k := range c.Keys {
		keys = append(keys, k.GetString_().GetSval())
	}
	if name == "" && c.Contype == pg_query.ConstrType_CONSTR_PRIMARY {
		name = rv.Relname + "_pkey"
	} else if name == "" {
		name = rv.Relname + "_" + strings.Join(keys, "_") + "_key"
	}
	idx := &pg_query.IndexStmt{Idxname: name, Relation: rv, Unique: true, Concurrent: true}
	for _, k := range keys {
		idx.IndexParams = append(idx.IndexParams, &pg_query.Node{Node: &pg_query.Node_IndexElem{IndexElem: &pg_query.IndexElem{Name: k}}})
	}
	attach := &pg_query.Constraint{Contype: c.Contype, Conname: name, Indexname: name}
	what := "PRIMARY KEY"
	if c.Contype == pg_query.ConstrType_CONSTR_UNIQUE {
		what = "UNIQUE"
	}
	j.hazard(HazardScan, Block,
		fmt.Sprintf("ADD %s builds its index on %s under ACCESS EXCLUSIVE: nothing reads or writes %s until it is built", what, relName(rv), relName(rv)),
		deparse(&pg_query.Node{Node: &pg_query.Node_IndexStmt{IndexStmt: idx}})+"; — outside a transaction block, then "+
			alterSQL(rv, &pg_query.AlterTableCmd{Subtype: pg_query.AlterTableType_AT_AddConstraint, Def: &pg_query.Node{Node: &pg_query.Node_Constraint{Constraint: attach}}})+";")
}

// attach: SHARE UPDATE EXCLUSIVE on the parent, ACCESS EXCLUSIVE on the
// table attached, which is scanned to prove its rows fit the bound unless
// a valid CHECK constraint already implies it.
func (j *judge) attach(parent *pg_query.RangeVar, pc *pg_query.PartitionCmd) Lock {
	part := pc.GetName()
	j.rel(part, AccessExclusive)
	j.a.Scans = true
	if part != nil && !j.s.created(qname{part.Schemaname, part.Relname}) {
		j.hazard(HazardScan, Warn,
			fmt.Sprintf("ATTACH PARTITION reads every row of %s under ACCESS EXCLUSIVE to prove it fits the bound, unless a valid CHECK constraint already implies the bound (a default partition of %s is scanned too)", relName(part), relName(parent)),
			fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT … CHECK (<the bound>) NOT VALID; VALIDATE CONSTRAINT; then ATTACH, and drop the CHECK", relName(part)))
	}
	return ShareUpdateExclusive
}

// relOptionsLock: fillfactor, autovacuum and the other options the ALTER
// TABLE reference lists take SHARE UPDATE EXCLUSIVE; any other option
// ACCESS EXCLUSIVE.
func relOptionsLock(def *pg_query.Node) Lock {
	for _, o := range def.GetList().GetItems() {
		d := o.GetDefElem()
		name := d.GetDefname()
		switch {
		case name == "fillfactor", name == "toast_tuple_target", name == "parallel_workers",
			name == "log_autovacuum_min_duration", name == "vacuum_index_cleanup",
			name == "vacuum_truncate", strings.HasPrefix(name, "autovacuum_"):
		default:
			return AccessExclusive
		}
	}
	return ShareUpdateExclusive
}

func alterSQL(rv *pg_query.RangeVar, cmds ...*pg_query.AlterTableCmd) string {
	st := &pg_query.AlterTableStmt{Relation: rv, Objtype: pg_query.ObjectType_OBJECT_TABLE}
	for _, c := range cmds {
		c.Behavior = pg_query.DropBehavior_DROP_RESTRICT
		st.Cmds = append(st.Cmds, &pg_query.Node{Node: &pg_query.Node_AlterTableCmd{AlterTableCmd: c}})
	}
	return deparse(&pg_query.Node{Node: &pg_query.Node_AlterTableStmt{AlterTableStmt: st}})
}

func addColumnCmd(cd *pg_query.ColumnDef) *pg_query.AlterTableCmd {
	return &pg_query.AlterTableCmd{Subtype: pg_query.AlterTableType_AT_AddColumn, Def: &pg_query.Node{Node: &pg_query.Node_ColumnDef{ColumnDef: cd}}}
}

func nullTest(col string, t pg_query.NullTestType) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_NullTest{NullTest: &pg_query.NullTest{
		Arg:          pg_query.MakeColumnRefNode([]*pg_query.Node{pg_query.MakeStrNode(col)}, -1),
		Nulltesttype: t,
	}}}
}

// notNullColumn is col when expr is exactly "col IS NOT NULL".
func notNullColumn(expr *pg_query.Node) string {
	nt := expr.GetNullTest()
	if nt == nil || nt.Nulltesttype != pg_query.NullTestType_IS_NOT_NULL {
		return ""
	}
	f := nt.Arg.GetColumnRef().GetFields()
	if len(f) != 1 {
		return ""
	}
	return f[0].GetString_().GetSval()
}

func firstName(ns []*pg_query.Node) string {
	if len(ns) == 0 {
		return ""
	}
	return ns[0].GetString_().GetSval()
}
