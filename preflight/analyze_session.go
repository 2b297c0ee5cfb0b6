package preflight

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// classify fills Kind, Relations and Hazards from the statement's node.
func (j *judge) classify(node *pg_query.Node) {
	j.a.Kind = kindOf(node)
	switch n := node.Node.(type) {
	case *pg_query.Node_TransactionStmt:
		j.transaction(n.TransactionStmt)
	case *pg_query.Node_VariableSetStmt:
		j.set(n.VariableSetStmt)
	case *pg_query.Node_CreateStmt:
		j.createTable(n.CreateStmt)
	case *pg_query.Node_CreateTableAsStmt:
		j.createTableAs(n.CreateTableAsStmt)
	case *pg_query.Node_ViewStmt:
		j.createView(n.ViewStmt)
	case *pg_query.Node_IndexStmt:
		j.createIndex(n.IndexStmt)
	case *pg_query.Node_AlterTableStmt:
		j.alterTable(n.AlterTableStmt)
	case *pg_query.Node_RenameStmt:
		j.rename(n.RenameStmt)
	case *pg_query.Node_AlterObjectSchemaStmt:
		j.setSchema(n.AlterObjectSchemaStmt)
	case *pg_query.Node_DropStmt:
		j.drop(n.DropStmt)
	case *pg_query.Node_ReindexStmt:
		j.reindex(n.ReindexStmt)
	case *pg_query.Node_VacuumStmt:
		j.vacuum(n.VacuumStmt)
	case *pg_query.Node_ClusterStmt:
		j.cluster(n.ClusterStmt)
	case *pg_query.Node_RefreshMatViewStmt:
		j.refresh(n.RefreshMatViewStmt)
	case *pg_query.Node_CreateTrigStmt:
		// CREATE TRIGGER: SHARE ROW EXCLUSIVE (13.3.1).
		j.rel(n.CreateTrigStmt.Relation, ShareRowExclusive)
	case *pg_query.Node_CreateStatsStmt:
		for _, r := range n.CreateStatsStmt.Relations {
			j.rel(r.GetRangeVar(), ShareUpdateExclusive)
		}
	case *pg_query.Node_CreatePolicyStmt:
		j.rel(n.CreatePolicyStmt.Table, AccessExclusive)
	case *pg_query.Node_LockStmt:
		j.lockTable(n.LockStmt)
	case *pg_query.Node_TruncateStmt:
		j.truncate(n.TruncateStmt)
	case *pg_query.Node_InsertStmt, *pg_query.Node_UpdateStmt, *pg_query.Node_DeleteStmt,
		*pg_query.Node_MergeStmt, *pg_query.Node_SelectStmt, *pg_query.Node_CopyStmt:
		j.dml(node)
	case *pg_query.Node_CommentStmt:
		j.comment(n.CommentStmt)
	case *pg_query.Node_CreatedbStmt, *pg_query.Node_DropdbStmt, *pg_query.Node_AlterSystemStmt,
		*pg_query.Node_CreateTableSpaceStmt, *pg_query.Node_DropTableSpaceStmt:
		j.outsideBlockOnly(j.a.Kind)
	case *pg_query.Node_CreateFunctionStmt, *pg_query.Node_CreateSchemaStmt, *pg_query.Node_CreateExtensionStmt,
		*pg_query.Node_CreateSeqStmt, *pg_query.Node_AlterSeqStmt, *pg_query.Node_CreateEnumStmt,
		*pg_query.Node_AlterEnumStmt, *pg_query.Node_CompositeTypeStmt, *pg_query.Node_CreateDomainStmt,
		*pg_query.Node_CreateRangeStmt, *pg_query.Node_DefineStmt, *pg_query.Node_AlterFunctionStmt,
		*pg_query.Node_GrantStmt, *pg_query.Node_GrantRoleStmt, *pg_query.Node_CreateRoleStmt,
		*pg_query.Node_AlterRoleStmt, *pg_query.Node_AlterDefaultPrivilegesStmt, *pg_query.Node_VariableShowStmt,
		*pg_query.Node_AlterOwnerStmt:
		// Catalog changes that lock no table anyone reads or writes.
	default:
		j.unclassified("")
	}
}

func (j *judge) transaction(t *pg_query.TransactionStmt) {
	s := j.s
	switch t.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START:
		if !s.inTx {
			s.inTx, s.timeoutAtBegin = true, s.timeout
		}
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT, pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:
		j.endBlock(false)
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		j.endBlock(true)
	}
}

