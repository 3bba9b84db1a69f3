#!/usr/bin/env bash
# The whole test suite: installs what it needs (packages, model), then runs
# every unit and integration test against the real model and real audio.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_common
setup_real_speech
setup_base_model

log "running the tests"
cd "$ROOT"
cargo test --release --locked "$@"
