/*-------------------------------------------------------------------------
 * compile_source.c
 *    The FROM clause: exactly one base table, validated, with its key.
 *
 * A source must be an ordinary, permanent (WAL-logged) table without
 * inheritance children and without row-level security, and must have a
 * primary key (or a REPLICA IDENTITY USING INDEX index): the engine keys its
 * mirror of the source by it and decodes old rows from the WAL, so the
 * source's replica identity is used as it is and never changed here.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/catalog.h"
#include "catalog/pg_class.h"
#include "parser/parsetree.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "executor/executor.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "compiler_internal.h"

static const char *
rte_kind_name(RangeTblEntry *rte)
{
	switch (rte->rtekind)
	{
		case RTE_SUBQUERY:
			return "subqueries in FROM";
		case RTE_JOIN:
			return "joins";
		case RTE_FUNCTION:
			return "functions in FROM";
		case RTE_TABLEFUNC:
			return "table functions in FROM";
		case RTE_VALUES:
			return "VALUES lists";
		case RTE_CTE:
			return "WITH queries (common table expressions)";
		case RTE_NAMEDTUPLESTORE:
			return "transition tables";
		case RTE_RESULT:
			return "queries without FROM";
		default:
			return "this kind of FROM item";
	}
}

static const char *
relkind_name(char relkind)
{
	switch (relkind)
	{
		case RELKIND_VIEW:
			return "views";
		case RELKIND_MATVIEW:
			return "materialized views";
		case RELKIND_FOREIGN_TABLE:
			return "foreign tables";
		case RELKIND_PARTITIONED_TABLE:
			return "partitioned tables";
		case RELKIND_SEQUENCE:
			return "sequences";
		default:
			return "this kind of relation";
	}
}

/* Primary key, or replica identity index, attnums; errors if none. */
static List *
source_key(Relation rel, const char *qualified)
{
	char		ident = rel->rd_rel->relreplident;
	Oid			indexoid;
	HeapTuple	tup;
	Form_pg_index index;
	List	   *key = NIL;

	if (ident == REPLICA_IDENTITY_NOTHING)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source table \"%s\" has REPLICA IDENTITY NOTHING", qualified),
				 errdetail("The engine needs the key of updated and deleted rows in the WAL."),
				 errhint("Use REPLICA IDENTITY DEFAULT (with a primary key) or USING INDEX; pg_trickle never changes it itself.")));

	if (ident == REPLICA_IDENTITY_INDEX)
		indexoid = RelationGetReplicaIndex(rel);
	else
		indexoid = RelationGetPrimaryKeyIndex(rel);

	if (!OidIsValid(indexoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source table \"%s\" has no primary key", qualified),
				 errdetail("Stream table sources are identified by their primary key (or a REPLICA IDENTITY USING INDEX index)."),
				 errhint("Add a primary key, e.g. ALTER TABLE %s ADD PRIMARY KEY (...).", qualified)));

	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for index %u", indexoid);
	index = (Form_pg_index) GETSTRUCT(tup);
	for (int i = 0; i < index->indnkeyatts; i++)
		key = lappend_int(key, index->indkey.values[i]);
	ReleaseSysCache(tup);
	return key;
}

static void
check_relation(Relation rel, RangeTblEntry *rte, const char *qualified)
{
	Form_pg_class form = rel->rd_rel;

	if (form->relkind != RELKIND_RELATION)
		pgt_reject("source relation", "%s (\"%s\")",
				   relkind_name(form->relkind), qualified);
	if (IsCatalogRelation(rel))
		pgt_reject("source relation", "system catalogs (\"%s\")", qualified);
	if (form->relpersistence == RELPERSISTENCE_TEMP)
		pgt_reject("source relation", "temporary tables (\"%s\")",
				   RelationGetRelationName(rel));
	if (form->relpersistence == RELPERSISTENCE_UNLOGGED)
		pgt_reject("source relation", "unlogged tables (\"%s\" is not WAL-logged)",
				   qualified);
	if (rte->inh && has_subclass(RelationGetRelid(rel)))
		pgt_reject("source relation",
				   "tables with inheritance children (\"%s\"; use FROM ONLY)",
				   qualified);
	if (form->relrowsecurity)
		pgt_reject("source relation", "tables with row-level security (\"%s\")",
				   qualified);
}

/*
 * Validates the FROM clause and returns the (only) source. The parser holds
 * AccessShareLock on it already.
 */
PgtSourceInfo *
pgt_compile_from(Query *query)
{
	FromExpr   *jt = query->jointree;
	Node	   *item;
	RangeTblEntry *rte;
	PgtSourceInfo *src;
	Relation	rel;

	if (jt == NULL || jt->fromlist == NIL)
		pgt_reject("query construct", "queries without FROM");
	if (list_length(jt->fromlist) > 1)
		pgt_reject("query construct", "joins (more than one table in FROM)");

	item = linitial(jt->fromlist);
	if (IsA(item, JoinExpr))
		pgt_reject("query construct", "joins");
	if (!IsA(item, RangeTblRef))
		elog(ERROR, "unexpected FROM item node %d", (int) nodeTag(item));

	rte = rt_fetch(((RangeTblRef *) item)->rtindex, query->rtable);
	if (rte->rtekind != RTE_RELATION)
		pgt_reject("query construct", "%s", rte_kind_name(rte));
	if (list_length(query->rtable) != 1)
		pgt_reject("query construct", "joins");
	if (rte->tablesample)
		pgt_reject("query construct", "TABLESAMPLE");

	/* The creator must be allowed to read what the stream table shows. */
	(void) ExecCheckRTPerms(list_make1(rte), true);

	src = palloc0(sizeof(PgtSourceInfo));
	src->relid = rte->relid;
	src->schema = get_namespace_name(get_rel_namespace(rte->relid));
	src->relname = get_rel_name(rte->relid);
	src->qualified_name = quote_qualified_identifier(src->schema, src->relname);

	rel = relation_open(rte->relid, AccessShareLock);
	check_relation(rel, rte, src->qualified_name);
	src->key_attnums = source_key(rel, src->qualified_name);
	relation_close(rel, NoLock);

	return src;
}

/* {"relid", "schema", "name", "key": [attnum...], "columns": [...]} */
void
pgt_write_source(JsonWriter *w, PgtSourceInfo *src)
{
	Relation	rel;
	TupleDesc	desc;
	ListCell   *lc;

	jw_begin_object(w);
	jw_kv_int(w, "relid", src->relid);
	jw_kv_string(w, "schema", src->schema);
	jw_kv_string(w, "name", src->relname);
	jw_key(w, "key");
	jw_begin_array(w);
	foreach(lc, src->key_attnums)
		jw_int(w, lfirst_int(lc));
	jw_end_array(w);

	jw_key(w, "columns");
	jw_begin_array(w);
	rel = relation_open(src->relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		jw_begin_object(w);
		jw_kv_int(w, "attnum", att->attnum);
		jw_kv_string(w, "name", NameStr(att->attname));
		jw_kv_int(w, "typoid", att->atttypid);
		jw_end_object(w);
	}
	relation_close(rel, NoLock);
	jw_end_array(w);
	jw_end_object(w);
}
