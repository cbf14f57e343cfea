//! Which card field each column fills: header → field path.
//!
//! A header is recognised, after normalising it (whitespace dropped, full-width
//! letters and brackets made half-width, a required-field `*` dropped, ASCII lower
//! case), as: a field path itself (`basic.phone`); a field's own label from the card
//! schema (`card::schema()`: 客户名称, 税号, 信用限度, 纬度 …, 区域 for the territory,
//! 备注 for the notes), or a contact field's label after 联系人 (联系人手机); then the
//! synonyms in [`SYNONYMS`] (公司名称, 联系电话, 纳税人识别号, 等级 …); then the same
//! with a trailing unit in brackets dropped (信用额度(元)). A column 月销售额 2026-10 is
//! that month's sales, 标签 the tags. Explicit `列名=field.path` entries win over all
//! of it. A column nothing matches is unknown: the import reports it and refuses to
//! run until it is mapped or ignored (`列名=ignore`).

use serde::Serialize;

use super::error::TransferError;
use crate::card::{self, Contact, Record};
use crate::ids::YearMonth;

/// What one column fills on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum ColumnTarget {
    /// A field of the card by path: `territory`, `notes`, or `<section>.<field>`.
    Field(String),
    /// A field of the row's one contact (联系人), by key (`name`, `mobile` …).
    Contact(&'static str),
    /// The card's tags, separated by `,`, `，`, `、` or `;`.
    Tags,
    /// The sales figure of one month.
    Sales(YearMonth),
    /// Nothing: the column is left out on purpose.
    Ignore,
}

impl ColumnTarget {
    /// The path people type for it: `basic.name`, `contacts.*.mobile`, `tags`,
    /// `sales.2026-10`, `ignore`.
    pub fn path(&self) -> String {
        match self {
            ColumnTarget::Field(p) => p.clone(),
            ColumnTarget::Contact(k) => format!("contacts.*.{k}"),
            ColumnTarget::Tags => "tags".into(),
            ColumnTarget::Sales(m) => format!("sales.{m}"),
            ColumnTarget::Ignore => "ignore".into(),
        }
    }

    /// Parse a path as `--map` takes it (`contacts.mobile` is `contacts.*.mobile`).
    pub fn parse(path: &str) -> Option<ColumnTarget> {
        let path = path.trim();
        match path {
            "ignore" | "-" => return Some(ColumnTarget::Ignore),
            "tags" => return Some(ColumnTarget::Tags),
            "territory" | "notes" => return Some(ColumnTarget::Field(path.into())),
            _ => {}
        }
        if let Some(month) = path.strip_prefix("sales.") {
            return month.parse().ok().map(ColumnTarget::Sales);
        }
        if let Some(key) = path
            .strip_prefix("contacts.*.")
            .or_else(|| path.strip_prefix("contacts."))
        {
            return Contact::FIELDS
                .iter()
                .find(|f| f.key == key)
                .map(|f| ColumnTarget::Contact(f.key));
        }
        card::schema()
            .into_iter()
            .find(|f| f.path == path && !f.path.contains(".*."))
            .map(|f| ColumnTarget::Field(f.path))
    }
}

impl From<ColumnTarget> for String {
    fn from(t: ColumnTarget) -> String {
        t.path()
    }
}

/// Synonyms of the schema's labels seen in companies' own spreadsheets: `(header, path)`.
pub const SYNONYMS: &[(&str, &str)] = &[
    ("公司名称", "basic.name"),
    ("名称", "basic.name"),
    ("客户名", "basic.name"),
    ("客户", "basic.name"),
    ("单位名称", "basic.name"),
    ("企业名称", "basic.name"),
    ("客户全称", "basic.name"),
    ("联系电话", "basic.phone"),
    ("公司电话", "basic.phone"),
    ("座机", "basic.phone"),
    ("固定电话", "basic.phone"),
    ("详细地址", "basic.address"),
    ("公司地址", "basic.address"),
    ("联系地址", "basic.address"),
    ("纳税人识别号", "basic.tax_no"),
    ("统一社会信用代码", "basic.tax_no"),
    ("客户编码", "basic.customer_no"),
    ("编号", "basic.customer_no"),
    ("所在城市", "basic.city"),
    ("邮政编码", "basic.postcode"),
    ("法人", "basic.legal_rep"),
    ("法定代表人", "basic.legal_rep"),
    ("所属行业", "basic.industry"),
    ("销售区域", "territory"),
    ("所属区域", "territory"),
    ("片区", "location.route_area"),
    ("分类", "classification.abc"),
    ("等级", "classification.abc"),
    ("客户等级", "classification.abc"),
    ("客户分类", "classification.abc"),
    ("abc", "classification.abc"),
    ("信用额度", "credit.credit_limit"),
    ("授信额度", "credit.credit_limit"),
    ("账期", "credit.credit_term_days"),
    ("信用期限", "credit.credit_term_days"),
    ("联系人姓名", "contacts.*.name"),
    ("手机", "contacts.*.mobile"),
    ("手机号", "contacts.*.mobile"),
    ("职务", "contacts.*.title"),
    ("邮箱", "contacts.*.email"),
    ("电子邮箱", "contacts.*.email"),
    ("email", "contacts.*.email"),
    ("微信", "contacts.*.wechat"),
    ("微信号", "contacts.*.wechat"),
];