func (j *judge) endBlock(rollback bool) {
	s := j.s
	if !s.inTx {
		return
	}
	if rollback {
		// SET inside an aborted transaction is undone with it.
		s.timeout = s.timeoutAtBegin
	}
	s.inTx, s.localSet, s.held = false, false, nil
	j.note.ends = true
}

// set follows lock_timeout through SET, SET SESSION, SET LOCAL and RESET,
// as the SET reference describes them.
func (j *judge) set(v *pg_query.VariableSetStmt) {
	s := j.s
	var on bool
	switch v.Kind {
	case pg_query.VariableSetKind_VAR_RESET_ALL:
		s.timeout, s.localSet = false, false
		return
	case pg_query.VariableSetKind_VAR_SET_VALUE:
		if v.Name != "lock_timeout" || len(v.Args) == 0 {
			return
		}
		on = nonzeroDuration(v.Args[0])
	case pg_query.VariableSetKind_VAR_SET_DEFAULT, pg_query.VariableSetKind_VAR_RESET:
		if v.Name != "lock_timeout" {
			return
		}
	default:
		return
	}
	switch {
	case v.IsLocal && !s.inTx:
		j.hazard(HazardNoEffect, Warn,
			"SET LOCAL outside a transaction block has no effect: lock_timeout stays as it was for the statements that follow",
			"SET lock_timeout = '2s'; (without LOCAL), or put it inside BEGIN … COMMIT")
	case v.IsLocal:
		s.local, s.localSet = on, true
	default:
		// A session-level SET also overrides an earlier SET LOCAL.
		s.timeout, s.localSet = on, false
	}
}

// nonzeroDuration reads a lock_timeout value: 2000, '2s', '0', 0.5. A value
// it cannot read counts as set: Postgres would refuse a bad one.
func nonzeroDuration(n *pg_query.Node) bool {
	c := n.GetAConst()
	if c == nil {
		return true
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Ival:
		return v.Ival.Ival != 0
	case *pg_query.A_Const_Fval:
		f, err := strconv.ParseFloat(v.Fval.Fval, 64)
		return err != nil || f != 0
	case *pg_query.A_Const_Sval:
		num := strings.TrimSpace(v.Sval.Sval)
		end := 0
		for end < len(num) && (num[end] >= '0' && num[end] <= '9' || num[end] == '.') {
			end++
		}
		f, err := strconv.ParseFloat(num[:end], 64)
		return err != nil || f != 0
	}
	return true
}

// outsideBlockOnly flags a statement Postgres refuses inside a transaction
// block; it names the relations recorded so far.
func (j *judge) outsideBlockOnly(what string) {
	if !j.a.InTransaction {
		return
	}
	if rs := j.a.Relations; len(rs) > 0 && rs[0].Index {
		what += " " + rs[0].Name
	} else if len(rs) > 0 {
		what += " on " + onNames(rs)
	}
	j.hazard(HazardConcurrentInTx, Block,
		what+" fails: it cannot run inside a transaction block",
		"move it to a migration of its own, outside BEGIN … COMMIT (frameworks: disable the DDL transaction for that migration)")
}

