//! The CLI's error: core's errors plus the few the command line adds, each with a
//! stable code and an exit status.
//!
//! Exit status 2 means "what you gave me is wrong" (a bad value, an unknown id, a
//! file that is not a bundle or not a store): retrying the same command cannot
//! help. Exit status 1 is every other failure (disk, SQLite, a bug). Codes come
//! from [`fieldbook_core::Error::code`] where core raised the error; the codes the
//! CLI adds are listed in [`CliError::CLI_CODES`].

use std::fmt;

use fieldbook_core::Error as CoreError;

/// What went wrong in a command.
#[derive(Debug)]
pub enum CliError {
    /// Core refused or failed.
    Core(CoreError),
    /// The input is wrong (exit 2).
    Input {
        /// Stable code, e.g. `input.usage`.
        code: &'static str,
        /// What is wrong, for a person.
        message: String,
    },
    /// Something failed that is not the input's fault (exit 1).
    Failure {
        /// Stable code, e.g. `cli.io`.
        code: &'static str,
        /// What failed.
        message: String,
    },
}

impl CliError {
    /// The codes the CLI itself can return (besides every core code); a test
    /// pins them so renaming one is a conscious act.
    #[cfg_attr(not(test), allow(dead_code))]
    pub const CLI_CODES: &'static [&'static str] = &[
        "input.usage",
        "input.ambiguous_id",
        "input.unknown_setting",
        "input.file",
        "store.missing",
        "cli.io",
    ];

    /// A bad-input error.
    pub fn input(code: &'static str, message: impl Into<String>) -> CliError {
        CliError::Input {
            code,
            message: message.into(),
        }
    }

    /// An invalid value for a named field, with core's code so every front end agrees.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> CliError {
        CliError::Core(CoreError::InvalidValue {
            field: field.into(),
            reason: reason.into(),
        })
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Core(e) => e.code(),
            CliError::Input { code, .. } | CliError::Failure { code, .. } => code,
        }
    }

    /// The process exit status: 2 for bad input, 1 for other failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Core(e) => {
                if is_bad_input(e) {
                    2
                } else {
                    1
                }
            }
            CliError::Input { .. } => 2,
            CliError::Failure { .. } => 1,
        }
    }
}

/// Core errors that the person running the command caused and can fix.
fn is_bad_input(e: &CoreError) -> bool {
    let code = e.code();
    ["input.", "card.", "bundle.", "device.", "access."]
        .iter()
        .any(|p| code.starts_with(p))
        || matches!(
            code,
            "store.not_fieldbook" | "store.newer_schema" | "sync.not_enrolled"
        )
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Core(e) if e.detailed_code() == "auth.revoked" => write!(
                f,
                "{e}. This device was revoked: ask your administrator for a new \
                 enrolment token and re-enrol it with `fieldbook enrol URL TOKEN`"
            ),
            CliError::Core(e) => write!(f, "{e}"),
            CliError::Input { message, .. } | CliError::Failure { message, .. } => {
                f.write_str(message)
            }
        }
    }
}

impl From<CoreError> for CliError {
    fn from(e: CoreError) -> Self {
        CliError::Core(e)
    }
}

/// Result alias for commands.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_codes_are_stable_and_distinct_from_core() {
        assert_eq!(
            CliError::CLI_CODES,
            [
                "input.usage",
                "input.ambiguous_id",
                "input.unknown_setting",
                "input.file",
                "store.missing",
                "cli.io"
            ]
        );
        for code in CliError::CLI_CODES {
            assert!(
                !CoreError::ALL_CODES.contains(code),
                "{code} is also a core code"
            );
        }
    }

    #[test]
    fn a_revoked_device_is_told_to_re_enrol() {
        let e = CliError::Core(CoreError::Server {
            status: 401,
            code: "auth.revoked".into(),
            message: "device revoked".into(),
        });
        assert!(e.to_string().contains("re-enrol"), "{e}");
        assert!(e.to_string().contains("fieldbook enrol"), "{e}");
        let other = CliError::Core(CoreError::Server {
            status: 401,
            code: "auth.bad_token".into(),
            message: "bad token".into(),
        });
        assert!(!other.to_string().contains("re-enrol"));
    }

    #[test]
    fn bad_input_exits_2_other_failures_1() {
        assert_eq!(
            CliError::Core(CoreError::CardNotFound("x".into())).exit_code(),
            2
        );
        assert_eq!(CliError::Core(CoreError::BundleForeign).exit_code(), 2);
        assert_eq!(
            CliError::Core(CoreError::NotAStore("x".into())).exit_code(),
            2
        );
        assert_eq!(
            CliError::Core(CoreError::Io(std::io::Error::other("disk"))).exit_code(),
            1
        );
        assert_eq!(
            CliError::Failure {
                code: "cli.io",
                message: String::new()
            }
            .exit_code(),
            1
        );
    }
}
