//! Scalar field types and their validation.
//!
//! Every scalar fact on a card (a phone, a credit limit, a founding date) is a Rust
//! type implementing [`Scalar`]: how it is parsed from what a person typed and how it
//! is shown; how it is stored as an Automerge scalar is the crate-private `Stored`. Validation lives in the
//! types (a [`Latitude`] cannot hold 123), so no invalid value reaches a document.

use std::fmt;

use automerge::ScalarValue;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// How a [`Scalar`] is stored as an Automerge scalar. Crate-private: raw
/// Automerge types never leave core's public API (ARCHITECTURE.md).
pub(crate) trait Stored: Scalar {
    /// The Automerge representation.
    fn to_scalar(&self) -> ScalarValue;
    /// Read back; `None` if the stored value has another type (e.g. written by a
    /// newer app): the field then reads as empty rather than failing the card.
    fn from_scalar(value: &ScalarValue) -> Option<Self>;
}

/// The longest single-line value accepted, in characters. Longer text belongs in notes.
pub const MAX_LINE_CHARS: usize = 2_000;

/// The kind of a field, for generic tooling (the CLI's `fields`, the FFI, dashboards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A short line of text.
    Str,
    /// Free text edited at length; merged character by character.
    Text,
    /// A whole number.
    Int,
    /// A non-negative whole number.
    Count,
    /// A non-negative amount of money in yuan with two decimals.
    Money,
    /// A calendar date.
    Date,
    /// A point in time.
    Timestamp,
    /// Degrees of latitude.
    Latitude,
    /// Degrees of longitude.
    Longitude,
    /// Day of the month, 1 to 31.
    DayOfMonth,
    /// Yes or no.
    Bool,
    /// One of a fixed set of codes.
    Choice,
}

/// A value of one register of a card: its kind, how it is parsed from what a
/// person typed and how it is shown. How it is stored is core's business
/// (`Stored`, crate-private), so no Automerge type appears here.
pub trait Scalar: Clone + PartialEq + fmt::Debug + Sized {
    /// The kind, for generic tooling.
    const KIND: FieldKind;
    /// Parse what a person typed; `Err` carries the reason in words.
    fn parse(input: &str) -> Result<Self, String>;
    /// Show the value as a person would type it (round-trips through `parse`).
    fn display(&self) -> String;
}

impl Scalar for String {
    const KIND: FieldKind = FieldKind::Str;
    fn parse(input: &str) -> Result<Self, String> {
        let trimmed = input.trim();
        if trimmed.chars().count() > MAX_LINE_CHARS {
            return Err(format!("longer than {MAX_LINE_CHARS} characters"));
        }
        Ok(trimmed.to_string())
    }
    fn display(&self) -> String {
        self.clone()
    }
}

impl Stored for String {
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Str(self.as_str().into())
    }
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        }
    }
}

impl Scalar for i64 {
    const KIND: FieldKind = FieldKind::Int;
    fn parse(input: &str) -> Result<Self, String> {
        input
            .trim()
            .parse()
            .map_err(|_| format!("{input:?} is not a whole number"))
    }
    fn display(&self) -> String {
        self.to_string()
    }
}

impl Stored for i64 {
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Int(*self)
    }
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Int(i) => Some(*i),
            ScalarValue::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }
}

impl Scalar for bool {
    const KIND: FieldKind = FieldKind::Bool;
    fn parse(input: &str) -> Result<Self, String> {
        match input.trim().to_lowercase().as_str() {
            "yes" | "true" | "y" | "1" | "是" => Ok(true),
            "no" | "false" | "n" | "0" | "否" => Ok(false),
            _ => Err(format!("{input:?} is not yes or no")),
        }
    }
    fn display(&self) -> String {
        if *self { "yes" } else { "no" }.to_string()
    }
}

impl Stored for bool {
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Boolean(*self)
    }
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }
}

impl Scalar for NaiveDate {
    const KIND: FieldKind = FieldKind::Date;
    fn parse(input: &str) -> Result<Self, String> {
        NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d")
            .map_err(|_| format!("{input:?} is not a date like 2026-11-23"))
    }
    fn display(&self) -> String {
        self.format("%Y-%m-%d").to_string()
    }
}

impl Stored for NaiveDate {
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Str(self.format("%Y-%m-%d").to_string().into())
    }
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Str(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
            _ => None,
        }
    }
}

impl Scalar for DateTime<Utc> {
    const KIND: FieldKind = FieldKind::Timestamp;
    fn parse(input: &str) -> Result<Self, String> {
        let input = input.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(input) {
            return Ok(t.with_timezone(&Utc));
        }
        for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(input, format) {
                return Ok(t.and_utc());
            }
        }
        Err(format!(
            "{input:?} is not a time like 2026-11-23T09:30:00+08:00"
        ))
    }
    fn display(&self) -> String {
        self.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

impl Stored for DateTime<Utc> {
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Timestamp(self.timestamp_millis())
    }
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Timestamp(ms) | ScalarValue::Int(ms) => {
                DateTime::from_timestamp_millis(*ms)
            }
            _ => None,
        }
    }
}

