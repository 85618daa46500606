/*-------------------------------------------------------------------------
 * compile_from.c
 *    The FROM clause → a tree of scan / subquery / join operators.
 *
 * Layout: every FROM item (base table, subquery in FROM, WITH query) gets a
 * contiguous range of columns in the "FROM row", in FROM order: a table's
 * columns are its attributes (attnum i at offset + i − 1), a subquery's its
 * output columns. A join's output row is its left input's row followed by its
 * right input's, so every join subtree covers a contiguous range too, and an
 * expression over the FROM row reads column offset(varno) + attno − 1.
 *
 * Joins: JOIN … ON (inner, LEFT, RIGHT, FULL; USING and NATURAL through the
 * analyzer's join quals) and comma-separated FROM items (inner joins,
 * left-deep in FROM order). Conjuncts `l = r` where l reads only the left
 * input and r only the right one (types compared by value: integers and
 * numeric, text and varchar, bool, date, timestamp) become the join's
 * equi-keys, looked up in arrangements; the other ON conjuncts are its
 * residual condition. For comma joins, WHERE equalities between the items
 * become keys and the rest of WHERE stays a filter above the joins. A join
 * without equality (CROSS JOIN) is maintained too, at the cost of visiting
 * the whole other side for every change: meant for small tables.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "compiler_internal.h"


/* Column span [lo, hi) of the FROM row covered by a FROM item or join. */
typedef struct Span
{
	int			lo;
	int			hi;
} Span;

static Query *
cte_query(PgtCompileCtx *ctx, RangeTblEntry *rte)
{
	Query	   *owner;
	ListCell   *lc;

	if ((int) rte->ctelevelsup >= list_length(ctx->plan->query_stack))
		elog(ERROR, "CTE level out of range");
	owner = list_nth(ctx->plan->query_stack, rte->ctelevelsup);
	foreach(lc, owner->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

		if (strcmp(cte->ctename, rte->ctename) == 0)
		{
			if (cte->cterecursive)
				pgt_reject("query construct", "recursive WITH queries (\"%s\")", cte->ctename);
			if (!IsA(cte->ctequery, Query) || castNode(Query, cte->ctequery)->commandType != CMD_SELECT)
				pgt_reject("query construct", "data-modifying WITH queries (\"%s\")", cte->ctename);
			return castNode(Query, cte->ctequery);
		}
	}
	elog(ERROR, "CTE \"%s\" not found", rte->ctename);
}

static int
rte_width(PgtCompileCtx *ctx, RangeTblEntry *rte)
{
	if (rte->lateral)
		pgt_reject("query construct", "LATERAL");
	switch (rte->rtekind)
	{
		case RTE_RELATION:
			{
				int			i = pgt_add_source(ctx->plan, rte);

				return ((PgtSourceInfo *) list_nth(ctx->plan->sources, i))->natts;
			}
		case RTE_SUBQUERY:
			return pgt_query_width(rte->subquery);
		case RTE_CTE:
			return pgt_query_width(cte_query(ctx, rte));
		default:
			pgt_reject("query construct", "%s", pgt_rte_kind_name(rte));
	}
}

static Span
layout_node(PgtCompileCtx *ctx, Node *n, int offset)
{
	Span		s;

	if (IsA(n, RangeTblRef))
	{
		int			idx = ((RangeTblRef *) n)->rtindex;

		ctx->rt_offset[idx] = offset;
		ctx->rt_width[idx] = rte_width(ctx, rt_fetch(idx, ctx->query->rtable));
		s.lo = offset;
		s.hi = offset + ctx->rt_width[idx];
		return s;
	}
	if (IsA(n, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) n;
		Span		l = layout_node(ctx, j->larg, offset);
		Span		r = layout_node(ctx, j->rarg, l.hi);

		ctx->rt_offset[j->rtindex] = offset;
		ctx->rt_width[j->rtindex] = r.hi - offset;
		s.lo = offset;
		s.hi = r.hi;
		return s;
	}
	elog(ERROR, "unexpected FROM item node %d", (int) nodeTag(n));
}

/* Assigns the FROM row's layout (rt_offset / rt_width). */
void
pgt_layout_from(PgtCompileCtx *ctx)
{
	FromExpr   *jt = ctx->query->jointree;
	int			offset = 0;
	ListCell   *lc;

	if (jt == NULL || jt->fromlist == NIL)
		pgt_reject("query construct", "queries without FROM");
	foreach(lc, jt->fromlist)
		offset = layout_node(ctx, lfirst(lc), offset).hi;
	ctx->items_width = offset;
	ctx->from_width = offset + pgt_scalars_width(ctx);
}

