#!/bin/bash
# Submits mriprep to Slurm: a job array with one task per shard (array.sbatch), then the
# merge (merge.sbatch) with --dependency=afterok:<array job>, so it runs once every task
# has succeeded. Prints both job ids, how to watch them and how to resubmit a shard.
#
#   scripts/slurm/submit.sh DATA OUT [--shards N] [--only LIST] [--array-only] [--wait]
#                           [--sbatch "OPTS"] [-- extra mriprep run options]
#
#   --shards N       shards, one array task each (default 8). Keep N the same for every
#                    submission into one OUT: a shard is "K of N".
#   --only LIST      submit only these shards (sbatch --array syntax: 2  or  1,3  or  4-7),
#                    e.g. to resubmit the ones that failed; the merge follows them.
#   --array-only     do not queue the merge (run `mriprep merge OUT` or merge.sbatch later).
#   --wait           wait for the last job (the merge, or the array with --array-only) and
#                    exit with its status (sbatch --wait).
#   --sbatch "OPTS"  more sbatch options for both jobs, split on spaces, e.g.
#                    --sbatch "--partition=gpu --account=lab"; repeatable. They win over the
#                    #SBATCH lines of the scripts.
#   -- OPTS          everything after -- goes to `mriprep run` as it is (e.g. --size 128).
#
# Environment: MRIPREP, the mriprep binary (default: `mriprep` on PATH; made absolute
# here); MRIPREP_ARGS, MRIPREP_STRICT (see array.sbatch) pass through to the jobs.
#
# Why MRIPREP_SHARDS: this script exports MRIPREP_SHARDS=N to the array, and each task
# processes shard SLURM_ARRAY_TASK_ID of N. A resubmitted `--array=2` is an array of one
# task (SLURM_ARRAY_TASK_COUNT=1, SLURM_ARRAY_TASK_MIN=2); without MRIPREP_SHARDS it would
# not know it is shard 2 of 4.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=$(basename "$0")

usage() {
  sed -n '2,/^set -u/{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-1}"
}
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

