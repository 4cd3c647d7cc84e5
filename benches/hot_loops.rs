//! Criterion micro-benchmarks for the loops the server owns: mix-minus for a frame, and the
//! grid layout. Baselines measured in the same run: a plain sum of the inputs (what any mixer
//! must do) for mix-minus, so the report reads as a ratio.

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use tessera::media::mixminus::{accumulate, minus};
use tessera::room::layout::grid;

const FRAME: usize = 960;

fn inputs(n: usize) -> Vec<Vec<i16>> {
    (0..n).map(|k| (0..FRAME).map(|i| ((i * 31 + k * 7) % 2000) as i16 - 1000).collect()).collect()
}

fn mixing(c: &mut Criterion) {
    let mut g = c.benchmark_group("mix_one_frame");
    for n in [4usize, 8, 16] {
        let ins = inputs(n);
        // Baseline: summing N inputs once (no per-receiver output).
        g.bench_with_input(BenchmarkId::new("sum_only", n), &ins, |b, ins| {
            let mut sum = vec![0i32; FRAME];
            b.iter(|| {
                sum.iter_mut().for_each(|s| *s = 0);
                for x in ins {
                    accumulate(&mut sum, black_box(x));
                }
                black_box(&sum);
            })
        });
        // Mix-minus: sum once, then N subtractions (one output per receiver).
        g.bench_with_input(BenchmarkId::new("mix_minus", n), &ins, |b, ins| {
            let mut sum = vec![0i32; FRAME];
            let mut out = vec![0i16; FRAME];
            b.iter(|| {
                sum.iter_mut().for_each(|s| *s = 0);
                for x in ins {
                    accumulate(&mut sum, black_box(x));
                }
                for x in ins {
                    minus(&sum, Some(x), &mut out);
                    black_box(&out);
                }
            })
        });
    }
    g.finish();
}

fn layout(c: &mut Criterion) {
    c.bench_function("grid_25_tiles", |b| b.iter(|| black_box(grid(black_box(25), 1280, 720))));
}

criterion_group!(benches, mixing, layout);
criterion_main!(benches);
