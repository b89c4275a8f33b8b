//! Energy from a stored power series: pure functions over samples.

use greenai_meter::{
    accumulators, Component, ComponentMeasurement, EnergyAccumulator, Measurement, Missing,
    Provenance,
};
use greenai_units::{Energy, Power};
use std::time::Duration;

/// One stored sample: `(energy since the sensor opened, power)` per component.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSample {
    pub seq: i64,
    pub elapsed_s: f64,
    pub unix_s: f64,
    pub total_power: Power,
    /// The counted components' energy since the run's first sample.
    pub energy: Option<Energy>,
    pub readings: Vec<(Option<Energy>, Option<Power>)>,
}

/// Each component's energy between the first and the last sample, by the meter's one rule
/// ([`EnergyAccumulator`]): the counter's difference where there is one, else the trapezoidal
/// integral of power. `None` where there is neither.
pub fn component_energies(n: usize, samples: &[StoredSample]) -> Vec<Option<Energy>> {
    let mut acc = accumulators(n);
    for s in samples {
        for (a, r) in acc.iter_mut().zip(&s.readings) {
            a.push(s.elapsed_s, r.0, r.1);
        }
    }
    acc.iter().map(EnergyAccumulator::energy).collect()
}

/// What a stored series shows as a measurement (an incomplete run's figures): each component's
/// energy by [`component_energies`], the counted total, the least direct provenance, the peak of
/// the total power after the first sample.
pub fn measurement(
    components: &[Component],
    missing: &[Missing],
    started_unix_s: f64,
    samples: &[StoredSample],
) -> Measurement {
    let energies = component_energies(components.len(), samples);
    let duration_s = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => b.elapsed_s - a.elapsed_s,
        _ => 0.0,
    };
    let d = Duration::from_secs_f64(duration_s.max(0.0));
    let parts: Vec<ComponentMeasurement> = components
        .iter()
        .zip(&energies)
        .map(|(c, e)| ComponentMeasurement {
            component: c.clone(),
            energy: *e,
            avg_power: e.map(|e| e / d),
            peak_power: None,
            integrated_energy: None,
            disagreement: None,
            utilisation: None,
            process_share: None,
        })
        .collect();
    let counted: Vec<&ComponentMeasurement> = parts
        .iter()
        .filter(|c| c.component.counted && c.energy.is_some())
        .collect();
    let energy: Energy = counted.iter().filter_map(|c| c.energy).sum();
    Measurement {
        name: "run".into(),
        start_unix_s: started_unix_s,
        duration: d,
        energy,
        provenance: counted
            .iter()
            .map(|c| c.component.provenance)
            .max()
            .unwrap_or(Provenance::Estimated),
        uncertainty: None,
        avg_power: energy / d,
        peak_power: samples
            .iter()
            .skip(1)
            .map(|s| s.total_power)
            .reduce(Power::max),
        components: parts,
        missing: missing.to_vec(),
        cpu_utilisation: None,
        process: None,
        samples: samples.len() as u32,
        read_errors: 0,
        faults: Vec::new(),
    }
}

/// The counted total of [`component_energies`].
pub fn counted_energy(components: &[Component], samples: &[StoredSample]) -> Energy {
    component_energies(components.len(), samples)
        .into_iter()
        .zip(components)
        .filter(|(_, c)| c.counted)
        .filter_map(|(e, _)| e)
        .sum()
}

/// A one-line sparkline of a series, `width` characters wide (means over equal spans).
pub fn sparkline(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let width = width.min(values.len());
    let buckets: Vec<f64> = (0..width)
        .map(|b| {
            let lo = b * values.len() / width;
            let hi = ((b + 1) * values.len() / width).max(lo + 1);
            values[lo..hi].iter().sum::<f64>() / (hi - lo) as f64
        })
        .collect();
    let min = buckets.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = buckets.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    buckets
        .iter()
        .map(|v| {
            if max - min <= f64::EPSILON * max.abs().max(1.0) {
                BARS[3]
            } else {
                BARS[(((v - min) / (max - min)) * 7.0).round() as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(seq: i64, t: f64, e: Option<f64>, p: Option<f64>) -> StoredSample {
        StoredSample {
            seq,
            elapsed_s: t,
            unix_s: t,
            total_power: Power::ZERO,
            energy: None,
            readings: vec![(e.map(Energy::from_joules), p.map(Power::from_watts))],
        }
    }

    #[test]
    fn counters_difference_and_power_integrates() {
        let counter = [
            s(0, 0.0, Some(10.0), None),
            s(1, 1.0, Some(15.0), None),
            s(2, 2.0, Some(22.0), None),
        ];
        assert_eq!(
            component_energies(1, &counter),
            vec![Some(Energy::from_joules(12.0))]
        );
        let power = [s(0, 0.0, None, Some(10.0)), s(1, 2.0, None, Some(20.0))];
        assert_eq!(
            component_energies(1, &power),
            vec![Some(Energy::from_joules(30.0))]
        );
        assert_eq!(component_energies(1, &power[..1]), vec![None]);
    }

    #[test]
    fn sparkline_spans_the_range() {
        assert_eq!(
            sparkline(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 8),
            "▁▂▃▄▅▆▇█"
        );
        assert_eq!(sparkline(&[5.0; 10], 4), "▄▄▄▄");
        assert_eq!(sparkline(&[], 4), "");
    }
}
