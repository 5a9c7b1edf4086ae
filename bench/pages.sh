#!/usr/bin/env bash
# Benchmark: server time of the web interface's main pages on a real repository (this
# repository's own history, or REPO), side by side in one run with the same views from
# git itself on the same machine:
#   repository page      vs  git ls-tree HEAD + git log -1
#   a large file         vs  git show HEAD:FILE          (the largest text file, ~2,000+ lines)
#   a 50-commit log page vs  git log -50
#   a commit's diff      vs  git show --stat --patch COMMIT
# Each page is asked N times over one keep-alive-less loop (curl's time_total, server on
# loopback); "cold" is the first request after the node started, "warm" the rest.
# Usage: bench/pages.sh [REPO] [N]   (FILE=path picks the file; default the largest under
# 100 KB, about 2,000 lines of code)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "${1:-$root}" && pwd)
n=${2:-200}
work=${BENCH_WORK:-$root/bench/work}/pages
rm -rf "$work" && mkdir -p "$work"
(cd "$root" && cargo build --release -q -p guts-cli)
guts="$root/target/release/guts"
port=18190
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
token=$("$guts" user create bench --admin --data-dir "$work/data" | sed -n 's/^token: //p')
start_node() {
  "$guts" node --data-dir "$work/data" --http "127.0.0.1:$port" > "$work/node.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 1 500); do curl -fs -o /dev/null "http://127.0.0.1:$port/health/ready" && return 0; sleep 0.02; done
  echo "node did not start" >&2; exit 1
}
trap '[ -n "${node_pid:-}" ] && kill "$node_pid" 2>/dev/null || true' EXIT
start_node
"$guts" repo create bench/repo --token "$token" --node "http://127.0.0.1:$port" > /dev/null
git -C "$repo" push -q "http://bench:$token@127.0.0.1:$port/bench/repo.git" HEAD:refs/heads/main
file=${FILE:-$(git -C "$repo" ls-tree -r -l HEAD | awk '$4 < 100000 {print $4, $5}' | sort -n | tail -1 | cut -d' ' -f2)}
lines=$(git -C "$repo" show "HEAD:$file" | wc -l)
commit=$(git -C "$repo" rev-list -n 1 --skip 5 HEAD)
kill "$node_pid"; wait "$node_pid" 2>/dev/null || true
start_node

base="http://127.0.0.1:$port/bench/repo"
pages=("$base" "$base/blob/main/$file" "$base/commits/main" "$base/commit/$commit")
names=("repository page" "file ($file, $lines lines)" "history, 50 commits" "commit diff")
gits=("git ls-tree HEAD && git log -1" "git show HEAD:$file" "git log -50" "git show --stat --patch $commit")

stats() { # sorted seconds on stdin -> "p50 p99" in ms
  awk '{a[NR]=$1} END {p50=a[int((NR+1)*0.5)]; i=int(NR*0.99); if (i<1) i=1; printf "%.1f %.1f\n", p50*1000, a[i]*1000}'
}
printf '%-32s %10s %10s %10s %10s %10s\n' page cold_ms warm_p50 warm_p99 git_p50 git_p99
for i in "${!pages[@]}"; do
  url=${pages[$i]}
  cold=$(curl -sf -o /dev/null -w '%{time_total}' "$url")
  for _ in $(seq 1 "$n"); do curl -sf -o /dev/null -w '%{time_total}\n' "$url"; done | sort -n > "$work/guts.$i"
  for _ in $(seq 1 "$n"); do
    s=$(date +%s.%N); (cd "$repo" && eval "${gits[$i]}" > /dev/null); e=$(date +%s.%N)
    echo "$e - $s" | bc -l
  done | sort -n > "$work/git.$i"
  read -r gp50 gp99 < <(stats < "$work/guts.$i")
  read -r tp50 tp99 < <(stats < "$work/git.$i")
  printf '%-32s %10.1f %10s %10s %10s %10s\n' "${names[$i]}" "$(echo "$cold * 1000" | bc -l)" "$gp50" "$gp99" "$tp50" "$tp99"
done
