//! `greenai compare --report`: one self-contained HTML file (no scripts, no external files) with the
//! comparison table and SVG plots drawn by plotters: accuracy against training energy with the
//! Pareto front, power over time for each run, and energy per component.

use greenai_store::Store;
use greenai_tune::compare::{Comparison, Row};
use plotters::prelude::*;
use std::fmt::Write;

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// The series legend, the same on every plot.
fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> PlotResult {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(position)
        .draw()?;
    Ok(())
}

/// Accuracy against training energy (log scale), the Pareto front joined, the target dashed.
fn accuracy_vs_energy(c: &Comparison, svg: &mut String) -> PlotResult {
    let rows: Vec<&Row> = c
        .rows
        .iter()
        .filter(|r| r.training_energy_j > 0.0)
        .collect();
    let (emin, emax) = rows.iter().fold((f64::MAX, 0.0f64), |(a, b), r| {
        (a.min(r.training_energy_j), b.max(r.training_energy_j))
    });
    let (amin, amax) = rows
        .iter()
        .fold((c.target_accuracy, c.target_accuracy), |(a, b), r| {
            (a.min(r.accuracy), b.max(r.accuracy))
        });
    let root = SVGBackend::with_string(svg, (760, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Test accuracy against training energy", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            ((emin * 0.7).max(1e-3)..emax * 1.5).log_scale(),
            (amin - 0.005).max(0.0)..(amax + 0.003).min(1.0),
        )?;
    chart
        .configure_mesh()
        .x_desc("training energy (J, log scale)")
        .y_desc("test accuracy")
        .draw()?;
    let target = c.target_accuracy;
    chart
        .draw_series(LineSeries::new(
            [(emin * 0.7, target), (emax * 1.5, target)],
            RGBColor(200, 0, 0).stroke_width(1),
        ))?
        .label(format!("target {target:.3}"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RGBColor(200, 0, 0)));
    let mut front: Vec<&Row> = c.rows.iter().filter(|r| r.pareto).collect();
    front.sort_by(|a, b| a.training_energy_j.total_cmp(&b.training_energy_j));
    chart
        .draw_series(LineSeries::new(
            front.iter().map(|r| (r.training_energy_j, r.accuracy)),
            GREEN.stroke_width(2),
        ))?
        .label("Pareto front")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], GREEN.stroke_width(2)));
    for (i, r) in rows.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let best = Some(&r.config) == c.best.as_ref();
        chart.draw_series(std::iter::once(
            EmptyElement::at((r.training_energy_j, r.accuracy))
                + Circle::new((0, 0), if best { 7 } else { 5 }, color.filled())
                + Text::new(r.config.clone(), (8, -4), ("sans-serif", 11)),
        ))?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}

