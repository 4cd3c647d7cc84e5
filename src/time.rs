//! The clock and RFC 3339 timestamps, without a date-time dependency: the one place the
//! server reads wall-clock time as Unix seconds or milliseconds and turns it into text; and the
//! token bucket every per-client rate is held to (chat, state changes, inbound media,
//! signaling), with the spells of drops over it that are told once each.
//!
//! Invariants: room times are whole seconds since the Unix epoch (`i64`), recording times
//! milliseconds; only the wire sees strings (always UTC, `Z`). A clock before 1970 reads as 0.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A token bucket: `burst` tokens, refilled at `per_second` (chat messages, state changes, the
/// bits and packets of an inbound track).
#[derive(Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
    burst: f64,
    per_second: f64,
}

impl Bucket {
    pub fn new(burst: f64, per_second: f64, now: Instant) -> Self {
        Self { tokens: burst, at: now, burst, per_second }
    }

    /// Takes a token, or says in how many ms the next one comes.
    pub fn take(&mut self, now: Instant) -> Result<(), u64> {
        self.take_n(1.0, now)
    }

    /// Returns `n` tokens taken a moment ago (never above the burst).
    pub fn give_back(&mut self, n: f64) {
        self.tokens = (self.tokens + n).min(self.burst);
    }

    /// Takes `n` tokens, or says in how many ms there will be that many (none are taken then).
    pub fn take_n(&mut self, n: f64, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.at = now;
        if self.tokens >= n {
            self.tokens -= n;
            Ok(())
        } else if self.per_second > 0.0 {
            Err((((n - self.tokens) / self.per_second) * 1000.0).ceil() as u64)
        } else {
            Err(u64::MAX)
        }
    }
}

/// Spells of something that keeps happening (drops over a limit), to log or tell once each: an
/// occurrence begins a new spell when none came for `quiet` before it.
#[derive(Debug)]
pub struct Spells {
    quiet: Duration,
    last: Option<Instant>,
}

impl Spells {
    pub const fn new(quiet: Duration) -> Self {
        Self { quiet, last: None }
    }

    /// Counts an occurrence at `now`; whether it begins a spell.
    pub fn begins(&mut self, now: Instant) -> bool {
        let new = self.last.is_none_or(|t| now.saturating_duration_since(t) >= self.quiet);
        self.last = Some(now);
        new
    }
}

/// Now, in seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    format_unix(secs)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
pub fn rfc3339_ms(t: SystemTime) -> String {
    format_unix_ms(t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0))
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of Unix milliseconds.
pub fn format_unix_ms(ms: i64) -> String {
    let secs = format_unix(ms.div_euclid(1000));
    match secs.strip_suffix('Z') {
        Some(s) => format!("{s}.{:03}Z", ms.rem_euclid(1000)),
        None => secs,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days-from-civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 date-time (`2026-11-21T09:30:00Z`, `...T09:30:00.250+01:00`) into Unix
/// seconds (fractions are dropped). The error says what is wrong.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not an RFC 3339 date-time like 2026-11-21T09:30:00Z");
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let digits = |part: Option<&str>| -> Result<i64, String> {
        match part {
            Some(p) if p.bytes().all(|c| c.is_ascii_digit()) => p.parse::<i64>().map_err(|_| bad()),
            _ => Err(bad()),
        }
    };
    let num = |r: std::ops::Range<usize>| digits(s.get(r));
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > month_days[(mo - 1) as usize] || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let mut rest = s.get(19..).ok_or_else(bad)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && rest.as_bytes()[3] == b':' => {
            let (oh, om) = (digits(rest.get(1..3))?, digits(rest.get(4..6))?);
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let o = oh * 3600 + om * 60;
            if rest.starts_with('-') { -o } else { o }
        }
        _ => return Err(bad()),
    };
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se.min(59) - offset)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds.
pub fn format_unix(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (proleptic Gregorian), after H. Hinnant's published algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_219_200 + 3661)), "2026-11-21T01:01:01Z");
    }

    #[test]
    fn parse_round_trips_and_rejects_junk() {
        for t in [0i64, 951_782_400, 1_795_219_200 + 3661, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&format_unix(t)).unwrap(), t);
        }
        assert_eq!(parse_rfc3339("2026-11-21T02:01:01.5+01:00").unwrap(), 1_795_219_200 + 3661);
        assert_eq!(parse_rfc3339("2026-11-20T20:01:01-05:00").unwrap(), 1_795_219_200 + 3661);
        for junk in [
            "",
            "tomorrow",
            "2026-02-30T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21T00:00:00",
            "2026-11-21T00:00:00+1:00",
            "2026-11-21T00:00:00.Z",
        ] {
            assert!(parse_rfc3339(junk).is_err(), "{junk}");
        }
    }
}
