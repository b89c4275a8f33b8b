//! Arbitrary bytes as a database file, and arbitrary sample blobs inside a real one: refused or
//! read, never a panic, and a file that was not empty and not greenai's is left as it was.
//! `GREENAI_FUZZ_CASES` sets the cases per property.

use greenai_store::Store;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("GREENAI_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_file_is_opened_or_refused_untouched(
        bytes in proptest::collection::vec(any::<u8>(), 1..2048),
        sqlite_header in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.sqlite");
        let mut bytes = bytes;
        if sqlite_header {
            // A real header with garbage behind it: past the magic, into SQLite's page checks.
            let magic = b"SQLite format 3\0";
            bytes.splice(..magic.len().min(bytes.len()), magic.iter().copied());
        }
        std::fs::write(&path, &bytes).unwrap();
        let opened = Store::open(&path);
        prop_assert!(opened.is_err(), "random bytes are no database");
        drop(opened);
        prop_assert_eq!(std::fs::read(&path).unwrap(), bytes);
        prop_assert!(Store::open_for_reading(&path).is_err());
    }

    #[test]
    fn damaged_sample_rows_are_errors_not_panics(
        blob in proptest::collection::vec(any::<u8>(), 0..100),
        text in ".{0,60}",
        as_text in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.sqlite");
        drop(Store::open(&path).unwrap());
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute(
            "INSERT INTO runs (id, project_name, command, argv, labels, started_unix_s, interval_s,
                               host, components, missing, greenai_pid)
             VALUES ('r', 'p', 'x', '[]', '{}', 0, 0.1, '{}', '[]', '[]', 1)",
            [],
        )
        .unwrap();
        if as_text {
            c.execute(
                "INSERT INTO samples (run_id, seq, elapsed_s, unix_s, total_power_w, readings_json)
                 VALUES ('r', 0, 0, 0, 0, ?1)",
                [&text],
            )
            .unwrap();
        } else {
            c.execute(
                "INSERT INTO samples (run_id, seq, elapsed_s, unix_s, total_power_w, readings)
                 VALUES ('r', 0, 0, 0, 0, ?1)",
                [&blob],
            )
            .unwrap();
        }
        drop(c);
        let s = Store::open(&path).unwrap();
        let _ = s.samples("r");
        let _ = s.report("r");
        let _ = s.runs();
    }
}
