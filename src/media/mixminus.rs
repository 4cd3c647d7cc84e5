//! Mix-minus arithmetic: sum every input once, then give each receiver the sum minus its own
//! input. Linear in the number of participants (no N-input mix per receiver).

/// Adds `input` into the 32-bit accumulator `sum` (same length).
pub fn accumulate(sum: &mut [i32], input: &[i16]) {
    for (s, &x) in sum.iter_mut().zip(input) {
        *s += x as i32;
    }
}

/// Writes `sum - own` into `out`, saturated to 16 bits. `own` is `None` when the receiver sent
/// nothing this frame.
pub fn minus(sum: &[i32], own: Option<&[i16]>, out: &mut [i16]) {
    match own {
        Some(own) => {
            for ((o, &s), &x) in out.iter_mut().zip(sum).zip(own) {
                *o = (s - x as i32).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
            }
        }
        None => {
            for (o, &s) in out.iter_mut().zip(sum) {
                *o = s.clamp(i16::MIN as i32, i16::MAX as i32) as i16;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_receiver_hears_everyone_but_itself() {
        let a = [100i16; 4];
        let b = [10i16; 4];
        let c = [1i16; 4];
        let mut sum = [0i32; 4];
        for x in [&a, &b, &c] {
            accumulate(&mut sum, x);
        }
        let mut out = [0i16; 4];
        minus(&sum, Some(&a), &mut out);
        assert_eq!(out, [11; 4]);
        minus(&sum, Some(&c), &mut out);
        assert_eq!(out, [110; 4]);
        minus(&sum, None, &mut out);
        assert_eq!(out, [111; 4]);
    }

    #[test]
    fn saturates_instead_of_wrapping() {
        let mut sum = [0i32; 2];
        accumulate(&mut sum, &[30000, -30000]);
        accumulate(&mut sum, &[30000, -30000]);
        let mut out = [0i16; 2];
        minus(&sum, None, &mut out);
        assert_eq!(out, [i16::MAX, i16::MIN]);
    }
}
