package preflight

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func (j *judge) createTable(c *pg_query.CreateStmt) {
	j.created(c.Relation, c.IfNotExists)
	for _, p := range c.InhRelations {
		// PARTITION OF locks the parent ACCESS EXCLUSIVE (ATTACH PARTITION
		// needs only SHARE UPDATE EXCLUSIVE); INHERITS, SHARE UPDATE
		// EXCLUSIVE.
		l := ShareUpdateExclusive
		if c.Partbound != nil {
			l = AccessExclusive
		}
		j.rel(p.GetRangeVar(), l)
	}
	fk := func(cs *pg_query.Constraint) {
		if cs.GetContype() == pg_query.ConstrType_CONSTR_FOREIGN {
			j.rel(cs.Pktable, ShareRowExclusive)
		}
	}
	for _, e := range c.TableElts {
		switch e := e.Node.(type) {
		case *pg_query.Node_ColumnDef:
			for _, cs := range e.ColumnDef.Constraints {
				fk(cs.GetConstraint())
			}
		case *pg_query.Node_Constraint:
			fk(e.Constraint)
		case *pg_query.Node_TableLikeClause:
			j.rel(e.TableLikeClause.Relation, AccessShare)
		}
	}
}

func (j *judge) createTableAs(c *pg_query.CreateTableAsStmt) {
	rv := c.GetInto().GetRel()
	if rv == nil {
		j.unclassified("")
		return
	}
	j.created(rv, c.IfNotExists)
	for _, r := range tablesRead(c.Query, nil) {
		j.rel(r, AccessShare)
	}
}

// created records a table the statement creates. With IF NOT EXISTS it
// may have been there all along, so later statements cannot count it new;
// the statement itself locks nothing anyone holds either way.
func (j *judge) created(rv *pg_query.RangeVar, ifNotExists bool) {
	j.s.tables = append(j.s.tables, qname{rv.Schemaname, rv.Relname})
	j.rel(rv, AccessExclusive)
	if ifNotExists {
		j.s.tables = j.s.tables[:len(j.s.tables)-1]
	}
}

// createView: CREATE OR REPLACE of a view that was there locks it ACCESS
// EXCLUSIVE, as queries on it are planned against its old definition.
func (j *judge) createView(v *pg_query.ViewStmt) {
	q := qname{v.View.Schemaname, v.View.Relname}
	if !v.Replace || j.s.created(q) {
		j.s.tables = append(j.s.tables, q)
	}
	j.rel(v.View, AccessExclusive)
}

func (j *judge) createIndex(x *pg_query.IndexStmt) {
	l := Share
	if x.Concurrent {
		l = ShareUpdateExclusive
	}
	j.rel(x.Relation, l)
	j.a.Scans = true
	if x.Idxname != "" {
		j.s.indexes[x.Idxname] = qname{x.Relation.Schemaname, x.Relation.Relname}
	}
	switch {
	case x.Concurrent:
		j.outsideBlockOnly("CREATE INDEX CONCURRENTLY")
	case j.existing(0):
		x.Concurrent = true
		am := x.AccessMethod
		if am == "btree" {
			x.AccessMethod = "" // the default, as most write it
		}
		fix := deparse(&pg_query.Node{Node: &pg_query.Node_IndexStmt{IndexStmt: x}})
		x.Concurrent, x.AccessMethod = false, am
		t := relName(x.Relation)
		j.hazard(HazardBlockingIndex, Block,
			fmt.Sprintf("CREATE INDEX holds SHARE on %s for the whole build: every INSERT, UPDATE and DELETE on %s waits until the index is built", t, t),
			fix+"; — outside a transaction block")
	}
}

