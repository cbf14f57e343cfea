//! Duplicate customer cards (issue 9, "Duplicates"): cards created offline on two
//! devices for the same customer, found by the same tax number (税号 / 营业执照号: the
//! 18-character 统一社会信用代码), the same phone, or a similar name. Detection only;
//! merging is later work.
//!
//! Owns the normal forms the comparison uses ([`normalize_name`], [`normalize_phone`],
//! [`normalize_tax_id`]) and [`find_duplicates`].
//!
//! **Names.** Full-width → half-width, lower case, traditional → simplified (the
//! `fast2s` character table), whitespace and punctuation dropped, then the legal form
//! and trade suffixes (有限公司, 股份有限公司, 集团, 商行, 厂 …) and the leading place
//! (上海市, 浦东新区, 广东省 …, from a list of provinces, big cities and districts) are
//! cut off. The place and a branch (…浦东分公司) are kept beside the core name: two
//! cards match by name only when their places do not differ (a missing place matches
//! any) and their branches are the same. So 上海华东食品有限公司 and 华东食品厂 match, but
//! 上海华东食品 and 北京华东食品 do not (two companies of one name in two cities are
//! common), and neither do 上海华东食品有限公司浦东分公司 and …闵行分公司, nor a head
//! office and its branch: a branch has its own address, contacts and credit code, so it
//! is its own customer. The same phone or tax number still flags such a pair.
//!
//! **Similar names** are scored by the Dice coefficient of the sets of character bigrams
//! of the core names, `2·|A∩B| / (|A|+|B|)`, compared exactly (integers). The default
//! threshold, 85%, takes one wrong last character in a core name of eight or more
//! characters (华东食品贸易发展 / …发屐: 86%) and refuses one different character in
//! a shorter name: in Chinese that is usually another firm (华东食品 / 华南食品: 33%;
//! 永业益康医药 / 明业益康医药: 80%). At 80% the 10,000-card benchmark
//! (`examples/bench_duplicates.rs`) finds about a hundred such false pairs; a typo in a
//! short name is left to the phone and the tax number.
//!
//! **Phones** match when the shorter normalized number, of at least `min_phone_digits`
//! digits, is the end of the longer: 021-62345678 and 62345678 (written without the
//! area code) are one phone; a mobile and a landline never end alike. A phone or tax
//! number on more than `max_block` cards (a chain's hotline) is no reason at all.
//!
//! **Cost.** No comparison of all pairs: cards are blocked by phone (last 8 digits), tax
//! number, core name and name bigram in inverted indexes, and only cards sharing a block
//! are scored. A block larger than `max_block` (a chain's hotline on 300 cards, the
//! bigram 食品) is not a signal and is skipped, which bounds the work at
//! `blocks × max_block²`. Every input string is cut to a bounded length before any
//! processing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::ratio::Ratio;
use crate::card::Card;
use crate::ids::CardId;

/// Longest name (in characters) looked at; the rest of a longer one is ignored.
const MAX_NAME_CHARS: usize = 100;
/// Longest phone or tax number (in characters) looked at.
const MAX_CODE_CHARS: usize = 40;
/// Most phones taken from one card (its own and its contacts').
const MAX_PHONES_PER_CARD: usize = 16;
/// A core name is never cut below this many characters by suffix or place stripping.
const MIN_CORE_CHARS: usize = 2;

/// Legal forms and trade suffixes cut from the end of a name, longest first so that
/// 股份有限公司 goes before 有限公司 and 公司.
const SUFFIXES: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "总公司",
    "公司",
    "集团",
    "商行",
    "商店",
    "经营部",
    "门市部",
    "厂",
];

/// Branch markers: what precedes one (浦东 in …浦东分公司) names the branch.
const BRANCH_MARKERS: &[&str] = &["分公司", "分店", "分厂", "办事处"];

/// Place names that may open a company name, with or without 省/市/区/县.
const PLACES: &[&str] = &[
    // Provinces and province-level municipalities and regions.
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门", // Capitals and big cities.
    "广州",
    "深圳",
    "南京",
    "杭州",
    "苏州",
    "无锡",
    "宁波",
    "温州",
    "合肥",
    "福州",
    "厦门",
    "南昌",
    "济南",
    "青岛",
    "郑州",
    "武汉",
    "长沙",
    "成都",
    "贵阳",
    "昆明",
    "西安",
    "兰州",
    "沈阳",
    "大连",
    "长春",
    "哈尔滨",
    "石家庄",
    "太原",
    "呼和浩特",
    "南宁",
    "海口",
    "拉萨",
    "银川",
    "西宁",
    "乌鲁木齐",
    "东莞",
    "佛山",
    "台北",
    "台中",
    "高雄",
    // Districts of Shanghai and Beijing, the seeds' cities.
    "浦东",
    "浦东新",
    "黄浦",
    "徐汇",
    "长宁",
    "静安",
    "普陀",
    "虹口",
    "杨浦",
    "闵行",
    "宝山",
    "嘉定",
    "金山",
    "松江",
    "青浦",
    "奉贤",
    "崇明",
    "东城",
    "西城",
    "朝阳",
    "海淀",
    "丰台",
    "石景山",
    "通州",
    "顺义",
    "昌平",
    "大兴",
];

