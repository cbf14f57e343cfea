//! The command line, declared with clap's derive API.
//!
//! This module only describes what a person can type; it holds no logic. Values
//! stay text here and are validated by core (or by [`crate::commands`]), so a bad
//! value gets the same stable error code as it would through any other front end.
//! New subcommands (`enrol`, `sync`) are one more variant of [`Command`] and one
//! more arm in [`crate::commands::run`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The exit-status contract, shown under `--help` (and pinned by a test).
pub const EXIT_STATUS: &str = "Exit status: 0 success; 2 bad input (a wrong value, id, field, \
file or usage, or a request this device may not make; retrying the same command cannot \
help); 1 any other failure (network, server, disk). Errors print as error[code] (JSON on \
stderr with --json).";

/// Fieldbook: an offline-first customer book for field sales reps.
///
/// This program is one rep's device: a store file holding customer cards
/// (客户资料卡) that can be edited offline and exchanged with other devices.
#[derive(Debug, Parser)]
#[command(
    name = "fieldbook",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = EXIT_STATUS
)]
pub struct Cli {
    /// The store file [default: $FIELDBOOK_STORE, else ./fieldbook.db].
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<PathBuf>,

    /// Machine-readable JSON on stdout (errors as JSON on stderr).
    #[arg(long, global = true)]
    pub json: bool,

