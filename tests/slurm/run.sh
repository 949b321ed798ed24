#!/usr/bin/env bash
# A real Slurm on this machine, running a plan as a job array: starts a
# throwaway single-node cluster (munged, slurmctld, slurmd from Debian's
# packages; no systemd, no cgroups, no accounting), submits a tiny plan (the
# tiny BERT fixture, 6 cells) through experiments/slurm/array.sbatch as an
# array of 3 shards, merges the report, and checks that the merged cells are
# the cells of a plain single-process run of the same plan (same ids, same
# scores, same parameter counts). Everything it started is stopped.
#
# tests/run.sh runs it (about 15 s; as root, since it starts the daemons and
# installs slurm-wlm and munge when they are missing):  bash tests/slurm/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "the Slurm test runs daemons as root"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
cargo build -p bipeft-cli --locked -q
BIPEFT=$ROOT/target/debug/bipeft

D=$(mktemp -d /tmp/bipeft-slurm.XXXXXX)
mkdir -p "$D/state" "$D/spool" "$D/data/SST-2"
MUNGED= CTLD= SLURMD= PASSED=0
stop() {
    set +e
    if [ -n "$CTLD" ]; then
        # Finished steps' slurmstepd linger a moment after their job.
        for _ in $(seq 100); do pgrep -x slurmstepd >/dev/null || break; sleep 0.1; done
        scontrol shutdown >/dev/null 2>&1 || kill "$CTLD" "$SLURMD" 2>/dev/null
        wait "$CTLD" "$SLURMD" 2>/dev/null
    fi
    if [ -n "$MUNGED" ]; then kill "$MUNGED" 2>/dev/null; wait "$MUNGED" 2>/dev/null; fi
    if [ "$PASSED" = 1 ]; then rm -rf "$D"; else echo "logs kept in $D" >&2; fi
}
trap stop EXIT
trap 'exit 130' INT TERM

# munge: the one running, else our own.
if ! (munge -n | unmunge) >/dev/null 2>&1; then
    install -d -m 755 -o munge -g munge /run/munge
    [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    setpriv --reuid=munge --regid=munge --clear-groups /usr/sbin/munged -F >"$D/munged.out" 2>&1 &
    MUNGED=$!
    for _ in $(seq 50); do (munge -n | unmunge) >/dev/null 2>&1 && break; sleep 0.1; done
    (munge -n | unmunge) >/dev/null 2>&1 || fail "munged did not start: $(cat "$D/munged.out")"
fi

# One node, this machine, as slurmd sees its hardware.
NODE=$(slurmd -C | head -n1 | sed 's/^NodeName=[^ ]*/NodeName=localhost/')
cat >"$D/slurm.conf" <<CONF
ClusterName=bipeft-test
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
$NODE State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$D/slurm.conf
/usr/sbin/slurmctld -D -f "$SLURM_CONF" >"$D/slurmctld.out" 2>&1 & CTLD=$!
/usr/sbin/slurmd -D -f "$SLURM_CONF" >"$D/slurmd.out" 2>&1 & SLURMD=$!
state=
for _ in $(seq 300); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null || true)
    [ "$state" = idle ] && break
    kill -0 "$CTLD" "$SLURMD" 2>/dev/null || fail "a Slurm daemon exited; see $D/*.out"
    sleep 0.1
done
[ "$state" = idle ] || fail "the node is not idle (state '$state')"
echo "cluster up"

# The tiny plan: 64 training and 20 dev rows of SST-2, 6 cells.
for f in train.tsv dev.tsv; do
    n=$([ "$f" = train.tsv ] && echo 65 || echo 21)
    head -n "$n" "$ROOT/../shared/data/glue/SST-2/$f" >"$D/data/SST-2/$f"
done
cat >"$D/plan.toml" <<PLAN
name = "tiny plan on Slurm"
budgets = [2000]
methods = ["bipeft", "uniform_lora", "bitfit"]
seeds = [1, 2]
[[models]]
name = "tiny-bert"
path = "$ROOT/tests/fixtures/web/tiny-bert"
[[tasks]]
name = "sst2"
data = "$D/data/SST-2"
max_length = 16
search_epochs = 2
[search]
space = "s1"
batch_size = 8
selection_start_epoch = 1
[retrain]
epochs = 1
batch_size = 16
PLAN

# The array: three shards into one folder.
JOB=$(BIPEFT=$BIPEFT sbatch --parsable --array=0-2 -o "$D/array-%a.log" \
    experiments/slurm/array.sbatch "$D/plan.toml" "$D/sharded")
for _ in $(seq 1500); do
    [ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ] && break
    sleep 0.2
done
[ -z "$(squeue -h -j "$JOB")" ] || fail "the array $JOB is still queued"
states=$(scontrol -o show job "$JOB" | grep -oE 'JobState=[A-Z_]+' | sort | uniq -c)
echo "array $JOB: $states"
[ "$(scontrol -o show job "$JOB" | grep -c 'JobState=COMPLETED')" = 3 ] ||
    fail "not every array task completed: $(cat "$D"/array-*.log)"
"$BIPEFT" experiment --plan "$D/plan.toml" --out "$D/sharded" --report-only --quiet

# The same plan in one process, and the comparison.
"$BIPEFT" experiment --plan "$D/plan.toml" --out "$D/single" --quiet
python3 - "$D" <<'CHECK'
import json, sys
d = sys.argv[1]
def cells(out):
    report = json.load(open(f"{d}/{out}/results.json"))
    assert report["cells_done"] == report["cells_total"] == 6, (out, report["cells_done"])
    return sorted((c["id"], c["score"], c["trainable_params"]) for c in report["cells"])
sharded, single = cells("sharded"), cells("single")
assert sharded == single, f"sharded {sharded} != single {single}"
print(f"merged report of 3 shards = single run ({len(single)} cells)")
CHECK
PASSED=1
echo "slurm test passed"