static Span
span_of(PgtCompileCtx *ctx, Node *n)
{
	int			idx = IsA(n, RangeTblRef) ? ((RangeTblRef *) n)->rtindex : ((JoinExpr *) n)->rtindex;
	Span		s;

	s.lo = ctx->rt_offset[idx];
	s.hi = s.lo + ctx->rt_width[idx];
	return s;
}

typedef struct ColRange
{
	PgtCompileCtx *ctx;
	int			lo;
	int			hi;				/* lo > hi: no column read */
} ColRange;

static bool
col_range_walker(Node *node, ColRange *r)
{
	if (node == NULL || IsA(node, Query))
		return false;			/* a subquery's columns are not the FROM row's */
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
	{
		Var		   *v = (Var *) node;
		int			col = r->ctx->rt_offset[v->varno] + v->varattno - 1;

		r->lo = Min(r->lo, col);
		r->hi = Max(r->hi, col + 1);
		return false;
	}
	return expression_tree_walker(node, col_range_walker, (void *) r);
}

static bool
within(PgtCompileCtx *ctx, Node *expr, Span s)
{
	ColRange	r = {ctx, INT_MAX, INT_MIN};

	(void) col_range_walker(expr, &r);
	return r.lo <= r.hi && r.lo >= s.lo && r.hi <= s.hi;
}

/* Types whose values the engine's join keys compare exactly as `=` does. */
int
pgt_key_family(Oid typoid)
{
	switch (typoid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return 1;
		case TEXTOID:
		case VARCHAROID:
			return 2;
		case BOOLOID:
			return 3;
		case DATEOID:
			return 4;
		case TIMESTAMPOID:
			return 5;
		case FLOAT8OID:
			return 6;
		case TIMESTAMPTZOID:	/* an instant: compared without the TimeZone */
			return 7;
		default:
			return 0;
	}
}

/*
 * Whether a conjunct is `a = b` with a over `left` and b over `right` (or
 * swapped); sets *lexpr, *rexpr.
 */
static bool
equi_key(PgtCompileCtx *ctx, Node *conj, Span left, Span right, Node **lexpr, Node **rexpr)
{
	OpExpr	   *op;
	const PgtFnInfo *info;
	Node	   *a,
			   *b;

	if (!IsA(conj, OpExpr))
		return false;
	op = (OpExpr *) conj;
	if (list_length(op->args) != 2)
		return false;
	set_opfuncid(op);
	info = pgt_lookup_function(op->opfuncid);
	if (info == NULL || strcmp(info->fn, "eq") != 0)
		return false;
	a = linitial(op->args);
	b = lsecond(op->args);
	if (pgt_key_family(exprType(a)) == 0 || pgt_key_family(exprType(a)) != pgt_key_family(exprType(b)))
		return false;
	if (pgt_key_family(exprType(a)) == 2)
		pgt_check_equality_collation(op->inputcollid, "join condition");
	if (within(ctx, a, left) && within(ctx, b, right))
	{
		*lexpr = a;
		*rexpr = b;
		return true;
	}
	if (within(ctx, b, left) && within(ctx, a, right))
	{
		*lexpr = b;
		*rexpr = a;
		return true;
	}
	return false;
}

static void write_node(PgtCompileCtx *ctx, Node *n);
static void write_chain(PgtCompileCtx *ctx, List *items, int k, List **where);

/* What a join's left input is: a FROM node, or the first k comma items. */
typedef struct LeftInput
{
	Node	   *node;
	List	   *items;
	int			k;
	List	  **where;
} LeftInput;

static void
write_expr_at(PgtCompileCtx *ctx, Node *e, int base)
{
	int			save = ctx->base;

	ctx->base = base;
	pgt_compile_expr(ctx, e, PGT_EXPR_SCAN);
	ctx->base = save;
}

/*
 * {"op": "join", "kind", "left", "right", "left_keys", "right_keys",
 *  "residual"}; `conjuncts` are the join's conditions (ON, or the WHERE
 * conjuncts assigned to this level of a comma join).
 */
