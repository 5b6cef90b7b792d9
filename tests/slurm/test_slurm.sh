#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup and write_results run from the EXIT trap
# mriprep under a real single-node Slurm: scripts/slurm/ (submit.sh, array.sbatch,
# merge.sbatch) with `mriprep run --shard` and `mriprep merge`.
#
#   tests/slurm/test_slurm.sh [RESULTS.json]     (default build/test-results/slurm.json)
#
# Runs as root on Debian 12 (CI). Installs slurmctld slurmd slurm-client munge when
# missing (apt-get update only when the install needs it; if the install is impossible,
# both tests are "skipped" with the reason). Brings up munged and Slurm the way
# docs/slurm.md describes - everything (keys, sockets, state, spool, logs,
# pids) under one mktemp folder, free ports, MinJobAge=5, the node line from `slurmd -C`
# with NodeAddr=127.0.0.1 (and, on a machine with fewer than 4 CPUs, CPUs=4 through
# SlurmdParameters=config_overrides so that the 4 array tasks run at the same time) -
# then (the first test needs neither Slurm nor root, and runs first):
#   slurm.sbatch_scripts_shard_and_exit_codes
#       array.sbatch and merge.sbatch run as plain scripts with the array variables set by
#       hand and a stand-in mriprep: the --shard they pass (MRIPREP_SHARDS, whole arrays,
#       refusing a partial array without it), argument quoting, exit codes 3/4/6.
#   slurm.array_then_merge_equals_single_run
#       a generated dataset (make_dataset.py --problems) run once without Slurm (REF) and
#       as 4 array tasks + the merge job through submit.sh --wait; the merge job exits 0
#       and says so in its log, and OUT equals REF (manifest.csv but the seconds column,
#       every .npy byte for byte, no temporary files: tests/slurm/compare_trees.py).
#   slurm.resubmit_one_shard_completes
#       the same into OUT2, but task 2 is stopped after its first manifest row and
#       cancelled (scancel <job>_2): the task logs "interrupted (exit 130)", the queued
#       merge is cancelled (afterok never holds), `mriprep merge OUT2` exits 6 listing the
#       series shard 2 did not finish; shard 2 alone is resubmitted (submit.sh --only 2:
#       sbatch --array=2 with MRIPREP_SHARDS=4) with a new merge, which exits 0, and OUT2
#       equals REF.
# On EXIT it cancels its jobs, stops exactly the daemons it started (munged included, by
# the PIDs it kept) and removes its folder (MRIPREP_SLURM_KEEP=1 keeps it). Results go to
# RESULTS.json as {"tests": [{"name", "status", "message"}]}; the exit status is 0 (the
# summary counts failures).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 0
root=$PWD
results=${1:-build/test-results/slurm.json}
[[ $results == /* ]] || results=$root/$results
mkdir -p "$(dirname "$results")"
PY=/usr/bin/python3
MRIPREP_BIN=$root/build/mriprep
SHARDS=4
T_ARRAY=slurm.array_then_merge_equals_single_run
T_RESUBMIT=slurm.resubmit_one_shard_completes
T_SCRIPTS=slurm.sbatch_scripts_shard_and_exit_codes
declare -A status=() message=()
t_start=${EPOCHREALTIME/./}

say() {
  local ds=$(((${EPOCHREALTIME/./} - t_start) / 100000))
  printf '[slurm-test %3d.%ds] %s\n' $((ds / 10)) $((ds % 10)) "$*"
}
result() { # name status message
  status[$1]=$2 message[$1]=$3
  say "${2^^} $1${3:+: $3}"
}
write_results() {
  local args=() name
  for name in "$T_SCRIPTS" "$T_ARRAY" "$T_RESUBMIT"; do
    args+=("$name" "${status[$name]:-failed}" "${message[$name]:-the test stopped before deciding (see its output)}")
  done
  "$PY" - "$results" "${args[@]}" <<'EOF'
import json, sys
out, rest = sys.argv[1], sys.argv[2:]
tests = [{"name": rest[i], "status": rest[i + 1], "message": rest[i + 2][-3000:]} for i in range(0, len(rest), 3)]
with open(out, "w") as f:
    json.dump({"tests": tests}, f, indent=1)
    f.write("\n")
EOF
}
skip_all() { result "$T_ARRAY" skipped "$1"; result "$T_RESUBMIT" skipped "$1"; exit 0; }
fail_all() { result "$T_ARRAY" failed "$1"; result "$T_RESUBMIT" failed "$1"; exit 0; }

# ---- cleanup: runs on every exit -------------------------------------------------------
tmp='' munged_pid='' ctld_pid='' slurmd_pid=''
cleanup() {
  local pid
  if [[ -n $ctld_pid ]] && kill -0 "$ctld_pid" 2>/dev/null; then
    # jobs first, so that no slurmstepd or mriprep outlives the daemons
    scancel --full --quiet --user=root 2>/dev/null
    scancel --quiet --user=root 2>/dev/null
    for _ in $(seq 50); do [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break; sleep 0.2; done
  fi
  if [[ -n $tmp && -s $tmp/stopped.pid ]]; then # the mriprep task 2 ran, if it is still there
    pid=$(cat "$tmp/stopped.pid")
    grep -qF "$MRIPREP_BIN" "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  for pid in $slurmd_pid $ctld_pid $munged_pid; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  write_results
  if [[ -n $tmp ]]; then
    if [[ ${MRIPREP_SLURM_KEEP:-0} == 1 ]]; then say "kept $tmp"; else rm -rf "$tmp"; fi
  fi
  say "results in $results"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A run inside someone's Slurm job must not talk to that cluster.
while read -r v; do unset "$v"; done < <(env | sed -n 's/^\(SLURM_[A-Za-z_]*\)=.*/\1/p; s/^\(SBATCH_[A-Za-z_]*\)=.*/\1/p')

# ---- the scripts' own logic, without Slurm ---------------------------------------------
# array.sbatch and merge.sbatch run as plain scripts with the array variables set by hand
# and a stand-in mriprep that records its arguments and exits with FAKE_RC.
test_scripts() {
  local d fails='' got rc
  d=$(mktemp -d /tmp/mriprep-slurm-scripts.XXXXXX) || { result "$T_SCRIPTS" failed "mktemp failed"; return; }
  cat >"$d/fake" <<'EOF'
#!/bin/bash
printf '%s\n' "$@" >"$FAKE_ARGS"
exit "${FAKE_RC:-0}"
EOF
  chmod +x "$d/fake"
  # case: expected-rc expected-args('' = mriprep must not run) expected-log-regex env... -- script args...
  case_() {
    local want_rc=$1 want_args=$2 want_log=$3 script=$4
    shift 4
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    rm -f "$d/args"
    env -i PATH="$PATH" HOME="$d" MRIPREP="$d/fake" FAKE_ARGS="$d/args" "${envs[@]}" \
      bash "$root/scripts/slurm/$script" "$@" >"$d/log" 2>&1
    rc=$?
    got=$( [[ -e $d/args ]] && tr '\n' '|' <"$d/args")
    if [[ $rc != "$want_rc" || $got != "$want_args" ]] || ! grep -Eq -- "$want_log" "$d/log"; then
      fails+=" [$script ${envs[*]} $*: exit $rc (want $want_rc), mriprep got '$got' (want '$want_args'); log: $(tr '\n' ' ' <"$d/log" | tail -c 300)]"
    fi
  }
  local run_args='run|D|O|--threads|3|--device|auto|--progress|lines|'
  # a resubmitted lone task 2 of a 4-shard run: MRIPREP_SHARDS makes it shard 2/4
  case_ 0 "${run_args}--shard|2/4|--size|128|--exclude|a b|" 'done: shard 2/4 complete' array.sbatch \
    MRIPREP_SHARDS=4 SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=2 SLURM_ARRAY_TASK_MAX=2 SLURM_ARRAY_TASK_COUNT=1 \
    SLURM_CPUS_PER_TASK=3 -- D O -- --size 128 --exclude 'a b'
  # ... and without MRIPREP_SHARDS it must refuse rather than run "shard 0 of 1"
  case_ 1 '' 'set MRIPREP_SHARDS' array.sbatch \
    SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=2 SLURM_ARRAY_TASK_MAX=2 SLURM_ARRAY_TASK_COUNT=1 -- D O
  # a whole array 0-3 without MRIPREP_SHARDS; DATA/OUT from the environment; MRIPREP_ARGS
  case_ 0 'run|D|O|--threads|0|--device|auto|--progress|lines|--shard|1/4|-v|' 'done' array.sbatch \
    SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=4 \
    MRIPREP_DATA=D MRIPREP_OUT=O MRIPREP_ARGS=-v --
  # an index that is no shard of N
  case_ 1 '' 'is not a shard of 4' array.sbatch MRIPREP_SHARDS=4 SLURM_ARRAY_TASK_ID=4 -- D O
  # exit 3 (some series failed) is a success of the task, unless MRIPREP_STRICT=1; 4 passes
  case_ 0 "${run_args}--shard|0/2|" 'some series failed' array.sbatch FAKE_RC=3 MRIPREP_SHARDS=2 \
    SLURM_ARRAY_TASK_ID=0 SLURM_CPUS_PER_TASK=3 -- D O
  case_ 3 "${run_args}--shard|0/2|" 'MRIPREP_STRICT=1' array.sbatch FAKE_RC=3 MRIPREP_STRICT=1 MRIPREP_SHARDS=2 \
    SLURM_ARRAY_TASK_ID=0 SLURM_CPUS_PER_TASK=3 -- D O
  case_ 4 "${run_args}--shard|0/2|" 'mriprep exited 4' array.sbatch FAKE_RC=4 MRIPREP_SHARDS=2 \
    SLURM_ARRAY_TASK_ID=0 SLURM_CPUS_PER_TASK=3 -- D O
  # no array at all: the whole dataset, no --shard
  case_ 0 "${run_args}" 'shard \(none' array.sbatch SLURM_CPUS_PER_TASK=3 -- D O
  case_ 1 '' 'DATA and OUT are needed' array.sbatch --
  # merge: 6 and 2 pass, 3 is 0 unless strict
  case_ 6 'merge|O|' 'no manifest row' merge.sbatch FAKE_RC=6 -- O
  case_ 0 'merge|O|' 'some series failed' merge.sbatch FAKE_RC=3 -- O
  case_ 3 'merge|O|' 'some series failed' merge.sbatch FAKE_RC=3 MRIPREP_STRICT=1 -- O
  case_ 0 'merge|O|' 'done' merge.sbatch MRIPREP_OUT=O --
  rm -rf "$d"
  if [[ -n $fails ]]; then
    result "$T_SCRIPTS" failed "array.sbatch/merge.sbatch run by hand:$fails"
  else
    result "$T_SCRIPTS" passed "13 cases: shard from MRIPREP_SHARDS or a whole array, refusals, exit codes 3/4/6"
  fi
}
test_scripts

# ---- preconditions ---------------------------------------------------------------------
[[ $(id -u) == 0 ]] || skip_all "needs root (the Slurm daemons run as root here)"
[[ -x $MRIPREP_BIN ]] || fail_all "$MRIPREP_BIN is missing: run make first"
if ! "$MRIPREP_BIN" run --help 2>&1 | grep -q -- '--shard'; then
  skip_all "$MRIPREP_BIN run --help does not mention --shard: mriprep was built without sharding"
fi

PATH=$PATH:/usr/sbin:/sbin
have_slurm() { command -v slurmctld && command -v slurmd && command -v sbatch && command -v munged; } >/dev/null 2>&1
if ! have_slurm; then
  say "installing slurmctld slurmd slurm-client munge"
  export DEBIAN_FRONTEND=noninteractive
  pkgs=(slurmctld slurmd slurm-client munge)
  if ! command -v apt-get >/dev/null; then
    skip_all "Slurm is not installed and there is no apt-get to install it"
  fi
  aptlog=$(mktemp /tmp/mriprep-slurm-apt.XXXXXX)
  if ! apt-get install -y -q --no-install-recommends "${pkgs[@]}" >"$aptlog" 2>&1; then
    apt-get update -q >>"$aptlog" 2>&1
    if ! apt-get install -y -q --no-install-recommends "${pkgs[@]}" >>"$aptlog" 2>&1; then
      why=$(tail -n 3 "$aptlog" | tr '\n' ' ')
      rm -f "$aptlog"
      skip_all "cannot install ${pkgs[*]} with apt-get: $why"
    fi
  fi
  rm -f "$aptlog"
  have_slurm || skip_all "installed ${pkgs[*]} but slurmctld/slurmd/sbatch/munged are still not on PATH"
  say "installed"
fi

# ---- bring up munged and Slurm ---------------------------------------------------------
tmp=$(mktemp -d /tmp/mriprep-slurm.XXXXXX) || fail_all "mktemp failed"
chmod 755 "$tmp"   # munged wants every folder above its socket searchable by all
mkdir -p "$tmp"/{munge-key,munge-run,state,spool,log,work}
chmod 700 "$tmp/munge-key"
chmod 755 "$tmp/munge-run"
dd if=/dev/urandom of="$tmp/munge-key/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge-key/munge.key"
socket=$tmp/munge-run/munge.socket
munged -F --key-file="$tmp/munge-key/munge.key" --socket="$socket" --pid-file="$tmp/munge-run/munged.pid" \
  --seed-file="$tmp/munge-key/munge.seed" --log-file="$tmp/log/munged.log" >"$tmp/log/munged.out" 2>&1 &
munged_pid=$!
for _ in $(seq 50); do [[ -S $socket ]] && break; kill -0 "$munged_pid" 2>/dev/null || break; sleep 0.1; done
[[ -S $socket ]] || fail_all "munged did not start: $(tail -n 5 "$tmp/log/munged.out" | tr '\n' ' ')"

# two free TCP ports (another Slurm on this machine keeps its 6817/6818)
read -r ctld_port slurmd_port < <("$PY" -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

# The node as slurmd sees it (more CPUs or memory than it sees would mark it INVALID); with
# fewer than 4 CPUs, declare 4 with config_overrides so the 4 tasks run together.
node=$(slurmd -C 2>/dev/null | head -n 1)
node_name=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$node")
cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
[[ -n $node_name && -n $cpus && -n $mem ]] || fail_all "slurmd -C gave no node line: $node"
overrides=''
if ((cpus < SHARDS)) && [[ ${MRIPREP_SLURM_OVERRIDE:-1} == 1 ]]; then
  node="NodeName=$node_name CPUs=$SHARDS Boards=1 SocketsPerBoard=1 CoresPerSocket=$SHARDS ThreadsPerCore=1 RealMemory=$mem"
  overrides="SlurmdParameters=config_overrides"
fi
export SLURM_CONF=$tmp/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=mriprep-test
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=5
KillWait=10
MpiDefault=none
MailProg=/bin/true
$overrides
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -c -f "$SLURM_CONF" >"$tmp/log/slurmctld.out" 2>&1 &
ctld_pid=$!
slurmd -D -f "$SLURM_CONF" >"$tmp/log/slurmd.out" 2>&1 &
slurmd_pid=$!
state=''
for _ in $(seq 150); do
  state=$(sinfo -h -N -o %t 2>/dev/null)
  [[ $state == idle ]] && break
  if ! kill -0 "$ctld_pid" 2>/dev/null || ! kill -0 "$slurmd_pid" 2>/dev/null; then break; fi
  sleep 0.2
done
if [[ $state != idle ]]; then
  fail_all "Slurm did not come up (node state '${state}'): slurmctld: $(tail -n 4 "$tmp/log/slurmctld.out" | tr '\n' ' ') slurmd: $(tail -n 4 "$tmp/log/slurmd.out" | tr '\n' ' ')"
fi
say "Slurm up: $(sinfo -h -N -o '%N %t %c CPUs')${overrides:+ (config_overrides; the machine has $cpus)}, ports $ctld_port/$slurmd_port"

# ---- helpers ---------------------------------------------------------------------------
work=$tmp/work   # the jobs start here: their logs go to work/logs
cd "$work" || fail_all "cd $work"
SBATCH_OPTS="--cpus-per-task=1 --mem=512M --time=10"

wait_gone() { # seconds jobid...: until squeue lists none of them; 1 on timeout
  local limit=$1 ids
  shift
  ids=$(IFS=,; echo "$*")
  for _ in $(seq $((limit * 5))); do
    [[ -z $(squeue -h -j "$ids" -o %i 2>/dev/null) ]] && return 0
    sleep 0.2
  done
  return 1
}
logs_of() { # jobid: its logs' tails, for a failure message
  local f
  for f in "$work"/logs/*"$1"*; do
    [[ -e $f ]] && printf '[%s] %s ' "$(basename "$f")" "$(tail -n 4 "$f" | tr '\n' ' ')"
  done
}
job_id_from() { sed -n "s/^$1 job \([0-9]*\):.*/\1/p" "$2" | head -n 1; }

# ---- dataset and the single reference run ----------------------------------------------
data=$tmp/data
if ! "$PY" "$root/scripts/make_dataset.py" "$data" --patients 6 --test-patients 1 --size 128 --problems --seed 3 \
     >"$tmp/log/make_dataset.log" 2>&1; then
  fail_all "make_dataset.py failed: $(tail -n 3 "$tmp/log/make_dataset.log" | tr '\n' ' ')"
fi
"$MRIPREP_BIN" run "$data" "$tmp/ref" --progress none >"$tmp/log/ref.log" 2>&1
ref_rc=$?
[[ $ref_rc == 0 || $ref_rc == 3 ]] || fail_all "the reference run (no Slurm) exited $ref_rc: $(tail -n 3 "$tmp/log/ref.log" | tr '\n' ' ')"
say "dataset: $(find "$data" -name '*.dcm' | wc -l) files, $(($(wc -l <"$tmp/ref/manifest.csv") - 1)) series; reference run exited $ref_rc"

# ---- a. the array and the merge, through submit.sh --wait ------------------------------
test_array() {
  local out=$tmp/out rc id_array id_merge diff
  MRIPREP=$MRIPREP_BIN timeout 150 "$root/scripts/slurm/submit.sh" "$data" "$out" --shards $SHARDS --wait \
    --sbatch "$SBATCH_OPTS" >"$tmp/log/submit1.log" 2>&1
  rc=$?
  id_array=$(job_id_from array "$tmp/log/submit1.log")
  id_merge=$(job_id_from merge "$tmp/log/submit1.log")
  say "array job ${id_array:-?} + merge job ${id_merge:-?}: submit.sh --wait exited $rc"
  if [[ $rc != 0 ]]; then
    result "$T_ARRAY" failed "submit.sh --wait exited $rc (124: timed out): $(tail -n 3 "$tmp/log/submit1.log" | tr '\n' ' ') $(logs_of "${id_array:-none}") $(logs_of "merge-${id_merge:-none}")"
    return
  fi
  local merge_log=$work/logs/mriprep-merge-$id_merge.out
  if ! grep -q '^mriprep-slurm: done' "$merge_log" 2>/dev/null; then
    result "$T_ARRAY" failed "the merge job's log $merge_log does not say done: $(logs_of "merge-$id_merge")"
    return
  fi
  local k bad=''
  for ((k = 0; k < SHARDS; k++)); do
    grep -q "^mriprep-slurm: done: shard $k/$SHARDS complete" "$work/logs/mriprep-${id_array}_$k.out" 2>/dev/null \
      || bad+=" task $k: $(tail -n 3 "$work/logs/mriprep-${id_array}_$k.out" 2>/dev/null | tr '\n' ' ')"
  done
  if [[ -n $bad ]]; then
    result "$T_ARRAY" failed "array task logs do not end in done:$bad"
    return
  fi
  if ! diff=$("$PY" "$root/tests/slurm/compare_trees.py" "$out" "$tmp/ref" 2>&1); then
    result "$T_ARRAY" failed "the merged tree differs from the single run: $(tr '\n' ' ' <<<"$diff")"
    return
  fi
  result "$T_ARRAY" passed "$SHARDS tasks + merge: $diff"
}

# ---- b. cancel shard 2 mid-run, merge says what is missing, resubmit shard 2 alone -----
# The first submission runs a stand-in for mriprep that, in task 2, starts the real one,
# stops it (SIGSTOP) as soon as its shard's manifest exists (it has begun; waiting for a
# first row let a fast build write every row between two polls), and keeps waiting for
# it; the test then cancels the task, and Slurm's SIGCONT + SIGTERM reach mriprep
# mid-shard.
make_stopper() {
  cat >"$tmp/stopper.py" <<'EOF'
#!/usr/bin/python3
import glob, os, signal, subprocess, sys, time
real, tmp = os.environ["REAL_MRIPREP"], os.environ["STOPPER_DIR"]
argv = [real] + sys.argv[1:]
if os.environ.get("SLURM_ARRAY_TASK_ID") != "2" or sys.argv[1:2] != ["run"]:
    os.execv(real, argv)
out = sys.argv[3]
p = subprocess.Popen(argv)
signal.signal(signal.SIGTERM, signal.SIG_IGN)   # the cancel is for mriprep; wait for it
with open(os.path.join(tmp, "stopped.pid"), "w") as f:
    f.write(str(p.pid))
def manifests():
    return glob.glob(os.path.join(out, "manifest.2-of-4.csv*")) + glob.glob(os.path.join(out, ".manifest.2-of-4.csv*"))
def rows():
    n = 0
    for path in manifests():
        try:
            with open(path, "rb") as f:
                n = max(n, f.read().count(b"\n") - 1)
        except OSError:
            pass
    return n
state = "finished before it could be stopped"
deadline = time.time() + 60
while p.poll() is None and time.time() < deadline:
    if manifests():
        os.kill(p.pid, signal.SIGSTOP)
        s = "?"
        for _ in range(1000):   # the stop takes effect asynchronously
            with open(f"/proc/{p.pid}/stat") as f:
                s = f.read().rsplit(")", 1)[1].split()[0]
            if s in "TtZX":
                break
            time.sleep(0.001)
        state = f"stopped after {rows()} manifest row(s)" if s in "Tt" else f"finished before it could be stopped (state {s})"
        break
    time.sleep(0.001)
with open(os.path.join(tmp, "stopper.state.tmp"), "w") as f:
    f.write(state + "\n")
os.rename(os.path.join(tmp, "stopper.state.tmp"), os.path.join(tmp, "stopper.state"))
sys.exit(p.wait())
EOF
  chmod +x "$tmp/stopper.py"
}

test_resubmit() {
  local out=$tmp/out2 id_array id_merge rc k
  make_stopper
  REAL_MRIPREP=$MRIPREP_BIN STOPPER_DIR=$tmp MRIPREP=$tmp/stopper.py \
    timeout 30 "$root/scripts/slurm/submit.sh" "$data" "$out" --shards $SHARDS --sbatch "$SBATCH_OPTS" \
    >"$tmp/log/submit2.log" 2>&1
  rc=$?
  id_array=$(job_id_from array "$tmp/log/submit2.log")
  id_merge=$(job_id_from merge "$tmp/log/submit2.log")
  if [[ $rc != 0 || -z $id_array || -z $id_merge ]]; then
    result "$T_RESUBMIT" failed "submit.sh exited $rc: $(tail -n 3 "$tmp/log/submit2.log" | tr '\n' ' ')"
    return
  fi
  for _ in $(seq 300); do [[ -e $tmp/stopper.state ]] && break; sleep 0.1; done
  local stopped
  stopped=$(cat "$tmp/stopper.state" 2>/dev/null)
  say "array job $id_array + merge job $id_merge; task 2: ${stopped:-never got to run}"
  if [[ $stopped != stopped* ]]; then
    result "$T_RESUBMIT" failed "could not stop task 2 mid-shard (${stopped:-it did not start within 30 s}): $(logs_of "${id_array}_2")"
    return
  fi
  scancel "${id_array}_2"
  if ! wait_gone 60 "$id_array" "$id_merge"; then
    result "$T_RESUBMIT" failed "60 s after scancel ${id_array}_2, squeue still lists: $(squeue -h -j "$id_array,$id_merge" -o '%i %T %r' | tr '\n' ' ')"
    return
  fi
  local log2=$work/logs/mriprep-${id_array}_2.out
  if ! grep -q '^mriprep-slurm: interrupted (exit 130)' "$log2"; then
    result "$T_RESUBMIT" failed "cancelled task 2's log does not say interrupted (exit 130): $(tail -n 5 "$log2" | tr '\n' ' ')"
    return
  fi
  if [[ -e $work/logs/mriprep-merge-$id_merge.out ]]; then
    result "$T_RESUBMIT" failed "the merge job ran although task 2 was cancelled: $(logs_of "merge-$id_merge")"
    return
  fi
  for k in 0 1 3; do
    if ! grep -q "^mriprep-slurm: done: shard $k/$SHARDS complete" "$work/logs/mriprep-${id_array}_$k.out"; then
      result "$T_RESUBMIT" failed "task $k did not finish: $(logs_of "${id_array}_$k")"
      return
    fi
  done

  # merge by hand: exit 6, naming every series shard 2 has no row for
  local missing merge_out
  missing=$("$PY" "$root/tests/slurm/compare_trees.py" --missing "$out" "$tmp/ref" $SHARDS)
  merge_out=$("$MRIPREP_BIN" merge "$out" 2>&1)
  rc=$?
  printf '%s\n' "$merge_out" >"$tmp/log/merge-by-hand.log"
  if [[ $rc != 6 ]]; then
    result "$T_RESUBMIT" failed "mriprep merge after the cancel exited $rc, expected 6: $(tail -n 5 <<<"$merge_out" | tr '\n' ' ')"
    return
  fi
  if [[ -z $missing ]]; then
    result "$T_RESUBMIT" failed "after the cancel every series has a row: task 2 was not interrupted mid-shard"
    return
  fi
  local split id mod unnamed=''
  while IFS=, read -r split id mod; do
    # named as split/id/modality (or id,modality): T1w must not be found inside T1wCE
    grep -Eq -- "${id}[/, ]+${mod}([^A-Za-z0-9]|\$)" <<<"$merge_out" || unnamed+=" $split/$id/$mod"
  done <<<"$missing"
  if [[ -n $unnamed ]]; then
    result "$T_RESUBMIT" failed "mriprep merge exited 6 but does not name the missing series:$unnamed; it said: $(head -c 800 <<<"$merge_out" | tr '\n' ' ')"
    return
  fi
  local n_missing
  n_missing=$(wc -l <<<"$missing")
  say "mriprep merge exited 6 naming the $n_missing series without a row"

  # resubmit shard 2 alone (sbatch --array=2, MRIPREP_SHARDS=4) and a new merge
  MRIPREP=$MRIPREP_BIN timeout 120 "$root/scripts/slurm/submit.sh" "$data" "$out" --shards $SHARDS --only 2 --wait \
    --sbatch "$SBATCH_OPTS" >"$tmp/log/submit3.log" 2>&1
  rc=$?
  local id3 idm3
  id3=$(job_id_from array "$tmp/log/submit3.log")
  idm3=$(job_id_from merge "$tmp/log/submit3.log")
  if [[ $rc != 0 ]]; then
    result "$T_RESUBMIT" failed "resubmitting shard 2 (submit.sh --only 2 --wait) exited $rc: $(tail -n 3 "$tmp/log/submit3.log" | tr '\n' ' ') $(logs_of "${id3:-none}") $(logs_of "merge-${idm3:-none}")"
    return
  fi
  if ! grep -q "^mriprep-slurm: done: shard 2/$SHARDS complete" "$work/logs/mriprep-${id3}_2.out" 2>/dev/null; then
    result "$T_RESUBMIT" failed "the resubmitted task does not say shard 2/$SHARDS done: $(logs_of "${id3}_2")"
    return
  fi
  if ! grep -q '^mriprep-slurm: done' "$work/logs/mriprep-merge-$idm3.out" 2>/dev/null; then
    result "$T_RESUBMIT" failed "the second merge's log does not say done: $(logs_of "merge-$idm3")"
    return
  fi
  local diff
  if ! diff=$("$PY" "$root/tests/slurm/compare_trees.py" "$out" "$tmp/ref" 2>&1); then
    result "$T_RESUBMIT" failed "after the resubmission the tree differs from the single run: $(tr '\n' ' ' <<<"$diff")"
    return
  fi
  result "$T_RESUBMIT" passed "task 2 cancelled (${stopped}), merge exited 6 naming $n_missing series, shard 2 resubmitted alone, merge 0: $diff"
}

test_array
test_resubmit
say "done"
exit 0
