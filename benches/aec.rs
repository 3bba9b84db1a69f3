//! Echo-canceller benchmark: CPU time per second of audio and the latency
//! the canceller adds, on a 57 s speakerphone mix (far end at −12 dB, 40 ms
//! late, RT60 0.4 s reverb), for several filter lengths, with and without
//! the residual-echo suppressor.
//!
//! `cargo bench --bench aec`. CPU is the benchmark thread's own CPU time
//! (CLOCK_THREAD_CPUTIME_ID), so other processes on a shared machine do
//! not inflate it; per-frame wall times give the added processing latency.
//! Latency: the canceller runs on each 16 ms frame the segmenter already
//! forms, so it adds its compute time per frame plus any delay of its own
//! output, measured by sending an impulse through it. Then the echo gate
//! (the second line, on the cancelled mic), with and without its reverb
//! tail: it decides on each frame as it comes, so it adds no delay.

use std::time::Instant;

use callcoach::segment::aec::{AecConfig, EchoCanceller};
use callcoach::segment::echo::{EchoGate, EchoGateConfig};
use callcoach::segment::FRAME_SAMPLES;
use callcoach::synth::{self, EchoPath, Voices};

mod support;
use support::percentile;

const SCRIPT: &str = "\
prospect: Our warehouse managers keep complaining about paperwork and duplicated invoices every single week.
rep: What would fixing that mean for your team?
prospect: Fewer angry phone calls from accounting, and maybe somebody finally stops printing everything twice.
overlap: 1.5
rep: Sorry to jump in, who approves new tools on your side?
prospect: That would be our operations director, although she travels constantly these days.
rep: Could we book thirty minutes with her next week?
";

fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a pointer to a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Samples between an impulse on the mic (far end silent) and its peak in the output.
fn output_delay_samples(cfg: &AecConfig) -> usize {
    let mut aec = EchoCanceller::new(cfg);
    let frames = 40;
    let mut mic = vec![0.0f32; frames * FRAME_SAMPLES];
    let at = 20 * FRAME_SAMPLES + 37;
    mic[at] = 0.5;
    let silence = [0.0f32; FRAME_SAMPLES];
    let mut out = vec![0.0f32; mic.len()];
    for (m, o) in mic.chunks_exact(FRAME_SAMPLES).zip(out.chunks_exact_mut(FRAME_SAMPLES)) {
        aec.process(m.try_into().unwrap(), &silence, o.try_into().unwrap());
    }
    let peak = out.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).map(|(i, _)| i).unwrap();
    peak.saturating_sub(at)
}

fn main() {
    let lines = synth::parse_script(SCRIPT).expect("script");
    // About 57 s: the script twice over.
    let lines: Vec<_> = (0..2).flat_map(|_| lines.clone()).collect();
    let clean = synth::render(&lines, &Voices::default()).expect("espeak-ng");
    let call = EchoPath { bleed_db: -12.0, delay_ms: 40.0, rt60_s: 0.4, seed: 9 }.apply(&clean);
    let audio_s = call.rep.len() as f64 / 16_000.0;
    println!("speakerphone mix: {audio_s:.1} s, far end −12 dB / 40 ms / RT60 0.4 s, {FRAME_SAMPLES}-sample frames");
    println!("| filter | residual suppressor | CPU per s of audio | per-frame p50 / p99 / max | output delay | ERLE (health) |");
    println!("|---|---|---|---|---|---|");
    for filter_ms in [200, 300, 400, 500] {
        for residual_suppression in [false, true] {
            let cfg = AecConfig { filter_ms, residual_suppression, ..AecConfig::default() };
            let mut aec = EchoCanceller::new(&cfg);
            let mut out = [0.0f32; FRAME_SAMPLES];
            let mut frame_ms = Vec::with_capacity(call.rep.len() / FRAME_SAMPLES);
            let cpu0 = thread_cpu_s();
            for (mic, far) in call.rep.chunks_exact(FRAME_SAMPLES).zip(call.prospect.chunks_exact(FRAME_SAMPLES)) {
                let t = Instant::now();
                aec.process(mic.try_into().unwrap(), far.try_into().unwrap(), &mut out);
                frame_ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let cpu_ms_per_s = (thread_cpu_s() - cpu0) * 1e3 / audio_s;
            frame_ms.sort_by(f64::total_cmp);
            let delay = output_delay_samples(&cfg);
            let status = aec.status();
            println!(
                "| {filter_ms} ms | {} | {cpu_ms_per_s:.1} ms ({:.2}% of a core) | {:.3} / {:.3} / {:.3} ms | {delay} samples ({:.0} ms) | {} |",
                if residual_suppression { "on" } else { "off" },
                cpu_ms_per_s / 10.0,
                percentile(&frame_ms, 0.5),
                percentile(&frame_ms, 0.99),
                frame_ms.last().copied().unwrap_or(f64::NAN),
                delay as f64 / 16.0,
                status.erle_db.map_or("—".into(), |db| format!("{db:.1} dB{}", if status.converged { ", converged" } else { "" })),
            );
        }
    }
    println!();
    println!("| echo gate | CPU per s of audio | per-frame p50 / p99 |");
    println!("|---|---|---|");
    for (label, reverb_tail_ms) in [("direct path only (before)", 0.0), ("with the 400 ms reverb tail (shipped)", 400.0)] {
        let mut gate = EchoGate::new(EchoGateConfig { reverb_tail_ms, ..EchoGateConfig::default() });
        let mut frame_ms = Vec::with_capacity(call.rep.len() / FRAME_SAMPLES);
        let cpu0 = thread_cpu_s();
        for (mic, far) in call.rep.chunks_exact(FRAME_SAMPLES).zip(call.prospect.chunks_exact(FRAME_SAMPLES)) {
            let t = Instant::now();
            std::hint::black_box(gate.process(mic.try_into().unwrap(), far.try_into().unwrap()));
            frame_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let cpu_ms_per_s = (thread_cpu_s() - cpu0) * 1e3 / audio_s;
        frame_ms.sort_by(f64::total_cmp);
        println!("| {label} | {cpu_ms_per_s:.2} ms | {:.4} / {:.4} ms |", percentile(&frame_ms, 0.5), percentile(&frame_ms, 0.99));
    }
}
