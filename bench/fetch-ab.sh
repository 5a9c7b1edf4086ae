#!/usr/bin/env bash
# A/B of the incremental fetch on one data dir: two guts binaries, alternately, each started
# on the node data dir that bench/http.sh left in bench/work/http-run, serving a fetch of the
# 30 commits that run pushed to a copy of its clone (the small pack those commits came in is
# removed from the copy, and its branch reset). Prints client wall and server CPU per run.
# Comparing two builds on the same stored data takes out the run-to-run differences of the
# data dirs two separate http.sh runs build.
#
# Usage: bench/fetch-ab.sh OLD_GUTS NEW_GUTS [ROUNDS]   (run bench/http.sh first)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${BENCH_WORK:-$root/bench/work}/http-run
rounds=${3:-5}
port=18190
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
hz=$(getconf CLK_TCK)
branch=$(git -C "$run/src" rev-parse --abbrev-ref HEAD)
tip=$(git -C "$run/src" rev-parse HEAD)
base=$(git -C "$run/src" rev-parse HEAD~30)
url=$(git -C "$run/clone-guts" config remote.origin.url | sed "s/:1818[0-9]/:$port/")
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT

one() { # LABEL BINARY
  rm -rf "$copy/clone"
  cp -a "$run/clone-guts" "$copy/clone"
  local small
  small=$(ls -S "$copy"/clone/objects/pack/*.pack | tail -1)
  rm -f "${small%.pack}".*
  git -C "$copy/clone" update-ref "refs/heads/$branch" "$base"
  GUTS_LOG=warn "$2" node --data-dir "$run/guts-data" --http "127.0.0.1:$port" > "$copy/node.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 500); do curl -fs -o /dev/null "http://127.0.0.1:$port/health/ready" && break; sleep 0.02; done
  local t0 t1 s e
  t0=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
  s=$(date +%s.%N)
  git -C "$copy/clone" fetch -q "$url" "+refs/heads/*:refs/heads/*"
  e=$(date +%s.%N)
  t1=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
  kill -TERM "$pid"
  wait "$pid" || true
  [ "$(git -C "$copy/clone" rev-parse "refs/heads/$branch")" = "$tip" ] || { echo "fetch did not bring $tip" >&2; exit 1; }
  echo "| $1 | $(echo "$e - $s" | bc) | $(echo "scale=2; ($t1 - $t0) / $hz" | bc) |"
}

echo "| build | client wall s | server CPU s |"
echo "|---|---|---|"
for _ in $(seq 1 "$rounds"); do
  one old "$1"
  one new "$2"
done
