#!/usr/bin/env bash
# Submit a study to Slurm: an array job of its runs, then the aggregation after them.
#
#   scripts/slurm/submit_study.sh STUDY [sbatch options...]
#
# STUDY is a name in studies/ or a YAML file. The array has one task per run of
# `papseg study STUDY --list`, each with one GPU (--gres=gpu:1); the aggregation job
# (`--aggregate-only`, no GPU) starts when every task has ended, whether it succeeded
# or not (afterany). Prints both job ids.
# PAPSEG_PYTHON selects the Python (default: python); PAPSEG_STUDY_OUT the output folder.
set -euo pipefail
study="${1:?usage: submit_study.sh STUDY [sbatch options...]}"
shift
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PAPSEG_PYTHON:-python}"
n="$("$python" -m papseg_utils study "$study" --list | wc -l)"
if [ "$n" -eq 0 ]; then
    echo "study $study has no runs" >&2
    exit 1
fi
array="$(sbatch --parsable --array="0-$((n - 1))" --gres=gpu:1 "$@" "$here/study.sbatch" "$study")"
array="${array%%;*}"
aggregate="$(sbatch --parsable --dependency="afterany:$array" --cpus-per-task=2 --time=01:00:00 \
    "$@" "$here/study.sbatch" "$study")"
echo "study $study: $n runs in array job $array; aggregation in job ${aggregate%%;*}"
