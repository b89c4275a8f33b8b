//! The page shell, its style, and how figures are written: every energy with its provenance.

use greenai_meter::Provenance;
use maud::{html, Markup, PreEscaped, DOCTYPE};

const STYLE: &str = "
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2a22;background:#f6f8f6}
header{background:#1f5135;color:#fff;padding:.6em 1.2em;display:flex;gap:1.4em;align-items:baseline}
header a{color:#d9efe0;text-decoration:none}header a.on{color:#fff;font-weight:600}
header b{font-size:1.1em;margin-right:1em}
main{padding:1em 1.2em;max-width:1200px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{padding:.3em .6em;border-bottom:1px solid #e3e8e4;text-align:left;vertical-align:top}
th{background:#eef3ef;font-weight:600;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}
.prov{font-size:.75em;padding:0 .4em;border-radius:.6em;margin-left:.3em;white-space:nowrap}
.measured{background:#d4f0dc}.integrated{background:#e3ecfa}.estimated{background:#fbe9cf}
.label{font-size:.8em;background:#eef1ee;border-radius:.3em;padding:0 .3em;margin:0 .2em .1em 0;display:inline-block}
.fault,.error{color:#9b1c1c}form.filters{display:flex;flex-wrap:wrap;gap:.5em;margin:.5em 0 1em}
form.filters input{width:9em}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em}
dt{color:#4b5d51}dd{margin:0}svg{background:#fff;border:1px solid #e3e8e4;max-width:100%;height:auto}
.big{font-size:2em;font-variant-numeric:tabular-nums}.muted{color:#6b7a70}
";

/// A whole page: `title`, the navigation with `active` marked, and `body`.
pub fn page(title: &str, active: &str, body: Markup) -> Markup {
    page_with_head(title, active, html! {}, body)
}

/// A page with more in its head (the live page's refresh for browsers without script).
pub fn page_with_head(title: &str, active: &str, head: Markup, body: Markup) -> Markup {
    let nav = [
        ("/", "runs", "Runs"),
        ("/live", "live", "Live"),
        ("/compare", "compare", "Comparisons"),
        ("/queue", "queue", "Queue"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · greenai" }
                style { (PreEscaped(STYLE)) }
                (head)
            }
            body {
                header {
                    b { "greenai" }
                    @for (href, key, name) in nav {
                        a href=(href) class=[(key == active).then_some("on")] { (name) }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// `2026-12-03 09:05:58 UTC`.
pub fn time(unix_s: f64) -> String {
    jiff::Timestamp::from_microsecond((unix_s * 1e6) as i64)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| format!("{unix_s:.0}"))
}

/// Joules as people read them: `812 J`, `45.2 kJ`, `3.1 MJ (0.86 kWh)`.
pub fn energy(j: f64) -> String {
    if !j.is_finite() {
        "—".into()
    } else if j.abs() < 1e3 {
        format!("{j:.1} J")
    } else if j.abs() < 1e6 {
        format!("{:.1} kJ", j / 1e3)
    } else {
        format!("{:.2} MJ ({:.2} kWh)", j / 1e6, j / 3.6e6)
    }
}

pub fn duration(s: f64) -> String {
    if !s.is_finite() {
        "—".into()
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// How a figure was obtained, as a badge beside it.
pub fn provenance(p: Option<Provenance>) -> Markup {
    let p = p.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into());
    html! { span class=(format!("prov {p}")) title="how this figure was obtained" { (p) } }
}

/// An energy with its provenance (and its uncertainty, when known).
pub fn energy_with(j: Option<f64>, p: Option<Provenance>, uncertainty: Option<f64>) -> Markup {
    html! {
        @match j {
            Some(j) => {
                (energy(j))
                @if let Some(u) = uncertainty { " ±" (format!("{:.0}", u * 100.0)) "%" }
                (provenance(p))
            }
            None => span.muted { "not measured" },
        }
    }
}
