#!/bin/sh
# Usage: batch.sh [sum|count|max|top]   (default: sum)
# Reads /data/input.csv (id,item,qty,price), writes /out/result.txt and prints it.
set -eu

mode="${1:-sum}"
input="${INPUT:-/data/input.csv}"
out_dir="${OUT_DIR:-/out}"
mkdir -p "$out_dir"

case "$mode" in
  sum)   result=$(awk -F, 'NR > 1 { total += $3 * $4 } END { printf "sum=%.2f\n", total }' "$input") ;;
  count) result="count=$(tail -n +2 "$input" | wc -l | tr -d ' ')" ;;
  max)   result=$(awk -F, 'NR > 1 && $3 * $4 > best { best = $3 * $4; name = $2 } END { printf "max=%s %.2f\n", name, best }' "$input") ;;
  top)   result="top=$(tail -n +2 "$input" | sort -t, -k3,3nr | head -n 3 | cut -d, -f2 | paste -sd, -)" ;;
  *)     echo "batch.sh: unknown mode '$mode' (use sum, count, max or top)" >&2; exit 2 ;;
esac

printf '%s\n' "$result" > "$out_dir/result.txt"
printf '%s\n' "$result"
