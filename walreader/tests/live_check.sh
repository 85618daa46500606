#!/bin/bash
# Live check against a throwaway PostgreSQL 15 (run as root; uses runuser -u postgres):
# pgtrickle-waldump with the SQL catalog over the server's pg_wal, including external TOAST
# values, compared with test_decoding on the same range; then the stream source via
# IDENTIFY_SYSTEM. Exit 77 (skip) when PostgreSQL 15 or root is unavailable.
set -euo pipefail
WALDUMP=${1:?usage: live_check.sh path/to/pgtrickle-waldump}
BIN=/usr/lib/postgresql/15/bin
[ -x $BIN/initdb ] && [ "$(id -u)" = 0 ] || exit 77
W=$(mktemp -d /tmp/wr-live.XXXXXX); PORT=$((55000 + RANDOM % 1000))
chown postgres $W
runuser -u postgres -- $BIN/initdb -D $W/data -E UTF8 --locale=C --no-sync >/dev/null 2>&1
printf "wal_level=logical\nport=$PORT\nlisten_addresses=''\nunix_socket_directories='$W'\nfsync=off\ntimezone='UTC'\n" >> $W/data/postgresql.conf
runuser -u postgres -- $BIN/pg_ctl -D $W/data -l $W/log -w start >/dev/null
trap 'runuser -u postgres -- $BIN/pg_ctl -D $W/data -m immediate stop >/dev/null; rm -rf $W' EXIT
PSQL="runuser -u postgres -- $BIN/psql -X -q -v ON_ERROR_STOP=1 -h $W -p $PORT -d postgres -At"
$PSQL -c "create table big(id int primary key, v text, n numeric)" -c "alter table big add column d int default 7" \
      -c "select 'x' from pg_create_logical_replication_slot('s', 'test_decoding')" >/dev/null
START=$($PSQL -c "select pg_current_wal_insert_lsn()")
$PSQL <<'SQL'
insert into big(id, v, n) select g, (select string_agg(md5(g::text || i::text), '') from generate_series(1, 300) i), g * 1.5 from generate_series(1, 3) g;
update big set n = n + 1 where id = 1;
update big set v = 'short' where id = 2;
delete from big where id = 3;
insert into big values (4, 'x', -0.5, null);
SQL
END=$($PSQL -c "select pg_current_wal_insert_lsn()")
$PSQL -c "select data from pg_logical_slot_peek_changes('s', NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '1')" > $W/expected
"$WALDUMP" --wal-dir=$W/data/pg_wal --start=$START --end=$END --catalog="host=$W port=$PORT dbname=postgres user=postgres" > $W/got
grep -q unchanged-toast-datum $W/expected && grep -q "d\[integer\]:7" $W/expected || { echo "range lacks unchanged TOAST / missing value"; exit 1; }
diff $W/expected $W/got > $W/diff || { echo "DIFF:"; cut -c1-300 $W/diff; exit 1; }
echo "live check: $(wc -l < $W/got) lines identical to test_decoding"
timeout 60 "$WALDUMP" --stream="host=$W port=$PORT user=postgres" --start=$START --end=$END --catalog="host=$W port=$PORT dbname=postgres user=postgres" > $W/got-stream
diff $W/expected $W/got-stream > $W/diff || { echo "STREAM DIFF:"; cut -c1-300 $W/diff; exit 1; }
echo "live check (stream): identical"
