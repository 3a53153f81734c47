#!/bin/bash
# Submit the evaluation of a track as a job array of N tasks plus the dependent merge.
#   examples/slurm/submit-evaluation.sh paper-resolution 16
# Environment passed on to the jobs: SRBENCH, SRBENCH_CONFIG, SRBENCH_DATA_ROOT,
# SRBENCH_EVALUATE_ARGS, SRBENCH_OUT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
track=${1:?usage: submit-evaluation.sh TRACK TASKS}
tasks=${2:?usage: submit-evaluation.sh TRACK TASKS}
mkdir -p logs
array=$(sbatch --parsable --export=ALL,SRBENCH_TRACK="$track" --array="0-$((tasks - 1))" "$here/evaluate-array.sbatch")
array=${array%%;*}  # "jobid;cluster" on federated clusters
publish=$(sbatch --parsable --export=ALL,SRBENCH_TRACK="$track" --dependency="afterok:$array" "$here/merge-publish.sbatch")
echo "array job $array ($tasks tasks), then merge and publish: job ${publish%%;*}" >&2
