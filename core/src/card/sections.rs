//! The sections of a customer card (客户资料卡) and its repeated items.
//!
//! Straight from DOMAIN.md (seed 002 table 6-4 and seed 000's 营销信息资料卡). Each
//! section is one Automerge map under the card's root; each item (contact, visit,
//! to-do, opportunity) is one map in a collection. Only text written at length is
//! [`LongText`]; every fact is a typed register.

use chrono::{DateTime, NaiveDate, Utc};

use super::field::{LongText, record};
use crate::value::{
    Class, Count, DayOfMonth, Latitude, Longitude, Money, Nature, OppStage, TradeStage, VisitKind,
    Volume,
};

record!(
    /// Basic data (基础资料).
    BasicData {
        /// Customer's name (客户名称).
        name: Option<String> => "客户名称",
        /// Customer number (客户编号).
        customer_no: Option<String> => "客户编号",
        /// Street address (地址).
        address: Option<String> => "地址",
        /// City (城市).
        city: Option<String> => "城市",
        /// Postcode (邮编).
        postcode: Option<String> => "邮编",
        /// Main phone (电话).
        phone: Option<String> => "电话",
        /// Managers (负责人).
        managers: Option<String> => "负责人",
        /// Legal representative (法人代表).
        legal_rep: Option<String> => "法人代表",
        /// Founding date (创立日期).
        founded: Option<NaiveDate> => "创立日期",
        /// Organisational form (组织形式).
        org_form: Option<String> => "组织形式",
        /// Industry (行业).
        industry: Option<String> => "行业",
        /// Assets (资产).
        assets: Option<Money> => "资产",
        /// Business registration number (营业执照号).
        registration_no: Option<String> => "营业执照号",
        /// Bank and account (开户行及账号).
        bank_account: Option<String> => "开户行及账号",
        /// Tax number (税号).
        tax_no: Option<String> => "税号",
        /// Category (类别).
        category: Option<String> => "类别",
        /// Size (规模).
        size: Option<String> => "规模",
        /// The card this one was merged into, as a duplicate of the same customer (已合并至):
        /// set by `Store::merge_duplicate`; the card stays, with its history, and every
        /// device lists only the card it points to.
        merged_into: Option<String> => "已合并至",
    }
);

record!(
    /// Characteristics (客户特征).
    Characteristics {
        /// Service area (服务区域).
        service_area: Option<String> => "服务区域",
        /// Sales capacity (销售能力).
        sales_capacity: Option<String> => "销售能力",
        /// Development potential (发展潜力).
        potential: Option<String> => "发展潜力",
        /// Business philosophy (经营观念).
        philosophy: Option<String> => "经营观念",
        /// Business direction (经营方向).
        direction: Option<String> => "经营方向",
        /// Policies (经营政策).
        policies: Option<String> => "经营政策",
        /// Operating style (经营特点).
        operating_style: Option<String> => "经营特点",
    }
);

record!(
    /// Business status (业务状况).
    BusinessStatus {
        /// Sales performance (销售实绩).
        sales_performance: Option<String> => "销售实绩",
        /// Quality of managers (经营管理者素质).
        manager_quality: Option<String> => "经营管理者素质",
        /// Quality of sales staff (业务人员素质).
        staff_quality: Option<String> => "业务人员素质",
        /// Relations with competitors (与竞争者的关系).
        competitor_relations: Option<String> => "与竞争者的关系",
        /// Relationship and attitude towards us (与本公司的关系及态度).
        attitude_to_us: Option<String> => "与本公司的关系",
    }
);

record!(
    /// Transaction status (交易现状).
    TransactionStatus {
        /// Current sales activity (销售活动现状).
        current_activity: Option<String> => "销售活动现状",
        /// Problems (存在的问题).
        problems: Option<String> => "存在的问题",
        /// Strengths (竞争优势).
        strengths: Option<String> => "竞争优势",
        /// Future plans (未来对策).
        future_plans: Option<String> => "未来对策",
        /// Image and reputation (企业形象与声誉).
        reputation: Option<String> => "形象与声誉",
        /// Credit status (信用状况).
        credit_status: Option<String> => "信用状况",
        /// Trading terms (交易条件).
        trading_terms: Option<String> => "交易条件",
        /// Credit problems (信用问题).
        credit_problems: Option<String> => "信用问题",
    }
);

record!(
    /// Credit data (信用资料).
    CreditData {
        /// Registered capital (注册资本).
        registered_capital: Option<Money> => "注册资本",
        /// Years in business (经营年限).
        years_in_business: Option<Count> => "经营年限",
        /// Credit limit (信用限度).
        credit_limit: Option<Money> => "信用限度",
        /// Credit term in days (信用期限).
        credit_term_days: Option<Count> => "信用期限(天)",
        /// Settlement day of the month (结算日).
        settlement_day: Option<DayOfMonth> => "结算日",
        /// Payment terms (付款方式).
        payment_terms: Option<String> => "付款方式",
        /// Date of the last credit review (上次信用审查).
        last_review: Option<NaiveDate> => "上次信用审查",
        /// Supply suspended after a change in credit status (交易中止).
        supply_suspended: Option<bool> => "交易中止",
        /// Why supply was suspended (中止原因).
        suspended_reason: Option<String> => "中止原因",
    }
);

