//! The `trailwatch` binary: parse flags, run the command, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use trailwatch::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::TestPattern(args)) => trailwatch::test_pattern::run(args).map(|_| ()),
        Some(Command::Validate(args)) => trailwatch::validate(args),
        Some(Command::Filters(args)) => trailwatch::filters(args),
        Some(Command::Run(args)) => trailwatch::run(args),
        Some(Command::Learn(args)) => trailwatch::service::learn(args),
        // Exit 1 when anything checked is not valid (the report says what).
        Some(Command::VerifyLogs(args)) => match trailwatch::integrity::run(args) {
            Ok(false) => return ExitCode::from(1),
            other => other.map(|_| ()),
        },
        // grep's statuses: 0 matched, 1 nothing matched, 2 an input could not be read.
        Some(Command::Grep(args)) => match trailwatch::grep::run(args) {
            Ok(0) => Ok(()),
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Some(Command::Rules(args)) => trailwatch::alerting::command::rules(args),
        Some(Command::Dashboard(args)) => trailwatch::alerting::command::dashboard(args),
        Some(Command::Sigma(trailwatch::cli::SigmaCommand::Convert(args))) => {
            trailwatch::sigma::convert::run(args)
        }
        Some(Command::Sigma(trailwatch::cli::SigmaCommand::Alerts(args))) => {
            trailwatch::sigma::alerts::run(args)
        }
        None => trailwatch::run(&cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trailwatch: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
