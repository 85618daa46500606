--
-- guc: settings defined by the library (with or without preloading)
--
LOAD 'pg_trickle';
SHOW pg_trickle.enabled;
SHOW pg_trickle.max_parallel_workers;
SHOW pg_trickle.backpressure_enabled;
SHOW pg_trickle.backpressure_max_lag_mb;
SHOW pg_trickle.default_schedule;
SHOW pg_trickle.log_format;
SELECT name, setting, vartype, context, enumvals
  FROM pg_settings WHERE name LIKE 'pg\_trickle.%' ORDER BY name;

-- default_schedule is validated as a positive interval
SET pg_trickle.default_schedule = 'banana';
SET pg_trickle.default_schedule = '0 seconds';
SET pg_trickle.default_schedule = '-5 seconds';
SET pg_trickle.default_schedule = 'PT90S';
SHOW pg_trickle.default_schedule;
SET pg_trickle.default_schedule = '2 minutes';

-- and used when create_stream_table() gets no schedule
CREATE TABLE guc_src (id int PRIMARY KEY);
SELECT pgtrickle.create_stream_table('guc_st', 'SELECT id FROM guc_src');
SELECT schedule FROM pgtrickle.pgt_stream_tables WHERE name = 'public.guc_st';
SELECT pgtrickle.drop_stream_table('guc_st');
RESET pg_trickle.default_schedule;

-- server-level settings (postgresql.conf, ALTER SYSTEM) cannot be SET in a session
SET pg_trickle.log_format = 'xml';
SET pg_trickle.max_parallel_workers = 2;
SET pg_trickle.enabled = off;

-- the prefix is reserved: typos are errors, not placeholders
SET pg_trickle.enable = on;