func (j *judge) drop(d *pg_query.DropStmt) {
	var names []qname
	for _, o := range d.Objects {
		names = append(names, qnameOf(o.GetList().GetItems()))
	}
	switch d.RemoveType {
	case pg_query.ObjectType_OBJECT_INDEX:
		j.dropIndex(d, names)
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_VIEW, pg_query.ObjectType_OBJECT_MATVIEW,
		pg_query.ObjectType_OBJECT_FOREIGN_TABLE, pg_query.ObjectType_OBJECT_SEQUENCE:
		var used []string
		for _, q := range names {
			j.lock(q, q.String(), false, AccessExclusive)
			if j.existing(len(j.a.Relations) - 1) {
				used = append(used, q.String())
			}
		}
		if len(used) > 0 {
			on := strings.Join(used, ", ")
			j.hazard(HazardBreaksCode, Warn,
				fmt.Sprintf("%s %s: running code that still queries %s fails; dropping a table also takes ACCESS EXCLUSIVE on every table its foreign keys reference", j.a.Kind, on, on),
				fmt.Sprintf("deploy code that no longer uses %s first, then drop it in a later migration", on))
		}
	case pg_query.ObjectType_OBJECT_TRIGGER, pg_query.ObjectType_OBJECT_RULE, pg_query.ObjectType_OBJECT_POLICY:
		// The object is named [schema.]table.name; DROP TRIGGER takes
		// ACCESS EXCLUSIVE on the table, where CREATE TRIGGER took SHARE
		// ROW EXCLUSIVE.
		for _, o := range d.Objects {
			items := o.GetList().GetItems()
			if len(items) > 1 {
				q := qnameOf(items[:len(items)-1])
				j.lock(q, q.String(), false, AccessExclusive)
			}
		}
	case pg_query.ObjectType_OBJECT_SCHEMA, pg_query.ObjectType_OBJECT_FUNCTION, pg_query.ObjectType_OBJECT_PROCEDURE,
		pg_query.ObjectType_OBJECT_ROUTINE, pg_query.ObjectType_OBJECT_TYPE, pg_query.ObjectType_OBJECT_DOMAIN,
		pg_query.ObjectType_OBJECT_EXTENSION:
		j.hazard(HazardBreaksCode, Warn,
			j.a.Kind+": running code that still uses it fails (with CASCADE, so does code using what depends on it)",
			"deploy code that no longer uses it first, then drop it in a later migration")
	}
}

// dropIndex: DROP INDEX takes ACCESS EXCLUSIVE on the index's table, which
// the parse tree does not name; CONCURRENTLY waits for the queries using
// it instead.
func (j *judge) dropIndex(d *pg_query.DropStmt, names []qname) {
	l := AccessExclusive
	if d.Concurrent {
		l = ShareUpdateExclusive
	}
	for _, q := range names {
		j.index(q, l)
	}
	if d.Concurrent {
		j.outsideBlockOnly("DROP INDEX CONCURRENTLY")
		return
	}
	for i, r := range j.a.Relations {
		if !j.existing(i) || i >= len(d.Objects) {
			continue
		}
		one := &pg_query.DropStmt{Objects: d.Objects[i : i+1], RemoveType: d.RemoveType, Behavior: d.Behavior, MissingOk: d.MissingOk, Concurrent: true}
		j.hazard(HazardDropIndex, Warn,
			fmt.Sprintf("DROP INDEX %s takes ACCESS EXCLUSIVE on its table: it waits behind every open transaction on that table, and every query on it queues behind the drop", r.Name),
			deparse(&pg_query.Node{Node: &pg_query.Node_DropStmt{DropStmt: one}})+"; — outside a transaction block")
	}
}

