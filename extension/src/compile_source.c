/*-------------------------------------------------------------------------
 * compile_source.c
 *    Source tables: each base table of the query, validated, with its key.
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

#include "catalog.h"
#include "compiler_internal.h"

const char *
pgt_rte_kind_name(RangeTblEntry *rte)
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

/* Largest attnum of a live column: the width of the source's scan rows. */
static int
live_natts(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			natts = 0;

	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			natts = TupleDescAttr(desc, i)->attnum;
	return natts;
}

/*
 * Validates a base table of the query and returns its index in the plan's
 * sources (a table read several times, e.g. a self-join, is one source). The
 * parser holds AccessShareLock on it already.
 */
int
pgt_add_source(PgtPlanCtx *plan, RangeTblEntry *rte)
{
	PgtSourceInfo *src;
	Relation	rel;
	ListCell   *lc;
	int			i = 0;

	if (rte->tablesample)
		pgt_reject("query construct", "TABLESAMPLE");

	/* The creator must be allowed to read what the stream table shows. */
	(void) ExecCheckRTPerms(list_make1(rte), true);

	foreach(lc, plan->sources)
	{
		if (((PgtSourceInfo *) lfirst(lc))->relid == rte->relid)
			return i;
		i++;
	}

	src = palloc0(sizeof(PgtSourceInfo));
	src->relid = rte->relid;
	src->schema = get_namespace_name(get_rel_namespace(rte->relid));
	src->relname = get_rel_name(rte->relid);
	src->qualified_name = quote_qualified_identifier(src->schema, src->relname);

	rel = relation_open(rte->relid, AccessShareLock);
	check_relation(rel, rte, src->qualified_name);
	src->key_attnums = source_key(rel, src->qualified_name);
	src->natts = live_natts(rel);
	relation_close(rel, NoLock);
	/* A stream table's storage: an ordinary table whose merges arrive through the WAL. */
	src->stream_table_id = pgt_catalog_stream_table_id(rte->relid);

	plan->sources = lappend(plan->sources, src);
	return list_length(plan->sources) - 1;
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
	if (src->stream_table_id != 0)
		jw_kv_int(w, "stream_table_id", src->stream_table_id);
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
