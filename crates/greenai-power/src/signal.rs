//! Restoring file knobs from a signal handler: when a process with changed knobs is ended by
//! SIGINT, SIGTERM, SIGHUP or SIGQUIT, the handler writes each file's saved bytes back (`pwrite`
//! on descriptors opened beforehand: no allocation, no locks) and lets the signal end the process
//! as it would have. The journal entries stay open; [`crate::guard::recover`] closes them on the
//! next start.

use std::cell::UnsafeCell;
use std::os::fd::IntoRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

const SLOTS: usize = 256;
const BYTES: usize = 64;

struct Slot {
    /// -1: free. Set last (Release) once `bytes` and `len` are written.
    fd: AtomicI32,
    len: AtomicUsize,
    bytes: UnsafeCell<[u8; BYTES]>,
    taken: AtomicBool,
}

// SAFETY: `bytes` is written only by the thread that took the slot, before publishing `fd`, and
// read only after `fd` is seen (Acquire).
unsafe impl Sync for Slot {}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    fd: AtomicI32::new(-1),
    len: AtomicUsize::new(0),
    bytes: UnsafeCell::new([0; BYTES]),
    taken: AtomicBool::new(false),
};

static TABLE: [Slot; SLOTS] = [FREE; SLOTS];
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Keeps `path` open for the handler to write `bytes` to; `None` when there is no room (the
/// journal still restores it on the next start).
pub fn register(path: &Path, bytes: &[u8]) -> Option<usize> {
    if bytes.len() > BYTES {
        return None;
    }
    let fd = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .ok()?
        .into_raw_fd();
    for (i, s) in TABLE.iter().enumerate() {
        if s.taken
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: the slot is ours (taken) and not yet published.
            unsafe {
                (&mut *s.bytes.get())[..bytes.len()].copy_from_slice(bytes);
            }
            s.len.store(bytes.len(), Ordering::Release);
            s.fd.store(fd, Ordering::Release);
            install();
            return Some(i);
        }
    }
    // SAFETY: closing the descriptor just opened.
    unsafe { libc::close(fd) };
    None
}

/// Forgets slots once their knob is restored.
pub fn unregister(slots: &[usize]) {
    for &i in slots {
        let s = &TABLE[i];
        let fd = s.fd.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            // SAFETY: the descriptor was ours.
            unsafe { libc::close(fd) };
        }
        s.taken.store(false, Ordering::Release);
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    for s in TABLE.iter() {
        let fd = s.fd.load(Ordering::Acquire);
        if fd >= 0 {
            let len = s.len.load(Ordering::Acquire);
            // SAFETY: pwrite and ftruncate are async-signal-safe; the bytes were published
            // before the fd.
            unsafe {
                libc::ftruncate(fd, 0);
                libc::pwrite(fd, s.bytes.get().cast::<libc::c_void>(), len, 0);
            }
        }
    }
    // SAFETY: restoring the default action and re-raising are async-signal-safe.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

fn install() {
    if INSTALLED.swap(true, Ordering::AcqRel) {
        return;
    }
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: querying then installing a handler; one already set by the program (greenai
        // run forwards these) is left alone: that program survives the signal and its guard
        // restores.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old);
            if old.sa_sigaction == libc::SIG_DFL {
                libc::signal(sig, on_signal as *const () as libc::sighandler_t);
            }
        }
    }
}
