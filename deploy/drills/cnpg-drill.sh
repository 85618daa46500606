#!/usr/bin/env bash
# pg_trickle failover drills on a real CloudNativePG cluster — the production checklist's
# failover test (deploy/drills/README.md). The same drills run locally, on real servers, in
# tests/failover/drills.py (their rehearsal); both use the SQL checks of drills.sql.
#
#   deploy/drills/cnpg-drill.sh setup                 drill schema, sources, stream tables
#   deploy/drills/cnpg-drill.sh DRILL [DRILL …]       run drills (1..7 or their names), each
#                                                     ending with the oracle; exit 1 on failure
#   deploy/drills/cnpg-drill.sh check                 probe + wait + oracle only
#
# Environment:
#   CLUSTER (required)   CNPG Cluster name          NAMESPACE (default: default)
#   DB                   database (default: app)    SLOT (default: pgtrickle_engine)
#   ENGINE_SELECTOR      label selector of the engine pods
#                        (default: app.kubernetes.io/name=pgtrickle-engine)
#   ENGINE_DEPLOYMENT    the engine Deployment (default: pgtrickle-engine)
#   TIMEOUT              seconds to wait for frontiers / promotion (default: 300)
#   LOAD_CLIENTS         write-load loops during drills (default: 2; 0 = none)
#   BASE                 drill 6: the drill the engine is killed in (default: 3)
#   REPORT               report file (default: ./pgtrickle-drills-<time>.md)
# Needs kubectl with the cnpg plugin, a superuser-capable `kubectl exec … psql` in the
# instance pods (container "postgres"), and pg_trickle + the engine deployed (deploy/).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SQL_FILE=$HERE/drills.sql
: "${CLUSTER:?set CLUSTER to the CNPG Cluster name}"
NS=${NAMESPACE:-default}
DB=${DB:-app}
SLOT=${SLOT:-pgtrickle_engine}
ENGINE_SELECTOR=${ENGINE_SELECTOR:-app.kubernetes.io/name=pgtrickle-engine}
ENGINE_DEPLOYMENT=${ENGINE_DEPLOYMENT:-pgtrickle-engine}
TIMEOUT=${TIMEOUT:-300}
LOAD_CLIENTS=${LOAD_CLIENTS:-2}
BASE=${BASE:-3}
REPORT=${REPORT:-./pgtrickle-drills-$(date -u +%Y%m%dT%H%M%SZ).md}
STATE=$(mktemp -d)
trap 'stop_load; rm -rf "$STATE"' EXIT

