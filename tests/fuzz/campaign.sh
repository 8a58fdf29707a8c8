#!/usr/bin/env bash
# campaign.sh: a fuzzing campaign of every libFuzzer target at once.
#
#   bash tests/fuzz/campaign.sh BUILD_DIR SECONDS
#
# Each target (BUILD_DIR/fuzz/fuzz-*, built with ASan and UBSan by `make fuzz`)
# runs for SECONDS in parallel with the others, at low priority, on its own
# working corpus seeded from the committed one (tests/fuzz/corpus/T, never
# modified) with the target's dictionary.  Findings (crash-, leak-, oom-,
# timeout- files) land in BUILD_DIR/campaign/T/.  The summary gives, for each
# target: runs, runs per second, the final coverage (cov: edges, ft: features),
# the working corpus (inputs, bytes) and the findings; the exit status is 1
# when there is any finding.
set -u
build=${1:?usage: campaign.sh BUILD_DIR SECONDS}
secs=${2:?usage: campaign.sh BUILD_DIR SECONDS}
cd "$(dirname "$0")/../.."
out=$build/campaign
rm -rf "$out"
mkdir -p "$out"

targets=()
for bin in "$build"/fuzz/fuzz-*; do
    [ -x "$bin" ] && targets+=("${bin##*/fuzz-}")
done
[ ${#targets[@]} -gt 0 ] || { echo "campaign: no targets in $build/fuzz" >&2; exit 2; }

echo "campaign: ${targets[*]} for $secs s each, in parallel, started $(date -u +%FT%TZ)"
echo "campaign: commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
pids=()
for t in "${targets[@]}"; do
    mkdir -p "$out/$t/corpus"
    cp tests/fuzz/corpus/"$t"/* "$out/$t/corpus/" 2>/dev/null
    dict=()
    [ -f tests/fuzz/"$t".dict ] && dict=(-dict=tests/fuzz/"$t".dict)
    nice -n 10 "$build/fuzz/fuzz-$t" -max_total_time="$secs" \
        -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=25 \
        -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$out/$t/" "$out/$t/corpus" \
        >"$out/$t/log" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

findings=0
printf '\n%-8s %12s %8s %7s %7s %8s %10s %8s\n' \
    target runs runs/s cov ft inputs bytes findings
for t in "${targets[@]}"; do
    log=$out/$t/log
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    inputs=$(find "$out/$t/corpus" -type f | wc -l)
    bytes=$(du -sb "$out/$t/corpus" | cut -f1)
    found=$(find "$out/$t" -maxdepth 1 -type f \
            \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' \
               -o -name 'timeout-*' -o -name 'slow-unit-*' \) | wc -l)
    findings=$((findings + found))
    printf '%-8s %12s %8s %7s %7s %8s %10s %8s\n' \
        "$t" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$inputs" "$bytes" "$found"
done
echo "campaign: ended $(date -u +%FT%TZ); logs and findings in $out/"
[ "$findings" -eq 0 ]
