//! The run database on temporary files.

mod common;

use common::{sample, start};
use greenai_meter::Sample;
use greenai_store::{export, RunReport, RunStatus, SampleSink, Store, StoreError};
use greenai_units::{Energy, Power};
use std::time::Duration;

#[test]
fn a_new_file_is_migrated_once_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/runs.sqlite");
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.schema_version().unwrap(),
        greenai_store::latest_schema_version()
    );
    s.begin_run(&start("a")).unwrap();
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.runs().unwrap().len(),
        1,
        "reopening keeps what was recorded"
    );
}

#[test]
fn a_newer_schema_is_refused_not_reset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.sqlite");
    Store::open(&path).unwrap().begin_run(&start("a")).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    match Store::open(&path) {
        Err(e @ StoreError::Unsupported { found: 99, .. }) => {
            assert!(e.to_string().contains("upgrade greenai"))
        }
        other => panic!("expected Unsupported, got {:?}", other.err()),
    }
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&format!(
            "PRAGMA user_version = {}",
            greenai_store::latest_schema_version()
        ))
        .unwrap();
    assert_eq!(Store::open(&path).unwrap().runs().unwrap().len(), 1);
}

#[test]
fn a_corrupt_file_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.sqlite");
    let garbage = vec![0x5au8; 8192];
    std::fs::write(&path, &garbage).unwrap();
    let e = Store::open(&path).err().expect("must fail");
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("--db"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[test]
fn an_incomplete_run_reads_from_its_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.sqlite");
    let s = Store::open(&path).unwrap();
    s.begin_run(&start("r1")).unwrap();
    let mut sink = SampleSink::open(&path, "r1").unwrap();
    let batch: Vec<(Sample, Option<Energy>)> = (0..=8).map(|i| (sample(i), None)).collect();
    sink.write(&batch).unwrap();
    // greenai "dies" here: no finish_run.
    let r = s.report("r1").unwrap();
    assert!(!r.complete);
    assert_eq!(r.exit_code, None);
    assert_eq!(r.samples, 9);
    assert!((r.duration_s - 4.0).abs() < 1e-9);
    // Package 10 W × 4 s by counter, GPU 50 W × 4 s by integration; the core is not counted.
    assert!((r.energy_j - 240.0).abs() < 1e-9, "{}", r.energy_j);
    assert_eq!(r.components[1].energy_j, Some(28.0));
    // Its emissions follow from the settings it started with.
    let c = r.carbon.as_ref().unwrap();
    let fr = greenai_carbon::grid::lookup("FR")
        .unwrap()
        .intensity
        .g_per_kwh();
    assert!((c.emissions_g - 240.0 / 3.6e6 * fr).abs() < 1e-9);
    let listed = &s.runs().unwrap()[0];
    // This process is alive and wrote it, so the run reads as running; its energy is known.
    assert_eq!(listed.status, RunStatus::Running);
    assert!((listed.energy_j.unwrap() - 240.0).abs() < 1e-9);
}

fn finished(s: &Store, id: &str) -> RunReport {
    let st = start(id);
    s.begin_run(&st).unwrap();
    let mut r = s.report(id).unwrap();
    r.complete = true;
    r.exit_code = Some(0);
    r.duration_s = 2.0;
    r.energy_j = 7200.0;
    r.components[0].energy_j = Some(3600.0);
    r.components[2].energy_j = Some(3600.0);
    let resolved = st.carbon.resolve().unwrap();
    r.carbon = Some(greenai_carbon::assess(
        &st.carbon,
        &resolved,
        Energy::from_joules(7200.0),
        Duration::from_secs(2),
        &[],
    ));
    s.finish_run(&r).unwrap();
    r
}