    /// Log what happens to stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up this device for a rep (creates the store if needed); prints the device id.
    Init {
        /// The rep this device acts for, e.g. zhangwei.
        #[arg(long)]
        rep: String,
    },
    /// Create a customer card; prints its id.
    New(NewArgs),
    /// Show a card: every filled-in section, items, and open conflicts.
    Show(ShowArgs),
    /// Set fields: `fieldbook set ID basic.phone=021-1234 credit.credit_limit=50000`.
    Set {
        /// Card id (or a unique prefix of it).
        id: String,
        /// PATH=VALUE pairs; `fieldbook fields` lists the paths.
        #[arg(required = true, value_name = "PATH=VALUE", allow_hyphen_values = true)]
        assignments: Vec<String>,
    },
    /// Clear a field.
    Unset {
        /// Card id (or a unique prefix of it).
        id: String,
        /// The field path, e.g. basic.fax.
        path: String,
    },
    /// Replace or extend the card's notes (备注).
    Note(NoteArgs),
    /// Log a visit, call, delivery or collection (跟踪记录); prints the visit id.
    Visit(VisitArgs),
    /// Contacts (联系人).
    #[command(subcommand)]
    Contact(ContactCommand),
    /// To-dos (待办事务).
    #[command(subcommand)]
    Todo(TodoCommand),
    /// Opportunities (销售机会).
    #[command(subcommand)]
    Opp(OppCommand),
    /// Record a month's sales figure (月销售额); an empty amount removes it.
    Sales {
        /// Card id (or a unique prefix of it).
        id: String,
        /// The month, e.g. 2026-10.
        month: String,
        /// The amount in yuan, e.g. 86000 or 86000.50.
        #[arg(allow_hyphen_values = true)]
        amount: String,
    },
    /// Add or remove tags (标签).
    Tag {
        /// Card id (or a unique prefix of it).
        id: String,
        /// add or rm.
        action: TagAction,
        /// The tags.
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// List cards from the index, filtered and sorted.
    List(ListArgs),
    /// Full-text search (Chinese, names, phone fragments).
    Search {
        /// What to look for; every word must match.
        query: String,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Skip this many results (the next page).
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
    /// Who changed what, when, from which device.
    History {
        /// Card id (or a unique prefix of it).
        id: String,
        /// Only this field, with the value each change left.
        #[arg(long, value_name = "PATH")]
        field: Option<String>,
    },
    /// A card's handover dossier: who held it and why it moved, the visit log, open
    /// to-dos and opportunities, and every field's history.
    Dossier {
        /// Card id (or a unique prefix of it).
        id: String,
    },
    /// List a card's open conflicts: every value, who set it and when.
    Conflicts {
        /// Card id (or a unique prefix of it).
        id: String,
    },
    /// Resolve a conflict by writing the value that is right.
    Resolve {
        /// Card id (or a unique prefix of it).
        id: String,
        /// The conflicted field path, as `conflicts` shows it.
        path: String,
        /// The value to keep (may equal one of the conflicting values).
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Write cards (all, or the given ones) with their full history to a bundle file;
    /// or, with --out, a customer list or report as CSV or XLSX:
    /// `fieldbook export cards|abc|plan --format csv|xlsx --out FILE [filters]`.
    Export(ExportArgs),
    /// Enrol this device with a sync server using a one-time token from an administrator.
    Enrol {
        /// The server's address, e.g. http://127.0.0.1:8787.
        url: String,
        /// The one-time enrolment token (shown once by `fieldbook-server device enrol`).
        token: String,
        /// Extra CA certificates (PEM files) to trust, e.g. a company CA.
        #[arg(long = "ca-cert", value_name = "PEM")]
        ca_certs: Vec<PathBuf>,
    },
    /// Sync with the server: push this device's edits, pull everyone else's.
    Sync {
        /// Extra CA certificates (PEM files) to trust.
        #[arg(long = "ca-cert", value_name = "PEM")]
        ca_certs: Vec<PathBuf>,
    },
    /// Where this device syncs, and what it has not synced yet.
    Status,
    /// Merge a bundle file from another device, or import a customer list (.csv,
    /// .xlsx) as new cards; all or nothing.
    Import(ImportArgs),
    /// The card schema: every field path with its label and kind.
    Fields,
    /// ABC classification of this device's cards by average monthly sales (the seed's
    /// 75/20/5 rule), with the class each card has set by hand next to it.
    Abc {
        /// Classify as of this day (default: today); the window is the full months before.
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
    },
    /// The day's visit plan: who is due and overdue, ordered along the shortest route
    /// from a starting point; prospects taken off the plan; dormant customers.
    Plan {
        /// Plan for this day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
        /// Where the day starts, as LAT,LON (e.g. the office: 31.2304,121.4737).
        #[arg(long, value_name = "LAT,LON")]
        from: String,
        /// Come back to the start at the end of the day.
        #[arg(long)]
        return_to_start: bool,
    },
    /// Credit (信用管理): every card's limit and exposure, what needs a sales manager's
    /// approval and why, approvals, credit reviews due and overdue, suspended supply; or,
    /// with a subcommand, one card's transaction card, or a manager's approval.
    Credit {
        /// The report's day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
        /// `card ID` or `approve ID AMOUNT`.
        #[command(subcommand)]
        action: Option<CreditCommand>,
    },
    /// The sales pipeline: weighted forecast per stage and rep, time in each stage from
    /// the cards' history, stalled opportunities.
    Pipeline {
        /// As of the end of this day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
        /// The calendar's offset from UTC in minutes (default: the company's).
        #[arg(long, value_name = "MINUTES", allow_hyphen_values = true)]
        utc_offset: Option<i32>,
    },
    /// Activity per rep per day, week or month from the cards' history: visits, new
    /// customers, cards updated, opportunities moved, contracts, orders.
    Activity {
        /// day, week (from Monday) or month.
        #[arg(long, default_value = "day")]
        period: String,
        /// First day (default: 30 days, 12 weeks or 12 months back).
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: Option<String>,
        /// Last day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: Option<String>,
        /// The calendar's offset from UTC in minutes (default: the company's).
        #[arg(long, value_name = "MINUTES", allow_hyphen_values = true)]
        utc_offset: Option<i32>,
    },
    /// Cards on this device that look like one customer (same tax number, same phone,
    /// similar name), with the reasons.
    Duplicates,
    /// Merge a duplicate card into the one to keep: the kept card is filled in from the
    /// other, the other points to it; both histories stay.
    Merge {
        /// The card that stays (an id or a unique prefix).
        keep: String,
        /// The duplicate merged into it.
        other: String,
    },
    /// Show this device's settings and the company's, or change a local one:
    /// `fieldbook settings cache_cards=128`.
    Settings {
        /// KEY=VALUE pairs to change.
        #[arg(value_name = "KEY=VALUE")]
        assignments: Vec<String>,
    },
}

impl Command {
    /// Whether the command may create a new store file. Every other command
    /// refuses to run on a path with no store, rather than leave an empty file
    /// behind in whatever directory it was run from.
    pub fn creates_store(&self) -> bool {
        matches!(self, Command::Init { .. } | Command::Enrol { .. })
    }
}

/// `fieldbook new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Customer name (客户名称).
    #[arg(long)]
    pub name: String,
    /// Main phone (电话).
    #[arg(long)]
    pub phone: Option<String>,
    /// Territory (区域).
    #[arg(long)]
    pub territory: Option<String>,
    /// Class A, B or C (ABC分类); D marks a prospect class (潜在客户等级).
    #[arg(long)]
    pub class: Option<String>,
    /// Any other field: --set basic.city=上海 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE", allow_hyphen_values = true)]
    pub sets: Vec<String>,
}

/// `fieldbook show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Card id (or a unique prefix of it).
    pub id: String,
    /// The card as it was right after this change (a hash from `history`).
    #[arg(long, value_name = "HASH", conflicts_with = "as_of")]
    pub at: Option<String>,
    /// The card as it was at this time (2026-11-20, 2026-11-20 10:30, or RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
}

/// `fieldbook note`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("text").required(true).multiple(false))]
pub struct NoteArgs {
    /// Card id (or a unique prefix of it).
    pub id: String,
    /// Replace the notes with this text.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true, group = "text")]
    pub set: Option<String>,
    /// Add this text as a new line at the end of the notes.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true, group = "text")]
    pub append: Option<String>,
}

/// `fieldbook visit`.
#[derive(Debug, Args)]
pub struct VisitArgs {
    /// Card id (or a unique prefix of it).
    pub id: String,
    /// visit (拜访), call (电话), delivery (送货), collection (收款) or other (其他).
    #[arg(long, default_value = "visit")]
    pub kind: String,
    /// When it happened [default: now]. Local time unless an offset is given.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Where (地点).
    #[arg(long)]
    pub place: Option<String>,
    /// Latitude where the visit was logged.
    #[arg(long, allow_hyphen_values = true)]
    pub lat: Option<String>,
    /// Longitude where the visit was logged.
    #[arg(long, allow_hyphen_values = true)]
    pub lon: Option<String>,
    /// What was discussed (洽谈内容).
    #[arg(long)]
    pub summary: String,
    /// Outcome (结果).
    #[arg(long)]
    pub outcome: Option<String>,
    /// Next step (下一步).
    #[arg(long)]
    pub next_step: Option<String>,
    /// Date of the next planned visit (下次拜访), e.g. 2026-12-01.
    #[arg(long, value_name = "DATE")]
    pub next_visit: Option<String>,
    /// Record the visit on behalf of this rep (a manager's device only; the
    /// visit and its history still show this device's rep as who recorded it).
    #[arg(long, value_name = "REP")]
    pub rep: Option<String>,
}

/// `fieldbook credit ...`.
#[derive(Debug, Subcommand)]
pub enum CreditCommand {
    /// The customer transaction card (客户交易卡): its items, which are missing, the
    /// limit requested and whether it is approved.
    Card {
        /// Card id (or a unique prefix of it).
        id: String,
    },
    /// Approve a credit limit on a card (a sales manager's or admin's device only):
    /// recorded as this device's person's change, with the limit requested on the
    /// transaction card.
    Approve {
        /// Card id (or a unique prefix of it).
        id: String,
        /// The approved limit in yuan (e.g. 150000 or 150000.50).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// The approver's note (核准意见).
        #[arg(long)]
        note: Option<String>,
    },
}

/// `fieldbook contact ...`.
#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Add a contact; prints its id.
    Add {
        /// Card id (or a unique prefix of it).
        id: String,
        /// Name (姓名).
        #[arg(long)]
        name: String,
        /// Title (职务).
        #[arg(long)]
        title: Option<String>,
        /// Phone (电话).
        #[arg(long)]
        phone: Option<String>,
        /// Mobile (手机).
        #[arg(long)]
        mobile: Option<String>,
        /// Email (邮箱).
        #[arg(long)]
        email: Option<String>,
        /// WeChat id (微信).
        #[arg(long)]
        wechat: Option<String>,
    },
    /// Set a contact's fields: `contact set ID CONTACT mobile=139...`.
    Set {
        /// Card id (or a unique prefix of it).
        id: String,
        /// The contact's id, as `show` lists it.
        contact: String,
        /// FIELD=VALUE pairs (name, title, phone, mobile, email, wechat, birthday, note, primary).
        #[arg(
            required = true,
            value_name = "FIELD=VALUE",
            allow_hyphen_values = true
        )]
        assignments: Vec<String>,
    },
    /// Remove a contact.
    Rm {
        /// Card id (or a unique prefix of it).
        id: String,
        /// The contact's id.
        contact: String,
    },
}

