//! How a job's progress shows on the terminal: a bar while an epoch runs (when stderr is a
//! terminal), one line per epoch otherwise, and the job's notes as they come.

use greenai_tune::job::{Progress, Step};
use greenai_tune::train::EpochReport;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Set by SIGUSR1 once [`pause_on_sigusr1`] is installed.
static PAUSE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigusr1(_: libc::c_int) {
    PAUSE.store(true, Ordering::SeqCst);
}

/// Makes SIGUSR1 ask the job to pause at its next epoch end (instead of ending the process).
pub fn pause_on_sigusr1() {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGUSR1, on_sigusr1 as *const () as libc::sighandler_t);
    }
}

pub struct Console {
    bar: Option<indicatif::ProgressBar>,
    /// Print a line per epoch where there is no bar.
    epoch_lines: bool,
    epoch: AtomicUsize,
}

impl Console {
    /// A bar when stderr is a terminal; `epoch_lines` prints a line per epoch otherwise.
    pub fn new(epoch_lines: bool) -> Console {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        Console {
            bar,
            epoch_lines,
            epoch: AtomicUsize::new(0),
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for Console {
    fn pause_requested(&self) -> bool {
        PAUSE.load(Ordering::SeqCst)
    }

    fn note(&self, line: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn step(&self, s: &Step) {
        let Some(b) = &self.bar else { return };
        if self.epoch.swap(s.epoch, Ordering::Relaxed) != s.epoch {
            b.reset();
            b.set_length(s.samples_per_epoch as u64);
            b.set_prefix(format!("{}/{}", s.epoch, s.epochs));
        }
        b.set_position(s.samples as u64);
        if let Some(e) = s.energy {
            b.set_message(format!(
                "loss {:.4} acc {:.4}, {:.1} so far",
                s.mean_loss, s.train_accuracy, e
            ));
        }
    }

    fn epoch(&self, r: &EpochReport, epochs: usize) {
        if self.bar.is_some() || !self.epoch_lines {
            return;
        }
        eprintln!(
            "epoch {}/{epochs}: loss {:.4}, train accuracy {:.4}{}, {:.2} ({}), {:.1} s",
            r.epoch,
            r.loss,
            r.train_accuracy,
            r.validation_accuracy
                .map(|v| format!(", validation {v:.4}"))
                .unwrap_or_default(),
            greenai_units::Energy::from_joules(r.energy_j),
            r.provenance,
            r.duration_s
        );
    }
}