/// What may follow a place name.
const PLACE_SUFFIXES: &[&str] = &["新区", "省", "市", "区", "县"];

/// Duplicate-detection settings; `Default` is the starting point justified in the
/// module docs and its tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DuplicateSettings {
    /// Least bigram Dice similarity of two core names, in percent, for a name match.
    pub name_threshold_percent: u32,
    /// Largest block (cards sharing one phone, tax number, name or bigram) that is
    /// compared; a larger one is skipped as no signal.
    pub max_block: u32,
    /// Least digits two phones share at their end to be the same phone.
    pub min_phone_digits: u32,
}

impl Default for DuplicateSettings {
    fn default() -> Self {
        DuplicateSettings {
            name_threshold_percent: 85,
            max_block: 50,
            min_phone_digits: 8,
        }
    }
}

/// Why duplicate settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DuplicatesSettingsError {
    /// The name threshold is outside 50–100%.
    #[error("the name similarity threshold must be 50% to 100%, not {0}%")]
    NameThreshold(u32),
    /// A block of fewer than 2 cards compares nothing.
    #[error("the largest compared block must hold at least 2 cards, not {0}")]
    MaxBlock(u32),
    /// Phones compared on too few or too many digits.
    #[error("phones must be compared on 7 to 11 trailing digits, not {0}")]
    PhoneDigits(u32),
}

impl DuplicateSettings {
    /// Refuses a name threshold outside 50–100%, a `max_block` below 2, and phone
    /// digits outside 7–11.
    pub fn validate(&self) -> Result<(), DuplicatesSettingsError> {
        if !(50..=100).contains(&self.name_threshold_percent) {
            return Err(DuplicatesSettingsError::NameThreshold(
                self.name_threshold_percent,
            ));
        }
        if self.max_block < 2 {
            return Err(DuplicatesSettingsError::MaxBlock(self.max_block));
        }
        if !(7..=11).contains(&self.min_phone_digits) {
            return Err(DuplicatesSettingsError::PhoneDigits(self.min_phone_digits));
        }
        Ok(())
    }
}

/// Why two cards look like the same customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum DuplicateReason {
    /// The same tax number (统一社会信用代码), compared case-insensitively.
    SameTaxId {
        /// The normalized number.
        tax_id: String,
    },
    /// The same phone: the trailing digits of the normalized numbers agree.
    SamePhone {
        /// The shorter of the two normalized numbers.
        phone: String,
    },
    /// Similar names.
    SimilarName {
        /// Bigram Dice similarity of the core names; `Ratio::ONE` when they are equal.
        score: Ratio,
    },
}

/// Two cards that look like the same customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicatePair {
    /// The card with the smaller id.
    pub a: CardId,
    /// The card with the larger id.
    pub b: CardId,
    /// Every reason found, tax id first, then phone, then name.
    pub reasons: Vec<DuplicateReason>,
    /// How sure the match is (`Ratio::ONE` = certain): the reasons combined as
    /// independent evidence, `1 − Π(1 − cᵢ)`, with tax id 0.95, phone 0.80 and a
    /// name its score × 0.85.
    pub confidence: Ratio,
}

/// A name cut into what is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NameParts {
    core: String,
    place: Option<String>,
    branch: Option<String>,
}

/// The core of a customer's name, the part compared for duplicates: normalized
/// characters, without legal form, trade suffix, leading place or branch.
///
/// `normalize_name("上海市華東食品有限公司") == "华东食品"`.
pub fn normalize_name(name: &str) -> String {
    name_parts(name).core
}

