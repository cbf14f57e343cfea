//! `Store::import_table`: a customer list from a spreadsheet into this store, all or
//! nothing. Every row is read and validated first (`transfer::rows::prepare`, with
//! duplicates flagged against the store's cards); then either the report alone (a dry
//! run), or a refusal naming the problems, or every card created in **one** SQLite
//! transaction, so a bad row 9,000 leaves the store and its outbox exactly as they
//! were. Each card is still one Automerge change of its own, queued for the server as
//! any new card is.

use automerge::Automerge;
use rusqlite::{Transaction, TransactionBehavior, params};

use super::DefaultTerritory;
use super::{Cached, Store, now};
use crate::card::Card;
use crate::card::doc::create_card;
use crate::error::{Error, Result};
use crate::ids::CardId;
use crate::transfer::rows::prepare;
use crate::transfer::{ImportOptions, ImportReport, Table, TransferError};

impl Store {
    /// Import a table of customers: with `dry_run`, only the report (problems,
    /// duplicates, what would be created); otherwise, if there are no problems (and no
    /// unknown columns unless `options.ignore_unknown`), every card in one transaction.
    pub fn import_table(
        &mut self,
        table: &Table,
        options: &ImportOptions,
        dry_run: bool,
    ) -> Result<ImportReport, TransferError> {
        self.refresh_lean()?;
        // Rows naming no territory go where a card made by hand goes.
        let mut options = options.clone();
        if options.territory.is_none() {
            match self.default_territory()? {
                DefaultTerritory::One(only) => options.territory = Some(only),
                DefaultTerritory::Unknown => {}
                DefaultTerritory::Several(_) => options.require_territory = true,
            }
        }
        let options = &options;
        // Duplicates as the company defines them (delivered by sync), like every report.
        let duplicates = &self.settings.company.settings.duplicates;
        let prepared = prepare(table, options, self.lean.cards(), duplicates)?;
        let mut report = prepared.report;
        report.dry_run = dry_run;
        if dry_run {
            return Ok(report);
        }
        if !report.unknown_columns.is_empty() && !options.ignore_unknown {
            return Err(TransferError::UnknownColumns(report.unknown_columns));
        }
        if !report.problems.is_empty() {
            let first: Vec<String> = report.problems.iter().take(5).map(|p| p.locate()).collect();
            return Err(TransferError::Rejected {
                count: report.problems.len(),
                first: first.join("; "),
            });
        }
        let ids = self.insert_all(prepared.cards)?;
        report.created = ids.len();
        report.created_ids = ids;
        Ok(report)
    }

