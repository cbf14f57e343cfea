//! Why an import or export failed, each with a stable dotted code. Messages name rows,
//! columns and field paths, never a cell's content: an import file is a customer list.

/// A failed import or export.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The file is larger than the cap.
    #[error("the file is {size} bytes; at most {max} bytes are read")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// An XLSX whose zip would inflate past the caps: a zip bomb, or a lying header.
    #[error("the workbook is refused as a zip bomb: {0}")]
    ZipBomb(String),
    /// The bytes are not a readable file of the format.
    #[error("the file is not a readable {format} file: {reason}")]
    Unreadable {
        /// `CSV` or `XLSX`.
        format: &'static str,
        /// What the reader reported (no cell content).
        reason: String,
    },
    /// More data rows than the cap.
    #[error("the file has more than {max} data rows; split it")]
    TooManyRows {
        /// The cap.
        max: usize,
    },
    /// A row with more columns than the cap.
    #[error("row {row} has more than {max} columns")]
    TooManyColumns {
        /// The row (1-based, as a spreadsheet numbers it).
        row: u32,
        /// The cap.
        max: usize,
    },
    /// A cell longer than the cap.
    #[error("row {row}, column {column}: the cell is longer than {max} characters")]
    CellTooLong {
        /// The row (1-based).
        row: u32,
        /// The column (1-based).
        column: u32,
        /// The cap.
        max: usize,
    },
    /// More text in the table than the cap (e.g. one shared string in every cell).
    #[error("the sheet holds more than {max} bytes of text")]
    TooMuchText {
        /// The cap.
        max: usize,
    },
    /// The workbook has no such sheet, or no sheet at all.
    #[error("the workbook has no sheet {0:?}")]
    NoSheet(String),
    /// No header row: the file or sheet is empty.
    #[error("the file has no header row")]
    Empty,
    /// A `--map` entry is not `列名=field.path`, or names no card field.
    #[error("mapping {0}")]
    BadMapping(String),
    /// Columns that match no card field, and the import was not told to ignore them.
    #[error(
        "column(s) {} match no card field: map them (列名=field.path) or ignore them",
        list(.0)
    )]
    UnknownColumns(Vec<u32>),
    /// Rows with problems: nothing was imported.
    #[error("{count} problem(s) in the file, nothing imported (first: {first})")]
    Rejected {
        /// How many problems.
        count: usize,
        /// The first few, as `row R, column C (path): code`.
        first: String,
    },
    /// Writing an export failed.
    #[error("the export could not be written: {0}")]
    Write(String),
    /// Reading or writing a file failed.
    #[error("file: {0}")]
    Io(#[source] std::io::Error),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] crate::Error),
}

fn list(columns: &[u32]) -> String {
    let shown: Vec<String> = columns.iter().take(20).map(u32::to_string).collect();
    let more = if columns.len() > 20 { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}

impl TransferError {
    /// Every code this type returns (a test pins them).
    pub const CODES: &'static [&'static str] = &[
        "import.too_large",
        "import.zip_bomb",
        "import.bad_file",
        "import.too_many_rows",
        "import.too_many_columns",
        "import.cell_too_long",
        "import.too_much_text",
        "import.no_sheet",
        "import.empty",
        "import.bad_mapping",
        "import.unknown_columns",
        "import.rejected",
        "export.write",
        "transfer.io",
    ];

    /// The stable code (a store error keeps core's own).
    pub fn code(&self) -> &'static str {
        match self {
            TransferError::TooLarge { .. } => "import.too_large",
            TransferError::ZipBomb(_) => "import.zip_bomb",
            TransferError::Unreadable { .. } => "import.bad_file",
            TransferError::TooManyRows { .. } => "import.too_many_rows",
            TransferError::TooManyColumns { .. } => "import.too_many_columns",
            TransferError::CellTooLong { .. } => "import.cell_too_long",
            TransferError::TooMuchText { .. } => "import.too_much_text",
            TransferError::NoSheet(_) => "import.no_sheet",
            TransferError::Empty => "import.empty",
            TransferError::BadMapping(_) => "import.bad_mapping",
            TransferError::UnknownColumns(_) => "import.unknown_columns",
            TransferError::Rejected { .. } => "import.rejected",
            TransferError::Write(_) => "export.write",
            TransferError::Io(_) => "transfer.io",
            TransferError::Store(e) => e.code(),
        }
    }

    /// Whether the input is at fault (retrying the same file cannot help).
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            TransferError::Write(_) | TransferError::Io(_) | TransferError::Store(_)
        )
    }
}
