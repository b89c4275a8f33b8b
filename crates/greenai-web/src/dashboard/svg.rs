//! Charts as SVG, drawn on the server: a line chart of series over time and a scatter of
//! accuracy against energy. Each plotted series and point carries `data-` attributes (its name,
//! its points), so that scripts, tests and screen readers can read what is drawn.
//!
//! Hand-written rather than plotters (which the HTML report uses): the live page redraws a
//! polyline from script, and reads the plot area from the chart's `data-left`, `data-top`,
//! `data-width` and `data-height` rather than repeating this file's layout.

use maud::{html, Markup};

const W: f64 = 900.0;
const H: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// A named series of (x, y) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

fn extent(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// Scales to the plot area.
#[derive(Clone, Copy)]
struct Scale {
    x: (f64, f64),
    y: (f64, f64),
}

impl Scale {
    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (W - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        H - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (H - TOP - BOTTOM)
    }
}

fn axes(s: Scale, x_label: &str, y_label: &str) -> Markup {
    let ticks = |(lo, hi): (f64, f64)| (0..=4).map(move |i| lo + (hi - lo) * i as f64 / 4.0);
    html! {
        line x1=(LEFT) y1=(H - BOTTOM) x2=(W - RIGHT) y2=(H - BOTTOM) stroke="#888" {}
        line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(H - BOTTOM) stroke="#888" {}
        @for t in ticks(s.x) {
            text x=(format!("{:.1}", s.px(t))) y=(H - BOTTOM + 16.0) font-size="11" text-anchor="middle" { (short(t)) }
        }
        @for t in ticks(s.y) {
            text x=(LEFT - 6.0) y=(format!("{:.1}", s.py(t) + 4.0)) font-size="11" text-anchor="end" { (short(t)) }
        }
        text x=((LEFT + W - RIGHT) / 2.0) y=(H - 6.0) font-size="12" text-anchor="middle" { (x_label) }
        text x="14" y=((TOP + H - BOTTOM) / 2.0) font-size="12" text-anchor="middle"
            transform=(format!("rotate(-90 14 {})", (TOP + H - BOTTOM) / 2.0)) { (y_label) }
    }
}

fn short(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{:.0}", v)
    } else if v.abs() >= 10.0 {
        format!("{:.1}", v)
    } else {
        format!("{:.2}", v)
    }
}

/// Lines over a shared x axis, with a legend. `id` names the chart for scripts.
pub fn lines(id: &str, series: &[Series], x_label: &str, y_label: &str) -> Markup {
    let s = Scale {
        x: extent(series.iter().flat_map(|s| s.points.iter().map(|p| p.0))),
        y: {
            let (lo, hi) = extent(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
            (lo.min(0.0), hi * 1.05)
        },
    };
    html! {
        svg id=(id) viewBox=(format!("0 0 {W} {H}")) width=(W) height=(H) role="img"
            data-x0=(s.x.0) data-x1=(s.x.1) data-y0=(s.y.0) data-y1=(s.y.1)
            data-left=(LEFT) data-top=(TOP) data-width=(W - LEFT - RIGHT) data-height=(H - TOP - BOTTOM)
            aria-label=(format!("{y_label} against {x_label}")) {
            (axes(s, x_label, y_label))
            @for (i, line) in series.iter().enumerate() {
                polyline fill="none" stroke=(COLOURS[i % COLOURS.len()]) stroke-width="1.5"
                    data-series=(line.name) data-points=(line.points.len())
                    points=(line.points.iter().filter(|p| p.1.is_finite())
                        .map(|p| format!("{:.1},{:.1}", s.px(p.0), s.py(p.1)))
                        .collect::<Vec<_>>().join(" ")) {}
                text x=(LEFT + 10.0 + 150.0 * (i % 5) as f64) y=(TOP + 12.0 + 14.0 * (i / 5) as f64)
                    font-size="12" fill=(COLOURS[i % COLOURS.len()]) { (line.name) }
            }
        }
    }
}

/// One point of a scatter: its name, (x, y), and whether it is marked (the Pareto front).
pub struct Point {
    pub name: String,
    pub x: f64,
    pub y: f64,
    pub marked: bool,
}

/// A scatter, the marked points joined in x order.
pub fn scatter(id: &str, points: &[Point], x_label: &str, y_label: &str) -> Markup {
    let s = Scale {
        x: {
            let (lo, hi) = extent(points.iter().map(|p| p.x));
            (lo.min(0.0), hi * 1.05)
        },
        y: extent(points.iter().map(|p| p.y)),
    };
    let mut front: Vec<&Point> = points.iter().filter(|p| p.marked).collect();
    front.sort_by(|a, b| a.x.total_cmp(&b.x));
    html! {
        svg id=(id) viewBox=(format!("0 0 {W} {H}")) width=(W) height=(H) role="img"
            aria-label=(format!("{y_label} against {x_label}")) {
            (axes(s, x_label, y_label))
            polyline fill="none" stroke="#2ca02c" stroke-dasharray="4 3"
                points=(front.iter().map(|p| format!("{:.1},{:.1}", s.px(p.x), s.py(p.y))).collect::<Vec<_>>().join(" ")) {}
            @for p in points {
                circle cx=(format!("{:.1}", s.px(p.x))) cy=(format!("{:.1}", s.py(p.y))) r="5"
                    fill=(if p.marked { "#2ca02c" } else { "#999" }) data-point=(p.name)
                    data-x=(p.x) data-y=(p.y) { title { (p.name) ": " (short(p.x)) ", " (format!("{:.4}", p.y)) } }
                text x=(format!("{:.1}", s.px(p.x) + 7.0)) y=(format!("{:.1}", s.py(p.y) - 6.0)) font-size="10" { (p.name) }
            }
        }
    }
}
