#!/usr/bin/env bash
# Merges of branch pairs: guts-git against `git merge-tree --write-tree --stdin`, side by
# side in one run, on a corpus made from this workspace's sources by the merge oracle test
# (edits, hot spots that conflict, criss-cross histories). Usage: bench/merge.sh [PAIRS]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs="${1:-300}"
work="bench/work/merge"
rm -rf "$work" && mkdir -p "$work"
GUTS_MERGE_PAIRS="$pairs" GUTS_MERGE_CORPUS="$PWD/$work" \
  cargo test --release -q -p guts-git --test merge_oracle -- --nocapture
cargo build --release -q -p guts-git --example merge_bench
target/release/examples/merge_bench "$work/repo.git" "$work/pairs.txt" 5
