#!/usr/bin/env bash
# Memory of a push with many refs: a repository with N branches (default 50,000) on a few
# commits is pushed to a fresh release `guts node`; prints the node's RSS before the push,
# its peak (VmHWM), right after, and after a second, identical no-op push (retained memory
# grows on a leak, not on the first push's one-off caches).
#
# Usage: bench/many-refs.sh [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-50000}
work=${BENCH_WORK:-$root/bench/work}/many-refs
rm -rf "$work"
mkdir -p "$work"
(cd "$root" && cargo build --release -q -p guts-cli)
guts="$root/target/release/guts"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com

src=$work/src
git init -q -b main "$src"
for i in 1 2 3; do echo "$i" > "$src/f"; git -C "$src" add f; git -C "$src" commit -qm "c$i"; done
head=$(git -C "$src" rev-parse HEAD)
seq 1 "$n" | awk -v h="$head" '{printf "create refs/heads/b%06d %s\n", $1, h}' | git -C "$src" update-ref --stdin

token=$("$guts" user create admin --admin --data-dir "$work/node" | awk '/^token:/ {print $2}')
"$guts" node --data-dir "$work/node" --http 127.0.0.1:18190 > "$work/node.out" 2> "$work/node.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 500); do curl -fs -o /dev/null http://127.0.0.1:18190/health/ready && break; sleep 0.02; done
rss() { awk '/^VmRSS/ {print int($2/1024)}' "/proc/$pid/status"; }
hwm() { awk '/^VmHWM/ {print int($2/1024)}' "/proc/$pid/status"; }
GUTS_TOKEN=$token "$guts" repo create admin/many --node http://127.0.0.1:18190 > /dev/null
before=$(rss)
url=http://admin:$token@127.0.0.1:18190/admin/many.git
start=$(date +%s.%N)
git -C "$src" push -q "$url" --all
took=$(echo "$(date +%s.%N) - $start" | bc)
after=$(rss); peak=$(hwm)
git -C "$src" push -q "$url" --all
again=$(rss)
refs=$(git ls-remote "$url" | wc -l)
echo "refs pushed: $refs  push: ${took}s"
echo "RSS MiB: before $before, peak $peak, after push $after, after a second push $again"
