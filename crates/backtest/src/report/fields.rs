//! CSV fields written straight into a byte buffer, as `format!("{v}")` and
//! [`Timestamp::to_rfc3339`] print them: a 1M-bar `equity.csv` holds 5M
//! numbers and 1M times, and std's float formatting and chrono's formatter
//! (through `fmt::Write`) took most of a whole backtest's time.

use candlecast_data::Timestamp;

/// Appends `v` as Rust's `Display` prints it (shortest round-trip digits, no
/// exponent, `1` not `1.0`, `NaN`, `inf`), from ryu's shortest digits. The one
/// difference: when the 17th digit is an exact tie (a float such as
/// 1308548795726862.25), ryu rounds it to even and std up; both read back as
/// the same float.
pub fn push_f64(out: &mut Vec<u8>, v: f64) {
    let mut buf = ryu::Buffer::new();
    let s = buf.format(v).as_bytes();
    if !v.is_finite() {
        out.extend_from_slice(s);
        return;
    }
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if neg {
        out.push(b'-');
    }
    match s.iter().position(|&c| c == b'e') {
        None => out.extend_from_slice(s.strip_suffix(b".0").unwrap_or(s)),
        Some(e) => {
            let (mantissa, exp) = (&s[..e], &s[e + 1..]);
            let exp = parse_exp(exp);
            // At most 17 significant digits.
            let mut buf = [0u8; 24];
            let mut n = 0;
            for &c in mantissa.iter().filter(|&&c| c != b'.') {
                buf[n] = c;
                n += 1;
            }
            let digits = &buf[..n];
            // The decimal point sits after `point` digits of `digits`.
            let point = 1 + exp;
            let n = n as i64;
            if point <= 0 {
                out.extend_from_slice(b"0.");
                out.extend(std::iter::repeat_n(b'0', (-point) as usize));
                out.extend_from_slice(digits);
            } else if point >= n {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', (point - n) as usize));
            } else {
                let p = point as usize;
                out.extend_from_slice(&digits[..p]);
                out.push(b'.');
                out.extend_from_slice(&digits[p..]);
            }
        }
    }
}

/// ryu's exponent: an optional `-` and at most three digits.
fn parse_exp(s: &[u8]) -> i64 {
    let (sign, digits) = match s.split_first() {
        Some((b'-', rest)) => (-1, rest),
        _ => (1, s),
    };
    sign * digits
        .iter()
        .fold(0i64, |acc, &d| acc * 10 + i64::from(d.wrapping_sub(b'0')))
}

/// Appends `t` as [`Timestamp::to_rfc3339`] does (`2020-01-01T00:00:00Z`, with
/// `.mmm` only when the milliseconds are not zero). Years outside 0..=9999 go
/// through chrono, which writes them with a sign.
pub fn push_timestamp(out: &mut Vec<u8>, t: Timestamp) {
    let ms = t.millis();
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        out.extend_from_slice(t.to_rfc3339().as_bytes());
        return;
    }
    let secs = in_day / 1000;
    let milli = in_day % 1000;
    push_digits(out, y, 4);
    out.push(b'-');
    push_digits(out, m, 2);
    out.push(b'-');
    push_digits(out, d, 2);
    out.push(b'T');
    push_digits(out, secs / 3600, 2);
    out.push(b':');
    push_digits(out, secs / 60 % 60, 2);
    out.push(b':');
    push_digits(out, secs % 60, 2);
    if milli != 0 {
        out.push(b'.');
        push_digits(out, milli, 3);
    }
    out.push(b'Z');
}

/// `v` (non-negative, below 10^width) zero-padded to `width` digits.
fn push_digits(out: &mut Vec<u8>, v: i64, width: u32) {
    for k in (0..width).rev() {
        out.push(b'0' + (v / 10i64.pow(k) % 10) as u8);
    }
}

/// Days since 1970-01-01 to the proleptic Gregorian (year, month, day):
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        let mut out = Vec::new();
        push_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn ts(ms: i64) -> String {
        let mut out = Vec::new();
        push_timestamp(&mut out, Timestamp(ms));
        String::from_utf8(out).unwrap()
    }

    /// SplitMix64, so the sample is the same on every run.
    fn mix(k: u64) -> u64 {
        let mut z = k.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn floats_print_as_display_does() {
        let edge = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            100.0,
            10000.0,
            1e15,
            1e16,
            1e17,
            1.5e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            1e-5,
            1e-4,
            1.234e-7,
            -99.96018331975348,
            9876.543210987654,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for v in edge {
            assert_eq!(f(v), format!("{v}"), "{v:e}");
        }
        // Random bit patterns cover every exponent; prices, equity and
        // percentages cover the values the files hold.
        for k in 0..200_000u64 {
            let bits = f64::from_bits(mix(k));
            let price = (mix(k) >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((k % 12) as i32);
            for v in [bits, price, -price, price.round(), 0.0 - price / 7.0] {
                let (got, want) = (f(v), format!("{v}"));
                if got != want && !v.is_nan() {
                    // Only an exact tie may differ: the digit after the first
                    // differing one is a 5 with nothing after it in the float's
                    // exact expansion (std's `{:.60e}` prints it exactly).
                    let at = got
                        .bytes()
                        .zip(want.bytes())
                        .take_while(|(a, b)| a == b)
                        .count();
                    let n = want[..=at]
                        .trim_start_matches(['-', '0', '.'])
                        .bytes()
                        .filter(u8::is_ascii_digit)
                        .count();
                    let exact = format!("{:.60e}", v.abs());
                    let digits: Vec<u8> = exact
                        .bytes()
                        .take_while(|&c| c != b'e')
                        .filter(|&c| c != b'.')
                        .collect();
                    assert!(
                        digits[n] == b'5' && digits[n + 1..].iter().all(|&c| c == b'0'),
                        "{got} vs {want}: not a tie ({exact})"
                    );
                    assert_eq!(got.parse::<f64>(), Ok(v), "{got} for {v:e}");
                    assert_eq!(got.len(), want.len(), "{got} vs {want}");
                    assert_eq!(
                        got[..got.len() - 1],
                        want[..want.len() - 1],
                        "{got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn timestamps_print_as_to_rfc3339_does() {
        let edge = [
            0,
            -1,
            1,
            999,
            1000,
            86_399_999,
            86_400_000,
            951_782_400_000,   // 2000-02-29
            4_107_542_400_000, // 2100-02-28
            -62_167_219_200_000,
            -62_167_219_200_001, // the last millisecond of year -1
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000, // 10000-01-01
        ];
        for ms in edge {
            assert_eq!(ts(ms), Timestamp(ms).to_rfc3339(), "{ms}");
        }
        for k in 0..200_000u64 {
            let r = mix(k);
            // Years 1600-2400, every millisecond, and whole minutes.
            let ms = (r % 25_000_000_000_000) as i64 - 11_676_096_000_000;
            for t in [ms, ms - ms.rem_euclid(60_000)] {
                assert_eq!(ts(t), Timestamp(t).to_rfc3339(), "{t}");
            }
        }
    }
}
