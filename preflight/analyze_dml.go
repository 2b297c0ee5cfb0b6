package preflight

import (
	"fmt"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func (j *judge) lockTable(x *pg_query.LockStmt) {
	l := Lock(x.Mode)
	if l <= NoLock || l > AccessExclusive {
		l = AccessExclusive
	}
	for _, r := range x.Relations {
		j.rel(r.GetRangeVar(), l)
	}
	if !j.a.InTransaction {
		j.hazard(HazardFails, Warn,
			"LOCK TABLE "+onNames(j.a.Relations)+" outside a transaction block fails (\"can only be used in transaction blocks\"), unless the migration framework wraps the file in one",
			"put it inside BEGIN … COMMIT with the statements it protects")
	}
}

func (j *judge) truncate(x *pg_query.TruncateStmt) {
	var used []Relation
	for _, r := range x.Relations {
		j.rel(r.GetRangeVar(), AccessExclusive)
		if i := len(j.a.Relations) - 1; j.existing(i) {
			used = append(used, j.a.Relations[i])
		}
	}
	if len(used) > 0 {
		on := onNames(used)
		j.hazard(HazardBreaksCode, Warn,
			fmt.Sprintf("TRUNCATE empties %s under ACCESS EXCLUSIVE: running code that reads it finds nothing", on), "")
	}
}

// dml: INSERT, UPDATE, DELETE and MERGE take ROW EXCLUSIVE on the table
// they write, and ACCESS SHARE on each table they read.
func (j *judge) dml(n *pg_query.Node) {
	var target *pg_query.RangeVar
	var noWhere bool
	l := RowExclusive
	switch x := n.Node.(type) {
	case *pg_query.Node_InsertStmt:
		target = x.InsertStmt.Relation
	case *pg_query.Node_UpdateStmt:
		target, noWhere = x.UpdateStmt.Relation, x.UpdateStmt.WhereClause == nil
	case *pg_query.Node_DeleteStmt:
		target, noWhere = x.DeleteStmt.Relation, x.DeleteStmt.WhereClause == nil
	case *pg_query.Node_MergeStmt:
		target = x.MergeStmt.Relation
	case *pg_query.Node_CopyStmt:
		target = x.CopyStmt.Relation
		if !x.CopyStmt.IsFrom {
			l = AccessShare
		}
	case *pg_query.Node_SelectStmt:
		// SELECT … FOR UPDATE/SHARE: ROW SHARE on what it reads.
		if len(x.SelectStmt.LockingClause) > 0 {
			l = RowShare
		}
		for _, r := range tablesRead(n, nil) {
			j.rel(r, l)
		}
		return
	}
	j.rel(target, l)
	for _, r := range tablesRead(n, target) {
		j.rel(r, AccessShare)
	}
	if noWhere && j.existing(0) {
		t := relName(target)
		what, batches := "backfill in batches", "UPDATE"
		if _, del := n.Node.(*pg_query.Node_DeleteStmt); del {
			what, batches = "delete in batches", "DELETE"
		}
		j.hazard(HazardEveryRow, Warn,
			fmt.Sprintf("%s with no WHERE touches every row of %s in one transaction: each row stays locked until it commits and leaves a dead copy behind; %s", j.a.Kind, t, what),
			fmt.Sprintf("%s in batches by key range (… WHERE id >= $1 AND id < $2), a few thousand rows per transaction", batches))
	}
}

// comment: COMMENT ON takes SHARE UPDATE EXCLUSIVE on the relation.
func (j *judge) comment(c *pg_query.CommentStmt) {
	items := c.Object.GetList().GetItems()
	switch c.Objtype {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_VIEW, pg_query.ObjectType_OBJECT_MATVIEW,
		pg_query.ObjectType_OBJECT_FOREIGN_TABLE:
		q := qnameOf(items)
		j.lock(q, q.String(), false, ShareUpdateExclusive)
	case pg_query.ObjectType_OBJECT_INDEX:
		j.index(qnameOf(items), ShareUpdateExclusive)
	case pg_query.ObjectType_OBJECT_COLUMN:
		if len(items) > 1 {
			q := qnameOf(items[:len(items)-1])
			j.lock(q, q.String(), false, ShareUpdateExclusive)
		}
	}
}