/// The header of a contact field in exports and what it is recognised by: 联系人 for
/// the name, 联系人 + the field's label for the others (联系人手机).
pub fn contact_header(key: &str) -> Option<String> {
    let f = Contact::FIELDS.iter().find(|f| f.key == key)?;
    Some(if key == "name" {
        "联系人".to_string()
    } else {
        format!("联系人{}", f.label)
    })
}

/// The prefix of a month's sales column: `月销售额 2026-10`.
pub const SALES_HEADER: &str = "月销售额";

/// A header as it is compared.
pub fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}' && *c != '*')
        .map(|c| match c {
            // Full-width ASCII (Ａ, （, ：) to half-width.
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            _ => c,
        })
        .collect::<String>()
        .trim_end_matches(':')
        .to_ascii_lowercase()
}

/// Every recognised header (normalised) and its target, labels before synonyms.
fn known_headers() -> Vec<(String, ColumnTarget)> {
    let mut out = Vec::new();
    for f in card::schema() {
        if f.path.contains(".*.") {
            continue;
        }
        if let Some(t) = ColumnTarget::parse(&f.path) {
            out.push((normalise(f.info.label), t));
        }
    }
    for f in Contact::FIELDS {
        if let Some(h) = contact_header(f.key) {
            out.push((normalise(&h), ColumnTarget::Contact(f.key)));
        }
    }
    out.push((normalise("标签"), ColumnTarget::Tags));
    for (h, p) in SYNONYMS {
        if let Some(t) = ColumnTarget::parse(p) {
            out.push((normalise(h), t));
        }
    }
    out
}

/// Drop a trailing bracketed unit: 信用额度(元) → 信用额度.
fn without_unit(h: &str) -> Option<&str> {
    let open = h.rfind('(')?;
    (h.ends_with(')') && open > 0).then(|| &h[..open])
}

/// Recognise one header (see the module docs), without overrides.
pub fn recognise(header: &str) -> Option<ColumnTarget> {
    let h = normalise(header);
    if h.is_empty() {
        return None;
    }
    if let Some(t) = ColumnTarget::parse(&h).filter(|t| *t != ColumnTarget::Ignore) {
        return Some(t);
    }
    if let Some(month) = h
        .strip_prefix(SALES_HEADER)
        .or_else(|| h.strip_suffix(SALES_HEADER))
        .or_else(|| h.strip_prefix("销售额"))
        && let Ok(m) = month.parse::<YearMonth>()
    {
        return Some(ColumnTarget::Sales(m));
    }
    let known = known_headers();
    let find = |h: &str| {
        known
            .iter()
            .find(|(k, _)| k == h || without_unit(k) == Some(h))
            .map(|(_, t)| t.clone())
    };
    find(&h).or_else(|| without_unit(&h).and_then(find))
}

/// How a column's target was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// From its header.
    Header,
    /// From an explicit `列名=field.path`.
    Explicit,
    /// Not at all.
    Unknown,
}

/// One column of the file and what it fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedColumn {
    /// The column, 1-based.
    pub column: u32,
    /// Its header as the file has it.
    pub header: String,
    /// What it fills; `None` when unknown.
    pub target: Option<ColumnTarget>,
    /// How the target was found.
    pub by: MatchedBy,
}

/// Every column of a file and what it fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// The columns, in file order.
    pub columns: Vec<MappedColumn>,
}

