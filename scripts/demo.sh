#!/usr/bin/env bash
# The main job. Until live capture lands: synthesise a two-speaker sample call
# with espeak-ng and print callcoach's speaker-labelled transcript of it.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_common

OUT="$ROOT/demo-out"
mkdir -p "$OUT"
log "synthesising the sample call"
"$BIN" synth "$ROOT/tests/fixtures/calls/sample.txt" --out "$OUT/sample-call.wav" --truth "$OUT/sample-call.truth.json"
log "transcribing it locally"
"$BIN" transcribe "$OUT/sample-call.wav" --model "$CALLCOACH_MODEL"
