//! Times the planner over a queue of jobs, as the scheduler re-plans them when the forecast
//! changes. `bench/plan/run.sh` runs it beside CATS on the same jobs.
//!
//! ```text
//! cargo run --release -p greenai-sched --example bench_plan -- FORECAST.csv JOBS.json REPEATS
//! ```
//! JOBS.json: `[{"earliest": unix_s, "duration_s": s, "deadline": unix_s}, …]`. Prints one JSON
//! document: the median seconds to plan them all, and each job's start.

use greenai_sched::plan::{plan_all, Forecast, Job};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: bench_plan FORECAST.csv JOBS.json REPEATS");
        std::process::exit(2);
    }
    let series = greenai_carbon::series::IntensitySeries::from_csv_file(args[1].as_ref())
        .unwrap_or_else(|e| {
            eprintln!("bench_plan: {e}");
            std::process::exit(2)
        });
    let jobs: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&args[2]).expect("jobs file"))
            .expect("jobs JSON");
    let repeats: usize = args[3].parse().expect("repeats");
    let jobs: Vec<Job> = jobs
        .iter()
        .map(|j| Job {
            earliest: j["earliest"].as_f64().unwrap(),
            duration_s: j["duration_s"].as_f64().unwrap(),
            deadline: j["deadline"].as_f64().unwrap(),
            interruptible: false,
        })
        .collect();
    let mut times = Vec::new();
    let mut starts = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        // The forecast is rebuilt each time: a re-plan starts from a fetched series.
        let f = Forecast::new(&series);
        let plans = plan_all(&f, &jobs);
        times.push(t.elapsed().as_secs_f64());
        starts = plans
            .into_iter()
            .map(|p| p.map(|p| p.start()).unwrap_or(f64::NAN))
            .collect();
    }
    times.sort_by(f64::total_cmp);
    let doc = serde_json::json!({
        "jobs": jobs.len(),
        "median_s": times[times.len() / 2],
        "min_s": times[0],
        "max_s": times[times.len() - 1],
        "starts": starts,
    });
    println!("{doc}");
}
