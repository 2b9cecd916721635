#!/usr/bin/env bash
# Regenerate the audit report after a retraining, keeping the previous one for --compare.
#
# The new report is built into $AUDIT_DIR/next, compared with $AUDIT_DIR/current. Only when the
# build wrote a report (exit 0, or 3: a --fail-if gate failed) does current become previous and
# next become current; a failed or interrupted build leaves current and previous exactly as they
# were. Extra arguments go to 'reportgen build'.
# Exit code: reportgen's: 0 ok, 2 bad input, 3 a gate failed (the new report is still written),
# 130 interrupted, 1 unexpected.
set -uo pipefail
AUDIT_DIR=${AUDIT_DIR:-audit}
CHECKPOINT=${CHECKPOINT:-models/latest.pt}
DATA_DIR=${DATA_DIR:-/data/pcam}
CONFIG=${CONFIG:-examples/report.toml}
REPORTGEN=${REPORTGEN:-reportgen}

compare=()
if [ -f "$AUDIT_DIR/current/report.json" ]; then
  compare=(--compare "$AUDIT_DIR/current/report.json")
fi
rm -rf "$AUDIT_DIR/next"
status=0
$REPORTGEN build --config "$CONFIG" --data-dir "$DATA_DIR" --checkpoint "$CHECKPOINT" \
  --out "$AUDIT_DIR/next" "${compare[@]}" -q "$@" || status=$?
if [ "$status" -eq 0 ] || [ "$status" -eq 3 ]; then
  rm -rf "$AUDIT_DIR/previous"
  if [ -d "$AUDIT_DIR/current" ]; then
    mv "$AUDIT_DIR/current" "$AUDIT_DIR/previous"
  fi
  mv "$AUDIT_DIR/next" "$AUDIT_DIR/current"
fi
exit "$status"
