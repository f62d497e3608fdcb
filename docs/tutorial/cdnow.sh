#!/usr/bin/env bash
# Your own data in ten minutes: CDNOW's published purchase log, from its text file to scored triggers.
# CI runs this script as it stands (tests/test_docs/test_tutorial.py); docs/tutorial/index.md explains each step.
set -euo pipefail

# The CDNOW master log (69,659 purchases of 23,570 customers, 1997-98) as the `lifetimes` package ships it;
# point CDNOW at your own copy otherwise.
CDNOW=${CDNOW:-$(python -c 'import importlib.util, pathlib
print(pathlib.Path(importlib.util.find_spec("lifetimes").origin).parent / "datasets" / "CDNOW_master.txt")')}
OUT=${1:-out/tutorial}
mkdir -p "$OUT"

# 1. How to read it: aligned columns (customer_id, date, number_of_cds, dollar_value), one purchase a row,
#    dates as 19970101 in no stated zone. Every command that reads events takes the same options.
READ=(--format csv --delimiter whitespace --type purchase --map ts=date,value=dollar_value
      --ts-format %Y%m%d --tz UTC)

# 2. What is in it. Against the bundled example moments (support tickets, usage, reviews ...) it exits 1:
#    most of them wait for events CDNOW does not have, which is what this step is for.
momentstream profile "$CDNOW" "${READ[@]}" --top 5 || echo "(exit $?: expected, see above)"

# 3. Which purchase patterns make another purchase within 90 days likelier: found on 1997, backtested on
#    1998. A purchases-only history has no other event to act on, so the patterns are predictors;
#    --write-predictors writes them. Writes the moments and the objectives that score them.
momentstream discover "$CDNOW" "${READ[@]}" --outcome purchase --within 90d --split 1998-01-01 \
    --write-predictors -o "$OUT/discovered.yaml" --plot "$OUT/discovery.html" -q

# 4. The moments file is valid, and every moment and objective finds its events in the history (exit 0).
momentstream check "$OUT/discovered.yaml" --events "$CDNOW" "${READ[@]}" \
    --objectives "$OUT/discovered.objectives.yaml"
momentstream profile "$CDNOW" "${READ[@]}" -c "$OUT/discovered.yaml" \
    --objectives "$OUT/discovered.objectives.yaml" --top 5

# 5. Run them over the whole history: scored triggers, one JSON object per line.
momentstream replay "$CDNOW" "${READ[@]}" -c "$OUT/discovered.yaml" -o "$OUT/triggers.jsonl" -q
head -n 1 "$OUT/triggers.jsonl"
