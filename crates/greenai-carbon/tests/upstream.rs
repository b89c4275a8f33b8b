//! greenai's bundled intensities derived again from the upstream values they came from: a few
//! entries of CodeCarbon 3.3.2's data files copied verbatim into `upstream-excerpt.json`
//! (`scripts/excerpt_carbon_upstream.py`), each converted here the way the data's own documentation
//! says (OWID/Ember: gCO2e/kWh as is; EPA eGRID `STC2ERTA`: lb CO2e/MWh, 1 lb = 453.59237 g), and
//! compared with what `grid::lookup` returns. The expected values come from upstream, not from
//! greenai's tables.

use greenai_carbon::grid::lookup;

#[test]
fn bundled_rows_equal_the_upstream_values_converted_again() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/upstream-excerpt.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    // ISO 3166 alpha-3 → alpha-2 for the excerpt's countries (the standard, not greenai's table).
    let alpha2 = [
        ("FRA", "FR"),
        ("DEU", "DE"),
        ("USA", "US"),
        ("IND", "IN"),
        ("NOR", "NO"),
        ("POL", "PL"),
    ];
    let countries = v["global_energy_mix.json"].as_object().unwrap();
    assert_eq!(countries.len(), alpha2.len());
    for (a3, a2) in alpha2 {
        let up = &countries[a3];
        let want = up["carbon_intensity"].as_f64().unwrap();
        for code in [a2, a3] {
            let e = lookup(code).unwrap();
            assert_eq!(e.code, a2);
            assert!(
                (e.intensity.g_per_kwh() - want).abs() < 1e-9,
                "{code}: {} against upstream {want}",
                e.intensity.g_per_kwh()
            );
            assert_eq!(e.year, Some(up["year"].as_u64().unwrap() as u16));
            assert_eq!(e.name, up["country_name"].as_str().unwrap());
        }
    }
    let states = v["usa_emissions.json"].as_object().unwrap();
    let source = &states["_source"];
    assert_eq!(source["field"], "STC2ERTA");
    let mut n = 0;
    for (name, s) in states.iter().filter(|(k, _)| !k.starts_with('_')) {
        let lb_per_mwh = s["emissions"].as_f64().unwrap();
        let want = lb_per_mwh * 453.592_37 / 1000.0;
        let code = format!("US-{}", s["regionCode"].as_str().unwrap());
        let got = lookup(&code).unwrap().intensity.g_per_kwh();
        // The table keeps two decimals.
        assert!(
            (got - want).abs() <= 0.005 + 1e-9,
            "{name} ({code}): {got} against {want}"
        );
        n += 1;
    }
    assert_eq!(n, 3);
}