/// A non-negative amount of money, held in fen (hundredths of a yuan) so sums are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Money(i64);

impl Money {
    /// Zero yuan.
    pub const ZERO: Money = Money(0);
    /// An amount in fen; negative amounts are refused.
    pub fn from_fen(fen: i64) -> Result<Money, String> {
        if fen < 0 {
            Err("an amount cannot be negative".into())
        } else {
            Ok(Money(fen))
        }
    }
    /// A whole number of yuan.
    pub fn yuan(yuan: i64) -> Result<Money, String> {
        yuan.checked_mul(100)
            .ok_or_else(|| "amount too large".to_string())
            .and_then(Money::from_fen)
    }
    /// The amount in fen.
    pub fn fen(self) -> i64 {
        self.0
    }
    /// Saturating sum, for reports.
    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }
}

impl Scalar for Money {
    const KIND: FieldKind = FieldKind::Money;
    fn parse(input: &str) -> Result<Self, String> {
        let cleaned: String = input
            .trim()
            .trim_start_matches(['¥', '￥'])
            .chars()
            .filter(|c| *c != ',' && *c != '_')
            .collect();
        let bad = || format!("{input:?} is not an amount like 12000 or 12000.50");
        if cleaned.starts_with('-') {
            return Err("an amount cannot be negative".into());
        }
        let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
        if whole.is_empty() || frac.len() > 2 || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<2}").parse().map_err(|_| bad())?
        };
        whole
            .checked_mul(100)
            .and_then(|f| f.checked_add(frac))
            .ok_or_else(|| "amount too large".to_string())
            .and_then(Money::from_fen)
    }
    fn display(&self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Stored for Money {
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Int(self.0)
    }
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        i64::from_scalar(value).and_then(|fen| Money::from_fen(fen).ok())
    }
}

/// A count of things: staff, years, square metres. Never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Count(pub u32);

impl Scalar for Count {
    const KIND: FieldKind = FieldKind::Count;
    fn parse(input: &str) -> Result<Self, String> {
        input
            .trim()
            .parse()
            .map(Count)
            .map_err(|_| format!("{input:?} is not a whole number of 0 or more"))
    }
    fn display(&self) -> String {
        self.0.to_string()
    }
}

impl Stored for Count {
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Int(i64::from(self.0))
    }
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        i64::from_scalar(value)
            .and_then(|i| u32::try_from(i).ok())
            .map(Count)
    }
}

/// Day of the month on which accounts settle, 1 to 31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayOfMonth(u8);

impl DayOfMonth {
    /// A day between 1 and 31.
    pub fn new(day: u8) -> Result<Self, String> {
        if (1..=31).contains(&day) {
            Ok(DayOfMonth(day))
        } else {
            Err(format!("{day} is not a day of the month (1 to 31)"))
        }
    }
    /// The day number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Scalar for DayOfMonth {
    const KIND: FieldKind = FieldKind::DayOfMonth;
    fn parse(input: &str) -> Result<Self, String> {
        let day: u8 = input
            .trim()
            .parse()
            .map_err(|_| format!("{input:?} is not a day of the month (1 to 31)"))?;
        DayOfMonth::new(day)
    }
    fn display(&self) -> String {
        self.0.to_string()
    }
}

impl Stored for DayOfMonth {
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Int(i64::from(self.0))
    }
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        i64::from_scalar(value)
            .and_then(|i| u8::try_from(i).ok())
            .and_then(|d| DayOfMonth::new(d).ok())
    }
}