/// Each run's machine power over its elapsed time.
fn power_over_time(series: &[(String, Vec<(f64, f64)>)], svg: &mut String) -> PlotResult {
    let tmax = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let pmax = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.1))
        .fold(1.0f64, f64::max);
    let root = SVGBackend::with_string(svg, (760, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Power over time, each configuration's run",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..tmax * 1.02, 0.0..pmax * 1.15)?;
    chart
        .configure_mesh()
        .x_desc("seconds since the run started")
        .y_desc("power (W)")
        .draw()?;
    for (i, (name, s)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(s.iter().copied(), color.stroke_width(1)))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present()?;
    Ok(())
}

/// Stacked horizontal bars: each configuration's run energy split by component.
fn energy_per_component(runs: &[(String, Vec<(String, f64)>)], svg: &mut String) -> PlotResult {
    let mut components: Vec<String> = Vec::new();
    for (_, parts) in runs {
        for (c, _) in parts {
            if !components.contains(c) {
                components.push(c.clone());
            }
        }
    }
    let emax = runs
        .iter()
        .map(|(_, p)| p.iter().map(|x| x.1).sum::<f64>())
        .fold(1.0f64, f64::max);
    let height = 80 + 34 * runs.len() as u32;
    let root = SVGBackend::with_string(svg, (760, height.max(200))).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Energy per component (whole run)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(170)
        .build_cartesian_2d(0.0..emax * 1.05, (0..runs.len()).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("energy (J)")
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                runs.get(*i).map(|r| r.0.clone()).unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .draw()?;
    for (ci, comp) in components.iter().enumerate() {
        let color = PALETTE[ci % PALETTE.len()];
        let bars: Vec<Rectangle<(f64, SegmentValue<usize>)>> = runs
            .iter()
            .enumerate()
            .filter_map(|(i, (_, parts))| {
                let before: f64 = parts
                    .iter()
                    .filter(|(c, _)| components.iter().position(|x| x == c) < Some(ci))
                    .map(|p| p.1)
                    .sum();
                let mine = parts.iter().find(|(c, _)| c == comp)?.1;
                Some(Rectangle::new(
                    [
                        (before, SegmentValue::Exact(i)),
                        (before + mine, SegmentValue::Exact(i + 1)),
                    ],
                    color.mix(0.8).filled(),
                ))
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(comp.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}

/// The report as one HTML document.
pub(crate) fn html(c: &Comparison, store: &Store) -> anyhow::Result<String> {
    let plot_err = |e: Box<dyn std::error::Error>| anyhow::anyhow!("drawing the report: {e}");
    let mut scatter = String::new();
    accuracy_vs_energy(c, &mut scatter).map_err(plot_err)?;
    let mut series = Vec::new();
    let mut components = Vec::new();
    for r in &c.rows {
        let Some(id) = &r.run_id else { continue };
        if let Ok(samples) = store.samples(id) {
            let pts: Vec<(f64, f64)> = samples
                .iter()
                .map(|s| (s.elapsed_s, s.total_power.watts()))
                .collect();
            if !pts.is_empty() {
                series.push((r.config.clone(), pts));
            }
        }
        if let Ok(rep) = store.report(id) {
            let parts: Vec<(String, f64)> = rep
                .components
                .iter()
                .filter(|p| p.counted)
                .filter_map(|p| Some((p.name.clone(), p.energy_j?)))
                .collect();
            components.push((r.config.clone(), parts));
        }
    }
    let mut power = String::new();
    if !series.is_empty() {
        power_over_time(&series, &mut power).map_err(plot_err)?;
    }
    let mut bars = String::new();
    if !components.is_empty() {
        energy_per_component(&components, &mut bars).map_err(plot_err)?;
    }

    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>greenai compare</title><style>\
         body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}}tr.best{{background:#e6f5e6;font-weight:bold}}\
         .note{{color:#555;font-size:13px}}</style></head><body>\n<h1>greenai compare</h1>\n"
    );
    let verdict = match (&c.best, c.saving_ratio, c.baseline_training_energy_j) {
        (Some(b), Some(r), Some(base)) => format!(
            "<p><b>{}</b> reaches test accuracy ≥ {:.3} with the least training energy: \
             <b>{r:.1}× less</b> than the seed's baseline ({base:.1} J).</p>",
            esc(b),
            c.target_accuracy
        ),
        (Some(b), _, _) => format!(
            "<p><b>{}</b> reaches test accuracy ≥ {:.3} with the least training energy.</p>",
            esc(b),
            c.target_accuracy
        ),
        (None, _, _) => format!(
            "<p>No configuration reached test accuracy {:.3}.</p>",
            c.target_accuracy
        ),
    };
    h.push_str(&verdict);
    if let (Some(r), Some(base)) = (
        c.saving_vs_stopped_baseline,
        c.stopped_baseline_training_energy_j,
    ) {
        let _ = writeln!(
            h,
            "<p class=\"note\">{r:.1}× less than the seed's recipe stopped at the target \
             ({base:.1} J): the part of the saving that comes from the configuration, not from \
             stopping.</p>"
        );
    }
    let _ = writeln!(
        h,
        "<p class=\"note\">Training energy covers the epochs (training and validation); the \
         tuned configuration's includes its profiling runs. Emissions at {:.0} gCO2e/kWh ({}). \
         Each figure says how it was obtained: <i>measured</i> by a hardware counter, \
         <i>integrated</i> from power samples, or <i>estimated</i> by a stated model.</p>",
        c.intensity_g_per_kwh,
        esc(&format!("{}, {}", c.region, c.intensity_source))
    );
    h.push_str(
        "<table><tr><th>configuration</th><th>model</th><th>precision</th><th>quantization</th>\
         <th>threads</th><th>batch</th><th>epochs</th><th>accuracy</th><th>training J</th>\
         <th>J per 1,000 inferences</th><th>time s</th><th>gCO2e</th><th>parameters</th><th>FLOPs</th>\
         <th>provenance</th><th>notes</th></tr>\n",
    );
    for r in &c.rows {
        let best = Some(&r.config) == c.best.as_ref();
        let notes = c.notes(r);
        let _ = writeln!(
            h,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{:.4}{}</td><td>{:.1}{}</td><td>{:.3}</td><td>{:.1}</td><td>{:.4}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            if best { " class=\"best\"" } else { "" },
            esc(&r.config),
            esc(&r.model),
            esc(&r.precision),
            esc(&r.quantization),
            r.threads,
            r.batch,
            r.epochs,
            r.accuracy,
            spread(r.accuracy_range.filter(|_| r.runs > 1), 4),
            r.training_energy_j,
            spread(r.training_energy_range_j.filter(|_| r.runs > 1), 1),
            r.joules_per_1000_inferences,
            r.training_duration_s,
            r.training_emissions_g,
            r.params,
            r.flops,
            r.provenance,
            esc(&notes.join(", "))
        );
    }
    h.push_str("</table>\n");
    if let Some(ch) = &c.settings_choice {
        let _ = writeln!(
            h,
            "<h2>Energy-aware settings</h2><p>{}</p><table><tr><th>threads</th><th>batch</th>\
             <th>mJ per sample</th><th>µs per sample</th><th>average W</th><th>cost</th></tr>",
            esc(&ch.explanation)
        );
        for p in &ch.profiles {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.1}</td><td>{:.1}</td><td>{:.3e}</td></tr>",
                p.threads,
                p.batch,
                p.energy_per_sample_j * 1e3,
                p.time_per_sample_s * 1e6,
                p.avg_power_w,
                p.cost
            );
        }
        h.push_str("</table>\n");
    }
    for (title, svg) in [
        ("Accuracy and energy", &scatter),
        ("Power", &power),
        ("Components", &bars),
    ] {
        if !svg.is_empty() {
            let _ = write!(h, "<h2>{title}</h2>\n{svg}\n");
        }
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

/// A repeated row's range under its median, small.
fn spread(range: Option<(f64, f64)>, digits: usize) -> String {
    range.map_or(String::new(), |(lo, hi)| {
        format!("<br><small>{lo:.digits$}–{hi:.digits$}</small>")
    })
}
