"""faster-whisper side of `cargo bench --bench peer` (see benches/peer.rs).

Loads Whisper tiny.en straight from the CTranslate2 directory (the same
weights our ggml file is converted from), transcribes each 16 kHz mono WAV
given, and prints one JSON line per file: {"file", "text", "ms"}; then a last
line {"summary": {"load_ms", "peak_rss_kb", "cpu_s"}}.

The WAVs are decoded before the clock starts (as the Rust side times
inference on samples already in memory); each timing covers `transcribe`
plus consuming its lazy segment generator, where the actual decoding happens.
One utterance is transcribed untimed first as a warm-up.

Usage: python peer_faster_whisper.py CT2_DIR THREADS WAV...
"""

import json
import resource
import sys
import time
import wave

import numpy as np
from faster_whisper import WhisperModel


def read_wav_16k_mono(path):
    with wave.open(path, "rb") as w:
        if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
            sys.exit(f"{path}: expected 16 kHz mono 16-bit PCM")
        pcm = w.readframes(w.getnframes())
    # Same scaling as hound's i16 -> f32 on the Rust side.
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def transcribe(model, audio):
    segments, _info = model.transcribe(
        audio,
        language="en",
        beam_size=1,
        without_timestamps=True,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    return "".join(segment.text for segment in segments)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    ct2_dir, threads, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    audio = [read_wav_16k_mono(f) for f in files]

    started = time.perf_counter()
    model = WhisperModel(ct2_dir, device="cpu", compute_type="int8", cpu_threads=threads)
    load_ms = (time.perf_counter() - started) * 1e3

    transcribe(model, audio[0])  # warm-up, untimed

    cpu_started = time.process_time()
    for path, samples in zip(files, audio):
        t = time.perf_counter()
        text = transcribe(model, samples)
        ms = (time.perf_counter() - t) * 1e3
        print(json.dumps({"file": path, "text": text, "ms": ms}), flush=True)
    cpu_s = time.process_time() - cpu_started

    # ru_maxrss is in KiB on Linux.
    peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"summary": {"load_ms": load_ms, "peak_rss_kb": peak_rss_kb, "cpu_s": cpu_s}}), flush=True)


if __name__ == "__main__":
    main()
