#!/usr/bin/env bash
# The main job.
#
# With capture devices configured ([capture] far_end in
# ~/.config/callcoach/config.toml, see `callcoach devices`), this runs the live
# daemon: open the overlay URL it prints, then start a call from the overlay
# or with `callcoach call start`. Without them (no microphone, e.g. a server),
# it synthesises a two-speaker sample call with espeak-ng and replays it
# through the whole live pipeline — VAD, Whisper, coach, journal, brief —
# printing the transcript, the live prompts and the recovery brief.
# DEMO_SPEED=1 replays in real time and serves the overlay on port 7345.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_common

CONFIG_FILE="${XDG_CONFIG_HOME:-$HOME/.config}/callcoach/config.toml"
if [ -f "$CONFIG_FILE" ] && grep -Eq '^\s*far_end\s*=\s*"[^"]+"' "$CONFIG_FILE"; then
    log "capture devices configured in $CONFIG_FILE: running the live daemon (Ctrl-C ends the call)"
    exec "$BIN" run
fi

OUT="$ROOT/demo-out"
mkdir -p "$OUT"
log "no capture devices configured: synthesising a sample call with espeak-ng"
"$BIN" synth "$ROOT/tests/fixtures/calls/sample.txt" --out "$OUT/sample-call.wav" --truth "$OUT/sample-call.truth.json"
SPEED="${DEMO_SPEED:-max}"
SERVE=()
if [ "$SPEED" != "max" ]; then
    SERVE=(--serve 7345 --linger 30)
    log "open http://127.0.0.1:7345/ to watch the overlay"
fi
log "replaying it through the live pipeline (speed $SPEED)"
rm -rf "$OUT/call"
"$BIN" replay "$OUT/sample-call.wav" --speed "$SPEED" --out "$OUT/call" "${SERVE[@]}" \
    --account Teamstart --contact "Tina" --role "VP Operations" --rep-name "Marcus" \
    --agenda "scheduling today,demo,next steps" --minutes 30
log "live prompts"
grep '"type":"prompt"' "$OUT/call/events.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    p = json.loads(line)
    print("  [%6.1fs] %-8s %s: %s" % (p["t_trigger_s"], p["severity"], p["title"], p["body"][:90]))
' || true
log "recovery brief ($OUT/call/brief.md)"
cat "$OUT/call/brief.md"
