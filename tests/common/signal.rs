//! Signal analysis for tests: tone power (Goertzel) and pixel sampling.

/// Power of `freq` Hz in `samples` (48 kHz), by the Goertzel algorithm (one DFT bin).
pub fn tone_power(samples: &[i16], freq: f64) -> f64 {
    let n = samples.len() as f64;
    let w = 2.0 * std::f64::consts::PI * freq / 48_000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for (i, &x) in samples.iter().enumerate() {
        // Hann window keeps neighbouring tones from leaking into this bin.
        let win = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n - 1.0)).cos();
        let s0 = x as f64 * win + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n)
}

pub fn db(ratio: f64) -> f64 {
    10.0 * ratio.max(1e-12).log10()
}

/// A decoded RGB frame.
#[derive(Clone)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Frame {
    /// Mean colour of the (2r+1)² square around (x, y).
    pub fn mean(&self, x: usize, y: usize, r: usize) -> [f64; 3] {
        let mut acc = [0f64; 3];
        let mut n = 0f64;
        for yy in y.saturating_sub(r)..(y + r + 1).min(self.height) {
            for xx in x.saturating_sub(r)..(x + r + 1).min(self.width) {
                let i = (yy * self.width + xx) * 3;
                for (c, a) in acc.iter_mut().enumerate() {
                    *a += self.rgb[i + c] as f64;
                }
                n += 1.0;
            }
        }
        acc.map(|a| a / n.max(1.0))
    }

    /// Whether `rgb` (within `tolerance`) is somewhere on a grid of points `step` apart (the
    /// mean of the (2r+1)² square around each).
    pub fn finds(&self, rgb: [u8; 3], step: usize, r: usize, tolerance: f64) -> bool {
        (step..self.height).step_by(step).any(|y| (step..self.width).step_by(step).any(|x| distance(self.mean(x, y, r), rgb) < tolerance))
    }
}

pub fn distance(a: [f64; 3], b: [u8; 3]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y as f64).powi(2)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    #[test]
    fn goertzel_finds_the_tone() {
        let s: Vec<i16> = (0..24_000).map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * 500.0 / 48_000.0).sin() * 8000.0) as i16).collect();
        assert!(super::db(super::tone_power(&s, 500.0) / super::tone_power(&s, 800.0)) > 40.0);
    }
}