log() { printf '[drill %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
k() { kubectl -n "$NS" "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

primary_pod() { k get cluster "$CLUSTER" -o jsonpath='{.status.currentPrimary}'; }
instances() { k get pods -l "cnpg.io/cluster=$CLUSTER" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'; }
psql_pod() {   # POD ARGS…: psql in an instance pod, unaligned, quiet, stop on error
  local pod=$1; shift
  k exec -i "$pod" -c postgres -- psql -X -v ON_ERROR_STOP=1 -d "$DB" -Atq "$@"
}
psql_primary() { psql_pod "$(primary_pod)" "$@"; }
timeline() { psql_pod "$1" -c "SELECT timeline_id FROM pg_control_checkpoint()"; }

# The replica the engine streams from: the one holding its slot (kept inactive by the engine,
# advanced after each durable batch).
engine_replica() {
  local p
  for p in $(instances); do
    [[ $p == "$(primary_pod)" ]] && continue
    if [[ $(psql_pod "$p" -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'" 2>/dev/null) == 1 ]]; then
      echo "$p"; return 0
    fi
  done
  return 1
}
other_replica() {   # a replica that is not the engine's
  local e p; e=$(engine_replica || true)
  for p in $(instances); do
    [[ $p == "$(primary_pod)" || $p == "$e" ]] && continue
    echo "$p"; return 0
  done
  return 1
}

# ---------------------------------------------------------------- load
start_load() {
  local i
  touch "$STATE/load.on"
  for ((i = 0; i < LOAD_CLIENTS; i++)); do
    ( while [[ -f $STATE/load.on ]]; do
        psql_primary -c "SELECT pgt_drill.load_step(20)" >/dev/null 2>&1 || sleep 1
      done ) &
    echo $! >> "$STATE/load.pids"
  done
  log "write load: $LOAD_CLIENTS loop(s) of pgt_drill.load_step(20) through the current primary"
}
stop_load() {
  rm -f "$STATE/load.on"
  if [[ -f $STATE/load.pids ]]; then
    while read -r pid; do wait "$pid" 2>/dev/null || true; done < "$STATE/load.pids"
    rm -f "$STATE/load.pids"
  fi
}

# ---------------------------------------------------------------- checks (drills.sql)
wait_writable() {   # OLD_PRIMARY: until another instance is primary and accepts a write
  local old=$1 deadline=$(( $(date +%s) + TIMEOUT )) p
  while (( $(date +%s) < deadline )); do
    p=$(primary_pod 2>/dev/null || true)
    if [[ -n $p && $p != "$old" ]] && psql_pod "$p" -c "SELECT pg_current_xact_id()" >/dev/null 2>&1; then
      now; return 0
    fi
    sleep 0.5
  done
  die "no new primary accepted writes within ${TIMEOUT}s"
}
probe() {   # TAG → probe LSN on the current primary
  psql_primary -c "SELECT pgt_drill.probe('$1')" -c "SELECT pg_current_wal_lsn()" | tail -1
}
wait_past() {   # LSN [T0]: until every stream table's frontier passed LSN; prints the seconds
                #   from T0 (default: now) to the first / the last table past it
  local lsn=$1 t0=${2:-} first="" lag n deadline
  [[ -n $t0 ]] || t0=$(now); deadline=$(( $(date +%s) + TIMEOUT ))
  n=$(psql_primary -c "SELECT count(*) FROM pgt_drill.shapes")
  while :; do
    lag=$(psql_primary -c "SELECT count(*) FROM pgt_drill.lagging('$lsn')" 2>/dev/null || echo "$n")
    if [[ -z $first && $lag -lt $n ]]; then first=$(secs "$t0" "$(now)"); fi
    if [[ $lag == 0 ]]; then echo "$first $(secs "$t0" "$(now)")"; return 0; fi
    if psql_primary -c "SELECT 1 FROM pgt_drill.lagging('$lsn') WHERE status = 'ERROR'" 2>/dev/null | grep -q 1; then
      psql_primary -c "SELECT * FROM pgt_drill.lagging('$lsn')" >&2
      die "a stream table is in ERROR"
    fi
    (( $(date +%s) < deadline )) || { psql_primary -c "SELECT * FROM pgt_drill.lagging('$lsn')" >&2; die "frontiers did not pass $lsn within ${TIMEOUT}s"; }
    sleep 0.5
  done
}
oracle() {
  local bad name
  psql_primary -F ' | ' -c "SELECT * FROM pgt_drill.oracle()" | sed 's/^/  oracle: /' >&2
  bad=$(psql_primary -c "SELECT stream_table FROM pgt_drill.oracle() WHERE only_in_stream_table > 0 OR only_in_query > 0")
  if [[ -n $bad ]]; then
    for name in $bad; do
      log "$name differs from its query ('+' only in the stream table, '-' only in the query):"
      psql_primary -F ' ' -c "SELECT * FROM pgt_drill.oracle_diff('$name', 20)" >&2
    done
    die "oracle: stream tables differ from their queries: $bad"
  fi
  log "oracle: every stream table equals its query on $(primary_pod)"
}
engine_log_since() {   # RFC3339 time
  k logs -l "$ENGINE_SELECTOR" --since-time="$1" --tail=-1 2>/dev/null || true
}
report() {   # DRILL NAME RESULT REATTACH ALL SINCE
  local since=$6 logs resn arch strm
  logs=$(engine_log_since "$since")
  resn=$(grep -c 're-snapshot of' <<<"$logs" || true)
  arch=$(grep -c 'reading WAL from the archive' <<<"$logs" || true)
  strm=$(grep -c 'reading WAL from the stream' <<<"$logs" || true)
  [[ -f $REPORT ]] || printf '| drill | result | re-attach s (first / all) | re-snapshots | archive / stream switches | new primary (timeline) |\n|---|---|---|---|---|---|\n' > "$REPORT"
  printf '| %s %s | %s | %s / %s | %s | %s / %s | %s (%s) |\n' "$1" "$2" "$3" "$4" "$5" "$resn" "$arch" "$strm" \
    "$(primary_pod)" "$(timeline "$(primary_pod)")" >> "$REPORT"
  echo "DRILL $1 $2: $3 reattach=${4}s all=${5}s resnapshots=$resn archive_switches=$arch stream_switches=$strm"
  grep -E 're-attached|first merge after re-attach|re-snapshot of|refusing to write|rewound state' <<<"$logs" | tail -20 >&2 || true
  [[ $resn == 0 ]] || die "drill $1: $resn re-snapshot(s)"
}
finish() {   # DRILL NAME T_WRITABLE SINCE
  local lsn times
  lsn=$(probe "after-drill-$1")
  times=$(wait_past "$lsn" "$3")    # from "the new primary accepts writes"
  local first=${times% *} all=${times#* }
  sleep 5; stop_load
  lsn=$(probe "final-$1"); wait_past "$lsn" >/dev/null
  oracle
  report "$1" "$2" PASS "$first" "$all" "$4"
  start_load
}

# ---------------------------------------------------------------- drills
switchover() {   # TARGET_POD
  local old since t
  old=$(primary_pod); since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  log "switchover: kubectl cnpg promote $CLUSTER $1 (primary was $old)"
  kubectl cnpg promote -n "$NS" "$CLUSTER" "$1" >&2
  t=$(wait_writable "$old")
  echo "$t $since"
}
drill_1() { local r t; r=$(other_replica) || die "drill 1 needs a replica the engine does not read"
  t=$(switchover "$r"); finish 1 switchover-other-standby ${t% *} ${t#* }; }
drill_2() { local r t; r=$(engine_replica) || die "no replica has the engine's slot $SLOT"
  t=$(switchover "$r"); finish 2 switchover-engine-standby ${t% *} ${t#* }; }
drill_3() {
  local old since t
  old=$(primary_pod); since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  log "failover: kubectl delete pod $old --grace-period=0 --force (under load)"
  k delete pod "$old" --grace-period=0 --force --wait=false >&2
  t=$(wait_writable "$old")
  finish 3 kill-primary-under-load "$t" "$since"
}
drill_4() {
  # Async divergence: isolate a replica (NetworkPolicy: no egress, so its WAL receiver stalls)
  # while the engine merges, then lose the primary and the engine's replica together so the
  # isolated (lagging) one is promoted. Loses the transactions it did not receive — STAGING
  # ONLY. Needs a CNI that enforces NetworkPolicy.
  local lag eng old since t lsn
  lag=$(other_replica) || die "drill 4 needs a replica the engine does not read"
  eng=$(engine_replica) || die "no replica has the engine's slot $SLOT"
  old=$(primary_pod)
  k apply -f - <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: pgt-drill-isolate, namespace: $NS}
spec:
  podSelector: {matchLabels: {cnpg.io/instanceName: $lag}}
  policyTypes: [Egress, Ingress]
  egress: []
  ingress: []
EOF
  log "$lag isolated; waiting for the engine to merge past it"
  sleep 20
  lsn=$(probe "merged-past-$lag"); wait_past "$lsn" >/dev/null
  since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  k delete pod "$old" "$eng" --grace-period=0 --force --wait=false
  k delete networkpolicy pgt-drill-isolate --wait=false
  t=$(wait_writable "$old")
  finish 4 async-divergence "$t" "$since"
}
drill_5() {
  local eng since t r
  eng=$(engine_replica) || die "no replica has the engine's slot $SLOT"
  k scale deploy "$ENGINE_DEPLOYMENT" --replicas=0
  k wait --for=delete pod -l "$ENGINE_SELECTOR" --timeout="${TIMEOUT}s" || true
  psql_pod "$eng" -c "SELECT pg_drop_replication_slot('$SLOT')"
  for r in 1 2 3 4 5 6; do
    psql_primary -c "SELECT pgt_drill.load_step(50)" -c "SELECT pg_switch_wal()" -c "CHECKPOINT"
    for p in $(instances); do [[ $p == "$(primary_pod)" ]] || psql_pod "$p" -c "CHECKPOINT" || true; done
  done
  log "slot $SLOT dropped on $eng, WAL switched and checkpointed 6 times; restarting the engine"
  since=$(date -u +%Y-%m-%dT%H:%M:%SZ); t=$(now)
  k scale deploy "$ENGINE_DEPLOYMENT" --replicas=1
  finish 5 slot-lost "$t" "$since"
}
drill_6() {
  ( sleep $(( RANDOM % 20 + 2 ))
    log "kill of the engine pod(s) in the middle of drill $BASE"
    k delete pod -l "$ENGINE_SELECTOR" --grace-period=0 --force --wait=false ) &
  "drill_$BASE"
  wait
}
drill_7() {
  # A stale primary coming back read-write cannot be staged safely under the operator (it
  # demotes and rewinds the old primary); the local drill 7 proves the engine never writes to
  # one. Here: after a failover, exactly one instance is primary, on the newest timeline, and
  # the engine maintains it.
  drill_3
  kubectl cnpg status -n "$NS" "$CLUSTER" >&2
  local n
  n=$(k get cluster "$CLUSTER" -o json | python3 -c 'import json,sys; s=json.load(sys.stdin)["status"].get("instancesReportedState",{}); print(sum(1 for v in s.values() if v.get("isPrimary")))')
  [[ $n == 1 ]] || die "drill 7: $n instances report isPrimary"
  engine_log_since "$(date -u -d '-10 min' +%Y-%m-%dT%H:%M:%SZ)" | grep 'refusing to write to stale primary' >&2 || true
}

names=(x switchover-other-standby switchover-engine-standby kill-primary-under-load async-divergence slot-lost kill-engine stale-primary)
resolve() { local i; for i in 1 2 3 4 5 6 7; do [[ $1 == "$i" || $1 == "${names[$i]}" ]] && { echo "$i"; return; }; done; die "unknown drill $1"; }

cmd=${1:-}
[[ -n $cmd ]] || { sed -n '2,25p' "$0"; exit 2; }
case $cmd in
  setup)
    psql_primary < "$SQL_FILE"
    psql_primary -c "SELECT pgt_drill.seed_sources(2000)" -c "SELECT pgt_drill.create_stream_tables('1 second')"
    log "drill schema, sources and $(psql_primary -c 'SELECT count(*) FROM pgt_drill.shapes') stream tables ready"
    ;;
  check)
    psql_primary < "$SQL_FILE" >/dev/null
    wait_past "$(probe check)" >/dev/null; oracle ;;
  *)
    psql_primary < "$SQL_FILE" >/dev/null   # the checks of this checkout
    (( LOAD_CLIENTS > 0 )) && start_load
    wait_past "$(probe before-drills)" >/dev/null
    for d in "$@"; do "drill_$(resolve "$d")"; done
    stop_load
    log "report: $REPORT"; cat "$REPORT"
    ;;
esac