#[test]
fn exports_round_trip_in_codecarbon_units() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("runs.sqlite")).unwrap();
    let a = finished(&s, "aaa1");
    let b = finished(&s, "bbb2");

    let mut json = Vec::new();
    export::write_json(&mut json, &s.reports(&[]).unwrap()).unwrap();
    let back: Vec<RunReport> = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, vec![a.clone(), b]);

    let mut csv = Vec::new();
    export::write_csv(&mut csv, &s.reports(&["aaa".into()]).unwrap()).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let header = export::split_csv_line(lines[0]);
    let row = export::split_csv_line(lines[1]);
    assert_eq!(header.len(), row.len());
    let col = |name: &str| row[header.iter().position(|h| h == name).unwrap()].as_str();
    assert_eq!(col("run_id"), "aaa1");
    assert_eq!(col("energy_consumed"), "0.002", "7200 J is 0.002 kWh");
    assert_eq!(col("cpu_energy"), "0.001");
    assert_eq!(col("cpu_power"), "1800", "3600 J over 2 s");
    // No DRAM component: CodeCarbon's column holds a number, greenai's says it was not measured.
    assert_eq!(col("ram_energy"), "0");
    assert_eq!(col("greenai_not_measured"), "ram");
    let fr = greenai_carbon::grid::lookup("FR")
        .unwrap()
        .intensity
        .g_per_kwh();
    let kg: f64 = col("emissions").parse().unwrap();
    assert!((kg - 0.002 * fr / 1000.0).abs() < 1e-12, "{kg}");
    assert_eq!(col("country_iso_code"), "FRA");
    assert_eq!(col("country_name"), "France");
    assert_eq!(col("region"), "FR");
    assert_eq!(col("pue"), "1");
    assert_eq!(col("tracking_mode"), "machine");
    assert_eq!(col("timestamp"), "2026-11-28T01:26:28");
    // CodeCarbon's columns come first and in its order, as CodeCarbon itself lists them
    // (`tests/data/codecarbon-3.3.2-emissions-fields.txt`, read from its EmissionsData by
    // scripts/derive_codecarbon_fields.py), then only greenai's own.
    let theirs: Vec<String> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/codecarbon-3.3.2-emissions-fields.txt"
    ))
    .unwrap()
    .lines()
    .filter(|l| !l.starts_with('#') && !l.is_empty())
    .map(str::to_string)
    .collect();
    assert_eq!(theirs.len(), 38);
    assert_eq!(header[..theirs.len()], theirs[..]);
    assert!(header[theirs.len()..]
        .iter()
        .all(|h| h.starts_with("greenai_")));
}

#[test]
fn a_version_1_database_is_migrated_in_place_keeping_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    let c = rusqlite::Connection::open(&path).unwrap();
    // The schema as greenai 0.1's first migration left it, with one finished run in it.
    c.execute_batch(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, project_name TEXT NOT NULL, command TEXT NOT NULL,
            argv TEXT NOT NULL, labels TEXT NOT NULL, started_unix_s REAL NOT NULL, interval_s REAL NOT NULL,
            host TEXT NOT NULL, components TEXT NOT NULL, missing TEXT NOT NULL, greenai_pid INTEGER NOT NULL,
            complete INTEGER NOT NULL DEFAULT 0, exit_code INTEGER, duration_s REAL, energy_j REAL, report TEXT);
         CREATE TABLE samples (run_id TEXT NOT NULL REFERENCES runs (id), seq INTEGER NOT NULL,
            elapsed_s REAL NOT NULL, unix_s REAL NOT NULL, total_power_w REAL NOT NULL, energy_j REAL,
            readings TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
         INSERT INTO runs VALUES ('old', 'p', 'true', '[\"true\"]', '{}', 0, 0.1, '{\"hostname\":\"h\",\"os\":\"o\",\"cpu_model\":\"c\",\"cpu_count\":1,\"ram_total_gb\":1,\"gpu_count\":0,\"gpu_model\":\"\"}',
            '[]', '[]', 1, 0, NULL, NULL, NULL, NULL);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(c);
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.schema_version().unwrap(),
        greenai_store::latest_schema_version()
    );
    let r = s.report("old").unwrap();
    assert_eq!(r.command, "true");
    assert!(r.carbon.is_none(), "no settings were recorded for it");
}

#[test]
fn two_writers_on_one_file_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.sqlite");
    Store::open(&path).unwrap();
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let s = Store::open(&path).unwrap();
                let id = format!("w{w}");
                s.begin_run(&start(&id)).unwrap();
                let mut sink = SampleSink::open(&path, &id).unwrap();
                for i in 0..50 {
                    sink.write(&[(sample(i), None)]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.samples("w0").unwrap().len(), 50);
    assert_eq!(s.samples("w1").unwrap().len(), 50);
}

