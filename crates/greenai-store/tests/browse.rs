//! Reading the database a page at a time: filters, sorting, paging, cut-down series.

mod common;

use common::{sample, start};
use greenai_meter::Sample;
use greenai_store::browse::{RunFilter, RunSort};
use greenai_store::{RunStatus, SampleSink, Store};
use greenai_units::Energy;

/// 30 runs a minute apart, alternating projects and commands, run `i` labelled `n=i`, with
/// energy 100 − i J.
fn thirty(path: &std::path::Path) -> Store {
    let s = Store::open(path).unwrap();
    for i in 0..30u32 {
        let mut st = start(&format!("{i:04x}"));
        st.started_unix_s += 60.0 * i as f64;
        st.project_name = if i % 2 == 0 { "even" } else { "odd" }.into();
        st.command = if i % 3 == 0 { "train" } else { "eval" }.into();
        st.labels.insert("n".into(), i.to_string());
        s.begin_run(&st).unwrap();
        let mut r = s.report(&st.run_id).unwrap();
        r.complete = true;
        r.energy_j = 100.0 - i as f64;
        r.duration_s = i as f64;
        // A label the job adds when it ends (a training run's accuracy) is found too.
        r.labels.insert("parity".into(), (i % 2).to_string());
        s.finish_run(&r).unwrap();
    }
    s
}

#[test]
fn pages_are_filtered_sorted_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let s = thirty(&dir.path().join("g.sqlite"));
    let all = RunFilter::default();
    let p = s.runs_page(&all, RunSort::Started, true, 0, 10).unwrap();
    assert_eq!(p.total, 30);
    let ids: Vec<&str> = p.runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids[0], "001d");
    assert_eq!(ids.len(), 10);
    // The third page, ascending energy: runs 9 down to 0 (energy 91 to 100).
    let p = s.runs_page(&all, RunSort::Energy, false, 20, 10).unwrap();
    let e: Vec<f64> = p.runs.iter().map(|r| r.energy_j.unwrap()).collect();
    assert_eq!(e, (91..=100).map(f64::from).collect::<Vec<_>>());
    // Filters combine; a label's key with a quote stays a value.
    let f = RunFilter {
        project: Some("even".into()),
        command: Some("train".into()),
        ..Default::default()
    };
    let p = s.runs_page(&f, RunSort::Started, false, 0, 100).unwrap();
    let n: Vec<&str> = p.runs.iter().map(|r| r.labels["n"].as_str()).collect();
    assert_eq!(n, ["0", "6", "12", "18", "24"]);
    assert_eq!(p.total, 5);
    let f = RunFilter {
        label: Some(("n".into(), "7".into())),
        ..Default::default()
    };
    assert_eq!(
        s.runs_page(&f, RunSort::Started, true, 0, 10).unwrap().runs[0].run_id,
        "0007"
    );
    let f = RunFilter {
        label: Some(("n\") OR 1=1 --".into(), "7".into())),
        ..Default::default()
    };
    assert_eq!(
        s.runs_page(&f, RunSort::Started, true, 0, 10)
            .unwrap()
            .total,
        0
    );
    // Dates: from run 10's start, before run 12's.
    let t0 = start("x").started_unix_s;
    let f = RunFilter {
        since_unix_s: Some(t0 + 600.0),
        until_unix_s: Some(t0 + 720.0),
        ..Default::default()
    };
    let p = s.runs_page(&f, RunSort::Started, false, 0, 10).unwrap();
    let n: Vec<&str> = p.runs.iter().map(|r| r.labels["n"].as_str()).collect();
    assert_eq!(n, ["10", "11"]);
    // A page is at most MAX_PAGE runs, however many are asked for.
    let p = s
        .runs_page(&all, RunSort::Started, true, 0, u64::MAX)
        .unwrap();
    assert_eq!(p.runs.len(), 30);
    assert_eq!(s.runs_with_label("n").unwrap().len(), 30);
    assert_eq!(s.runs_labelled("parity", "1").unwrap().len(), 15);
    assert_eq!(s.run_status("0001").unwrap(), RunStatus::Complete);
    assert!(s.run_status("nope").is_err());
}

/// Run `id` with `n` samples whose total power climbs 0, 1, 2, ... W.
fn ramp(s: &Store, path: &std::path::Path, id: &str, n: u32) {
    s.begin_run(&start(id)).unwrap();
    let mut sink = SampleSink::open(path, id).unwrap();
    let batch: Vec<(Sample, Option<Energy>)> = (0..n)
        .map(|i| {
            let mut smp = sample(i);
            smp.total_power = greenai_units::Power::from_watts(i as f64);
            (smp, None)
        })
        .collect();
    sink.write(&batch).unwrap();
}

/// A long run's series comes back in at most the points asked for, each point's range holding
/// its span's powers, the first and last samples' times kept; a short one comes back whole.
#[test]
fn a_long_series_is_cut_down_to_its_points() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sqlite");
    let s = Store::open(&path).unwrap();
    ramp(&s, &path, "long", 20_000);
    let pts = s.series_points("long", 600).unwrap();
    assert!(pts.len() <= 600 && pts.len() > 500, "{}", pts.len());
    assert_eq!(pts[0].elapsed_s, 0.0);
    let step = 20_000usize.div_ceil(600);
    assert_eq!(pts[0].min_w, 0.0);
    assert_eq!(pts[0].max_w, (step - 1) as f64);
    assert!((pts[0].mean_w - (step - 1) as f64 / 2.0).abs() < 1e-9);
    assert_eq!(pts[1].elapsed_s, step as f64 * 0.5);
    assert_eq!(pts[0].components_w.len(), 3);
    assert_eq!(pts[0].components_w[2], Some(50.0));
    let last = pts.last().unwrap();
    assert_eq!(last.max_w, 19_999.0);
    assert_eq!(s.latest_sample("long").unwrap().unwrap().seq, 19_999);
    // Past ENVELOPE_SAMPLES the range comes from an even subsample: inside each span's powers.
    let n = 120_000u32;
    ramp(&s, &path, "longer", n);
    let pts = s.series_points("longer", 600).unwrap();
    let step = (n as usize).div_ceil(600) as f64;
    assert!(pts.len() <= 600);
    for (k, p) in pts.iter().enumerate() {
        let (lo, hi) = (k as f64 * step, (k + 1) as f64 * step - 1.0);
        assert!(lo <= p.min_w && p.min_w <= p.mean_w && p.mean_w <= p.max_w && p.max_w <= hi);
        let sub = (n as f64 / greenai_store::browse::ENVELOPE_SAMPLES as f64).ceil();
        assert!(p.max_w - p.min_w >= step - 2.0 * sub, "{p:?}");
    }
    // Short: every sample.
    s.begin_run(&start("short")).unwrap();
    let mut sink = SampleSink::open(&path, "short").unwrap();
    sink.write(&[(sample(0), None), (sample(1), None)]).unwrap();
    assert_eq!(s.series_points("short", 600).unwrap().len(), 2);
    assert!(s.series_points("none", 600).unwrap().is_empty());
}
