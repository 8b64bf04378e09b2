#!/usr/bin/env bash
# Fuzzes the engine: replays each target's checked-in corpus (a regression check), then fuzzes
# each target for $1 seconds (default 60), libFuzzer without a sanitizer on stable Rust.
# Exits non-zero on any crash; the crashing input is left in fuzz/artifacts/<target>/.
#
#   bash fuzz/run.sh          # replay + 60 s per target
#   bash fuzz/run.sh 3600     # a long run
#
# Needs cargo-fuzz (installed here if missing). Builds into $FUZZ_TARGET_DIR (default
# fuzz/target): fuzzing flags differ from the workspace's, so it keeps its own directory.
set -euo pipefail

cd "$(dirname "$0")/.."
secs="${1:-60}"
targets=(ops_vs_model window_ops policy_toml registry_config)
target_dir="${FUZZ_TARGET_DIR:-fuzz/target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Runs `cargo fuzz run` for target $1 with the rest as arguments; prints libFuzzer's summary
# (or the log's tail on failure) and returns cargo fuzz's status.
fuzz() {
    local t="$1" log="$work/$1.log"
    shift
    if cargo fuzz run -s none --target-dir "$target_dir" "$t" "$@" >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done [0-9]+ runs' "$log" || tail -n 5 "$log"
    else
        {
            echo "fuzz target $t FAILED:"
            grep -m1 -A30 'panicked at' "$log" || true
            echo "..."
            tail -n 12 "$log"
        } >&2
        return 1
    fi
}

for t in "${targets[@]}"; do
    echo "== $t: replaying fuzz/corpus/$t"
    fuzz "$t" "fuzz/corpus/$t" -- -runs=0
done

for t in "${targets[@]}"; do
    echo "== $t: fuzzing for ${secs} s"
    mkdir -p "$work/corpus-$t"
    # New inputs go to the scratch corpus; the checked-in one is only read.
    fuzz "$t" "$work/corpus-$t" "fuzz/corpus/$t" -- -max_total_time="$secs"
done
echo "fuzz: ${#targets[@]} targets replayed and fuzzed, no crash"