#[test]
fn ids_resolve_by_unique_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("runs.sqlite")).unwrap();
    s.begin_run(&start("abc1")).unwrap();
    s.begin_run(&start("abc2")).unwrap();
    assert_eq!(s.resolve("abc1").unwrap(), "abc1");
    assert!(s
        .resolve("abc")
        .unwrap_err()
        .to_string()
        .contains("several"));
    assert!(s
        .resolve("zzz")
        .unwrap_err()
        .to_string()
        .contains("runs list"));
}

/// A version 2 database (samples' readings as JSON text) with an unfinished run: migrated to
/// version 3, its old samples still read, and new samples (stored as numbers) read the same way.
#[test]
fn a_version_2_database_keeps_its_text_samples_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.sqlite");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, project_name TEXT NOT NULL, command TEXT NOT NULL,
            argv TEXT NOT NULL, labels TEXT NOT NULL, started_unix_s REAL NOT NULL, interval_s REAL NOT NULL,
            host TEXT NOT NULL, components TEXT NOT NULL, missing TEXT NOT NULL, greenai_pid INTEGER NOT NULL,
            complete INTEGER NOT NULL DEFAULT 0, exit_code INTEGER, duration_s REAL, energy_j REAL, report TEXT);
         CREATE INDEX runs_started ON runs (started_unix_s);
         CREATE TABLE samples (run_id TEXT NOT NULL REFERENCES runs (id), seq INTEGER NOT NULL,
            elapsed_s REAL NOT NULL, unix_s REAL NOT NULL, total_power_w REAL NOT NULL, energy_j REAL,
            readings TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
         ALTER TABLE runs ADD COLUMN carbon TEXT;
         PRAGMA user_version = 2;",
    )
    .unwrap();
    let st = start("old");
    c.execute(
        "INSERT INTO runs (id, project_name, command, argv, labels, started_unix_s, interval_s, host,
                           components, missing, greenai_pid, carbon)
         VALUES (?1, 'p', 'x', '[]', '{}', ?2, 0.1, ?3, ?4, '[]', 1, ?5)",
        rusqlite::params![
            st.run_id,
            st.started_unix_s,
            serde_json::to_string(&st.host).unwrap(),
            serde_json::to_string(&st.components).unwrap(),
            serde_json::to_string(&st.carbon).unwrap(),
        ],
    )
    .unwrap();
    // Package counter 100 → 140 J, GPU 50 W for 4 s: as version 2 wrote them, in JSON text.
    for (seq, t) in [(0, 0.0), (1, 2.0), (2, 4.0)] {
        let readings = format!("[[{},null],[null,null],[null,50.0]]", 100.0 + 10.0 * t);
        c.execute(
            "INSERT INTO samples VALUES ('old', ?1, ?2, ?3, 60.0, NULL, ?4)",
            rusqlite::params![seq, t, st.started_unix_s + t, readings],
        )
        .unwrap();
    }
    drop(c);
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.schema_version().unwrap(),
        greenai_store::latest_schema_version()
    );
    let old = s.report("old").unwrap();
    assert!(!old.complete);
    assert!((old.energy_j - 240.0).abs() < 1e-9, "{}", old.energy_j);
    assert_eq!(s.samples("old").unwrap().len(), 3);

    // A new run's samples go in as numbers and read back equal, None staying None.
    s.begin_run(&start("new")).unwrap();
    let mut sink = SampleSink::open(&path, "new").unwrap();
    let batch: Vec<(Sample, Option<Energy>)> = (0..=8).map(|i| (sample(i), None)).collect();
    sink.write(&batch).unwrap();
    let back = s.samples("new").unwrap();
    assert_eq!(back[3].readings[0].0, Some(Energy::from_joules(115.0)));
    assert_eq!(back[3].readings[0].1, None);
    assert_eq!(back[3].readings[2].1, Some(Power::from_watts(50.0)));
    let kind: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT typeof(readings) FROM samples WHERE run_id = 'new' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kind, "blob");
    assert!((s.report("new").unwrap().energy_j - 240.0).abs() < 1e-9);
}

