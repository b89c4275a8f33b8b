//! Arbitrary text into the intensity CSV reader: read or refused with its line, never a panic.
//! `GREENAI_FUZZ_CASES` sets the cases per property.

use greenai_carbon::series::IntensitySeries;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("GREENAI_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_text_is_read_or_refused(text in ".{0,400}") {
        let _ = IntensitySeries::from_csv("fuzz", &text);
    }

    /// Near-valid files: a real header, then lines of plausible and implausible fields.
    #[test]
    fn near_valid_files_are_read_or_refused(
        rows in proptest::collection::vec(
            ("[0-9T:Z+.-]{0,25}|2026-11-29T1[0-9]:00:00Z|[0-9]{1,12}", "-?[0-9]{0,6}(\\.[0-9]{0,3})?|NaN|inf|1e400", any::<bool>()),
            0..30,
        ),
        marginal in any::<bool>(),
    ) {
        let mut text = String::from(if marginal {
            "timestamp,g_per_kwh,marginal_g_per_kwh\n"
        } else {
            "timestamp,g_per_kwh\n"
        });
        for (t, v, extra) in rows {
            text.push_str(&format!("{t},{v}{}\n", if extra { ",12" } else { "" }));
        }
        if let Ok(s) = IntensitySeries::from_csv("fuzz", &text) {
            let _ = format!("{s:?}");
        }
    }
}