    /// Store cards built elsewhere as new cards, all in one transaction: each is one
    /// change of its own in the outbox, and either all are stored or none is. Each
    /// document is built, written and dropped in turn (a loaded card costs ~17 KiB of
    /// heap; ten thousand of them at once would cost 170 MiB).
    pub fn insert_all(&mut self, cards: Vec<Card>) -> Result<Vec<CardId>> {
        let (actor, rep) = self.identity_for_writing()?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(cards.len());
        for card in &cards {
            let id = card.id.clone();
            let exists: bool = tx.query_row(
                "SELECT count(*) FROM cards WHERE id = ?1",
                [id.as_str()],
                |r| r.get::<_, i64>(0),
            )? > 0;
            if exists {
                return Err(Error::invalid("id", format!("card {id} already exists")));
            }
            let mut doc = Automerge::new();
            Self::act_as(&mut doc, &actor, &rep);
            doc.transact_with(
                |touched: &Vec<String>| Self::commit_options(touched),
                |t| create_card(t, card),
            )
            .map_err(|f| f.error)?;
            let snapshot = doc.save();
            tx.execute(
                "INSERT INTO cards (id, snapshot, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                params![id.as_str(), &snapshot, now()],
            )?;
            let num = tx.last_insert_rowid();
            let cached = Cached {
                doc,
                num,
                version: 0,
            };
            Self::to_outbox(&tx, num, &snapshot, &cached.doc.get_heads())?;
            Self::reindex(&tx, &self.settings, &cached)?;
            ids.push(id);
        }
        tx.commit()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::{Limits, read_csv};

    fn store(dir: &tempfile::TempDir) -> Store {
        let mut s = Store::open(dir.path().join("imp.db")).expect("open");
        s.init_identity("zhangwei".parse().expect("rep"))
            .expect("init");
        s
    }

    fn outbox_rows(s: &Store) -> i64 {
        s.conn
            .query_row("SELECT count(*) FROM sync_outbox", [], |r| r.get(0))
            .expect("outbox")
    }

    /// 9,000 rows (rows 2–9,001 of the file); the one at `bad` has an invalid amount.
    fn list(bad: Option<u32>) -> String {
        let mut csv = String::from("客户名称,电话,信用额度,区域\n");
        for i in 0..9_000u32 {
            let row = i + 2;
            let limit = if Some(row) == bad { "五万" } else { "50000" };
            csv.push_str(&format!(
                "华东{i:04}号商贸有限公司,021-6{i:07},{limit},华东区\n"
            ));
        }
        csv
    }

    #[test]
    fn one_bad_row_at_9000_imports_nothing_and_leaves_the_outbox_as_it_was() {
        let dir = tempfile::tempdir().expect("dir");
        let mut s = store(&dir);
        s.create(|c| {
            c.basic.name = Some("已有客户".into());
            Ok(())
        })
        .expect("card");
        let (cards, outbox) = (s.count().expect("count"), outbox_rows(&s));
        let table = read_csv(list(Some(9_000)).as_bytes(), &Limits::default()).expect("csv");
        let e = s
            .import_table(&table, &ImportOptions::default(), false)
            .expect_err("refused");
        assert_eq!(e.code(), "import.rejected");
        assert!(
            e.to_string()
                .contains("row 9000, column 3 (credit.credit_limit)"),
            "{e}"
        );
        assert!(
            !e.to_string().contains("五万"),
            "no cell content in the message: {e}"
        );
        assert_eq!(s.count().expect("count"), cards);
        assert_eq!(outbox_rows(&s), outbox);

        let dry = s
            .import_table(&table, &ImportOptions::default(), true)
            .expect("dry run");
        assert_eq!((dry.problems.len(), dry.problems[0].row), (1, 9_000));
        assert_eq!((dry.to_create, dry.created), (8_999, 0));
        assert_eq!(s.count().expect("count"), cards, "a dry run writes nothing");

        let table = read_csv(list(None).as_bytes(), &Limits::default()).expect("csv");
        let done = s
            .import_table(&table, &ImportOptions::default(), false)
            .expect("import");
        assert_eq!(done.created, 9_000);
        assert_eq!(s.count().expect("count"), cards + 9_000);
        assert_eq!(
            outbox_rows(&s),
            outbox + 9_000,
            "one change per new card, queued"
        );
        let hits = s.search("华东8999号", 5).expect("search");
        assert_eq!(hits.len(), 1, "indexed in the same transaction");
    }

    #[test]
    fn unknown_columns_stop_a_real_import_unless_ignored() {
        let dir = tempfile::tempdir().expect("dir");
        let mut s = store(&dir);
        let table = read_csv(
            "客户名称,销售员\n青岛海滨水产,刘洋\n".as_bytes(),
            &Limits::default(),
        )
        .expect("csv");
        let e = s
            .import_table(&table, &ImportOptions::default(), false)
            .expect_err("unknown column");
        assert_eq!(e.code(), "import.unknown_columns");
        assert!(e.to_string().contains("column(s) 2"), "{e}");
        let options = ImportOptions {
            ignore_unknown: true,
            ..ImportOptions::default()
        };
        let r = s.import_table(&table, &options, false).expect("import");
        assert_eq!(r.created, 1);
    }

    /// Sets the territories a sync would have delivered.
    fn holds(s: &mut Store, territories: &[&str]) {
        Store::set_meta(&s.conn, "territories", territories.join("\n").as_bytes()).expect("meta");
    }

    #[test]
    fn rows_naming_no_territory_go_to_the_reps_one_or_must_be_placed() {
        let dir = tempfile::tempdir().expect("dir");
        let mut s = store(&dir);
        let table = read_csv(
            "客户名称,电话,区域\n青岛海滨水产有限公司,0532-8888001,\n烟台苹果批发市场,0535-6000002,山东区\n"
                .as_bytes(),
            &Limits::default(),
        )
        .expect("csv");
        // Several territories and the row names none: a problem, nothing imported.
        holds(&mut s, &["山东区", "华东区"]);
        let dry = s
            .import_table(&table, &ImportOptions::default(), true)
            .expect("dry run");
        assert_eq!(dry.problems.len(), 1);
        assert_eq!(
            (dry.problems[0].row, dry.problems[0].code),
            (2, "import.missing_territory")
        );
        let e = s
            .import_table(&table, &ImportOptions::default(), false)
            .expect_err("refused");
        assert_eq!(e.code(), "import.rejected");
        assert_eq!(s.count().expect("count"), 0);
        // Chosen for the import: the row naming its own keeps it.
        let options = ImportOptions {
            territory: Some("华东区".into()),
            ..ImportOptions::default()
        };
        let r = s.import_table(&table, &options, false).expect("import");
        let territories: Vec<Option<String>> = r
            .created_ids
            .iter()
            .map(|id| s.card(id).expect("card").card.territory)
            .collect();
        assert_eq!(
            territories,
            vec![Some("华东区".into()), Some("山东区".into())]
        );
        // One territory: the rep's, as for a card made by hand.
        let dir = tempfile::tempdir().expect("dir");
        let mut s = store(&dir);
        holds(&mut s, &["山东区"]);
        let r = s
            .import_table(&table, &ImportOptions::default(), false)
            .expect("import");
        assert!(r.problems.is_empty());
        let first = s.card(&r.created_ids[0]).expect("card");
        assert_eq!(first.card.territory.as_deref(), Some("山东区"));
    }
}