/// A session on an empty sysfs tree (the estimate model, no GPU library): recorded with its typed
/// results, which `runs()` reads back as a document; without a database, nothing is recorded
/// and the carbon is still worked out.
#[test]
fn a_session_records_typed_results_once() {
    use greenai_store::{Session, SessionOptions};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.sqlite");
    let carbon = greenai_carbon::CarbonSettings {
        region: Some("FR".into()),
        ..Default::default()
    };
    let options = |db: Option<&std::path::Path>| {
        let mut o = SessionOptions::new("p", carbon.clone(), db);
        o.interval = Duration::from_millis(10);
        o.discover = greenai_meter::DiscoverOptions {
            sysfs_root: dir.path().join("sys"),
            proc_root: "/proc".into(),
            nvml: false,
            gpu_library: None,
            cuda_visible_devices: None,
        };
        o
    };
    let mut s = Session::start(options(Some(&db))).unwrap();
    let id = s.run_id().unwrap().to_string();
    s.label("model", "lenet");
    s.set_results(&serde_json::json!({"accuracy": 0.98, "training_energy_j": 12.5}))
        .unwrap();
    let end = s.finish(0, None).unwrap();
    assert_eq!(end.run_id.as_deref(), Some(id.as_str()));
    assert!(end.warnings.is_empty(), "{:?}", end.warnings);
    assert!(end.store_error.is_none());
    assert_eq!(end.report.carbon.as_ref(), Some(&end.carbon));
    let runs = Store::open(&db).unwrap().runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].labels["model"], "lenet");
    let r = runs[0].results.as_ref().unwrap();
    assert_eq!(r["training_energy_j"], 12.5);
    assert_eq!(r["accuracy"], 0.98);

    let s = Session::start(options(None)).unwrap();
    assert!(s.run_id().is_none());
    let end = s.finish(0, None).unwrap();
    assert!(end.run_id.is_none());
    assert!(end.carbon.emissions_g >= 0.0 && end.report.carbon.is_some());
    assert_eq!(Store::open(&db).unwrap().runs().unwrap().len(), 1);
}

/// An SQLite database of another program (other tables, or a `runs` table of another shape) is
/// refused and left byte for byte as it was: its journal mode is not switched to WAL either.
#[test]
fn another_programs_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for (i, schema) in [
        "CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');",
        "CREATE TABLE runs (a INTEGER); CREATE TABLE samples (b INTEGER); INSERT INTO runs VALUES (1);",
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.path().join(format!("theirs-{i}.sqlite"));
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(schema)
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        match Store::open(&path) {
            Err(e @ StoreError::Foreign { .. }) => {
                assert!(e.to_string().contains("left untouched"), "{e}")
            }
            other => panic!("expected Foreign, got {:?}", other.err()),
        }
        assert!(matches!(
            Store::open_for_reading(&path),
            Err(StoreError::Foreign { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before, "{schema}");
        assert!(!path.with_extension("sqlite-wal").exists());
    }
}

/// A short file that is not a database (SQLite would take anything under a page for an empty
/// database and write over it): refused, untouched. The fuzz test found a one-byte case.
#[test]
fn a_short_foreign_file_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for bytes in [&b"\0"[..], b"hello", &[0x42; 100]] {
        let path = dir.path().join("short.sqlite");
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}

/// A greenai database that fails SQLite's quick check is refused before anything is written,
/// with the way to recover what can be read.
#[test]
fn a_damaged_database_is_refused_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.sqlite");
    {
        let s = Store::open(&path).unwrap();
        for i in 0..40 {
            s.begin_run(&start(&format!("run-{i:03}"))).unwrap();
        }
    }
    // Spoil a page after the first (the schema stays readable; a table's b-tree does not).
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    assert!(bytes.len() > 3 * page, "{}", bytes.len());
    for b in &mut bytes[2 * page + 8..3 * page] {
        *b = 0xa5;
    }
    std::fs::write(&path, &bytes).unwrap();
    match Store::open(&path) {
        Err(e @ StoreError::Damaged { .. }) => {
            assert!(e.to_string().contains(".recover"), "{e}")
        }
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}
