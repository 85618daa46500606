/*-------------------------------------------------------------------------
 * compile_agg.c
 *    Aggregates: COUNT(*), COUNT(x), SUM, AVG, MIN, MAX.
 *
 * SUM/AVG over float8 are rejected: a maintained floating-point sum depends on
 * the order of additions, so it cannot equal PostgreSQL's recomputation bit for
 * bit. Only the built-in aggregates, without FILTER, ORDER BY or WITHIN GROUP;
 * DISTINCT is allowed ("distinct": true: over the distinct argument values). Argument types: SUM/AVG over int2/int4/int8/numeric;
 * MIN/MAX over those and text (collation "C"), date, timestamp; COUNT over
 * any supported type. Result types follow PostgreSQL (Aggref.aggtype).
 * Identical aggregate calls in the target list share one plan aggregate.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "compiler_internal.h"

typedef struct CollectState
{
	List	   *found;
} CollectState;

static bool
collect_walker(Node *node, CollectState *state)
{
	if (node == NULL)
		return false;
	if (IsA(node, Aggref))
	{
		ListCell   *lc;

		foreach(lc, state->found)
		{
			if (equal(node, lfirst(lc)))
				return false;
		}
		state->found = lappend(state->found, node);
		return false;			/* no nested aggregates in PostgreSQL */
	}
	return expression_tree_walker(node, collect_walker, (void *) state);
}

/* Appends the distinct Aggrefs under node to found. */
List *
pgt_collect_aggrefs(Node *node, List *found)
{
	CollectState state;

	state.found = found;
	(void) collect_walker(node, &state);
	return state.found;
}

static bool
is_numeric_family(Oid typoid)
{
	return typoid == INT2OID || typoid == INT4OID ||
		typoid == INT8OID || typoid == NUMERICOID;
}

static bool
is_orderable(Oid typoid)
{
	return is_numeric_family(typoid) || typoid == FLOAT8OID || typoid == TEXTOID ||
		typoid == DATEOID || typoid == TIMESTAMPOID || typoid == TIMESTAMPTZOID;
}

/* The plan "fn" of a validated Aggref. */
static const char *
aggregate_fn(Aggref *agg)
{
	char	   *fname = format_procedure(agg->aggfnoid);
	char	   *proname;
	Oid			argtype = InvalidOid;

	if (agg->aggkind != AGGKIND_NORMAL)
		pgt_reject("aggregate", "ordered-set aggregate %s (WITHIN GROUP)", fname);
	if (agg->aggdistinct != NIL && agg->aggstar)
		pgt_reject("aggregate", "DISTINCT in aggregates (%s)", fname);
	if (agg->aggfilter != NULL)
		pgt_reject("aggregate", "FILTER in aggregates (%s)", fname);
	if (agg->aggorder != NIL)
		pgt_reject("aggregate", "ORDER BY in aggregates (%s)", fname);
	if (agg->aggfnoid >= FirstGenbkiObjectId)
		pgt_reject("aggregate", "%s", fname);

	proname = get_func_name(agg->aggfnoid);
	if (agg->aggstar)
	{
		if (strcmp(proname, "count") == 0)
			return "count_star";
		pgt_reject("aggregate", "%s", fname);
	}
	if (list_length(agg->args) != 1)
		pgt_reject("aggregate", "%s", fname);
	argtype = exprType((Node *) ((TargetEntry *) linitial(agg->args))->expr);
	if (agg->aggdistinct != NIL && pgt_type_is_text(argtype))
		pgt_check_equality_collation(agg->inputcollid, psprintf("DISTINCT in %s", fname));

	if (strcmp(proname, "count") == 0)
		return "count";
	if ((strcmp(proname, "sum") == 0 || strcmp(proname, "avg") == 0) &&
		is_numeric_family(argtype))
		return proname;
	if ((strcmp(proname, "min") == 0 || strcmp(proname, "max") == 0) &&
		is_orderable(argtype))
	{
		if (argtype == TEXTOID)
			pgt_check_ordering_collation(agg->inputcollid, fname);
		return proname;
	}
	pgt_reject("aggregate", "%s", fname);
}

/* {"fn": ..., "arg": <expr>|null, "typoid": <result type>} */
void
pgt_write_aggregate(PgtCompileCtx *ctx, Aggref *agg)
{
	const char *fn = aggregate_fn(agg);

	if (!pgt_type_supported(agg->aggtype))
		pgt_reject("type", "result of %s is %s",
				   format_procedure(agg->aggfnoid), format_type_be(agg->aggtype));

	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "fn", fn);
	jw_key(ctx->w, "arg");
	if (agg->aggstar)
		jw_null(ctx->w);
	else
		pgt_compile_expr(ctx, (Node *) ((TargetEntry *) linitial(agg->args))->expr,
						 PGT_EXPR_SCAN);
	jw_kv_int(ctx->w, "typoid", agg->aggtype);
	if (agg->aggdistinct != NIL)
		jw_kv_bool(ctx->w, "distinct", true);
	jw_end_object(ctx->w);
}