impl Mapping {
    /// Map `headers`, explicit `(header, path)` entries first. Refuses an entry naming no
    /// header of the file or no card field, and two columns filling one field.
    pub fn new(
        headers: &[String],
        explicit: &[(String, String)],
    ) -> Result<Mapping, TransferError> {
        let mut columns: Vec<MappedColumn> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let target = recognise(h);
                MappedColumn {
                    column: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    header: h.clone(),
                    by: if target.is_some() {
                        MatchedBy::Header
                    } else {
                        MatchedBy::Unknown
                    },
                    target,
                }
            })
            .collect();
        for (header, path) in explicit {
            let target = ColumnTarget::parse(path).ok_or_else(|| {
                TransferError::BadMapping(format!(
                    "{path:?} is no card field (see `fieldbook fields`; contacts.*.mobile, tags, sales.2026-10, ignore)"
                ))
            })?;
            let wanted = normalise(header);
            let mut found = false;
            for c in columns
                .iter_mut()
                .filter(|c| normalise(&c.header) == wanted)
            {
                c.target = Some(target.clone());
                c.by = MatchedBy::Explicit;
                found = true;
            }
            if !found {
                return Err(TransferError::BadMapping(format!(
                    "the file has no column {header:?}"
                )));
            }
        }
        for (i, a) in columns.iter().enumerate() {
            let Some(t) = a.target.as_ref().filter(|t| **t != ColumnTarget::Ignore) else {
                continue;
            };
            if let Some(b) = columns[i + 1..]
                .iter()
                .find(|b| b.target.as_ref() == Some(t))
            {
                return Err(TransferError::BadMapping(format!(
                    "columns {} and {} both fill {}: map one elsewhere or to ignore",
                    a.column,
                    b.column,
                    t.path()
                )));
            }
        }
        Ok(Mapping { columns })
    }

    /// The columns nothing matched, 1-based.
    pub fn unknown(&self) -> Vec<u32> {
        self.columns
            .iter()
            .filter(|c| c.target.is_none())
            .map(|c| c.column)
            .collect()
    }

    /// Parse `列名=field.path` as people type it.
    pub fn parse_entry(entry: &str) -> Result<(String, String), TransferError> {
        match entry.rsplit_once('=') {
            Some((h, p)) if !h.trim().is_empty() && !p.trim().is_empty() => {
                Ok((h.trim().to_string(), p.trim().to_string()))
            }
            _ => Err(TransferError::BadMapping(format!(
                "{entry:?} is not 列名=field.path, e.g. 客户全称=basic.name"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(h: &str) -> Option<String> {
        recognise(h).map(|t| t.path())
    }

    #[test]
    fn chinese_headers_are_recognised() {
        for (h, p) in [
            ("客户名称", "basic.name"),
            ("公司名称", "basic.name"),
            ("名称", "basic.name"),
            ("电话", "basic.phone"),
            ("联系电话", "basic.phone"),
            ("地址", "basic.address"),
            ("税号", "basic.tax_no"),
            ("纳税人识别号", "basic.tax_no"),
            ("区域", "territory"),
            ("路线区域", "location.route_area"),
            ("分类", "classification.abc"),
            ("等级", "classification.abc"),
            ("ABC分类", "classification.abc"),
            ("信用额度", "credit.credit_limit"),
            ("信用额度（元）", "credit.credit_limit"),
            ("信用限度", "credit.credit_limit"),
            ("信用期限", "credit.credit_term_days"),
            ("联系人", "contacts.*.name"),
            ("联系人电话", "contacts.*.phone"),
            ("联系人手机", "contacts.*.mobile"),
            ("纬度", "location.lat"),
            ("经度", "location.lon"),
            (" 客户名称* ", "basic.name"),
            ("营业面积(㎡)", "operating.floor_space_m2"),
            ("备注", "notes"),
            ("标签", "tags"),
            ("月销售额 2026-10", "sales.2026-10"),
            ("basic.fax", "basic.fax"),
        ] {
            if p == "basic.fax" {
                assert_eq!(target(h), None, "no such field");
                continue;
            }
            assert_eq!(target(h).as_deref(), Some(p), "{h}");
        }
        assert_eq!(target("备用字段"), None);
    }

    #[test]
    fn every_schema_label_maps_to_its_own_field() {
        for f in card::schema() {
            if f.path.contains(".*.") {
                continue;
            }
            assert_eq!(
                target(f.info.label).as_deref(),
                Some(f.path.as_str()),
                "{}",
                f.info.label
            );
        }
        for f in Contact::FIELDS {
            let h = contact_header(f.key).expect("header");
            assert_eq!(target(&h), Some(format!("contacts.*.{}", f.key)), "{h}");
        }
    }

    #[test]
    fn explicit_entries_win_and_bad_ones_are_refused() {
        let headers: Vec<String> = ["机构全名", "电话", "销售员"].map(String::from).to_vec();
        let m = Mapping::new(&headers, &[]).expect("map");
        assert_eq!(m.unknown(), [1, 3]);
        let m = Mapping::new(
            &headers,
            &[
                ("机构全名".into(), "basic.name".into()),
                ("销售员".into(), "ignore".into()),
            ],
        )
        .expect("map");
        assert!(m.unknown().is_empty());
        assert_eq!(m.columns[0].by, MatchedBy::Explicit);
        let e =
            Mapping::new(&headers, &[("没有".into(), "basic.name".into())]).expect_err("refused");
        assert_eq!(e.code(), "import.bad_mapping");
        let e =
            Mapping::new(&headers, &[("销售员".into(), "basic.nope".into())]).expect_err("refused");
        assert_eq!(e.code(), "import.bad_mapping");
        let twice: Vec<String> = ["电话", "联系电话"].map(String::from).to_vec();
        let e = Mapping::new(&twice, &[]).expect_err("refused");
        assert!(e.to_string().contains("columns 1 and 2"), "{e}");
        assert!(Mapping::parse_entry("列名").is_err());
        assert_eq!(
            Mapping::parse_entry("手机号码=contacts.mobile").expect("entry"),
            ("手机号码".into(), "contacts.mobile".into())
        );
    }
}
