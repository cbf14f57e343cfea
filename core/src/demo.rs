//! Realistic demo data: customer cards and their history, generated from a seed.
//!
//! Tests, the benchmark and the server's demo seeding need cards that look like the
//! ones reps keep (Chinese and mixed Chinese/English company names, addresses in real
//! cities, landline and mobile numbers, contacts with titles, twelve months of sales,
//! opportunities, and a visit log written in the vocabulary of the source documents:
//! 回款, 备货, 促销, 陈列, 样品, 合同 …). Everything here is deterministic: the same
//! seed and index give the same card, item ids included, so a failing test or a
//! benchmark can be replayed exactly. Only the device time recorded by the store
//! when a card is written depends on the clock.
//!
//! Three entry points:
//! - [`demo_card`] / [`demo_card_on`]: one filled-in [`Card`], ready for
//!   [`Store::insert_new`].
//! - [`demo_edit`] and [`demo_history`]: realistic edits (visits, notes, field
//!   changes), applied to a card in memory or through [`Store::update`].
//! - [`demo_document`]: a card with about `n` changes of history built entirely in
//!   memory and returned as Automerge bytes, to be imported in bulk with
//!   [`Store::import_bundle`] (building 10,000 cards through durable edits would
//!   take an fsync per change).

use automerge::transaction::CommitOptions;
use automerge::{ActorId, Automerge};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use sha2::{Digest, Sha256};

use crate::card::doc::{create_card, write_card};
use crate::card::{
    BasicData, BusinessStatus, Card, Characteristics, Classification, Contact, CreditData, Keyed,
    Location, LongText, MarketingInfo, OperatingData, Opportunity, Todo, TransactionStatus, Visit,
};
use crate::error::Result;
use crate::ids::{CardId, RepId, YearMonth};
use crate::store::Store;
use crate::value::{
    Class, Count, DayOfMonth, Latitude, Longitude, Money, Nature, OppStage, TradeStage, VisitKind,
    Volume,
};

/// A small deterministic random number generator (SplitMix64).
///
/// Not for cryptography: it exists so demo data and randomised tests are the same on
/// every machine and every version of every dependency for a given seed.
#[derive(Debug, Clone)]
pub struct DemoRng(u64);

