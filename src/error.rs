//! Errors that end a command, with the exit code each maps to (0 ok, 1 runtime, 2 usage/config).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use trailwatch_pattern::FilterError;

use crate::config::ConfigError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A filter pattern given on the command line is invalid.
    #[error("{}", PatternReport { pattern, error })]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        error: Box<FilterError>,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(Box<ConfigError>),
    /// Bad flags.
    #[error("{0}")]
    Usage(String),
    /// Reading or writing failed.
    #[error("{}{error}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Io {
        /// The file involved, if any.
        path: Option<PathBuf>,
        /// The failure.
        error: std::io::Error,
    },
    /// The service could not start, or failed while running.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Why the service could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A listen address is taken or not allowed.
    #[error("cannot listen for {what} on {addr}: {source}")]
    Bind {
        /// What the listener is for.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The failure.
        source: std::io::Error,
    },
    /// The dead-letter file cannot be opened.
    #[error("dead-letter file {}: {source}", path.display())]
    DeadLetter {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A sink cannot be opened.
    #[error(transparent)]
    Sink(#[from] crate::sink::StartError),
    /// A `--files` path cannot be read.
    #[error("--files: {0}")]
    Files(std::io::Error),
    /// The anomaly state file cannot be used.
    #[error(transparent)]
    AnomalyState(#[from] crate::anomaly::StateError),
    /// A thread (or the runtime) cannot be started.
    #[error("cannot start a thread: {0}")]
    Threads(std::io::Error),
    /// The final metrics cannot be written.
    #[error("{}: {source}", path.display())]
    MetricsOut {
        /// Where they were to go.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// Shutdown ran out of time.
    #[error(
        "shutdown did not finish within {0:?} (--shutdown-timeout); some accepted events were not processed"
    )]
    ShutdownTimeout(Duration),
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Config(Box::new(e))
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        CliError::Io { path: None, error }
    }
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Pattern { .. } | CliError::Config(_) | CliError::Usage(_) => 2,
            CliError::Io { .. } | CliError::Service(_) => 1,
        }
    }

    /// Whether this is stdout going away (`trailwatch ... | head`), which is not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        let broken = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
        match self {
            CliError::Io { error, .. } => broken(error),
            CliError::Service(ServiceError::MetricsOut { source, .. }) => broken(source),
            _ => false,
        }
    }
}

/// A pattern error with the pattern and a caret under the column.
struct PatternReport<'a> {
    pattern: &'a str,
    error: &'a FilterError,
}

impl fmt::Display for PatternReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        if let FilterError::Pattern(p) = self.error {
            if !self.pattern.contains('\n') {
                write!(
                    f,
                    "\n  {}\n  {}^",
                    self.pattern,
                    " ".repeat(p.column.saturating_sub(1))
                )?;
            }
        }
        Ok(())
    }
}