shards=8 only='' array_only='' wait_last='' sbatch_opts=() positional=() extra=()
while (($#)); do
  case $1 in
    --shards) [[ $# -ge 2 ]] || die "--shards needs a number"; shards=$2; shift 2 ;;
    --shards=*) shards=${1#*=}; shift ;;
    --only) [[ $# -ge 2 ]] || die "--only needs a list"; only=$2; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    --array-only) array_only=1; shift ;;
    --wait) wait_last=1; shift ;;
    --sbatch) [[ $# -ge 2 ]] || die "--sbatch needs options"
              # shellcheck disable=SC2206  # split on spaces on purpose
              sbatch_opts+=($2); shift 2 ;;
    --sbatch=*) # shellcheck disable=SC2206
                sbatch_opts+=(${1#*=}); shift ;;
    -h|--help) usage 0 ;;
    --) shift; extra=("$@"); break ;;
    -*) die "unknown option '$1' (mriprep options go after --)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
((${#positional[@]} == 2)) || usage
DATA=${positional[0]} OUT=${positional[1]}
[[ $shards =~ ^[1-9][0-9]*$ ]] || die "--shards '$shards' is not a positive number"
[[ -d $DATA ]] || die "DATA '$DATA' is not a folder (it must be visible at this path from the compute nodes too)"
command -v sbatch >/dev/null || die "sbatch not found: is Slurm's client on PATH?"

# The array indices: 0..N-1, or the --only list, each checked to be a shard of N.
array="0-$((shards - 1))"
if [[ -n $only ]]; then
  [[ $only =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || die "--only '$only': expected e.g. 2, 1,3 or 4-7"
  IFS=, read -r -a parts <<<"$only"
  for part in "${parts[@]}"; do
    for k in ${part//-/ }; do
      ((10#$k < shards)) || die "--only: shard $k is not a shard of $shards (0..$((shards - 1)))"
    done
  done
  array=$only
fi

abspath() { [[ $1 == /* ]] && printf '%s\n' "$1" || printf '%s\n' "$PWD/$1"; }
DATA=$(abspath "$DATA")
OUT=$(abspath "$OUT")
MRIPREP=${MRIPREP:-mriprep}
if [[ $MRIPREP == */* ]]; then
  [[ -x $MRIPREP ]] || die "MRIPREP '$MRIPREP' is not an executable"
  MRIPREP=$(abspath "$MRIPREP")
elif found=$(command -v "$MRIPREP"); then
  MRIPREP=$found
else
  printf '%s: warning: %s is not on PATH here; the jobs will look for it on theirs\n' "$prog" "$MRIPREP" >&2
fi
export MRIPREP MRIPREP_SHARDS=$shards

# Slurm does not create the folder of --output: make the ones the scripts name (relative
# to this directory, where the jobs start).
for script in "$here/array.sbatch" "$here/merge.sbatch"; do
  pattern=$(sed -n 's/^#SBATCH --output=//p' "$script" | head -n 1)
  [[ $pattern == */* ]] && mkdir -p "$(dirname "$pattern")"
done
array_log=$(sed -n 's/^#SBATCH --output=//p' "$here/array.sbatch" | head -n 1)
merge_log=$(sed -n 's/^#SBATCH --output=//p' "$here/merge.sbatch" | head -n 1)

# sbatch --parsable prints "jobid" or "jobid;cluster"
job_id() { local out; out=$(cat); printf '%s\n' "${out%%;*}"; }

# With --wait, sbatch prints the id at once and returns when the job ends; run it in the
# background to print the ids meanwhile.
idfile=
cleanup() { [[ -n $idfile ]] && rm -f "$idfile"; }
trap cleanup EXIT
submit_last() { # sbatch args...: submits; sets last_id, and last_pid when waiting
  if [[ -n $wait_last ]]; then
    idfile=$(mktemp)
    sbatch --parsable --wait "$@" >"$idfile" &
    last_pid=$!
    for _ in $(seq 300); do [[ -s $idfile ]] && break; kill -0 "$last_pid" 2>/dev/null || break; sleep 0.1; done
    last_id=$(job_id <"$idfile")
  else
    last_id=$(sbatch --parsable "$@" | job_id)
  fi
  [[ -n $last_id ]]
}

array_args=(--export=ALL --array="$array" "${sbatch_opts[@]}" "$here/array.sbatch" "$DATA" "$OUT")
((${#extra[@]})) && array_args+=(-- "${extra[@]}")
if [[ -n $array_only ]]; then
  submit_last "${array_args[@]}" || die "sbatch failed to submit the array"
  array_id=$last_id merge_id=
else
  array_id=$(sbatch --parsable "${array_args[@]}" | job_id)
  [[ -n $array_id ]] || die "sbatch failed to submit the array"
  # --kill-on-invalid-dep: when a task fails, the merge is cancelled instead of waiting
  # for ever ("DependencyNeverSatisfied"); resubmitting the shard queues a new merge.
  submit_last --export=ALL --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
    "${sbatch_opts[@]}" "$here/merge.sbatch" "$OUT" || die "sbatch failed to submit the merge (array job $array_id is queued: scancel $array_id, or merge by hand later)"
  merge_id=$last_id
fi

q() { local out; printf -v out '%q ' "$@"; printf '%s' "${out% }"; }  # shell-quoted words
again=(--shards "$shards")
((${#sbatch_opts[@]})) && again+=(--sbatch "${sbatch_opts[*]}")
extra_q=''
((${#extra[@]})) && extra_q=" -- $(q "${extra[@]}")"
env_q="MRIPREP=$(q "$MRIPREP")"
cat <<EOF
array job $array_id: shards $array of $shards: $(q "$MRIPREP" run "$DATA" "$OUT" "${extra[@]}")
  logs: ${array_log//%A/$array_id} (%a = shard)
EOF
if [[ -n $merge_id ]]; then
  cat <<EOF
merge job $merge_id: mriprep merge, once every shard has succeeded (cancelled if one fails)
  log: ${merge_log//%j/$merge_id}
EOF
fi
cat <<EOF
watch:  squeue -j $array_id${merge_id:+,$merge_id}   (sacct -j $array_id where accounting is on)
        tail -f ${array_log//%A/$array_id}   (%a = shard; each log ends with "mriprep-slurm: done",
        "... some series failed", "... interrupted" or "... mriprep exited N")
a shard failed or was cancelled? Resubmit it (K, or a list like 1,3), with a new merge:
        $env_q $(q "$0" "$DATA" "$OUT" "${again[@]}") --only K$extra_q
  by hand, in the same environment plus MRIPREP_SHARDS=$shards (so that a lone task K knows
  it is shard K of $shards), then the merge after it:
        $env_q MRIPREP_SHARDS=$shards sbatch --array=K $(q "$here/array.sbatch" "$DATA" "$OUT")$extra_q
        sbatch --dependency=afterok:<its job id> $(q "$here/merge.sbatch" "$OUT")
EOF

if [[ -n $wait_last ]]; then
  echo "waiting for job $last_id ..."
  wait "$last_pid"
  rc=$?
  # sbatch --wait says 0 also for a job that never ran: a merge cancelled because a task
  # failed (its afterok can never hold). So look at the job's state (scontrol keeps it for
  # MinJobAge seconds, sacct where accounting is on); every record must be COMPLETED.
  states=$(scontrol -o show job "$last_id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort -u | tr '\n' ' ')
  if [[ -z $states ]] && command -v sacct >/dev/null; then
    states=$(sacct -n -X -P -o State -j "$last_id" 2>/dev/null | awk '{print $1}' | sort -u | tr '\n' ' ')
  fi
  states=${states% }
  if [[ -z $states ]]; then
    echo "job $last_id: sbatch --wait exited $rc (its state is no longer known to scontrol or sacct)"
  elif [[ $states != COMPLETED ]]; then
    hint="see its log"
    [[ -n $merge_id && $states == *CANCELLED* ]] && hint="a task failed or was cancelled, so the merge never ran: see the array's logs"
    echo "job $last_id ended $states (sbatch --wait exited $rc): $hint"
    ((rc == 0)) && rc=1
  else
    echo "job $last_id completed, exit $rc"
  fi
  exit "$rc"
fi
