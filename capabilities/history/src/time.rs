//! Times in history: shown as `YYYY-MM-DD HH:MM` (UTC), and the forgiving
//! format `/history-since` takes. Plain calendar arithmetic, no extra crates.

const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD HH:MM` (UTC) of a Unix time in milliseconds.
pub fn format_ms(ms: u64) -> String {
    let (y, m, d) = civil((ms / DAY) as i64);
    let mins = (ms % DAY) / MINUTE;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", mins / 60, mins % 60)
}

fn date(s: &str) -> Option<u64> {
    let mut p = s.split('-');
    let (y, m, d) = (p.next()?.parse::<i64>().ok()?, p.next()?.parse::<u32>().ok()?, p.next()?.parse::<u32>().ok()?);
    if p.next().is_some() || !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    u64::try_from(days_from_civil(y, m, d)).ok().map(|days| days * DAY)
}

fn clock(s: &str) -> Option<u64> {
    let (h, m) = s.split_once(':')?;
    let (h, m) = (h.parse::<u64>().ok()?, m.parse::<u64>().ok()?);
    (h < 24 && m < 60 && !s.starts_with('+')).then_some((h * 60 + m) * MINUTE)
}

/// Parses `/history-since` times (UTC): `10m`, `2h`, `1d`, `30s`, `1w` ago; `HH:MM`
/// (the last such time, today or yesterday); `YYYY-MM-DD`; `YYYY-MM-DD HH:MM`; Unix seconds.
pub fn parse_since(text: &str, now_ms: u64) -> Option<u64> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u64>().ok()?.checked_mul(1000);
    }
    if let Some(unit) = t.chars().last().filter(|c| "smhdw".contains(*c)) {
        if let Ok(n) = t[..t.len() - 1].parse::<u64>() {
            let ms = match unit {
                's' => 1000,
                'm' => MINUTE,
                'h' => 60 * MINUTE,
                'd' => DAY,
                _ => 7 * DAY,
            };
            return Some(now_ms.saturating_sub(n.saturating_mul(ms)));
        }
    }
    if let Some((d, c)) = t.split_once(' ') {
        return Some(date(d)? + clock(c.trim())?);
    }
    if t.contains(':') {
        let today = now_ms - now_ms % DAY + clock(t)?;
        return Some(if today > now_ms { today.saturating_sub(DAY) } else { today });
    }
    date(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let now = 1_796_220_180_000; // 2026-12-02 14:03 UTC
        assert_eq!(format_ms(now), "2026-12-02 14:03");
        assert_eq!(format_ms(0), "1970-01-01 00:00");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29 00:00");
        assert_eq!(parse_since("10m", now), Some(now - 600_000));
        assert_eq!(parse_since("2h", now), Some(now - 7_200_000));
        assert_eq!(parse_since("1d", now), Some(now - DAY));
        assert_eq!(parse_since("14:00", now), Some(now - 180_000));
        assert_eq!(parse_since("15:00", now), Some(now - 180_000 + 3_600_000 - DAY));
        assert_eq!(parse_since("2026-12-02", now), Some(now - (14 * 60 + 3) * MINUTE));
        assert_eq!(parse_since("2026-12-02 14:03", now), Some(now));
        assert_eq!(parse_since("1796220180", now), Some(now));
        for bad in ["", "soon", "25:00", "2026-13-01", "12:60", "-5m", "2026-12-02 x"] {
            assert_eq!(parse_since(bad, now), None, "{bad}");
        }
    }
}
