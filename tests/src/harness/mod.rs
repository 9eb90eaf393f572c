//! Harness for end-to-end tests: find the built binaries, start them with
//! their output captured to files, wait for them to listen, stop them.
//!
//! `env!("CARGO_BIN_EXE_…")` only names binaries of the crate under test, so
//! [`binary_path`] looks in the workspace's target directory instead;
//! `cargo test --workspace` builds every binary before running tests.

mod binary;
mod process;
mod wait;

pub use binary::{binary_path, workspace_root};
pub use process::{ChildGuard, Spawn};
pub use wait::{free_addr, free_port, wait_for_http, wait_for_tcp};

use std::path::PathBuf;
use std::time::Duration;

/// Error of a harness operation.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The binary was not built (or not where it was looked for).
    #[error(
        "binary {name:?} not found (looked in {searched:?}); build it with `cargo build --workspace --bins`"
    )]
    BinaryNotFound {
        name: String,
        searched: Vec<PathBuf>,
    },
    /// Starting, signalling or waiting for a process failed.
    #[error("{what} {name}: {source}")]
    Process {
        what: &'static str,
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// Something did not happen before its deadline.
    #[error("{what} not within {deadline:?} (last: {last})")]
    Deadline {
        what: String,
        deadline: Duration,
        last: String,
    },
    /// The process exited while it was being waited on.
    #[error("{name} exited with {status} before {what}")]
    Exited {
        name: String,
        status: std::process::ExitStatus,
        what: String,
    },
}
