#!/usr/bin/env bash
# Memory of a push with many refs: N branches (default 50,000) created in one push to a
# fresh release `guts node`, then all N moved in a second push; prints the node's RSS
# before, its peak (VmHWM), after each push, and after a third push that moves them back
# (retained memory grows on a leak, not on one-off caches).
#
# The receive-pack requests are built here (N commands and a small pack) and posted with
# curl: at 50,000 refs the git client itself (`git send-pack`) spends minutes of CPU before
# it sends anything, which would measure git, not the node. `git ls-remote` checks the
# result.
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
one=$(git -C "$src" rev-parse HEAD~1)
two=$(git -C "$src" rev-parse HEAD)
zero=0000000000000000000000000000000000000000

# A receive-pack request moving refs/heads/bNNNNNN from $1 to $2 for every N, with $3 (a
# rev-list of what to pack; empty: an empty pack).
request() {
    local out=$1 old=$2 new=$3 objects=$4
    python3 - "$n" "$old" "$new" > "$out" <<'PY'
import sys
n, old, new = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = sys.stdout.buffer
for i in range(1, n + 1):
    line = f"{old} {new} refs/heads/b{i:06d}"
    line = (line + "\0report-status\n") if i == 1 else (line + "\n")
    out.write(b"%04x" % (len(line) + 4) + line.encode())
out.write(b"0000")
PY
    if [ -n "$objects" ]; then
        git -C "$src" pack-objects -q --stdout --revs <<< "$objects" >> "$out"
    else
        git -C "$src" pack-objects -q --stdout < /dev/null >> "$out"
    fi
}
request "$work/create.req" "$zero" "$one" "$one"
request "$work/move.req" "$one" "$two" "$(printf '%s\n^%s\n' "$two" "$one")"
request "$work/back.req" "$two" "$one" ""

token=$("$guts" user create admin --admin --data-dir "$work/node" | awk '/^token:/ {print $2}')
"$guts" node --data-dir "$work/node" --http 127.0.0.1:18190 > "$work/node.out" 2> "$work/node.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 500); do curl -fs -o /dev/null http://127.0.0.1:18190/health/ready && break; sleep 0.02; done
rss() { awk '/^VmRSS/ {print int($2/1024)}' "/proc/$pid/status"; }
hwm() { awk '/^VmHWM/ {print int($2/1024)}' "/proc/$pid/status"; }
GUTS_TOKEN=$token "$guts" repo create admin/many --node http://127.0.0.1:18190 > /dev/null
url=http://admin:$token@127.0.0.1:18190/admin/many.git

post() {
    local start took ok
    start=$(date +%s.%N)
    curl -fsS -o "$work/report" -H 'Content-Type: application/x-git-receive-pack-request' \
        --data-binary @"$1" "$url/git-receive-pack"
    took=$(echo "$(date +%s.%N) - $start" | bc)
    ok=$( (grep -ao "ok refs/heads/b" "$work/report" || true) | wc -l)
    echo "$2: ${took}s, $ok refs ok, RSS $(rss) MiB after (peak so far $(hwm) MiB)"
}
echo "N=$n; RSS before: $(rss) MiB"
post "$work/create.req" "create $n branches"
post "$work/move.req" "move them all"
post "$work/back.req" "move them back"
refs=$(git ls-remote "$url" | grep -c "^$one")
echo "git ls-remote: $refs refs at the first commit"
