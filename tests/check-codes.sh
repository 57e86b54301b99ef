#!/bin/sh
# Every validation code the library can report is documented in docs/validation-codes.md.
set -eu
src=$1
cd "$src"
codes=$(grep -ohE '"[a-z_]+\.[a-z_]+"' lib/validate.c lib/record-json.c | tr -d '"' |
        grep -vE '\.(h|c)$' | sort -u)
echo "1..1"
missing=""
n=0
for c in $codes; do
    n=$((n + 1))
    grep -q "\`$c\`" docs/validation-codes.md || missing="$missing $c"
done
if [ -n "$missing" ] || [ "$n" -lt 40 ]; then
    echo "not ok 1 - $n codes; undocumented:$missing"
    exit 1
fi
echo "ok 1 - all $n codes documented"