macro_rules! degrees {
    ($name:ident, $kind:ident, $limit:expr, $what:literal) => {
        #[doc = concat!("Degrees of ", $what, ", validated to ±", stringify!($limit), ".")]
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
        pub struct $name(f64);

        impl $name {
            #[doc = concat!("A ", $what, "; out of range or not finite is refused.")]
            pub fn new(degrees: f64) -> Result<Self, String> {
                if degrees.is_finite() && degrees.abs() <= $limit {
                    Ok($name(degrees))
                } else {
                    Err(format!(
                        concat!("{} is not a ", $what, " (-{} to {})"),
                        degrees, $limit, $limit
                    ))
                }
            }
            /// The value in degrees.
            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl Scalar for $name {
            const KIND: FieldKind = FieldKind::$kind;
            fn parse(input: &str) -> Result<Self, String> {
                let f: f64 = input
                    .trim()
                    .parse()
                    .map_err(|_| format!(concat!("{:?} is not a ", $what), input))?;
                $name::new(f)
            }
            fn display(&self) -> String {
                format!("{:.6}", self.0)
            }
        }

        impl Stored for $name {
            fn to_scalar(&self) -> ScalarValue {
                ScalarValue::F64(self.0)
            }
            fn from_scalar(value: &ScalarValue) -> Option<Self> {
                match value {
                    ScalarValue::F64(f) => $name::new(*f).ok(),
                    _ => None,
                }
            }
        }
    };
}

degrees!(Latitude, Latitude, 90.0, "latitude");
degrees!(Longitude, Longitude, 180.0, "longitude");

/// Declares an enum of fixed codes stored as strings, with Chinese labels.
/// Parsing accepts the code or the label, so a rep can type either.
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal / $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stable code stored in documents.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
            /// The Chinese label shown to people.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
            /// Look up by code or label.
            pub fn from_code(s: &str) -> Option<Self> {
                let s = s.trim();
                $name::ALL.iter().copied().find(|v| v.code().eq_ignore_ascii_case(s) || v.label() == s)
            }
        }

        impl Scalar for $name {
            const KIND: FieldKind = FieldKind::Choice;
            fn parse(input: &str) -> Result<Self, String> {
                $name::from_code(input).ok_or_else(|| {
                    let codes: Vec<String> = $name::ALL.iter().map(|v| format!("{} ({})", v.code(), v.label())).collect();
                    format!("{:?} is not one of: {}", input, codes.join(", "))
                })
            }
            fn display(&self) -> String {
                self.code().to_string()
            }
        }

        impl Stored for $name {
            fn to_scalar(&self) -> ScalarValue {
                ScalarValue::Str(self.code().into())
            }
            fn from_scalar(value: &ScalarValue) -> Option<Self> {
                match value {
                    ScalarValue::Str(s) => $name::from_code(s),
                    _ => None,
                }
            }
        }
    };
}

choice!(
    /// Classification by nature.
    Nature {
        /// 政府机关
        Government = "government" / "政府机关",
        /// 特殊公司
        Special = "special" / "特殊公司",
        /// 普通公司
        Company = "company" / "普通公司",
        /// 个人
        Individual = "individual" / "个人",
    }
);

choice!(
    /// Classification by transaction stage.
    TradeStage {
        /// 过去客户
        Past = "past" / "过去客户",
        /// 现在客户
        Current = "current" / "现在客户",
        /// 未来客户 (prospect)
        Prospect = "prospect" / "未来客户",
    }
);

choice!(
    /// Classification by volume and position.
    Volume {
        /// 主力客户
        Key = "key" / "主力客户",
        /// 一般客户
        Ordinary = "ordinary" / "一般客户",
        /// 零散客户
        Scattered = "scattered" / "零散客户",
    }
);

choice!(
    /// ABC class (ABC分类法) or prospect class A–D.
    Class {
        /// A
        A = "A" / "A类",
        /// B
        B = "B" / "B类",
        /// C
        C = "C" / "C类",
        /// D (prospects only)
        D = "D" / "D类",
    }
);

choice!(
    /// What kind of contact a visit-log entry records.
    VisitKind {
        /// 拜访
        Visit = "visit" / "拜访",
        /// 电话
        Call = "call" / "电话",
        /// 送货
        Delivery = "delivery" / "送货",
        /// 收款
        Collection = "collection" / "收款",
        /// 其他
        Other = "other" / "其他",
    }
);

choice!(
    /// Stage of a sales opportunity.
    OppStage {
        /// 初次接触
        FirstContact = "first_contact" / "初次接触",
        /// 样品测试
        SampleTest = "sample_test" / "样品测试",
        /// 商务谈判
        Negotiation = "negotiation" / "商务谈判",
        /// 签订合同
        Contract = "contract" / "签订合同",
        /// 赢单
        Won = "won" / "赢单",
        /// 丢单
        Lost = "lost" / "丢单",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_and_round_trips() {
        let m = Money::parse("¥12,345.6").expect("valid");
        assert_eq!(m.fen(), 1_234_560);
        assert_eq!(m.display(), "12345.60");
        assert_eq!(Money::parse(&m.display()), Ok(m));
        assert!(Money::parse("-5").is_err());
        assert!(Money::parse("1.234").is_err());
        assert!(Money::parse("abc").is_err());
    }

    #[test]
    fn coordinates_are_bounded() {
        assert!(Latitude::parse("123").is_err());
        assert!(Latitude::parse("31.2304").is_ok());
        assert!(Longitude::parse("181").is_err());
        assert!(Latitude::new(f64::NAN).is_err());
    }

    #[test]
    fn dates_and_choices() {
        assert!(NaiveDate::parse("2026-02-30").is_err());
        assert_eq!(Class::parse("A类"), Ok(Class::A));
        assert_eq!(Class::parse("b"), Ok(Class::B));
        assert!(Class::parse("E").is_err());
        assert_eq!(OppStage::parse("商务谈判"), Ok(OppStage::Negotiation));
    }

    proptest::proptest! {
        #[test]
        fn money_display_parse_round_trip(fen in 0i64..=i64::MAX / 200) {
            let m = Money::from_fen(fen).expect("non-negative");
            proptest::prop_assert_eq!(Money::parse(&m.display()), Ok(m));
        }
    }
}
