#!/usr/bin/env bash
# Regenerate the audit report after a retraining, keeping the previous one for --compare.
# Exit code: 0 ok, 2 bad input, 3 a gate failed (the new report is still written), 130 interrupted.
set -euo pipefail
AUDIT_DIR=${AUDIT_DIR:-audit}
CHECKPOINT=${CHECKPOINT:-models/latest.pt}
DATA_DIR=${DATA_DIR:-/data/pcam}

compare=()
if [ -f "$AUDIT_DIR/current/report.json" ]; then
  rm -rf "$AUDIT_DIR/previous"
  cp -a "$AUDIT_DIR/current" "$AUDIT_DIR/previous"
  compare=(--compare "$AUDIT_DIR/previous/report.json")
fi
reportgen build --config examples/report.toml --data-dir "$DATA_DIR" --checkpoint "$CHECKPOINT" \
  --out "$AUDIT_DIR/current" "${compare[@]}" -q
