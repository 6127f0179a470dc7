//! `janus-cli`: info, ping, raw calls, the Admin API, live events and load runs against
//! Janus, over any transport janus-client speaks. `janus-cli --help` says it all.

mod args;
mod commands;
mod connection;
mod failure;
mod interrupt;
mod output;

use clap::Parser;
use std::process::ExitCode;

use args::{Cli, Command};
use failure::{Exit, Failure};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are no errors; usage errors exit with 2.
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Ok.into()
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("janus-cli: cannot start the runtime: {e}");
            return Exit::Connection.into();
        }
    };
    let outcome = runtime.block_on(run(cli));
    // Whatever a command left running (a connection task) must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match outcome {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("janus-cli: {failure}");
            failure.exit.into()
        }
    }
}

async fn run(cli: Cli) -> Result<Exit, Failure> {
    let conn = &cli.connection;
    let json = cli.json;
    match cli.command {
        Command::Info => commands::info::run(conn, json).await,
        Command::Ping(a) => commands::ping::run(conn, &a, json).await,
        Command::Call(a) => commands::call::run(conn, &a).await,
        Command::Admin(a) => commands::admin::run(conn, a, json).await,
        Command::Watch(a) => commands::watch::run(conn, &a, json).await,
        Command::Load(a) => commands::load::run(conn, &a, json).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "janus-cli", &mut std::io::stdout());
            Ok(Exit::Ok)
        }
    }
}
