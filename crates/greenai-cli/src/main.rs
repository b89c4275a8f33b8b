//! The `greenai` command: a thin layer over the library crates.

use std::process::ExitCode;

mod cli;
mod cli_fleet;
mod cli_power;
mod cli_recommend;
mod cli_sched;
mod cli_text;
mod cmd;
mod parse;
mod render;

/// greenai's own errors (bad flags, unreadable input, a sensor that cannot be opened) exit with 2;
/// `greenai run` otherwise exits with its child's status.
pub const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let args = match cli::parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // A forced int8 kernel this CPU lacks (or a name of none) is refused before any work.
    if let Err(e) = greenai_nn::int8::Kernel::selected() {
        eprintln!("greenai: {e}");
        return ExitCode::from(EXIT_ERROR);
    }
    match cmd::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("greenai: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
