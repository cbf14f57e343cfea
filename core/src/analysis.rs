//! The seeds' sales-management methods, computed from typed cards: pure functions (no SQL,
//! no I/O, no clock: "today" is an argument), so a phone computes them offline and the
//! server computes the same numbers for managers from the same code.
//!
//! Each method has its own module and its own settings type, whose `Default` is
//! DOMAIN.md's starting point and whose `validate` refuses a configuration that does not
//! add up (the previous one then stays in force).

pub mod abc;
pub mod activity;
pub mod credit;
pub mod duplicates;
pub mod pipeline;
pub mod product;
pub mod ratio;
pub mod route;
#[cfg(test)]
mod testing;
pub mod visits;
