#!/usr/bin/env bash
# fuzz/stats.sh LOG... — one line per libFuzzer log: executions, exec/s,
# coverage (edges "cov", features "ft"), corpus, and how it ended.
for f in "$@"; do
  last=$(grep -E '^#[0-9]+' "$f" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$f" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$f" | tail -n 1)
  [[ -n "$execs" ]] || execs=$(grep -oE '^#[0-9]+' <<<"$last" | tr -d '#')
  [[ -n "$rate" ]] || rate=$(grep -oE 'exec/s: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$last")
  if grep -q '^SUMMARY: ' "$f"; then end=$(grep -m1 '^SUMMARY: ' "$f");
  elif grep -q '^Done [0-9]* runs' "$f"; then end=$(grep -m1 -oE '^Done [0-9]+ runs in [0-9]+ second\(s\)' "$f");
  else end="running"; fi
  printf '%s\texecs=%s\texec/s=%s\t%s\t%s\n' "$f" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$end"
done
