use super::*;
use crate::series::Signal;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/forecasts/");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{name}")).unwrap()
}

/// The first day of the synthetic week, hour by hour: what every JSON fixture encodes.
fn day() -> Vec<(f64, f64)> {
    let s = IntensitySeries::from_csv_file(std::path::Path::new(&format!(
        "{DIR}week-hourly-synthetic.csv"
    )))
    .unwrap();
    s.steps(Signal::Average).into_iter().take(24).collect()
}

#[test]
fn every_format_is_detected_and_reads_the_same_day() {
    let day = day();
    let start = day[0].0;
    for (file, format) in [
        ("carbon-aware-sdk.json", ForecastFormat::CarbonAwareSdk),
        ("electricity-maps.json", ForecastFormat::ElectricityMaps),
        ("watttime.json", ForecastFormat::WattTime),
        (
            "uk-carbon-intensity.json",
            ForecastFormat::UkCarbonIntensity,
        ),
        (
            "uk-carbon-intensity-region.json",
            ForecastFormat::UkCarbonIntensity,
        ),
    ] {
        let text = fixture(file);
        assert_eq!(ForecastFormat::detect(&text), Some(format), "{file}");
        let s = parse(file, &text, None).unwrap();
        // Hour by hour, each format gives the day's values (WattTime through lb/MWh and back).
        for (t, want) in &day {
            let got = s.at(*t + 60.0, s.primary()).g_per_kwh();
            assert!((got - want).abs() < 0.05, "{file} at {t}: {got} != {want}");
        }
        assert_eq!(s.start(), start, "{file}");
        assert_eq!(s.end(), start + 24.0 * 3600.0, "{file}");
        let marginal = format == ForecastFormat::WattTime;
        assert_eq!(s.primary() == Signal::Marginal, marginal, "{file}");
        assert!(s.source.starts_with(file), "{}", s.source);
    }
}

#[test]
fn a_named_format_is_trusted_and_a_wrong_one_says_what_is_missing() {
    let em = fixture("electricity-maps.json");
    let e = parse("em.json", &em, Some(ForecastFormat::WattTime)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "em.json: point 0 has no \"point_time\" timestamp"
    );
    let e = parse("x.json", "{\"hello\": 1}", None).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("x.json: JSON of no forecast shape"),
        "{e}"
    );
    let e = parse(
        "x.json",
        "{\"data\": [",
        Some(ForecastFormat::UkCarbonIntensity),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("x.json: not JSON:"), "{e}");
}

#[test]
fn implausible_values_and_bad_times_are_refused_with_their_point() {
    let e = parse(
        "em",
        r#"{"zone":"DE","forecast":[{"carbonIntensity":300,"datetime":"2026-12-01T00:00:00Z"},{"carbonIntensity":-4,"datetime":"2026-12-01T01:00:00Z"}]}"#,
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "em: point 1: -4 gCO2e/kWh is not a plausible intensity"
    );
    let e = parse(
        "sdk",
        r#"[{"forecastData":[{"timestamp":"tomorrow","duration":5,"value":1}]}]"#,
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "sdk: point 0: \"tomorrow\" is not an RFC 3339 timestamp"
    );
    let e = parse("sdk", r#"[{"forecastData":[]}]"#, None).unwrap_err();
    assert!(e.to_string().contains("holds no points"), "{e}");
    let e = parse(
        "wt",
        r#"{"data":[{"point_time":"2026-12-01T00:00:00Z","value":900}],"meta":{"units":"tons"}}"#,
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("units \"tons\""), "{e}");
}

#[test]
fn the_uk_api_all_regions_form_asks_for_one_region() {
    let e = parse(
        "uk",
        r#"{"data":[{"from":"2026-12-01T00:00Z","to":"2026-12-01T00:30Z","regions":[]}]}"#,
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("ask the API for one region"), "{e}");
}

#[test]
fn watttime_average_signal_stays_average_and_v2_reads() {
    let s = parse(
        "wt",
        r#"{"data":[{"point_time":"2026-12-01T00:00:00Z","value":100}],"meta":{"units":"g_co2_per_kwh","signal_type":"co2_aoer","data_point_period_seconds":300}}"#,
        None,
    )
    .unwrap();
    assert_eq!(s.primary(), Signal::Average);
    assert_eq!(s.end() - s.start(), 300.0);
    let v2 = parse(
        "wt2",
        r#"{"generated_at":"2026-12-01T00:00:00Z","forecast":[{"point_time":"2026-12-01T00:00:00Z","value":1000,"ba":"CAISO_NORTH"},{"point_time":"2026-12-01T00:05:00Z","value":800,"ba":"CAISO_NORTH"}]}"#,
        None,
    )
    .unwrap();
    assert_eq!(v2.primary(), Signal::Marginal);
    assert!((v2.at(v2.start(), Signal::Marginal).g_per_kwh() - 453.59237).abs() < 1e-6);
    assert!(v2.source.contains("CAISO_NORTH"), "{}", v2.source);
}