/// `fieldbook todo ...`.
#[derive(Debug, Subcommand)]
pub enum TodoCommand {
    /// Add a to-do; prints its id.
    Add {
        /// Card id (or a unique prefix of it).
        id: String,
        /// What to do.
        title: String,
        /// Due date, e.g. 2026-12-01.
        #[arg(long, value_name = "DATE")]
        due: Option<String>,
    },
    /// Mark a to-do done.
    Done {
        /// Card id (or a unique prefix of it).
        id: String,
        /// The to-do's id.
        todo: String,
    },
}

/// `fieldbook opp ...`.
#[derive(Debug, Subcommand)]
pub enum OppCommand {
    /// Add an opportunity; prints its id.
    Add {
        /// Card id (or a unique prefix of it).
        id: String,
        /// What is being sold.
        title: String,
        /// first_contact (初次接触), sample_test, negotiation, contract, won, lost.
        #[arg(long)]
        stage: String,
        /// Expected amount in yuan.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Expected close date.
        #[arg(long, value_name = "DATE")]
        close: Option<String>,
    },
    /// Move an opportunity to another stage.
    Stage {
        /// Card id (or a unique prefix of it).
        id: String,
        /// The opportunity's id.
        opp: String,
        /// The new stage.
        stage: String,
    },
}

