//! Command-line arguments of `greenai power`.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum PowerCommand {
    /// Every power knob: value, hardware range, and whether greenai may change it (and if not, how).
    Show {
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Change one knob until `greenai power restore` (journaled first).
    Set {
        /// The knob's id, as `power show` lists it (`powercap:intel-rapl:0:long_term`,
        /// `cpufreq:max_freq`, `cpufreq:governor`, `nvml:0:power_limit`).
        knob: String,
        /// The value: watts (`40`, `40W`), a frequency (`2.4GHz`, `2400MHz`) or a word.
        value: String,
        /// Say what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Put back every change greenai left: those of greenai processes that ended without restoring
    /// (a crash, `kill -9`) and those `power set` made.
    Restore,
}
