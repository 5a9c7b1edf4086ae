#!/usr/bin/env bash
# Merges of branch pairs: guts-git against `git merge-tree --write-tree --stdin`, side by
# side in one run, on two corpora made by the oracle tests:
#   synthetic: edits of this workspace's sources (hot spots that conflict, criss-cross
#              histories), `git/tests/merge_oracle.rs`;
#   history:   branch pairs from a real history, `git/tests/merge_history.rs` (this
#              repository's own, or REPO: any clone with a history, e.g. git/git).
# Usage: bench/merge.sh [PAIRS] [REPO]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs="${1:-300}"
repo="${2:-}"
for corpus in synthetic history; do
  work="bench/work/merge-$corpus"
  rm -rf "$work" && mkdir -p "$work"
  test_name=merge_oracle
  [ "$corpus" = history ] && test_name=merge_history
  GUTS_MERGE_PAIRS="$pairs" GUTS_MERGE_CORPUS="$PWD/$work" ${repo:+GUTS_MERGE_REPO="$repo"} \
    cargo test --release -q -p guts-git --test "$test_name" -- --nocapture
done
cargo build --release -q -p guts-git --example merge_bench
for corpus in synthetic history; do
  work="bench/work/merge-$corpus"
  echo "== $corpus"
  target/release/examples/merge_bench "$work/repo.git" "$work/pairs.txt" 5
done