// kindOf names a statement as its SQL begins.
func kindOf(n *pg_query.Node) string {
	switch n := n.Node.(type) {
	case *pg_query.Node_TransactionStmt:
		switch n.TransactionStmt.Kind {
		case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN:
			return "BEGIN"
		case pg_query.TransactionStmtKind_TRANS_STMT_START:
			return "START TRANSACTION"
		case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
			return "COMMIT"
		case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
			return "ROLLBACK"
		case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
			return "SAVEPOINT"
		case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
			return "RELEASE"
		case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
			return "ROLLBACK TO SAVEPOINT"
		case pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:
			return "PREPARE TRANSACTION"
		case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
			return "COMMIT PREPARED"
		case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
			return "ROLLBACK PREPARED"
		}
	case *pg_query.Node_VariableSetStmt:
		switch n.VariableSetStmt.Kind {
		case pg_query.VariableSetKind_VAR_RESET, pg_query.VariableSetKind_VAR_RESET_ALL:
			return "RESET"
		}
		return "SET"
	case *pg_query.Node_CreateStmt:
		return "CREATE TABLE"
	case *pg_query.Node_CreateTableAsStmt:
		if n.CreateTableAsStmt.Objtype == pg_query.ObjectType_OBJECT_MATVIEW {
			return "CREATE MATERIALIZED VIEW"
		}
		return "CREATE TABLE AS"
	case *pg_query.Node_ViewStmt:
		return "CREATE VIEW"
	case *pg_query.Node_IndexStmt:
		return "CREATE INDEX"
	case *pg_query.Node_AlterTableStmt:
		return "ALTER " + objectWord(n.AlterTableStmt.Objtype)
	case *pg_query.Node_RenameStmt:
		r := n.RenameStmt
		switch r.RenameType {
		case pg_query.ObjectType_OBJECT_COLUMN:
			return "ALTER " + objectWord(r.RelationType)
		case pg_query.ObjectType_OBJECT_TABCONSTRAINT:
			return "ALTER TABLE"
		}
		return "ALTER " + objectWord(r.RenameType)
	case *pg_query.Node_AlterObjectSchemaStmt:
		return "ALTER " + objectWord(n.AlterObjectSchemaStmt.ObjectType)
	case *pg_query.Node_DropStmt:
		return "DROP " + objectWord(n.DropStmt.RemoveType)
	case *pg_query.Node_VacuumStmt:
		if n.VacuumStmt.IsVacuumcmd {
			return "VACUUM"
		}
		return "ANALYZE"
	case *pg_query.Node_RefreshMatViewStmt:
		return "REFRESH MATERIALIZED VIEW"
	case *pg_query.Node_CreateTrigStmt:
		return "CREATE TRIGGER"
	case *pg_query.Node_LockStmt:
		return "LOCK TABLE"
	case *pg_query.Node_CreateStatsStmt:
		return "CREATE STATISTICS"
	case *pg_query.Node_CreatePolicyStmt:
		return "CREATE POLICY"
	case *pg_query.Node_CommentStmt:
		return "COMMENT"
	case *pg_query.Node_GrantStmt:
		if !n.GrantStmt.IsGrant {
			return "REVOKE"
		}
		return "GRANT"
	case *pg_query.Node_CreateFunctionStmt:
		if n.CreateFunctionStmt.IsProcedure {
			return "CREATE PROCEDURE"
		}
		return "CREATE FUNCTION"
	case *pg_query.Node_CreateEnumStmt, *pg_query.Node_CompositeTypeStmt, *pg_query.Node_CreateRangeStmt:
		return "CREATE TYPE"
	case *pg_query.Node_AlterEnumStmt:
		return "ALTER TYPE"
	case *pg_query.Node_CreatedbStmt:
		return "CREATE DATABASE"
	case *pg_query.Node_DropdbStmt:
		return "DROP DATABASE"
	case *pg_query.Node_CreateTableSpaceStmt:
		return "CREATE TABLESPACE"
	case *pg_query.Node_DropTableSpaceStmt:
		return "DROP TABLESPACE"
	case *pg_query.Node_VariableShowStmt:
		return "SHOW"
	case *pg_query.Node_CreateSeqStmt:
		return "CREATE SEQUENCE"
	case *pg_query.Node_AlterSeqStmt:
		return "ALTER SEQUENCE"
	case *pg_query.Node_AlterOwnerStmt:
		return "ALTER " + objectWord(n.AlterOwnerStmt.ObjectType)
	case *pg_query.Node_AlterTableMoveAllStmt:
		return "ALTER " + objectWord(n.AlterTableMoveAllStmt.Objtype)
	case *pg_query.Node_CheckPointStmt:
		return "CHECKPOINT"
	}
	return kindFromNodeName(n)
}

// kindFromNodeName spells a node type the parser names CreateDomainStmt as
// "CREATE DOMAIN".
func kindFromNodeName(n *pg_query.Node) string {
	m := n.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().Get(0))
	if fd == nil {
		return "UNKNOWN"
	}
	name := strings.TrimSuffix(string(fd.Message().Name()), "Stmt")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// objectWord spells an object type as SQL does: OBJECT_MATVIEW is
// "MATERIALIZED VIEW".
func objectWord(t pg_query.ObjectType) string {
	switch t {
	case pg_query.ObjectType_OBJECT_MATVIEW:
		return "MATERIALIZED VIEW"
	case pg_query.ObjectType_OBJECT_TABCONSTRAINT:
		return "CONSTRAINT"
	case pg_query.ObjectType_OBJECT_STATISTIC_EXT:
		return "STATISTICS"
	case pg_query.ObjectType_OBJECT_FDW:
		return "FOREIGN DATA WRAPPER"
	case pg_query.ObjectType_OBJECT_FOREIGN_SERVER:
		return "SERVER"
	}
	return strings.ReplaceAll(strings.TrimPrefix(t.String(), "OBJECT_"), "_", " ")
}
