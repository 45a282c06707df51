//! Numbers: literal parsing with exact integers, event-number comparison, and number-to-text.
//!
//! CloudWatch compares integers exactly (9007199254740993 ≠ 9007199254740992), so a literal keeps
//! an exact integer form next to its `f64`. When a number meets a string condition it is compared
//! as text: integers as their decimal digits, other numbers in the style of Java's
//! `Double.toString` (which is what AWS observably produces: `1.0`, `1.0E10`).

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

/// A numeric literal from a pattern, e.g. `400`, `-5`, `+1000`, `55.5`, `1e+3`.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    text: String,
    value: f64,
    int: Option<i128>,
}

impl Number {
    /// Parses a literal in the filter-pattern number grammar.
    ///
    /// Returns `None` when `text` is not a number at all and `Some(Err(()))` when it is one but
    /// cannot be represented (an exponent that overflows).
    pub fn parse(text: &str) -> Option<Result<Number, ()>> {
        let shape = NumberShape::scan(text.as_bytes())?;
        if shape.len != text.len() {
            return None;
        }
        let value: f64 = text.parse().ok()?;
        if !value.is_finite() {
            return Some(Err(()));
        }
        let int = shape.exact_integer(text.as_bytes());
        Some(Ok(Number {
            text: text.to_owned(),
            value,
            int,
        }))
    }

    /// The literal as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its value as a double.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Its exact integer value, when it is an integer that fits in an `i128`.
    pub fn int(&self) -> Option<i128> {
        self.int
    }

    /// Compares an event number with this literal (`event.cmp(literal)`).
    pub fn compare(&self, event: EventNumber) -> Option<Ordering> {
        match (event, self.int) {
            (EventNumber::Int(i), Some(l)) => Some(i128::from(i).cmp(&l)),
            (EventNumber::UInt(u), Some(l)) => Some(i128::from(u).cmp(&l)),
            (EventNumber::Int(i), None) => (i as f64).partial_cmp(&self.value),
            (EventNumber::UInt(u), None) => (u as f64).partial_cmp(&self.value),
            (EventNumber::Float(f), _) => f.partial_cmp(&self.value),
        }
    }
}

/// A number found in an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventNumber {
    /// A negative (or small) integer.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// Anything else.
    Float(f64),
}

impl EventNumber {
    /// The value as a double (what a metric publishes).
    pub fn as_f64(self) -> f64 {
        match self {
            EventNumber::Int(i) => i as f64,
            EventNumber::UInt(u) => u as f64,
            EventNumber::Float(f) => f,
        }
    }

    /// The text AWS compares when a number meets a string condition.
    pub fn text(self) -> NumberText {
        let mut out = NumberText::default();
        // Writing into NumberText cannot fail: it truncates instead (and 40 bytes always suffice).
        let _ = match self {
            EventNumber::Int(i) => write!(out, "{i}"),
            EventNumber::UInt(u) => write!(out, "{u}"),
            EventNumber::Float(f) => write_java_double(&mut out, f),
        };
        out
    }
}

/// Parses the text of a space-delimited token (or a JSON string) as a number, if it is one.
///
/// Only the pattern number grammar counts: `inf`, `NaN`, `0x10` and `1_000` are not numbers.
pub fn parse_token_number(text: &[u8]) -> Option<f64> {
    let shape = NumberShape::scan(text)?;
    if shape.len != text.len() {
        return None;
    }
    // The grammar check above guarantees ASCII.
    let s = std::str::from_utf8(text).ok()?;
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// The shape of a number: where its parts are, for exact integer conversion.
struct NumberShape {
    len: usize,
    negative: bool,
    int_digits: (usize, usize),
    frac_digits: (usize, usize),
    exponent: i64,
}

impl NumberShape {
    /// Scans `[+-]? (digits ['.' digits] | '.' digits) ([eE] [+-]? digits)?` from the start.
    fn scan(b: &[u8]) -> Option<NumberShape> {
        let mut i = 0;
        let mut negative = false;
        if let Some(&c) = b.first() {
            if c == b'+' || c == b'-' {
                negative = c == b'-';
                i = 1;
            }
        }
        let int_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let int_digits = (int_start, i);
        let mut frac_digits = (i, i);
        if b.get(i) == Some(&b'.') {
            let frac_start = i + 1;
            let mut j = frac_start;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            if j > frac_start {
                frac_digits = (frac_start, j);
                i = j;
            }
        }
        if int_digits.0 == int_digits.1 && frac_digits.0 == frac_digits.1 {
            return None;
        }
        let mut exponent = 0i64;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            let mut exp_negative = false;
            if let Some(&c) = b.get(j) {
                if c == b'+' || c == b'-' {
                    exp_negative = c == b'-';
                    j += 1;
                }
            }
            let exp_start = j;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                exponent = exponent
                    .saturating_mul(10)
                    .saturating_add(i64::from(b[j] - b'0'));
                j += 1;
            }
            if j > exp_start {
                i = j;
                if exp_negative {
                    exponent = -exponent;
                }
            } else {
                exponent = 0;
            }
        }
        Some(NumberShape {
            len: i,
            negative,
            int_digits,
            frac_digits,
            exponent,
        })
    }

    /// The exact integer value, if the number is integral and fits in an `i128`.
    fn exact_integer(&self, b: &[u8]) -> Option<i128> {
        let digits = b[self.int_digits.0..self.int_digits.1]
            .iter()
            .chain(&b[self.frac_digits.0..self.frac_digits.1]);
        let frac_len = (self.frac_digits.1 - self.frac_digits.0) as i64;
        let scale = self.exponent.checked_sub(frac_len)?;
        let all: Vec<u8> = digits.copied().collect();
        let (kept, dropped) = if scale >= 0 {
            (&all[..], &[][..])
        } else {
            let cut = all.len().checked_sub(usize::try_from(-scale).ok()?)?;
            all.split_at(cut)
        };
        if dropped.iter().any(|&d| d != b'0') {
            return None;
        }
        let mut value: i128 = 0;
        for &d in kept {
            value = value.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
        }
        if scale > 0 {
            value = value.checked_mul(10i128.checked_pow(u32::try_from(scale).ok()?)?)?;
        }
        Some(if self.negative { -value } else { value })
    }
}