func (j *judge) rename(r *pg_query.RenameStmt) {
	rv := r.Relation
	switch r.RenameType {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_VIEW, pg_query.ObjectType_OBJECT_MATVIEW,
		pg_query.ObjectType_OBJECT_FOREIGN_TABLE, pg_query.ObjectType_OBJECT_SEQUENCE:
		j.rel(rv, AccessExclusive)
		if !j.existing(0) {
			j.s.tables = append(j.s.tables, qname{rv.Schemaname, r.Newname})
			return
		}
		t := relName(rv)
		fix := "deploy code that uses the new name first"
		if r.RenameType == pg_query.ObjectType_OBJECT_TABLE {
			fix = fmt.Sprintf("keep the old name working for running code: rename, then CREATE VIEW %s AS SELECT * FROM %s; in the same transaction, and drop the view once new code is deployed",
				t, joinName(rv.Schemaname, r.Newname))
		}
		j.hazard(HazardBreaksCode, Warn,
			fmt.Sprintf("RENAME %s to %s: running code that still uses %s fails until new code is deployed", t, quoteIdent(r.Newname), t), fix)
	case pg_query.ObjectType_OBJECT_COLUMN:
		j.rel(rv, AccessExclusive)
		if j.existing(0) {
			t := relName(rv)
			j.hazard(HazardBreaksCode, Warn,
				fmt.Sprintf("RENAME COLUMN %s.%s to %s: running code that still uses the old name fails until new code is deployed", t, quoteIdent(r.Subname), quoteIdent(r.Newname)),
				"add the new column beside the old one, write to both, backfill, switch reads, then drop the old column")
		}
	case pg_query.ObjectType_OBJECT_INDEX:
		// ALTER INDEX … RENAME takes SHARE UPDATE EXCLUSIVE.
		j.index(qname{rv.Schemaname, rv.Relname}, ShareUpdateExclusive)
		if t, ok := j.s.indexes[rv.Relname]; ok {
			j.s.indexes[r.Newname] = t
		}
	case pg_query.ObjectType_OBJECT_TABCONSTRAINT, pg_query.ObjectType_OBJECT_TRIGGER,
		pg_query.ObjectType_OBJECT_RULE, pg_query.ObjectType_OBJECT_POLICY:
		j.rel(rv, AccessExclusive)
	case pg_query.ObjectType_OBJECT_SCHEMA, pg_query.ObjectType_OBJECT_FUNCTION,
		pg_query.ObjectType_OBJECT_PROCEDURE, pg_query.ObjectType_OBJECT_TYPE:
		j.hazard(HazardBreaksCode, Warn,
			j.a.Kind+" RENAME: running code that still uses the old name fails until new code is deployed",
			"deploy code that uses the new name first")
	}
}

func (j *judge) setSchema(x *pg_query.AlterObjectSchemaStmt) {
	switch x.ObjectType {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_VIEW, pg_query.ObjectType_OBJECT_MATVIEW,
		pg_query.ObjectType_OBJECT_FOREIGN_TABLE, pg_query.ObjectType_OBJECT_SEQUENCE:
		j.rel(x.Relation, AccessExclusive)
		if j.existing(0) {
			j.hazard(HazardBreaksCode, Warn,
				fmt.Sprintf("SET SCHEMA %s: running code that names %s through its old schema fails", quoteIdent(x.Newschema), relName(x.Relation)),
				"deploy code that finds it in the new schema first")
		}
	}
}

// option reads a boolean option such as REINDEX (CONCURRENTLY) or VACUUM
// (FULL false).
func option(opts []*pg_query.Node, name string) bool {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defname != name {
			continue
		}
		switch a := d.Arg.GetNode().(type) {
		case nil:
			return true
		case *pg_query.Node_Boolean:
			return a.Boolean.Boolval
		case *pg_query.Node_Integer:
			return a.Integer.Ival != 0
		case *pg_query.Node_String_:
			switch strings.ToLower(a.String_.Sval) {
			case "false", "off", "no", "0":
				return false
			}
			return true
		}
		return true
	}
	return false
}