static void
write_join(PgtCompileCtx *ctx, const char *kind, LeftInput *larg, Node *rarg,
		   Span left, Span right, List *conjuncts)
{
	JsonWriter *w = ctx->w;
	List	   *lkeys = NIL,
			   *rkeys = NIL,
			   *residual = NIL;
	ListCell   *lc;

	foreach(lc, conjuncts)
	{
		Node	   *l,
				   *r;

		if (equi_key(ctx, lfirst(lc), left, right, &l, &r))
		{
			lkeys = lappend(lkeys, l);
			rkeys = lappend(rkeys, r);
		}
		else
			residual = lappend(residual, lfirst(lc));
	}
	jw_begin_object(w);
	jw_kv_string(w, "op", "join");
	jw_kv_string(w, "kind", kind);
	jw_key(w, "left");
	if (larg->node)
		write_node(ctx, larg->node);
	else
		write_chain(ctx, larg->items, larg->k, larg->where);
	jw_key(w, "right");
	write_node(ctx, rarg);
	jw_key(w, "left_keys");
	jw_begin_array(w);
	foreach(lc, lkeys)
		write_expr_at(ctx, lfirst(lc), left.lo);
	jw_end_array(w);
	jw_key(w, "right_keys");
	jw_begin_array(w);
	foreach(lc, rkeys)
		write_expr_at(ctx, lfirst(lc), right.lo);
	jw_end_array(w);
	jw_key(w, "residual");
	if (residual == NIL)
		jw_null(w);
	else
		write_expr_at(ctx, (Node *) make_ands_explicit(residual), left.lo);
	jw_end_object(w);
}

static void
write_rte(PgtCompileCtx *ctx, int idx)
{
	RangeTblEntry *rte = rt_fetch(idx, ctx->query->rtable);

	if (rte->rtekind == RTE_RELATION)
	{
		jw_begin_object(ctx->w);
		jw_kv_string(ctx->w, "op", "scan");
		jw_kv_int(ctx->w, "source", pgt_add_source(ctx->plan, rte));
		jw_end_object(ctx->w);
	}
	else if (rte->rtekind == RTE_SUBQUERY)
		(void) pgt_write_query_op(ctx->plan, rte->subquery);
	else
		(void) pgt_write_query_op(ctx->plan, cte_query(ctx, rte));
}

static const char *
join_kind(JoinType t)
{
	switch (t)
	{
		case JOIN_INNER:
			return "inner";
		case JOIN_LEFT:
			return "left";
		case JOIN_RIGHT:
			return "right";
		case JOIN_FULL:
			return "full";
		default:
			pgt_reject("query construct", "join type %d", (int) t);
	}
}

static void
write_node(PgtCompileCtx *ctx, Node *n)
{
	JoinExpr   *j;
	LeftInput	l = {0};

	if (IsA(n, RangeTblRef))
	{
		write_rte(ctx, ((RangeTblRef *) n)->rtindex);
		return;
	}
	j = castNode(JoinExpr, n);
	l.node = j->larg;
	write_join(ctx, join_kind(j->jointype), &l, j->rarg,
			   span_of(ctx, j->larg), span_of(ctx, j->rarg),
			   make_ands_implicit((Expr *) j->quals));
}

/*
 * Comma-separated FROM items 0..k joined left-deep. WHERE equalities between
 * items 0..k-1 and item k become the conditions of the join with item k
 * (removed from *where); the rest of WHERE stays a filter above the joins.
 */
static void
write_chain(PgtCompileCtx *ctx, List *items, int k, List **where)
{
	Span		left,
				right;
	List	   *mine = NIL;
	List	   *rest = NIL;
	ListCell   *lc;
	LeftInput	l = {0};

	if (k == 0)
	{
		write_node(ctx, linitial(items));
		return;
	}
	left.lo = span_of(ctx, linitial(items)).lo;
	left.hi = span_of(ctx, list_nth(items, k - 1)).hi;
	right = span_of(ctx, list_nth(items, k));
	foreach(lc, *where)
	{
		Node	   *a,
				   *b;

		if (equi_key(ctx, lfirst(lc), left, right, &a, &b))
			mine = lappend(mine, lfirst(lc));
		else
			rest = lappend(rest, lfirst(lc));
	}
	*where = rest;
	l.items = items;
	l.k = k - 1;
	l.where = where;
	write_join(ctx, "inner", &l, list_nth(items, k), left, right, mine);
}

/* The FROM items joined (JOIN trees, comma items left-deep); takes WHERE equalities between
 * comma items out of *where as join keys. */
void
pgt_write_from_items(PgtCompileCtx *ctx, List **where)
{
	write_chain(ctx, ctx->query->jointree->fromlist,
				list_length(ctx->query->jointree->fromlist) - 1, where);
}