/// `fieldbook tag ID add|rm`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TagAction {
    /// Add the tags.
    Add,
    /// Remove the tags.
    Rm,
}

/// `fieldbook list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this territory.
    #[arg(long)]
    pub territory: Option<String>,
    /// Only this class (A, B, C, D).
    #[arg(long)]
    pub class: Option<String>,
    /// Only cards with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only cards whose visit is due by DATE [default: today].
    #[arg(long, value_name = "DATE", num_args = 0..=1, default_missing_value = "today")]
    pub due: Option<String>,
    /// Only cards with unresolved conflicts.
    #[arg(long)]
    pub conflicted: bool,
    /// name, updated, last-visit, due, credit or sales.
    #[arg(long, default_value = "name")]
    pub sort: String,
    /// Reverse the order.
    #[arg(long)]
    pub reverse: bool,
    /// Page size.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Rows to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}

/// `fieldbook import FILE`: a bundle, or a customer list from a spreadsheet.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A bundle file, or a customer list (.csv, .tsv, .txt, .xlsx).
    pub file: PathBuf,
    /// The file's format when its name does not say: bundle, csv or xlsx.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// The XLSX sheet to read [default: the first].
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// Which field a column fills, over what its header says (repeatable):
    /// --map 客户全称=basic.name, --map 手机号码=contacts.mobile, --map 销售员=ignore.
    #[arg(long = "map", value_name = "列名=PATH")]
    pub maps: Vec<String>,
    /// Check every row and report problems and duplicates; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Leave out rows that look like a card on this device or an earlier row.
    #[arg(long)]
    pub skip_duplicates: bool,
    /// Import even if some columns match no card field (they are left out).
    #[arg(long)]
    pub ignore_unknown: bool,
    /// The territory (区域) of rows that name none [default: the rep's, if they hold one].
    #[arg(long)]
    pub territory: Option<String>,
}

/// `fieldbook export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The bundle file to write; with --out, what to export: cards, abc or plan.
    pub target: PathBuf,
    /// Only these cards (bundles only).
    pub ids: Vec<String>,
    /// Write a customer list or report to this file (CSV or XLSX).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// csv or xlsx [default: from --out's extension].
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Cards: only this territory.
    #[arg(long)]
    pub territory: Option<String>,
    /// Cards: only this class (A, B, C, D).
    #[arg(long)]
    pub class: Option<String>,
    /// Cards: only cards with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Cards: only cards whose visit is due by DATE.
    #[arg(long, value_name = "DATE")]
    pub due: Option<String>,
    /// Cards: name, updated, last-visit, due, credit or sales.
    #[arg(long, default_value = "name")]
    pub sort: String,
    /// abc, plan: as of this day [default: today].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// plan: where the day starts, LAT,LON.
    #[arg(long, value_name = "LAT,LON")]
    pub from: Option<String>,
    /// plan: come back to the start at the end of the day.
    #[arg(long)]
    pub return_to_start: bool,
}