record!(
    /// Operating data (经营资料).
    OperatingData {
        /// Number of sales staff (销售人员数).
        sales_staff: Option<Count> => "销售人员数",
        /// Market coverage (市场覆盖).
        market_coverage: Option<String> => "市场覆盖",
        /// Floor space in m² (营业面积).
        floor_space_m2: Option<Count> => "营业面积(㎡)",
        /// Warehouse space in m² (仓库面积).
        warehouse_space_m2: Option<Count> => "仓库面积(㎡)",
        /// Transport (运输工具).
        transport: Option<String> => "运输工具",
        /// Delivery addresses (送货地址).
        delivery_addresses: Option<String> => "送货地址",
    }
);

record!(
    /// Marketing information (营销信息资料卡).
    MarketingInfo {
        /// Products: brand, name, spec, quality, packaging, quantity, features (产品).
        products: Option<String> => "产品信息",
        /// Prices: new and old product prices (价格).
        prices: Option<String> => "价格",
        /// Discounts (折扣).
        discounts: Option<String> => "折扣",
        /// Rebates (返利).
        rebates: Option<String> => "返利",
        /// Incentive policy (激励政策).
        incentive_policy: Option<String> => "激励政策",
        /// Consumption: sales amount and quantity (消费).
        consumption: Option<String> => "消费信息",
        /// Consumer profile, behaviour, capacity, psychology (消费者).
        consumer_profile: Option<String> => "消费者特征",
        /// Target customers (目标客户).
        target_customers: Option<String> => "目标客户",
        /// Market segmentation (市场细分).
        segmentation: Option<String> => "市场细分",
    }
);

record!(
    /// Classification fields (客户分类).
    Classification {
        /// By nature (按性质).
        nature: Option<Nature> => "客户性质",
        /// By transaction stage (按交易过程).
        stage: Option<TradeStage> => "交易阶段",
        /// By volume and position (按交易数量和市场地位).
        volume: Option<Volume> => "客户地位",
        /// ABC class from sales (ABC分类).
        abc: Option<Class> => "ABC分类",
        /// Prospect class A–D, for visit planning (潜在客户等级).
        prospect_class: Option<Class> => "潜在客户等级",
    }
);

record!(
    /// Location and route (位置与路线).
    Location {
        /// Latitude (纬度).
        lat: Option<Latitude> => "纬度",
        /// Longitude (经度).
        lon: Option<Longitude> => "经度",
        /// Route area: customers are grouped by area for visit routes (路线区域).
        route_area: Option<String> => "路线区域",
        /// Position in the route order of the area (路序).
        route_order: Option<Count> => "路序",
    }
);

record!(
    /// A contact person (联系人).
    Contact {
        /// Name (姓名).
        name: Option<String> => "姓名",
        /// Title (职务).
        title: Option<String> => "职务",
        /// Phone (电话).
        phone: Option<String> => "电话",
        /// Mobile (手机).
        mobile: Option<String> => "手机",
        /// Email (邮箱).
        email: Option<String> => "邮箱",
        /// WeChat id (微信).
        wechat: Option<String> => "微信",
        /// Birthday (生日).
        birthday: Option<NaiveDate> => "生日",
        /// Notes (备注).
        note: Option<String> => "备注",
        /// The main contact (主要联系人).
        primary: Option<bool> => "主要联系人",
    }
);

record!(
    /// A visit-log entry (跟踪记录): when, who, what was discussed, outcome, next step.
    Visit {
        /// When the visit happened (时间).
        at: Option<DateTime<Utc>> => "时间",
        /// The rep who recorded the visit (拜访人): always the author of the change
        /// that added it, set by the store, never by the caller.
        rep: Option<String> => "拜访人",
        /// The rep a manager recorded this visit for (代为记录); empty when the
        /// author visited in person.
        on_behalf_of: Option<String> => "代为记录",
        /// Visit, call, delivery, collection (方式).
        kind: Option<VisitKind> => "方式",
        /// Where (地点).
        place: Option<String> => "地点",
        /// Latitude where the visit was logged (纬度).
        lat: Option<Latitude> => "纬度",
        /// Longitude where the visit was logged (经度).
        lon: Option<Longitude> => "经度",
        /// What was discussed (洽谈内容).
        summary: LongText => "洽谈内容",
        /// Outcome (结果).
        outcome: Option<String> => "结果",
        /// Next step (下一步).
        next_step: Option<String> => "下一步",
        /// Date of the next planned visit (下次拜访).
        next_visit: Option<NaiveDate> => "下次拜访",
    }
);

record!(
    /// A to-do (待办事务).
    Todo {
        /// What to do (事项).
        title: Option<String> => "事项",
        /// Due date (截止日期).
        due: Option<NaiveDate> => "截止日期",
        /// Done (已完成).
        done: Option<bool> => "已完成",
    }
);

record!(
    /// A sales opportunity (销售机会).
    Opportunity {
        /// What is being sold (机会名称).
        title: Option<String> => "机会名称",
        /// Stage (阶段).
        stage: Option<OppStage> => "阶段",
        /// Expected amount (预计金额).
        amount: Option<Money> => "预计金额",
        /// Expected close date (预计成交日期).
        expected_close: Option<NaiveDate> => "预计成交",
        /// Date the current stage was entered (进入阶段日期).
        stage_since: Option<NaiveDate> => "进入阶段日期",
        /// Notes (备注).
        note: Option<String> => "备注",
    }
);
