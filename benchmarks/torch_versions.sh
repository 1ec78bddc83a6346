#!/usr/bin/env bash
# The course against more than one torch: the exercise tests and every notebook (COURSE_FAST=1)
# in a fresh virtual environment per version. Not part of CI: each environment downloads a
# torch of several GB (PyPI's Linux wheels are CUDA builds; they run on the CPU all the same).
#
#   bash benchmarks/torch_versions.sh [lowest] [newest] [2.14.1 ...]     (default: lowest newest)
#
# lowest  the lower bound of every requirement in pyproject.toml at once (torch, numpy,
#         matplotlib, ipywidgets, tqdm), i.e. the oldest set the course claims to support;
# newest  the newest torch release the package index offers, with the newest of the rest;
# X.Y.Z   that torch, with the newest of the rest.
#
# Environments go to $TORCH_VERSIONS_DIR (default /tmp/torch-versions), one log per version.
# It prints one line per version, e.g.
#   torch 2.3.0, numpy 1.26.0, matplotlib 3.8.0, ipywidgets 7.7.0, tqdm 4.66.0: PASSED (exercises: 664 passed; notebooks: 24 passed)
# and exits 1 if any version failed. Record the lines in the README ("Tested with").
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
DIR=${TORCH_VERSIONS_DIR:-/tmp/torch-versions}
mkdir -p "$DIR"

lower_bounds() {   # "numpy==1.26 torch==2.3 ..." from pyproject.toml's dependencies
    "$PYTHON" - <<'EOF'
import re, tomllib
for spec in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    name, low = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)\s*", spec.split(";")[0].split("#")[0]).groups()
    print(f"{name}=={low}", end=" ")
EOF
}

newest_torch() {
    "$PYTHON" -m pip index versions torch 2>/dev/null | sed -n 's/^torch (\(.*\))$/\1/p'
}

status=0
for which in "${@:-lowest newest}"; do
  for want in $which; do
    case $want in
        lowest) pins=$(lower_bounds) ;;
        newest) pins="torch==$(newest_torch)" ;;
        *)      pins="torch==$want" ;;
    esac
    name=$(echo "$pins" | sed 's/.*torch==\([^ ]*\).*/\1/')
    venv=$DIR/$want-$name
    log=$DIR/$want-$name.log
    echo "== $want: $pins -> $venv (log: $log)"
    {
        [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
        # shellcheck disable=SC2086
        "$venv/bin/pip" install -q $pins -e ".[test]"
    } >"$log" 2>&1 || { echo "   install FAILED (see $log)"; status=1; continue; }
    versions=$("$venv/bin/python" -c '
import importlib.metadata as m
print(", ".join(f"{p} {m.version(p)}" for p in ["torch", "numpy", "matplotlib", "ipywidgets", "tqdm"]))')
    summary() { grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed|error)' "$1" | tail -1 | tr -d '=' | xargs; }
    (cd "$ROOT" && env -u PYTHONPATH COURSE_FAST=1 "$venv/bin/python" -m pytest tests/test_exercises.py \
        -q -p no:cacheprovider) >"$log.exercises" 2>&1
    ex=$?
    (cd "$ROOT" && env -u PYTHONPATH COURSE_FAST=1 "$venv/bin/python" -m pytest tests/test_notebooks.py \
        -q -p no:cacheprovider) >"$log.notebooks" 2>&1
    nb=$?
    verdict=PASSED
    [ $ex -eq 0 ] && [ $nb -eq 0 ] || { verdict=FAILED; status=1; }
    echo "$versions: $verdict (exercises: $(summary "$log.exercises"); notebooks: $(summary "$log.notebooks"))"
  done
done
exit $status