// reindex: without CONCURRENTLY, SHARE on the table and ACCESS EXCLUSIVE
// on each index; the planner opens every index of a table, so reads wait
// as well as writes.
func (j *judge) reindex(x *pg_query.ReindexStmt) {
	conc := option(x.Params, "concurrently")
	var what string
	switch x.Kind {
	case pg_query.ReindexObjectType_REINDEX_OBJECT_INDEX:
		l := AccessExclusive
		if conc {
			l = ShareUpdateExclusive
		}
		j.index(qname{x.Relation.Schemaname, x.Relation.Relname}, l)
		what = "INDEX " + relName(x.Relation)
	case pg_query.ReindexObjectType_REINDEX_OBJECT_TABLE:
		l := Share
		if conc {
			l = ShareUpdateExclusive
		}
		j.rel(x.Relation, l)
		what = "TABLE " + relName(x.Relation)
	default:
		// SCHEMA, DATABASE and SYSTEM commit table by table, so never run
		// inside a block, CONCURRENTLY or not.
		what = strings.TrimPrefix(x.Kind.String(), "REINDEX_OBJECT_") + " " + quoteIdent(x.Name)
		j.outsideBlockOnly("REINDEX " + what)
	}
	j.a.Scans = true
	if conc {
		if len(j.a.Relations) > 0 {
			j.outsideBlockOnly("REINDEX CONCURRENTLY")
		}
		return
	}
	if len(j.a.Relations) > 0 && !j.existing(0) {
		return
	}
	j.hazard(HazardScan, Block,
		fmt.Sprintf("REINDEX %s rebuilds under SHARE on the table and ACCESS EXCLUSIVE on each index: writes wait, and so does every query the planner considers those indexes for, which is every query on the table", what),
		fmt.Sprintf("REINDEX %s CONCURRENTLY %s; — outside a transaction block", strings.Fields(what)[0], strings.Join(strings.Fields(what)[1:], " ")))
}

func (j *judge) vacuum(x *pg_query.VacuumStmt) {
	full := x.IsVacuumcmd && option(x.Options, "full")
	l := ShareUpdateExclusive
	if full {
		l = AccessExclusive
		j.a.Rewrites, j.a.Scans = true, true
	}
	for _, r := range x.Rels {
		j.rel(r.GetVacuumRelation().GetRelation(), l)
	}
	if x.IsVacuumcmd {
		j.outsideBlockOnly("VACUUM")
	}
	if !full {
		return
	}
	var used []Relation
	for i, r := range j.a.Relations {
		if j.existing(i) {
			used = append(used, r)
		}
	}
	on := onNames(used)
	if len(x.Rels) == 0 {
		on = "every table in the database"
	} else if len(used) == 0 {
		return
	}
	j.hazard(HazardRewrite, Block,
		fmt.Sprintf("VACUUM FULL rewrites %s under ACCESS EXCLUSIVE: nothing reads or writes it until the copy is done", on),
		"plain VACUUM (no lock on reads or writes), or pg_repack / pg_squeeze to reclaim the space online")
}

func (j *judge) cluster(x *pg_query.ClusterStmt) {
	j.a.Rewrites, j.a.Scans = true, true
	if x.Relation == nil {
		j.outsideBlockOnly("CLUSTER without a table")
		j.hazard(HazardRewrite, Block,
			"CLUSTER rewrites every table clustered before, each under ACCESS EXCLUSIVE", "pg_repack --order-by, table by table, rebuilds them online")
		return
	}
	j.rel(x.Relation, AccessExclusive)
	if j.existing(0) {
		t := relName(x.Relation)
		j.hazard(HazardRewrite, Block,
			fmt.Sprintf("CLUSTER rewrites %s in index order under ACCESS EXCLUSIVE: nothing reads or writes %s until it finishes", t, t),
			fmt.Sprintf("pg_repack --table=%s --order-by=<the index's columns> rebuilds it online", t))
	}
}

func (j *judge) refresh(x *pg_query.RefreshMatViewStmt) {
	t := relName(x.Relation)
	if x.Concurrent {
		// EXCLUSIVE: reads go on, and a materialized view takes no writes.
		j.rel(x.Relation, Exclusive)
		j.a.Scans = true
		return
	}
	j.rel(x.Relation, AccessExclusive)
	if !j.existing(0) {
		return
	}
	if x.SkipData {
		j.hazard(HazardBreaksCode, Warn,
			fmt.Sprintf("WITH NO DATA empties %s: queries on it fail until it is refreshed again", t), "")
		return
	}
	j.a.Rewrites, j.a.Scans = true, true
	j.hazard(HazardRewrite, Block,
		fmt.Sprintf("REFRESH MATERIALIZED VIEW holds ACCESS EXCLUSIVE on %s while it recomputes it: every query on %s waits until it finishes", t, t),
		fmt.Sprintf("REFRESH MATERIALIZED VIEW CONCURRENTLY %s; — it needs a unique index on %s", t, t))
}