impl DemoRng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> DemoRng {
        DemoRng(seed)
    }

    /// A generator for item `index` of the stream `seed`, independent of the others.
    pub fn for_index(seed: u64, index: u64) -> DemoRng {
        let mut r = DemoRng(seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A number in `lo..=hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + self.below(span) as i64
    }

    /// `true` with probability `p` (0.0 to 1.0).
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// A random element of a non-empty slice (`None` for an empty one).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }

    /// A random `&str` from a list, or `""` for an empty list.
    pub fn word(&mut self, items: &[&'static str]) -> &'static str {
        self.pick(items).copied().unwrap_or("")
    }

    /// An item id like the store's (12 hex digits), but reproducible.
    pub fn item_id(&mut self) -> String {
        format!("{:012x}", self.next_u64() & 0xFFFF_FFFF_FFFF)
    }

    /// A card id (a version-4 UUID), reproducible.
    pub fn card_id(&mut self) -> CardId {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
        uuid.to_string()
            .parse()
            .unwrap_or_else(|_| CardId::random())
    }
}

/// A city the demo places customers in, with its centre and phone area code.
struct City {
    name: &'static str,
    lat: f64,
    lon: f64,
    area_code: &'static str,
    districts: &'static [&'static str],
}

const CITIES: &[City] = &[
    City {
        name: "上海",
        lat: 31.2304,
        lon: 121.4737,
        area_code: "021",
        districts: &["浦东新区", "徐汇区", "静安区", "闵行区", "杨浦区", "普陀区"],
    },
    City {
        name: "北京",
        lat: 39.9042,
        lon: 116.4074,
        area_code: "010",
        districts: &["朝阳区", "海淀区", "丰台区", "东城区", "西城区"],
    },
    City {
        name: "广州",
        lat: 23.1291,
        lon: 113.2644,
        area_code: "020",
        districts: &["天河区", "越秀区", "海珠区", "白云区", "番禺区"],
    },
    City {
        name: "深圳",
        lat: 22.5431,
        lon: 114.0579,
        area_code: "0755",
        districts: &["福田区", "南山区", "罗湖区", "宝安区", "龙岗区"],
    },
    City {
        name: "杭州",
        lat: 30.2741,
        lon: 120.1551,
        area_code: "0571",
        districts: &["西湖区", "上城区", "拱墅区", "滨江区", "萧山区"],
    },
    City {
        name: "南京",
        lat: 32.0603,
        lon: 118.7969,
        area_code: "025",
        districts: &["鼓楼区", "玄武区", "秦淮区", "建邺区", "江宁区"],
    },
    City {
        name: "苏州",
        lat: 31.2989,
        lon: 120.5853,
        area_code: "0512",
        districts: &["姑苏区", "工业园区", "吴中区", "相城区"],
    },
    City {
        name: "成都",
        lat: 30.5728,
        lon: 104.0668,
        area_code: "028",
        districts: &["锦江区", "武侯区", "青羊区", "成华区", "高新区"],
    },
    City {
        name: "武汉",
        lat: 30.5928,
        lon: 114.3055,
        area_code: "027",
        districts: &["江汉区", "武昌区", "洪山区", "江岸区"],
    },
    City {
        name: "天津",
        lat: 39.3434,
        lon: 117.3616,
        area_code: "022",
        districts: &["和平区", "河西区", "南开区", "滨海新区"],
    },
    City {
        name: "重庆",
        lat: 29.5630,
        lon: 106.5516,
        area_code: "023",
        districts: &["渝中区", "江北区", "南岸区", "沙坪坝区"],
    },
    City {
        name: "西安",
        lat: 34.3416,
        lon: 108.9398,
        area_code: "029",
        districts: &["雁塔区", "碑林区", "未央区", "莲湖区"],
    },
];

const BRANDS: &[&str] = &[
    "华联",
    "联华",
    "永辉",
    "金辉",
    "恒通",
    "鑫源",
    "百川",
    "福满",
    "旺达",
    "佳美",
    "新世纪",
    "同德",
    "盛泰",
    "宏图",
    "大润",
    "万家",
    "惠民",
    "康达",
    "东方",
    "长江",
    "红星",
    "利群",
    "好又多",
    "家家乐",
    "华东客户服务",
    "嘉禾",
    "瑞丰",
    "天天",
    "順發",
    "興隆",
];
const INDUSTRIES: &[&str] = &[
    "日化", "食品", "百货", "贸易", "商贸", "酒业", "饮料", "电器", "五金", "医药", "粮油", "母婴",
];
const SUFFIXES: &[&str] = &[
    "有限公司",
    "商行",
    "超市",
    "便利店",
    "批发部",
    "连锁有限公司",
    "贸易有限公司",
    "经营部",
    "百货商店",
];
const LATIN_NAMES: &[&str] = &[
    "Acme 贸易",
    "Sunrise Trading Co., Ltd.",
    "Golden Bridge 商贸",
    "Metro 便利店",
    "BlueSky 日化",
    "Lucky Star 超市",
    "Evergreen Foods 食品有限公司",
    "Harbour Wholesale",
    "7-Star 便利",
    "Pacific Rim 进出口",
];
const ROADS: &[&str] = &[
    "人民路",
    "中山路",
    "解放路",
    "建设路",
    "长江路",
    "和平路",
    "新华路",
    "世纪大道",
    "淮海路",
    "南京路",
    "文化路",
    "工业路",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "欧阳",
];
const GIVEN: &[&str] = &[
    "芳", "伟", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "建国", "晓东", "海燕", "志强", "丽华", "国庆",
];
const ENGLISH_NAMES: &[&str] = &[
    "David Chen",
    "Linda Wang",
    "Kevin Zhang",
    "Grace Liu",
    "Tony Huang",
    "Amy Zhou",
];
const TITLES: &[&str] = &[
    "采购经理",
    "总经理",
    "店长",
    "财务主管",
    "老板",
    "仓库主管",
    "业务经理",
    "副总经理",
    "Purchasing Manager",
    "会计",
];
const PRODUCTS: &[&str] = &[
    "洗衣粉 2kg 袋装",
    "洗洁精 1.5L",
    "瓶装水 550ml",
    "方便面五连包",
    "食用油 5L",
    "牙膏 120g",
    "纸巾三层 10包",
    "酱油 500ml",
    "啤酒 330ml 罐装",
    "奶粉 900g",
];
const PRODUCTS_EN: &[&str] = &[
    "detergent",
    "shampoo",
    "bottled water",
    "instant noodles",
    "cooking oil",
];
const TAGS: &[&str] = &[
    "重点",
    "新客户",
    "回款慢",
    "连锁",
    "需跟进",
    "VIP",
    "春节备货",
    "促销配合好",
    "key-account",
    "dormant",
];

const OPENERS: &[&str] = &[
    "与{c}{t}面谈，",
    "电话联系{c}，",
    "拜访门店，见到{c}{t}，",
    "陪同区域经理拜访{c}，",
    "到仓库与{c}核对库存，",
    "Met {e} at the store; ",
    "Called {e}: ",
];
const TOPICS: &[&str] = &[
    "核对上月对账单，约定{d}号前回款{a}元。",
    "催收逾期货款，客户承诺分两次回款。",
    "讨论春节前备货计划，预计进货量比去年增加{p}%。",
    "商定{m}月促销方案：买二送一，堆头陈列两周。",
    "检查货架陈列，{prod}排面不足，已与店长沟通调整。",
    "送去新品样品{n}箱，客户同意先试销一个月。",
    "续签年度合同，返利由{p}%调整为{q}%。",
    "客户反映竞品降价，要求提高折扣。",
    "了解库存情况：{prod}库存约{n}箱，可维持两周。",
    "报价单已发，客户比较了三家供应商的价格。",
    "客户新开一家分店，需增加送货地址。",
    "信用额度即将用满，需销售经理审批临时加额。",
    "收集消费者反馈：包装太大，希望推出小规格。",
    "客户对送货及时率不满意，答应下周起改为每周二、五送货。",
    "谈合同条款：账期从30天延长到45天，需财务审核。",
    "discussed the Q{n} promotion and shelf space, buyer wants a better rebate. ",
    "delivered samples of the new {en}; feedback expected next week. ",
];
const OUTCOMES: &[&str] = &[
    "同意试销",
    "已下单{n}箱",
    "回款已到账",
    "需再跟进",
    "暂无进展",
    "客户要求降价",
    "Signed the contract",
    "合同待盖章",
    "order of {n} cases confirmed",
];
const NEXT_STEPS: &[&str] = &[
    "下周送样品",
    "月底前对账",
    "准备报价单",
    "安排促销员进场",
    "跟进回款",
    "Send revised quote",
    "约采购经理面谈",
    "提交信用额度审批",
];
const NOTE_LINES: &[&str] = &[
    "老客户，注意春节前备货。",
    "老板比较看重返利，谈价格时先谈返利政策。",
    "付款一般在每月25日左右，逾期需提前电话提醒。",
    "门店位置好，客流量大，适合做堆头陈列。",
    "竞品业务员每周来两次，关系较好，需加强拜访。",
    "财务换人了，新对接人是{c}。",
    "Prefers WeChat over phone calls; send quotes as PDF.",
    "仓库面积小，每次进货量不宜过大，建议小批量多批次送货。",
    "客户计划明年开两家新店 🎉，是重点发展对象。",
];
const TODO_TITLES: &[&str] = &[
    "送样品",
    "寄合同",
    "对账",
    "提交信用审查报告",
    "安排促销员",
    "收回欠款",
    "更新报价单",
    "Send catalogue",
];
const OPP_TITLES: &[&str] = &[
    "年度供货合同",
    "新品进场",
    "春节促销备货",
    "中秋礼盒团购",
    "门店陈列升级",
    "Private label pilot",
    "新店首批铺货",
];
const PAYMENT_TERMS: &[&str] = &[
    "月结30天",
    "月结45天",
    "货到付款",
    "预付款",
    "银行承兑汇票",
    "net 30",
];
const ORG_FORMS: &[&str] = &["有限责任公司", "个体工商户", "股份有限公司", "合伙企业"];

/// Replace `{x}` placeholders in a template with generated values.
fn fill(template: &str, rng: &mut DemoRng, contact: &str, title: &str) -> String {
    let mut out = template.to_string();
    let pairs: [(&str, String); 12] = [
        ("{c}", contact.to_string()),
        ("{t}", title.to_string()),
        ("{e}", rng.word(ENGLISH_NAMES).to_string()),
        ("{d}", rng.range(5, 28).to_string()),
        ("{a}", (rng.range(10, 300) * 100).to_string()),
        ("{p}", rng.range(2, 30).to_string()),
        ("{q}", rng.range(2, 30).to_string()),
        ("{m}", rng.range(1, 12).to_string()),
        ("{n}", rng.range(1, 80).to_string()),
        ("{prod}", rng.word(PRODUCTS).to_string()),
        ("{en}", rng.word(PRODUCTS_EN).to_string()),
        ("{x}", String::new()),
    ];
    for (k, v) in pairs {
        out = out.replace(k, &v);
    }
    out
}

fn person_name(rng: &mut DemoRng) -> String {
    if rng.chance(0.08) {
        return rng.word(ENGLISH_NAMES).to_string();
    }
    format!("{}{}", rng.word(SURNAMES), rng.word(GIVEN))
}

fn mobile(rng: &mut DemoRng) -> String {
    let prefix = rng.word(&["138", "139", "136", "135", "186", "158", "177", "150"]);
    format!("{prefix}{:08}", rng.below(100_000_000))
}

fn landline(rng: &mut DemoRng, city: &City) -> String {
    if city.area_code.len() == 3 {
        format!(
            "{}-{:04} {:04}",
            city.area_code,
            rng.range(5000, 8999),
            rng.below(10_000)
        )
    } else {
        format!(
            "{}-{:04} {:04}",
            city.area_code,
            rng.range(2000, 8999),
            rng.below(10_000)
        )
    }
}

fn money(yuan: i64) -> Option<Money> {
    Money::yuan(yuan.max(0)).ok()
}

fn date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A realistic visit-log summary: an opener naming the contact, one to three topics.
fn visit_summary(rng: &mut DemoRng, card: &Card) -> String {
    let (contact, title) = card
        .contacts
        .get(rng.below(card.contacts.len().max(1) as u64) as usize)
        .map(|c| {
            (
                c.name.clone().unwrap_or_default(),
                c.title.clone().unwrap_or_default(),
            )
        })
        .unwrap_or_else(|| ("老板".to_string(), String::new()));
    let mut s = fill(rng.word(OPENERS), rng, &contact, &title);
    for _ in 0..rng.range(1, 3) {
        s.push_str(&fill(rng.word(TOPICS), rng, &contact, &title));
    }
    s.trim_end().to_string()
}

/// A visit at `at` by `rep`, near the customer.
fn demo_visit(rng: &mut DemoRng, card: &Card, at: DateTime<Utc>, rep: &str) -> Visit {
    let lat = card
        .location
        .lat
        .map(|l| l.get() + (rng.range(-50, 50) as f64) / 100_000.0);
    let lon = card
        .location
        .lon
        .map(|l| l.get() + (rng.range(-50, 50) as f64) / 100_000.0);
    let kind = *rng
        .pick(&[
            VisitKind::Visit,
            VisitKind::Visit,
            VisitKind::Call,
            VisitKind::Delivery,
            VisitKind::Collection,
        ])
        .unwrap_or(&VisitKind::Visit);
    let next_visit = rng
        .chance(0.3)
        .then(|| at.date_naive() + Duration::days(rng.range(5, 30)));
    Visit {
        at: Some(at),
        rep: Some(rep.to_string()),
        kind: Some(kind),
        place: card
            .basic
            .address
            .clone()
            .filter(|_| kind != VisitKind::Call),
        lat: lat
            .and_then(|l| Latitude::new(l).ok())
            .filter(|_| kind != VisitKind::Call),
        lon: lon
            .and_then(|l| Longitude::new(l).ok())
            .filter(|_| kind != VisitKind::Call),
        summary: LongText(visit_summary(rng, card)),
        outcome: Some(fill(rng.word(OUTCOMES), rng, "", "")),
        next_step: Some(rng.word(NEXT_STEPS).to_string()),
        next_visit,
        on_behalf_of: None,
    }
}

/// One filled-in customer card, with sales for the 12 months before today's.
///
/// Same as [`demo_card_on`] with today's date: the card is the same for the same
/// arguments on the same day (only the dates of sales and visits follow the clock).
pub fn demo_card(rng_seed: u64, index: u64, territory: &str) -> Card {
    demo_card_on(rng_seed, index, territory, Utc::now().date_naive())
}

/// One filled-in customer card, entirely determined by the arguments.
///
/// `index` selects the customer within the stream `rng_seed`; `today` anchors the
/// twelve months of sales and the dates of the visit log.
pub fn demo_card_on(rng_seed: u64, index: u64, territory: &str, today: NaiveDate) -> Card {
    let mut rng = DemoRng::for_index(rng_seed, index);
    let mut card = Card::with_id(rng.card_id());
    let city = &CITIES[rng.below(CITIES.len() as u64) as usize];
    let district = rng.word(city.districts);
    let brand = rng.word(BRANDS);
    let industry = rng.word(INDUSTRIES);
    let name = if rng.chance(0.1) {
        format!(
            "{}{}",
            rng.word(LATIN_NAMES),
            if rng.chance(0.5) {
                format!("（{}）", city.name)
            } else {
                String::new()
            }
        )
    } else if rng.chance(0.3) {
        format!("{}{}{}{}", city.name, brand, industry, rng.word(SUFFIXES))
    } else {
        format!("{}市{}{}{}", city.name, brand, industry, rng.word(SUFFIXES))
    };
    let size = rng.below(100);
    // A rough size drives sales, credit and class together, as in an ABC analysis.
    let (monthly, class, volume) = match size {
        0..=9 => (rng.range(200_000, 900_000), Class::A, Volume::Key),
        10..=39 => (rng.range(40_000, 200_000), Class::B, Volume::Ordinary),
        _ => (rng.range(3_000, 40_000), Class::C, Volume::Scattered),
    };
    let founded_year = rng.range(1992, 2022) as i32;
    card.territory = (!territory.is_empty()).then(|| territory.to_string());
    card.basic = BasicData {
        name: Some(name),
        customer_no: Some(format!("KH{:06}", index % 1_000_000)),
        address: Some(format!(
            "{}市{}{}{}号",
            city.name,
            district,
            rng.word(ROADS),
            rng.range(1, 999)
        )),
        city: Some(city.name.to_string()),
        postcode: Some(format!("{:06}", rng.range(100_000, 850_000))),
        phone: Some(landline(&mut rng, city)),
        managers: Some(person_name(&mut rng)),
        legal_rep: Some(person_name(&mut rng)),
        founded: date(
            founded_year,
            rng.range(1, 12) as u32,
            rng.range(1, 28) as u32,
        ),
        org_form: Some(rng.word(ORG_FORMS).to_string()),
        industry: Some(industry.to_string()),
        assets: money(monthly * rng.range(20, 60)),
        registration_no: Some(format!(
            "91{:04}{:012}",
            rng.range(1100, 6500),
            rng.below(1_000_000_000_000)
        )),
        bank_account: Some(format!(
            "{}银行{}支行 {:019}",
            rng.word(&["工商", "建设", "农业", "中国", "招商"]),
            district,
            rng.below(10_000_000_000_000_000_000)
        )),
        tax_no: Some(format!("91{:016}", rng.below(10_000_000_000_000_000))),
        category: Some(
            rng.word(&["经销商", "零售终端", "批发商", "连锁卖场"])
                .to_string(),
        ),
        size: Some(rng.word(&["大型", "中型", "小型"]).to_string()),
        ..Default::default()
    };
    card.characteristics = Characteristics {
        service_area: Some(format!("{}{}及周边", city.name, district)),
        sales_capacity: Some(format!("月销售约{}万元", monthly / 10_000 + 1)),
        potential: Some(rng.word(&["高", "中", "低", "high"]).to_string()),
        philosophy: rng.chance(0.5).then(|| "薄利多销，重视服务".to_string()),
        direction: Some(format!(
            "以{}为主，逐步扩展{}",
            industry,
            rng.word(INDUSTRIES)
        )),
        policies: rng.chance(0.4).then(|| "对供应商实行年度考核".to_string()),
        operating_style: Some(
            rng.word(&["稳健", "激进扩张", "家族经营", "连锁化经营"])
                .to_string(),
        ),
    };
    card.business = BusinessStatus {
        sales_performance: Some(format!("去年销售额约{}万元", monthly * 12 / 10_000 + 1)),
        manager_quality: Some(rng.word(&["经验丰富", "年轻有冲劲", "较保守"]).to_string()),
        staff_quality: Some(rng.word(&["业务熟练", "流动性大", "培训不足"]).to_string()),
        competitor_relations: Some(format!("同时经销{}个竞品品牌", rng.range(1, 5))),
        attitude_to_us: Some(
            rng.word(&["友好", "一般", "合作积极", "friendly, prefers WeChat"])
                .to_string(),
        ),
    };
    card.transaction = TransactionStatus {
        current_activity: Some("正常进货，每月两次".to_string()),
        problems: rng.chance(0.5).then(|| {
            rng.word(&["回款慢", "陈列位置差", "库存积压", "价格敏感"])
                .to_string()
        }),
        strengths: Some(rng.word(&["位置好", "客流量大", "配送能力强"]).to_string()),
        future_plans: Some(
            rng.word(&["扩大合作品类", "维持现状", "争取做区域总代理"])
                .to_string(),
        ),
        reputation: Some(rng.word(&["良好", "一般", "口碑好"]).to_string()),
        credit_status: Some(rng.word(&["良好", "一般", "偶有逾期"]).to_string()),
        trading_terms: Some(rng.word(PAYMENT_TERMS).to_string()),
        credit_problems: None,
    };
    card.credit = CreditData {
        registered_capital: money(rng.range(10, 500) * 10_000),
        years_in_business: u32::try_from(today.year() - founded_year).ok().map(Count),
        credit_limit: (class != Class::A)
            .then(|| money(monthly * rng.range(1, 3) / 1000 * 1000))
            .flatten(),
        credit_term_days: Some(Count(*rng.pick(&[0u32, 30, 45, 60]).unwrap_or(&30))),
        settlement_day: DayOfMonth::new(rng.range(1, 28) as u8).ok(),
        payment_terms: Some(rng.word(PAYMENT_TERMS).to_string()),
        last_review: Some(today - Duration::days(rng.range(10, 200))),
        supply_suspended: None,
        suspended_reason: None,
        ..Default::default()
    };
    card.operating = OperatingData {
        sales_staff: Some(Count(rng.range(2, 80) as u32)),
        market_coverage: Some(format!("覆盖{}个区县", rng.range(1, 12))),
        floor_space_m2: Some(Count(rng.range(50, 5000) as u32)),
        warehouse_space_m2: Some(Count(rng.range(20, 3000) as u32)),
        transport: Some(format!("货车{}辆", rng.range(1, 10))),
        delivery_addresses: Some(format!(
            "{}市{}{}{}号仓库",
            city.name,
            rng.word(city.districts),
            rng.word(ROADS),
            rng.range(1, 500)
        )),
        ..Default::default()
    };
    card.marketing = MarketingInfo {
        products: Some(format!("{}；{}", rng.word(PRODUCTS), rng.word(PRODUCTS))),
        prices: Some(format!(
            "新品出厂价{}元/箱，老品{}元/箱",
            rng.range(40, 200),
            rng.range(30, 180)
        )),
        discounts: Some(format!("满100箱{}折", rng.range(85, 98) as f64 / 10.0)),
        rebates: Some(format!("年度返利{}%", rng.range(1, 8))),
        incentive_policy: rng.chance(0.5).then(|| "季度达标奖励".to_string()),
        consumption: Some(format!("月均{}箱", rng.range(20, 2000))),
        consumer_profile: Some(
            rng.word(&["社区居民为主", "上班族", "学生", "家庭主妇"])
                .to_string(),
        ),
        target_customers: Some("周边社区家庭".to_string()),
        segmentation: Some(rng.word(&["大众市场", "中高端", "价格敏感型"]).to_string()),
    };
    card.classification = Classification {
        nature: Some(if rng.chance(0.05) {
            Nature::Government
        } else if rng.chance(0.1) {
            Nature::Individual
        } else {
            Nature::Company
        }),
        stage: Some(if rng.chance(0.1) {
            TradeStage::Prospect
        } else {
            TradeStage::Current
        }),
        volume: Some(volume),
        abc: Some(class),
        prospect_class: None,
    };
    let route_area = format!("{}{}线", district.trim_end_matches('区'), rng.range(1, 6));
    card.location = Location {
        lat: Latitude::new(city.lat + rng.range(-1500, 1500) as f64 / 10_000.0).ok(),
        lon: Longitude::new(city.lon + rng.range(-1500, 1500) as f64 / 10_000.0).ok(),
        route_area: Some(route_area),
        route_order: Some(Count(rng.range(1, 40) as u32)),
    };
    for i in 0..rng.range(1, 4) {
        let title = rng.word(TITLES).to_string();
        card.contacts.push(Keyed {
            id: rng.item_id(),
            value: Contact {
                name: Some(person_name(&mut rng)),
                title: Some(title),
                phone: rng.chance(0.5).then(|| landline(&mut rng, city)),
                mobile: Some(mobile(&mut rng)),
                email: rng
                    .chance(0.4)
                    .then(|| format!("contact{}@example.com.cn", rng.below(10_000))),
                wechat: rng
                    .chance(0.6)
                    .then(|| format!("wx_{:06}", rng.below(1_000_000))),
                birthday: date(
                    rng.range(1960, 1998) as i32,
                    rng.range(1, 12) as u32,
                    rng.range(1, 28) as u32,
                ),
                note: None,
                primary: Some(i == 0),
            },
        });
    }
    let mut month = YearMonth::of(today);
    for _ in 0..12 {
        month = month.prev();
        let amount = monthly * rng.range(70, 130) / 100;
        if let Some(m) = money(amount) {
            card.sales.insert(month, m);
        }
    }
    for _ in 0..rng.range(0, 2) {
        let stage = *rng.pick(OppStage::ALL).unwrap_or(&OppStage::FirstContact);
        card.opportunities.push(Keyed {
            id: rng.item_id(),
            value: Opportunity {
                title: Some(rng.word(OPP_TITLES).to_string()),
                stage: Some(stage),
                amount: money(rng.range(5, 200) * 1000),
                expected_close: Some(today + Duration::days(rng.range(10, 120))),
                stage_since: Some(today - Duration::days(rng.range(1, 60))),
                note: None,
            },
        });
    }
    for _ in 0..rng.range(0, 2) {
        card.todos.push(Keyed {
            id: rng.item_id(),
            value: Todo {
                title: Some(rng.word(TODO_TITLES).to_string()),
                due: Some(today + Duration::days(rng.range(-5, 20))),
                done: Some(false),
            },
        });
    }
    for _ in 0..rng.range(0, 3) {
        card.tags.insert(rng.word(TAGS).to_string());
    }
    card.notes = LongText(fill(
        rng.word(NOTE_LINES),
        &mut rng,
        &person_name(&mut DemoRng::new(index)),
        "",
    ));
    card
}

/// Apply one realistic edit to a card, as a rep would after a visit or a call.
///
/// Mostly logs a visit (time `at`, by `rep`); otherwise extends the notes, changes a
/// phone or a contact, records a month's sales, moves an opportunity along, adds or
/// ticks off a to-do, toggles a tag or adjusts the credit limit. Returns a short
/// description of what changed.
pub fn demo_edit(card: &mut Card, rng: &mut DemoRng, at: DateTime<Utc>, rep: &str) -> &'static str {
    let today = at.date_naive();
    match rng.below(100) {
        0..=39 => {
            let visit = demo_visit(rng, card, at, rep);
            card.visits.push(Keyed {
                id: rng.item_id(),
                value: visit,
            });
            "visit"
        }
        40..=51 => {
            let who = person_name(rng);
            let line = fill(rng.word(NOTE_LINES), rng, &who, "");
            let mut notes = card.notes.0.clone();
            if !notes.is_empty() {
                notes.push('\n');
            }
            notes.push_str(&format!("{} {}", today.format("%m-%d"), line));
            card.notes = LongText(notes);
            "notes"
        }
        52..=57 => {
            let city = CITIES
                .iter()
                .find(|c| Some(c.name) == card.basic.city.as_deref())
                .unwrap_or(&CITIES[0]);
            card.basic.phone = Some(landline(rng, city));
            "phone"
        }
        58..=65 => {
            let i = rng.below(card.contacts.len().max(1) as u64) as usize;
            match card.contacts.get_mut(i) {
                Some(c) if rng.chance(0.7) => {
                    c.value.mobile = Some(mobile(rng));
                    c.value.title = Some(rng.word(TITLES).to_string());
                }
                _ => card.contacts.push(Keyed {
                    id: rng.item_id(),
                    value: Contact {
                        name: Some(person_name(rng)),
                        title: Some(rng.word(TITLES).to_string()),
                        mobile: Some(mobile(rng)),
                        ..Default::default()
                    },
                }),
            }
            "contact"
        }
        66..=75 => {
            let month = YearMonth::of(today).prev();
            let base = card
                .sales
                .values()
                .next()
                .map(|m| m.fen() / 100)
                .unwrap_or(20_000);
            if let Some(m) = money(base * rng.range(70, 130) / 100) {
                card.sales.insert(month, m);
            }
            "sales"
        }
        76..=83 => {
            let open = card
                .opportunities
                .iter_mut()
                .find(|o| !matches!(o.stage, Some(OppStage::Won) | Some(OppStage::Lost)));
            match open {
                Some(o) => {
                    let next = match o.stage {
                        Some(OppStage::FirstContact) | None => OppStage::SampleTest,
                        Some(OppStage::SampleTest) => OppStage::Negotiation,
                        Some(OppStage::Negotiation) => OppStage::Contract,
                        _ => {
                            if rng.chance(0.8) {
                                OppStage::Won
                            } else {
                                OppStage::Lost
                            }
                        }
                    };
                    o.value.stage = Some(next);
                    o.value.stage_since = Some(today);
                }
                None => card.opportunities.push(Keyed {
                    id: rng.item_id(),
                    value: Opportunity {
                        title: Some(rng.word(OPP_TITLES).to_string()),
                        stage: Some(OppStage::FirstContact),
                        amount: money(rng.range(5, 200) * 1000),
                        expected_close: Some(today + Duration::days(rng.range(20, 120))),
                        stage_since: Some(today),
                        note: None,
                    },
                }),
            }
            "opportunity"
        }
        84..=92 => {
            match card.todos.iter_mut().find(|t| t.done != Some(true)) {
                Some(t) if rng.chance(0.6) => t.value.done = Some(true),
                _ => card.todos.push(Keyed {
                    id: rng.item_id(),
                    value: Todo {
                        title: Some(rng.word(TODO_TITLES).to_string()),
                        due: Some(today + Duration::days(rng.range(1, 14))),
                        done: Some(false),
                    },
                }),
            }
            "todo"
        }
        93..=96 => {
            let tag = rng.word(TAGS).to_string();
            if !card.tags.remove(&tag) {
                card.tags.insert(tag);
            }
            "tag"
        }
        _ => {
            let current = card
                .credit
                .credit_limit
                .map(|m| m.fen() / 100)
                .unwrap_or(50_000);
            card.credit.credit_limit = money(current * rng.range(80, 130) / 100 / 1000 * 1000);
            card.credit.last_review = Some(today);
            "credit"
        }
    }
}

/// Apply `n_changes` realistic edits to a stored card through [`Store::update`],
/// each one durable and authored by the store's rep.
///
/// Slow by design (one fsync per edit): for bulk data use [`demo_document`].
pub fn demo_history(
    store: &mut Store,
    id: &CardId,
    rng: &mut DemoRng,
    n_changes: usize,
) -> Result<()> {
    let rep = store.rep().map(|r| r.to_string()).unwrap_or_default();
    for _ in 0..n_changes {
        store.update(id, |card| {
            demo_edit(card, rng, Utc::now(), &rep);
            Ok(())
        })?;
    }
    Ok(())
}

/// A rep and the device (Automerge actor) they write from, for demo documents.
#[derive(Debug, Clone)]
pub struct DemoAuthor {
    /// The rep recorded as the author of changes.
    pub rep: RepId,
    /// The device's actor id.
    pub(crate) actor: ActorId,
}

impl DemoAuthor {
    /// A rep on a demo device whose actor id is derived from the rep id, so it is
    /// the same on every run. Never use such an actor on a real device.
    pub fn new(rep: RepId) -> DemoAuthor {
        let digest = Sha256::digest(format!("fieldbook-demo-device:{rep}").as_bytes());
        DemoAuthor {
            actor: ActorId::from(&digest[..16]),
            rep,
        }
    }
}

/// A customer card with about `n_changes` changes of history, built in memory and
/// returned as a compacted Automerge document (the bytes [`Store::import_bundle`]
/// takes in a bundle entry).
///
/// The first change creates the card as [`demo_card_on`] fills it, written by the
/// first author; each later change is one [`demo_edit`] by one of `authors` (mostly
/// the first, the current owner), with device times spread over the year before
/// `today`. `authors` must not be empty.
pub fn demo_document(
    rng_seed: u64,
    index: u64,
    territory: &str,
    authors: &[DemoAuthor],
    n_changes: usize,
    today: NaiveDate,
) -> Result<(CardId, Vec<u8>)> {
    let Some(owner) = authors.first() else {
        return Err(crate::Error::invalid(
            "authors",
            "a demo document needs at least one author",
        ));
    };
    let mut card = demo_card_on(rng_seed, index, territory, today);
    // The visit log starts empty: visits come in as history, like on a real card.
    card.visits.clear();
    let mut rng = DemoRng::for_index(rng_seed ^ 0x5EED_ED17, index);
    let end = Utc
        .from_utc_datetime(&today.and_hms_opt(9, 0, 0).unwrap_or_default())
        .timestamp();
    let start = end - 365 * 86_400;
    let step = (end - start) / (n_changes.max(1) as i64);
    let mut doc = Automerge::new();
    let commit = |touched: &Vec<String>, at: i64| {
        let mut msg = touched
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if touched.len() > 8 {
            msg.push_str(&format!(" … ({} fields)", touched.len()));
        }
        CommitOptions::default().with_time(at).with_message(msg)
    };
    doc.set_author(Some(owner.rep.author()));
    doc.set_actor(owner.actor.clone());
    doc.transact_with(
        |t: &Vec<String>| commit(t, start),
        |tx| create_card(tx, &card),
    )
    .map_err(|f| f.error)?;
    for i in 1..n_changes {
        let author = if rng.chance(0.8) {
            owner
        } else {
            rng.pick(authors).unwrap_or(owner)
        };
        let at = start + step * i as i64 + rng.range(0, step.max(1) / 2);
        let at_time = DateTime::from_timestamp(at, 0).unwrap_or_default();
        let mut next = card.clone();
        demo_edit(&mut next, &mut rng, at_time, author.rep.as_str());
        if next == card {
            continue;
        }
        doc.set_author(Some(author.rep.author()));
        doc.set_actor(author.actor.clone());
        doc.transact_with(
            |t: &Vec<String>| commit(t, at),
            |tx| write_card(tx, &card, &next),
        )
        .map_err(|f| f.error)?;
        card = next;
    }
    Ok((card.id.clone(), doc.save()))
}

/// The field workload of the sync benchmarks: a customer card of about 20 short fields
/// (the basic data, territory and class) and 5 visits, the last one `today`, ten days
/// apart — the shape of a card a rep keeps up to date between visits.
pub fn field_card(rng_seed: u64, index: u64, territory: &str, rep: &str, today: NaiveDate) -> Card {
    let full = demo_card_on(rng_seed, index, territory, today);
    let mut card = Card::with_id(full.id.clone());
    card.territory = full.territory.clone();
    card.basic = full.basic.clone();
    card.classification.abc = full.classification.abc;
    let mut rng = DemoRng::for_index(rng_seed ^ 0xF1E1_D000, index);
    let nine = Utc
        .from_utc_datetime(&today.and_hms_opt(9, 0, 0).unwrap_or_default())
        .timestamp();
    for i in 0..5i64 {
        let at = DateTime::from_timestamp(nine - (40 - i * 10) * 86_400, 0).unwrap_or_default();
        let visit = demo_visit(&mut rng, &card, at, rep);
        card.visits.push(Keyed {
            id: rng.item_id(),
            value: visit,
        });
    }
    card
}

/// [`field_card`] as a compacted document made by `author`: the card created without
/// its visits, then each visit logged in a change of its own at its time (about 1.6 KB
/// of Automerge data). Returned like [`demo_document`].
pub fn field_document(
    rng_seed: u64,
    index: u64,
    territory: &str,
    author: &DemoAuthor,
    today: NaiveDate,
) -> Result<(CardId, Vec<u8>)> {
    let full = field_card(rng_seed, index, territory, author.rep.as_str(), today);
    let mut card = full.clone();
    card.visits.clear();
    let mut doc = Automerge::new();
    doc.set_author(Some(author.rep.author()));
    doc.set_actor(author.actor.clone());
    let first = full
        .visits
        .first()
        .and_then(|v| v.value.at)
        .map_or(0, |t| t.timestamp());
    doc.transact_with(
        |_| CommitOptions::default().with_time(first - 86_400),
        |tx| create_card(tx, &card),
    )
    .map_err(|f| f.error)?;
    for visit in &full.visits {
        let mut next = card.clone();
        next.visits.push(visit.clone());
        let at = visit.value.at.map_or(0, |t| t.timestamp());
        doc.transact_with(
            |_| CommitOptions::default().with_time(at),
            |tx| write_card(tx, &card, &next),
        )
        .map_err(|f| f.error)?;
        card = next;
    }
    Ok((card.id.clone(), doc.save()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
    }

    #[test]
    fn same_seed_same_card() {
        let a = demo_card_on(7, 3, "华东区", today());
        let b = demo_card_on(7, 3, "华东区", today());
        assert_eq!(a, b);
        assert_ne!(a.id, demo_card_on(7, 4, "华东区", today()).id);
        assert_eq!(a.sales.len(), 12);
        assert!(!a.contacts.is_empty());
        assert!(a.basic.name.as_deref().is_some_and(|n| !n.is_empty()));
    }

    #[test]
    fn demo_document_has_history_and_reads_back() {
        let authors = [
            DemoAuthor::new("zhangwei".parse().expect("rep")),
            DemoAuthor::new("lina".parse().expect("rep")),
        ];
        let (id, bytes) = demo_document(1, 2, "华南区", &authors, 50, today()).expect("document");
        let doc = Automerge::load(&bytes).expect("load");
        let changes = doc.get_changes(&[]).len();
        assert!((40..=50).contains(&changes), "{changes} changes");
        let card = crate::card::doc::read_card(&doc, None).expect("card");
        assert_eq!(card.id, id);
        assert!(card.visits.len() >= 5);
    }
}