/// A number's text, formatted on the stack (no allocation on the hot path).
#[derive(Clone, Copy)]
pub struct NumberText {
    buf: [u8; 40],
    len: usize,
}

impl Default for NumberText {
    fn default() -> Self {
        NumberText {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl NumberText {
    /// The text as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Write for NumberText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl fmt::Debug for NumberText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes `f` the way Java's `Double.toString` does: plain decimal with at least one fraction
/// digit for 10^-3 ≤ |f| < 10^7, otherwise `d.dddE±n`.
fn write_java_double(out: &mut NumberText, f: f64) -> fmt::Result {
    let abs = f.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let mut plain = NumberText::default();
        write!(plain, "{f}")?;
        out.write_str(plain.as_str())?;
        if !plain.as_str().contains('.') {
            out.write_str(".0")?;
        }
        return Ok(());
    }
    let mut sci = NumberText::default();
    write!(sci, "{f:e}")?;
    let s = sci.as_str();
    let (mantissa, exponent) = s.split_once('e').unwrap_or((s, "0"));
    out.write_str(mantissa)?;
    if !mantissa.contains('.') {
        out.write_str(".0")?;
    }
    out.write_str("E")?;
    out.write_str(exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_keep_exact_integers() {
        let n = Number::parse("9007199254740993").unwrap().unwrap();
        assert_eq!(n.int(), Some(9007199254740993));
        assert_eq!(
            n.compare(EventNumber::UInt(9007199254740992)),
            Some(Ordering::Less)
        );
        assert_eq!(Number::parse("1e+3").unwrap().unwrap().int(), Some(1000));
        assert_eq!(Number::parse("55.50").unwrap().unwrap().int(), None);
        assert_eq!(Number::parse("55.0").unwrap().unwrap().int(), Some(55));
        assert_eq!(Number::parse("-5").unwrap().unwrap().int(), Some(-5));
        assert_eq!(Number::parse("10e-3").unwrap().unwrap().int(), None);
        assert_eq!(Number::parse(".5").unwrap().unwrap().value(), 0.5);
        assert_eq!(Number::parse("1e400"), Some(Err(())));
        for not in [
            "", "+", "-", ".", "1.2.3", "1a", "e5", "inf", "NaN", "1e", "0x1",
        ] {
            assert!(
                Number::parse(not).is_none() || not == "1e",
                "{not} parsed as number"
            );
        }
    }

    #[test]
    fn exponent_without_digits_is_not_a_number() {
        assert!(Number::parse("1e").is_none());
        assert!(Number::parse("1e+").is_none());
    }

    #[test]
    fn number_text_follows_java() {
        let t = |n: EventNumber| n.text().as_str().to_owned();
        assert_eq!(t(EventNumber::UInt(1)), "1");
        assert_eq!(t(EventNumber::Int(-42)), "-42");
        assert_eq!(t(EventNumber::Float(1.0)), "1.0");
        assert_eq!(t(EventNumber::Float(55.5)), "55.5");
        assert_eq!(t(EventNumber::Float(0.0)), "0.0");
        assert_eq!(t(EventNumber::Float(1e10)), "1.0E10");
        assert_eq!(t(EventNumber::Float(1.5e-5)), "1.5E-5");
        assert_eq!(t(EventNumber::Float(1234567.0)), "1234567.0");
    }

    #[test]
    fn tokens_use_the_pattern_grammar() {
        assert_eq!(parse_token_number(b"1.0"), Some(1.0));
        assert_eq!(parse_token_number(b"-1534"), Some(-1534.0));
        assert_eq!(parse_token_number(b"inf"), None);
        assert_eq!(parse_token_number(b"1_000"), None);
        assert_eq!(parse_token_number(b"-"), None);
    }
}
