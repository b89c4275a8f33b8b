//! Runs the machine's monitor with one open window for a while and prints the CPU time this
//! process used meanwhile: the monitor's own cost. Used by `bench/monitor_overhead`.
//!
//! Usage: `idle_monitor INTERVAL_S DURATION_S`. Prints one JSON line, with the components the
//! monitor reads at every tick (`GREENAI_SYSFS_ROOT` points it at a fixture tree with counters).

use greenai_meter::detect;
use std::time::{Duration, Instant};

fn cpu_time() -> Duration {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn main() {
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("usage: idle_monitor INTERVAL_S DURATION_S")
        })
        .collect();
    let (interval, duration) = (args[0], args[1]);
    let (builder, report) = detect::machine_builder();
    let m = builder
        .interval(Duration::from_secs_f64(interval))
        .start()
        .expect("monitor");
    m.begin_window("bench").expect("window");
    let (c0, t0) = (cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(duration));
    let (c1, t1) = (cpu_time(), Instant::now());
    let w = m.end_window("bench").expect("window");
    let cpu = (c1 - c0).as_secs_f64();
    let wall = (t1 - t0).as_secs_f64();
    let read: Vec<String> = report
        .components
        .iter()
        .map(|c| format!("\"{} ({:?})\"", c.sensor, c.provenance))
        .collect();
    println!(
        "{{\"tool\":\"greenai\",\"interval_s\":{interval},\"wall_s\":{wall:.3},\"cpu_s\":{cpu:.6},\"core_pct\":{:.5},\"samples\":{},\"reads\":[{}]}}",
        100.0 * cpu / wall,
        w.samples,
        read.join(",")
    );
}