/// Full-width → half-width, lower case, traditional → simplified; whitespace and
/// punctuation dropped. Parentheses become boundaries marked by `(`/`)` so a place in
/// them (华东食品（上海）有限公司) can be recognised.
fn clean(name: &str) -> String {
    let half: String = name
        .chars()
        .take(MAX_NAME_CHARS)
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    fast2s::convert(&half)
        .chars()
        .filter_map(|c| match c {
            '(' | '[' | '【' | '〔' => Some('('),
            ')' | ']' | '】' | '〕' => Some(')'),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The place `s` opens with, as (its name without 省/市/区/县, bytes it takes).
fn leading_place(s: &str) -> Option<(&'static str, usize)> {
    let mut best: Option<(&'static str, usize)> = None;
    for place in PLACES {
        if let Some(rest) = s.strip_prefix(place) {
            let extra = PLACE_SUFFIXES
                .iter()
                .find(|suffix| rest.starts_with(*suffix))
                .map_or(0, |suffix| suffix.len());
            let len = place.len() + extra;
            if best.is_none_or(|(_, l)| len > l) {
                best = Some((place.trim_end_matches('新'), len));
            }
        }
    }
    best
}

fn char_count(s: &str) -> usize {
    s.chars().count()
}

fn name_parts(name: &str) -> NameParts {
    let cleaned = clean(name);
    // A parenthesised place goes to `place`; any other parenthesised text stays in.
    let mut place: Option<String> = None;
    let mut text = String::with_capacity(cleaned.len());
    let mut rest = cleaned.as_str();
    while let Some(open) = rest.find('(') {
        text.push_str(&rest[..open]);
        let inner_start = open + 1;
        let close = rest[inner_start..]
            .find(')')
            .map_or(rest.len(), |c| inner_start + c);
        let inner = &rest[inner_start..close];
        match leading_place(inner) {
            Some((p, len)) if len == inner.len() => {
                place.get_or_insert_with(|| p.to_string());
            }
            _ => text.push_str(inner),
        }
        rest = rest.get(close + 1..).unwrap_or("");
    }
    text.push_str(rest);
    let text = text.replace(['(', ')'], "");

    // Branch: …X分公司 (after the head office's legal form, if any).
    let mut body = text.as_str();
    let mut branch = None;
    for marker in BRANCH_MARKERS {
        if let Some(head) = body.strip_suffix(marker) {
            let (head, label) = split_branch(head);
            branch = Some(label.to_string());
            body = head;
            break;
        }
    }

    let mut core = body;
    // Places first, then suffixes, each repeated (上海市浦东新区…, …集团有限公司).
    while let Some((p, len)) = leading_place(core) {
        if char_count(&core[len..]) < MIN_CORE_CHARS {
            break;
        }
        place.get_or_insert_with(|| p.to_string());
        core = &core[len..];
    }
    'strip: loop {
        for suffix in SUFFIXES {
            if let Some(head) = core.strip_suffix(suffix) {
                // The longest suffix decides: 有限公司 alone is not cut to 有限.
                if char_count(head) < MIN_CORE_CHARS {
                    break 'strip;
                }
                core = head;
                continue 'strip;
            }
        }
        break;
    }
    NameParts {
        core: core.to_string(),
        place,
        branch,
    }
}

/// Splits `上海华东食品有限公司浦东` into the head office and the branch label: the
/// label is what follows the last legal-form suffix, or the last two characters when
/// there is none (华东食品浦东 → 华东食品, 浦东).
fn split_branch(head: &str) -> (&str, &str) {
    let mut cut: Option<usize> = None;
    for suffix in SUFFIXES {
        if let Some(pos) = head.rfind(suffix) {
            let end = pos + suffix.len();
            if end < head.len() && cut.is_none_or(|c| end > c) {
                cut = Some(end);
            }
        }
    }
    let cut = cut.unwrap_or_else(|| {
        let chars = char_count(head);
        if chars > MIN_CORE_CHARS + 2 {
            head.char_indices().nth(chars - 2).map_or(0, |(i, _)| i)
        } else {
            0
        }
    });
    (&head[..cut], &head[cut..])
}

/// A phone in its compared form: digits only, without extension, country code (+86,
/// 0086) or trunk 0; `None` when fewer than 7 digits remain.
///
/// `normalize_phone("+86 (021) 6234-5678 转 801") == Some("2162345678")`.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let phone: String = phone
        .chars()
        .take(MAX_CODE_CHARS)
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect::<String>()
        .to_lowercase();
    // The extension starts at 转, ext, x or #.
    let main = ["转", "ext", "x", "#", "分机"]
        .iter()
        .filter_map(|m| phone.find(m))
        .min()
        .map_or(phone.as_str(), |i| &phone[..i]);
    // 021-62345678-801: a third dash group after an area code and a local number is
    // an extension.
    let compact: String = main.chars().filter(|c| !c.is_whitespace()).collect();
    let parts: Vec<&str> = compact.split('-').collect();
    let is_extension = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0].starts_with('0')
        && !parts[0].starts_with("00")
        && (3..=4).contains(&parts[0].len())
        && (7..=8).contains(&parts[1].len())
        && parts[2].len() <= 5;
    let groups: String = if is_extension {
        [parts[0], parts[1]].concat()
    } else {
        main.chars().filter(char::is_ascii_digit).collect()
    };
    let plus = main.trim_start().starts_with('+');
    let mut digits: &str = &groups;
    if let Some(rest) = digits.strip_prefix("0086") {
        digits = rest;
    } else if (plus && digits.starts_with("86"))
        || (digits.len() == 13 && digits.starts_with("861"))
    {
        digits = &digits[2..];
    }
    let digits = digits.trim_start_matches('0');
    (digits.len() >= 7).then(|| digits.to_string())
}

/// A tax number in its compared form: letters and digits only, upper case; `None`
/// unless 15 (the old 营业执照 number) to 20 characters remain.
pub fn normalize_tax_id(tax_id: &str) -> Option<String> {
    let id: String = tax_id
        .chars()
        .take(MAX_CODE_CHARS)
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (15..=20).contains(&id.len()).then_some(id)
}

/// What one card contributes to the comparison.
struct Profile {
    name: Option<NameParts>,
    bigrams: BTreeSet<(char, char)>,
    phones: BTreeSet<String>,
    tax_ids: BTreeSet<String>,
}

fn profile(card: &Card) -> Profile {
    let name = card
        .basic
        .name
        .as_deref()
        .map(name_parts)
        .filter(|p| !p.core.is_empty());
    let bigrams = name
        .as_ref()
        .map(|n| {
            let chars: Vec<char> = n.core.chars().collect();
            chars.windows(2).map(|w| (w[0], w[1])).collect()
        })
        .unwrap_or_default();
    let phones = std::iter::once(card.basic.phone.as_deref())
        .chain(
            card.contacts
                .iter()
                .flat_map(|c| [c.phone.as_deref(), c.mobile.as_deref()]),
        )
        .flatten()
        .take(MAX_PHONES_PER_CARD)
        .filter_map(normalize_phone)
        .collect();
    let tax_ids = [
        card.basic.tax_no.as_deref(),
        card.basic.registration_no.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter_map(normalize_tax_id)
    .collect();
    Profile {
        name,
        bigrams,
        phones,
        tax_ids,
    }
}

/// The last `n` digits of a phone, its block key.
fn phone_key(phone: &str, n: usize) -> Option<&str> {
    phone.len().checked_sub(n).map(|start| &phone[start..])
}

/// The shorter phone when one ends with the other and they share `min` digits.
fn same_phone<'a>(x: &'a str, y: &'a str, min: usize) -> Option<&'a str> {
    let (short, long) = if x.len() <= y.len() { (x, y) } else { (y, x) };
    (short.len() >= min && long.ends_with(short)).then_some(short)
}

/// Bigram Dice similarity; exact comparison with the threshold is done by the caller
/// on the integers.
fn dice_counts(a: &BTreeSet<(char, char)>, b: &BTreeSet<(char, char)>) -> (usize, usize) {
    (a.intersection(b).count(), a.len() + b.len())
}

/// The name reason for two profiles, if their names match.
fn name_reason(x: &Profile, y: &Profile, threshold_percent: u32) -> Option<DuplicateReason> {
    let (nx, ny) = (x.name.as_ref()?, y.name.as_ref()?);
    if nx.branch != ny.branch {
        return None;
    }
    if let (Some(px), Some(py)) = (&nx.place, &ny.place)
        && px != py
    {
        return None;
    }
    if nx.core == ny.core {
        return Some(DuplicateReason::SimilarName { score: Ratio::ONE });
    }
    let (common, total) = dice_counts(&x.bigrams, &y.bigrams);
    if total == 0 {
        return None;
    }
    let common = common as u128;
    let total = total as u128;
    if 2 * common * 100 < u128::from(threshold_percent) * total {
        return None;
    }
    let score = Ratio::of(2 * common as i128, total as i128)?;
    Some(DuplicateReason::SimilarName { score })
}

/// `1 − Π(1 − cᵢ)` in ten-thousandths.
fn confidence(reasons: &[DuplicateReason]) -> Ratio {
    let mut doubt: i128 = 10_000;
    for reason in reasons {
        let c: i128 = match reason {
            DuplicateReason::SameTaxId { .. } => 9_500,
            DuplicateReason::SamePhone { .. } => 8_000,
            DuplicateReason::SimilarName { score } => i128::from(score.e4()) * 85 / 100,
        };
        doubt = doubt * (10_000 - c) / 10_000;
    }
    Ratio::of(10_000 - doubt, 10_000).unwrap_or(Ratio::ONE)
}

/// The pairs of cards that look like the same customer, most certain first (ties by
/// card ids). Cards are blocked by phone, tax number and name bigrams, so the cost is
/// near linear in the number of cards (see the module docs).
pub fn find_duplicates(cards: &[Card], settings: &DuplicateSettings) -> Vec<DuplicatePair> {
    let profiles: Vec<Profile> = cards.iter().map(profile).collect();
    let min_digits = settings.min_phone_digits as usize;
    let max_block = settings.max_block as usize;

    // Block key → card indexes.
    let mut blocks: HashMap<BlockKey, Vec<usize>> = HashMap::new();
    for (i, p) in profiles.iter().enumerate() {
        for phone in &p.phones {
            if let Some(key) = phone_key(phone, min_digits) {
                blocks
                    .entry(BlockKey::Phone(key.to_string()))
                    .or_default()
                    .push(i);
            }
        }
        for tax in &p.tax_ids {
            blocks
                .entry(BlockKey::Tax(tax.clone()))
                .or_default()
                .push(i);
        }
        if let Some(name) = &p.name {
            blocks
                .entry(BlockKey::Name(name.core.clone()))
                .or_default()
                .push(i);
        }
    }

    let mut candidates: Vec<(usize, usize)> = Vec::new();
    // A phone or tax number on more than `max_block` cards is no reason either when the
    // cards meet in another block.
    let mut common: BTreeSet<String> = BTreeSet::new();
    for (key, members) in blocks.iter_mut() {
        members.dedup();
        if members.len() > max_block {
            match key {
                BlockKey::Phone(k) | BlockKey::Tax(k) => {
                    common.insert(k.clone());
                }
                BlockKey::Name(_) => {}
            }
        }
        if members.len() < 2 || members.len() > max_block {
            continue;
        }
        for (k, &i) in members.iter().enumerate() {
            for &j in &members[k + 1..] {
                candidates.push((i.min(j), i.max(j)));
            }
        }
    }
    similar_name_candidates(&profiles, settings, &mut candidates);
    candidates.sort_unstable();
    candidates.dedup();

    let mut pairs: Vec<DuplicatePair> = Vec::new();
    for (i, j) in candidates {
        let (x, y) = (&profiles[i], &profiles[j]);
        if cards[i].id == cards[j].id {
            continue;
        }
        let mut reasons = Vec::new();
        if let Some(tax) = x
            .tax_ids
            .intersection(&y.tax_ids)
            .find(|t| !common.contains(*t))
        {
            reasons.push(DuplicateReason::SameTaxId {
                tax_id: tax.clone(),
            });
        }
        let phone = x
            .phones
            .iter()
            .flat_map(|px| y.phones.iter().map(move |py| (px, py)))
            .filter_map(|(px, py)| same_phone(px, py, min_digits))
            .find(|p| phone_key(p, min_digits).is_some_and(|k| !common.contains(k)));
        if let Some(phone) = phone {
            reasons.push(DuplicateReason::SamePhone {
                phone: phone.to_string(),
            });
        }
        if let Some(reason) = name_reason(x, y, settings.name_threshold_percent) {
            reasons.push(reason);
        }
        if reasons.is_empty() {
            continue;
        }
        let (a, b) = if cards[i].id < cards[j].id {
            (cards[i].id.clone(), cards[j].id.clone())
        } else {
            (cards[j].id.clone(), cards[i].id.clone())
        };
        let confidence = confidence(&reasons);
        pairs.push(DuplicatePair {
            a,
            b,
            reasons,
            confidence,
        });
    }
    pairs.sort_by(|p, q| {
        q.confidence
            .cmp(&p.confidence)
            .then_with(|| (&p.a, &p.b).cmp(&(&q.a, &q.b)))
    });
    pairs.dedup_by(|p, q| p.a == q.a && p.b == q.b);
    pairs
}

/// What cards are blocked by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum BlockKey {
    Phone(String),
    Tax(String),
    Name(String),
}

/// Adds the pairs whose names may reach the threshold: an inverted index from bigram
/// to cards counts, for each card, the bigrams it shares with every later card, and a
/// pair is kept when that count, plus the card's bigrams too common to be indexed (in
/// more than `max_block` cards, which may be shared too), can reach the threshold. So
/// the work is the sum of the indexed postings' squares, not all pairs.
fn similar_name_candidates(
    profiles: &[Profile],
    settings: &DuplicateSettings,
    candidates: &mut Vec<(usize, usize)>,
) {
    let max_block = settings.max_block as usize;
    let threshold = settings.name_threshold_percent as usize;
    let mut postings: HashMap<(char, char), Vec<usize>> = HashMap::new();
    for (i, p) in profiles.iter().enumerate() {
        for &bigram in &p.bigrams {
            postings.entry(bigram).or_default().push(i);
        }
    }
    // Shared-bigram counts of the cards after `i`, dense (a card index is its slot) with
    // the slots touched listed, so clearing costs what counting did.
    let mut shared: Vec<u32> = vec![0; profiles.len()];
    let mut touched: Vec<usize> = Vec::new();
    for (i, p) in profiles.iter().enumerate() {
        let mut unindexed = 0;
        for bigram in &p.bigrams {
            let Some(cards) = postings.get(bigram) else {
                continue;
            };
            if cards.len() > max_block {
                unindexed += 1;
                continue;
            }
            // Postings are in card order: the cards after `i` are a suffix.
            let after = cards.partition_point(|&j| j <= i);
            for &j in &cards[after..] {
                if shared[j] == 0 {
                    touched.push(j);
                }
                shared[j] += 1;
            }
        }
        // In card order, as the pairs are sorted afterwards anyway.
        for &j in &touched {
            let count = shared[j] as usize;
            let total = p.bigrams.len() + profiles[j].bigrams.len();
            if 2 * (count + unindexed) * 100 >= threshold * total {
                candidates.push((i, j));
            }
            shared[j] = 0;
        }
        touched.clear();
    }
}

/// The duplicate pairs as groups of cards (connected pairs), each sorted, groups in
/// the order of their first card; for a list a rep reviews.
pub fn duplicate_groups(pairs: &[DuplicatePair]) -> Vec<Vec<CardId>> {
    let ids: BTreeSet<&CardId> = pairs.iter().flat_map(|p| [&p.a, &p.b]).collect();
    let ids: Vec<&CardId> = ids.into_iter().collect();
    let index: BTreeMap<&CardId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut parent: Vec<usize> = (0..ids.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for pair in pairs {
        if let (Some(&a), Some(&b)) = (index.get(&pair.a), index.get(&pair.b)) {
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            // The smaller index is the root, so a group is named by its first card.
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut groups: BTreeMap<usize, Vec<CardId>> = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push((*id).clone());
    }
    groups.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::card_id;
    use crate::card::Keyed;
    use crate::card::sections::Contact;

    fn card(id: &str, name: &str) -> Card {
        let mut card = Card::new();
        card.id = card_id(id);
        card.basic.name = Some(name.to_string());
        card
    }

    fn with_phone(mut card: Card, phone: &str) -> Card {
        card.basic.phone = Some(phone.to_string());
        card
    }

    fn with_tax(mut card: Card, tax: &str) -> Card {
        card.basic.tax_no = Some(tax.to_string());
        card
    }

    fn found(cards: &[Card]) -> Vec<DuplicatePair> {
        find_duplicates(cards, &DuplicateSettings::default())
    }

    fn name_match(x: &str, y: &str) -> bool {
        !found(&[card("a", x), card("b", y)]).is_empty()
    }

    #[test]
    fn names_normalize_legal_forms_places_and_scripts() {
        for name in [
            "上海华东食品有限公司",
            "上海市华东食品有限公司",
            "华东食品",
            "华东食品有限责任公司",
            "华东食品股份有限公司",
            "華東食品有限公司",
            "上海华东食品厂",
            "华东食品（上海）有限公司",
            " 华东 食品・集团有限公司 ",
            "上海市浦东新区华东食品商行",
        ] {
            assert_eq!(normalize_name(name), "华东食品", "{name}");
        }
        assert_eq!(normalize_name("臺北華東貿易有限公司"), "华东贸易");
        assert_eq!(normalize_name("台北华东贸易"), "华东贸易");
        assert_eq!(normalize_name("ＡＢＣ食品有限公司"), "abc食品");
        // A place alone, or a name that is all suffix, is not cut to nothing.
        assert_eq!(normalize_name("上海市"), "上海市");
        assert_eq!(normalize_name("有限公司"), "有限公司");
        assert_eq!(normalize_name("华南食品有限公司"), "华南食品");
    }

    #[test]
    fn the_issues_name_cases_match() {
        assert!(name_match("上海华东食品有限公司", "华东食品"));
        assert!(name_match("上海市华东食品有限公司", "上海华东食品厂"));
        assert!(name_match("臺北華東貿易有限公司", "台北华东贸易"));
        assert!(name_match("浦东新区华东食品有限公司", "华东食品"));
        // One wrong last character in an eight-character core name (屐 for 展) …
        assert!(name_match("华东食品贸易发展有限公司", "华东食品贸易发屐"));
        // … but not in a six-character one: 80% < 85%, as 永业 / 明业 would be.
        assert!(!name_match("华东食品贸易有限公司", "华东食品贸义"));
        assert!(!name_match("永业益康医药", "明业益康医药"));
        let lax = DuplicateSettings {
            name_threshold_percent: 80,
            ..Default::default()
        };
        let pair = [card("a", "华东食品贸易有限公司"), card("b", "华东食品贸义")];
        assert_eq!(find_duplicates(&pair, &lax).len(), 1);
    }

    #[test]
    fn distinct_customers_do_not_match_by_name() {
        assert!(!name_match("华东食品有限公司", "华南食品有限公司"));
        assert!(!name_match("上海华东食品有限公司", "北京华东食品有限公司"));
        // Branches are their own customers, and so are head office and branch.
        assert!(!name_match(
            "上海华东食品有限公司浦东分公司",
            "上海华东食品有限公司闵行分公司"
        ));
        assert!(!name_match(
            "上海华东食品有限公司",
            "上海华东食品有限公司浦东分公司"
        ));
        assert!(name_match(
            "上海华东食品有限公司浦东分公司",
            "華東食品有限公司浦東分公司"
        ));
    }

    #[test]
    fn phones_normalize_across_formats() {
        let want = Some("2162345678".to_string());
        for phone in [
            "021-62345678",
            "(021) 6234 5678",
            "+86 21 6234 5678",
            "0086-21-62345678",
            "021-62345678 转 801",
            "021-62345678-801",
            "０２１－６２３４５６７８",
            "021 62345678 ext. 12",
        ] {
            assert_eq!(normalize_phone(phone), want, "{phone}");
        }
        for phone in [
            "13812345678",
            "+86 138 1234 5678",
            "8613812345678",
            "0086 13812345678",
        ] {
            assert_eq!(
                normalize_phone(phone).as_deref(),
                Some("13812345678"),
                "{phone}"
            );
        }
        assert_eq!(normalize_phone("110"), None);
        assert_eq!(normalize_phone("无"), None);
    }

    #[test]
    fn same_phone_in_different_formats_is_found() {
        let cards = [
            with_phone(card("a", "华东食品"), "021-6234 5678 转 801"),
            with_phone(card("b", "浦东老王食品店"), "+86 21 62345678"),
            with_phone(card("c", "华南食品"), "62345678"),
            with_phone(card("d", "华北食品"), "021-62345679"),
        ];
        let pairs = found(&cards);
        let ids: Vec<(CardId, CardId)> = pairs.iter().map(|p| (p.a.clone(), p.b.clone())).collect();
        assert_eq!(
            ids,
            vec![
                (card_id("a"), card_id("b")),
                (card_id("a"), card_id("c")),
                (card_id("b"), card_id("c")),
            ]
        );
        assert_eq!(
            pairs[0].reasons,
            vec![DuplicateReason::SamePhone {
                phone: "2162345678".into()
            }]
        );
        assert_eq!(pairs[0].confidence, Ratio::from_e4(8_000));
    }

    #[test]
    fn a_contacts_mobile_matches_the_other_cards_phone() {
        let mut a = card("a", "华东食品");
        a.contacts.push(Keyed {
            id: "c1".into(),
            value: Contact {
                mobile: Some("138 1234 5678".into()),
                ..Default::default()
            },
        });
        let b = with_phone(card("b", "王记商行"), "+8613812345678");
        assert_eq!(found(&[a, b]).len(), 1);
    }

    #[test]
    fn same_tax_id_with_different_names_is_found() {
        let cards = [
            with_tax(card("a", "华东食品有限公司"), "91310115MA1H7ABC2X"),
            with_tax(card("b", "老王副食品批发"), "91310115ma1h7abc2x"),
            with_tax(card("c", "华南食品"), "91310115MA1H7ABC3X"),
        ];
        let pairs = found(&cards);
        assert_eq!(pairs.len(), 1);
        assert_eq!(
            (pairs[0].a.clone(), pairs[0].b.clone()),
            (card_id("a"), card_id("b"))
        );
        assert_eq!(
            pairs[0].reasons,
            vec![DuplicateReason::SameTaxId {
                tax_id: "91310115MA1H7ABC2X".into()
            }]
        );
        assert_eq!(pairs[0].confidence, Ratio::from_e4(9_500));
    }

    #[test]
    fn reasons_combine_and_order_is_most_certain_first() {
        let cards = [
            with_tax(
                with_phone(card("a", "上海华东食品有限公司"), "021-62345678"),
                "91310115MA1H7ABC2X",
            ),
            with_tax(
                with_phone(card("b", "華東食品"), "62345678"),
                "91310115MA1H7ABC2X",
            ),
            card("c", "华东食品贸易发展有限公司"),
            card("d", "华东食品贸易发屐"),
        ];
        let pairs = found(&cards);
        assert_eq!(pairs.len(), 2);
        assert_eq!(
            (pairs[0].a.clone(), pairs[0].b.clone()),
            (card_id("a"), card_id("b"))
        );
        assert_eq!(pairs[0].reasons.len(), 3);
        // 1 − 0.05 × 0.2 × 0.15 = 0.9985
        assert_eq!(pairs[0].confidence, Ratio::from_e4(9_985));
        assert_eq!(
            pairs[1].reasons,
            vec![DuplicateReason::SimilarName {
                score: Ratio::from_e4(8_571)
            }]
        );
        // 12/14 × 0.85
        assert_eq!(pairs[1].confidence, Ratio::from_e4(7_285));
        assert_eq!(
            duplicate_groups(&pairs),
            vec![
                vec![card_id("a"), card_id("b")],
                vec![card_id("c"), card_id("d")]
            ]
        );
    }

    #[test]
    fn a_shared_hotline_on_many_cards_is_no_signal() {
        let first: Vec<char> = "甲乙丙丁戊己".chars().collect();
        let second: Vec<char> = "金木水火土日月星山川".chars().collect();
        let cards: Vec<Card> = (0..60)
            .map(|i| {
                let name = format!("{}{}超市", first[i / 10], second[i % 10]);
                with_phone(card(&format!("h{i:02}"), &name), "400-820-8820")
            })
            .collect();
        assert!(found(&cards).is_empty());
        let small = DuplicateSettings {
            max_block: 100,
            ..Default::default()
        };
        assert_eq!(find_duplicates(&cards, &small).len(), 60 * 59 / 2);
    }

    #[test]
    fn settings_are_validated() {
        assert_eq!(DuplicateSettings::default().validate(), Ok(()));
        let bad = |s: DuplicateSettings| s.validate().is_err();
        assert!(bad(DuplicateSettings {
            name_threshold_percent: 40,
            ..Default::default()
        }));
        assert!(bad(DuplicateSettings {
            name_threshold_percent: 101,
            ..Default::default()
        }));
        assert!(bad(DuplicateSettings {
            max_block: 1,
            ..Default::default()
        }));
        assert!(bad(DuplicateSettings {
            min_phone_digits: 5,
            ..Default::default()
        }));
        let back: DuplicateSettings = serde_json::from_str("{}").expect("settings");
        assert_eq!(back, DuplicateSettings::default());
    }

    #[test]
    fn hostile_input_is_bounded() {
        let long = "華".repeat(100_000);
        assert!(normalize_name(&long).chars().count() <= MAX_NAME_CHARS);
        assert_eq!(
            normalize_phone(&"1".repeat(10_000)),
            Some("1".repeat(MAX_CODE_CHARS))
        );
        assert_eq!(normalize_name("((("), "");
        assert_eq!(normalize_name(")上海("), "上海");
        assert!(found(&[card("a", ""), card("b", "")]).is_empty());
    }

    /// Generated cards with planted duplicates (each a variant of its original: other
    /// legal form, a place prefix, traditional characters, a reformatted phone): every
    /// planted pair is found, and no other pair.
    #[test]
    fn planted_duplicates_are_all_found() {
        let (cards, planted) = generated(600, 60);
        let pairs = found(&cards);
        let got: BTreeSet<(CardId, CardId)> =
            pairs.iter().map(|p| (p.a.clone(), p.b.clone())).collect();
        assert_eq!(got, planted);
    }

    #[test]
    fn the_result_does_not_depend_on_the_cards_order() {
        let (mut cards, _) = generated(300, 30);
        let forward = found(&cards);
        cards.reverse();
        assert_eq!(found(&cards), forward);
        cards.rotate_left(77);
        assert_eq!(found(&cards), forward);
    }

    proptest::proptest! {
        /// A mobile number is one phone whatever way it is written.
        #[test]
        fn a_mobile_in_any_format_is_one_phone(
            second in 3u8..=9,
            rest in 0u64..1_000_000_000,
            format in 0usize..6,
        ) {
            let plain = format!("1{second}{rest:09}");
            let written = match format {
                0 => plain.clone(),
                1 => format!("+86 {} {} {}", &plain[..3], &plain[3..7], &plain[7..]),
                2 => format!("0086{plain}"),
                3 => format!("86{plain}"),
                4 => format!("{}-{}-{}", &plain[..3], &plain[3..7], &plain[7..]),
                _ => plain.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)).collect(),
            };
            proptest::prop_assert_eq!(normalize_phone(&written), Some(plain));
        }

        /// Any text normalizes without panicking, to a bounded name.
        #[test]
        fn any_name_normalizes_within_bounds(name in "\\PC{0,300}") {
            let core = normalize_name(&name);
            proptest::prop_assert!(core.chars().count() <= MAX_NAME_CHARS);
            let _ = normalize_phone(&name);
            let _ = normalize_tax_id(&name);
        }
    }

    /// `n` distinct customers and `dups` variants of the first ones.
    fn generated(n: usize, dups: usize) -> (Vec<Card>, BTreeSet<(CardId, CardId)>) {
        const SIMPLE: [char; 10] = ['东', '华', '兴', '发', '达', '顺', '丰', '宝', '龙', '万'];
        const TRAD: [char; 10] = ['東', '華', '興', '發', '達', '順', '豐', '寶', '龍', '萬'];
        const MORE: [char; 10] = ['金', '明', '光', '新', '隆', '盛', '安', '康', '福', '利'];
        let trades = ["食品", "贸易", "电子", "建材"];
        let cities = ["上海", "北京", "广州"];
        let code = |i: usize, table: &[char; 10]| -> String {
            [i / 100 % 10, i / 10 % 10, i % 10]
                .iter()
                .zip([&SIMPLE, table, &MORE])
                .map(|(&d, t)| t[d])
                .collect()
        };
        let id = |i: usize| card_id(&format!("g{i:05}"));
        let mut cards = Vec::new();
        for i in 0..n {
            let mut c = Card::new();
            c.id = id(i);
            c.basic.name = Some(format!(
                "{}{}{}有限公司",
                cities[i % 3],
                code(i, &SIMPLE),
                trades[i % 4]
            ));
            c.basic.phone = Some(format!("021-6{:07}", i * 7));
            cards.push(c);
        }
        let mut planted = BTreeSet::new();
        for k in 0..dups {
            let i = k * (n / dups);
            let mut c = Card::new();
            c.id = id(n + k);
            match k % 4 {
                0 => c.basic.name = Some(format!("{}{}", code(i, &TRAD), trades[i % 4])),
                1 => {
                    c.basic.name = Some(format!(
                        "{}市{}{}厂",
                        cities[i % 3],
                        code(i, &SIMPLE),
                        trades[i % 4]
                    ))
                }
                2 => c.basic.phone = Some(format!("+86 21 6{:07} 转 9", i * 7)),
                _ => c.basic.name = Some(format!("{}{}集团", code(i, &SIMPLE), trades[i % 4])),
            }
            planted.insert((id(i), id(n + k)));
            cards.push(c);
        }
        (cards, planted)
    }
}
