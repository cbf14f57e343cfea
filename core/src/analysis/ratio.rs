//! An exact fixed-point ratio for the analysis results (shares, margins, turnover).
//!
//! The methods divide exact amounts (fen) by exact amounts; a float would make the
//! seeds' round figures (80%, 15%, 5%) come out as 0.7999…. A [`Ratio`] is the
//! quotient rounded once, half away from zero, to ten-thousandths, so a share of 80%
//! is exactly `8000` and crosses the FFI and JSON as a plain integer.

use serde::{Deserialize, Serialize};

/// A ratio in ten-thousandths (`10000` = 1 = 100%, `2500` = 0.25 = 25%; for a
/// percentage share this is basis points). Serialized as that integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ratio(i64);

impl Ratio {
    /// One (100%).
    pub const ONE: Ratio = Ratio(10_000);
    /// Zero.
    pub const ZERO: Ratio = Ratio(0);

    /// `numerator ÷ denominator`, rounded half away from zero to ten-thousandths;
    /// `None` when the denominator is zero or the result does not fit.
    pub fn of(numerator: i128, denominator: i128) -> Option<Ratio> {
        if denominator == 0 {
            return None;
        }
        let scaled = numerator.checked_mul(10_000)?;
        let (n, d) = if denominator < 0 {
            (scaled.checked_neg()?, denominator.checked_neg()?)
        } else {
            (scaled, denominator)
        };
        let half = d / 2;
        let q = if n >= 0 {
            n.checked_add(half)? / d
        } else {
            -(n.checked_neg()?.checked_add(half)? / d)
        };
        i64::try_from(q).ok().map(Ratio)
    }

    /// A ratio given in ten-thousandths.
    pub const fn from_e4(e4: i64) -> Ratio {
        Ratio(e4)
    }

    /// The ratio in ten-thousandths.
    pub const fn e4(self) -> i64 {
        self.0
    }

    /// The ratio as a float, for charts only (never for further exact arithmetic).
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 10_000.0
    }
}

impl std::fmt::Display for Ratio {
    /// As a percentage with two decimals: `80.00%`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}%", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_once_half_away_from_zero() {
        assert_eq!(Ratio::of(4, 5), Some(Ratio::from_e4(8000)));
        assert_eq!(Ratio::of(1, 3), Some(Ratio::from_e4(3333)));
        assert_eq!(Ratio::of(2, 3), Some(Ratio::from_e4(6667)));
        assert_eq!(Ratio::of(1, 20_000), Some(Ratio::from_e4(1)));
        assert_eq!(Ratio::of(-1, 20_000), Some(Ratio::from_e4(-1)));
        assert_eq!(Ratio::of(1, -3), Some(Ratio::from_e4(-3333)));
        assert_eq!(Ratio::of(7, 0), None);
        assert_eq!(Ratio::of(i128::MAX, 1), None);
        assert_eq!(Ratio::from_e4(8000).to_string(), "80.00%");
        assert_eq!(Ratio::from_e4(-125).to_string(), "-1.25%");
    }
}
