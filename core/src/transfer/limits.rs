//! The caps every import file is held to before and while it is read.

/// Caps on an import file. `Default` fits a company's whole customer list (50,000 rows)
/// with room to spare and bounds memory to a few hundred MiB at worst (the file, the
/// shared strings calamine keeps, the table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Most data rows (the header row not counted).
    pub max_rows: usize,
    /// Most columns in a row.
    pub max_columns: usize,
    /// Longest cell, in characters.
    pub max_cell_chars: usize,
    /// Most text in the whole table, in bytes: shared strings are stored once in an
    /// XLSX but copied into every cell that uses them.
    pub max_table_bytes: usize,
    /// Most entries in an XLSX's zip.
    pub max_zip_entries: usize,
    /// Largest inflated size of one zip entry, in bytes.
    pub max_entry_bytes: u64,
    /// Largest inflated size of all entries together, in bytes.
    pub max_inflated_bytes: u64,
    /// Highest inflated:compressed ratio of an entry over [`Limits::RATIO_FLOOR`] bytes.
    /// Sheet XML compresses 10–30:1; a bomb, 1000:1.
    pub max_ratio: u64,
}

impl Limits {
    /// Entries smaller than this are not judged by their ratio (a tiny file of one
    /// repeated character compresses far, and harms nobody).
    pub const RATIO_FLOOR: u64 = 1 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 32 << 20,
            max_rows: 50_000,
            max_columns: 128,
            max_cell_chars: 10_000,
            max_table_bytes: 128 << 20,
            max_zip_entries: 1_000,
            // 50,000 rows of 30 columns are ~50 MiB of sheet XML; calamine holds the
            // shared strings in memory, so the caps bound its memory too.
            max_entry_bytes: 128 << 20,
            max_inflated_bytes: 256 << 20,
            max_ratio: 200,
        }
    }
}
