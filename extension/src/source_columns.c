/*-------------------------------------------------------------------------
 * source_columns.c
 *    Which columns of a source a stream table reads: every column its
 *    query references (at any subquery level) plus the source's key (the
 *    engine keys its mirror by the replica identity). Stored in
 *    pgt_sources.columns so DDL checks need no re-analysis (a sql_drop
 *    trigger runs after the column is gone).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "access/relation.h"
#include "nodes/bitmapset.h"

#include "ddl.h"

PG_FUNCTION_INFO_V1(pgt_source_columns_sql);

typedef struct ColumnsContext
{
	Oid			relid;
	List	   *queries;		/* stack of Query *, innermost first */
	Bitmapset  *attnums;
	bool		whole_row;
} ColumnsContext;

static bool
columns_walker(Node *node, ColumnsContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *v = (Var *) node;
		Query	   *q;
		RangeTblEntry *rte;

		if (v->varlevelsup >= (Index) list_length(ctx->queries))
			return false;
		q = list_nth(ctx->queries, v->varlevelsup);
		if (v->varno < 1 || v->varno > (int) list_length(q->rtable))
			return false;
		rte = rt_fetch(v->varno, q->rtable);
		if (rte->rtekind == RTE_RELATION && rte->relid == ctx->relid)
		{
			if (v->varattno == 0)
				ctx->whole_row = true;
			else if (v->varattno > 0)
				ctx->attnums = bms_add_member(ctx->attnums, v->varattno);
		}
		else if (rte->rtekind == RTE_JOIN && v->varattno >= 0)
		{
			/*
			 * A column of a join (USING/NATURAL, or a whole-row join Var):
			 * what it stands for, with the Var's query as level 0. The join
			 * aliases themselves are not walked (query_tree_walker below): they
			 * list every column of both inputs, referenced or not.
			 */
			List	   *saved = ctx->queries;
			Node	   *target = NULL;
			bool		r;

			if (v->varattno == 0)
				target = (Node *) rte->joinaliasvars;
			else if (v->varattno <= list_length(rte->joinaliasvars))
				target = list_nth(rte->joinaliasvars, v->varattno - 1);
			ctx->queries = list_copy_tail(saved, v->varlevelsup);
			r = columns_walker(target, ctx);
			ctx->queries = saved;
			return r;
		}
		return false;
	}
	if (IsA(node, Query))
	{
		bool		r;

		ctx->queries = lcons(node, ctx->queries);
		r = query_tree_walker((Query *) node, columns_walker, ctx, QTW_IGNORE_JOINALIASES);
		ctx->queries = list_delete_first(ctx->queries);
		return r;
	}
	return expression_tree_walker(node, columns_walker, ctx);
}

static Query *
analyze_query(const char *query_text)
{
	List	   *raw = pg_parse_query(query_text);

	if (list_length(raw) != 1)
		elog(ERROR, "stream table query is not one statement");
	return parse_analyze_fixedparams(linitial_node(RawStmt, raw), query_text,
									 NULL, 0, NULL);
}

List *
pgt_source_columns(const char *query_text, Oid relid)
{
	ColumnsContext ctx = {relid, NIL, NULL, false};
	Query	   *q = analyze_query(query_text);
	Relation	rel = relation_open(relid, AccessShareLock);
	Oid			keyidx = RelationGetReplicaIndex(rel);
	List	   *result = NIL;
	int			i;

	(void) columns_walker((Node *) q, &ctx);
	if (OidIsValid(keyidx))
	{
		Relation	idx = index_open(keyidx, AccessShareLock);

		for (i = 0; i < idx->rd_index->indnkeyatts; i++)
			ctx.attnums = bms_add_member(ctx.attnums, idx->rd_index->indkey.values[i]);
		index_close(idx, AccessShareLock);
	}
	for (i = 1; i <= RelationGetNumberOfAttributes(rel); i++)
	{
		if (TupleDescAttr(rel->rd_att, i - 1)->attisdropped)
			continue;
		if (ctx.whole_row || bms_is_member(i, ctx.attnums))
			result = lappend_int(result, i);
	}
	relation_close(rel, AccessShareLock);
	return result;
}

ArrayType *
pgt_attnum_array(List *attnums)
{
	Datum	   *d = palloc(sizeof(Datum) * (list_length(attnums) + 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, attnums)
		d[n++] = Int16GetDatum((int16) lfirst_int(lc));
	return construct_array(d, n, INT2OID, sizeof(int16), true, TYPALIGN_SHORT);
}

Datum
pgt_source_columns_sql(PG_FUNCTION_ARGS)
{
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			relid = PG_GETARG_OID(1);

	PG_RETURN_ARRAYTYPE_P(pgt_attnum_array(pgt_source_columns(query, relid)));
}
