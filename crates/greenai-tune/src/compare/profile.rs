//! Energy-aware settings: short profiling runs of a model at every thread count and batch size,
//! each in its own meter window, and Zeus's choice among them ([`crate::settings::choose`]).

use crate::error::{Result, TuneError};
use crate::settings::{self, Profile};
use greenai_meter::detect;
use greenai_nn::data::{shuffled, Dataset};
use greenai_nn::models::ModelKind;
use greenai_nn::optim::{Optimizer, OptimizerKind};
use greenai_nn::train::{Model, Runner};
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettingsChoice {
    pub model: String,
    pub profiles: Vec<ProfileRow>,
    pub chosen_threads: usize,
    pub chosen_batch: usize,
    pub p_max_w: f64,
    pub profiling_energy_j: f64,
    pub explanation: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileRow {
    pub threads: usize,
    pub batch: usize,
    pub energy_per_sample_j: f64,
    pub time_per_sample_s: f64,
    pub avg_power_w: f64,
    pub cost: f64,
}

/// Short profiling runs of `model`: `steps` optimiser steps for every thread count and batch
/// size, each in its own meter window.
pub fn profile_settings(
    model: ModelKind,
    lr: f32,
    train: &Dataset,
    eta: f64,
    interval: std::time::Duration,
) -> Result<SettingsChoice> {
    let (builder, _) = detect::machine_builder();
    let meter = builder.interval(interval).start()?;
    let mut profiles = Vec::new();
    let mut spent = 0.0;
    let max_threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    for threads in 1..=max_threads {
        for batch in [32usize, 64, 128] {
            let mut m = Model::new(model, train.rows, train.cols, train.classes().max(2), 0)?;
            let mut opt = Optimizer::new(OptimizerKind::Adam, &m.params, lr);
            let runner = Runner {
                threads,
                batch,
                ..Runner::default()
            };
            // 1,024 images per profile: a tenth of a second or more, several meter samples, and
            // all six profiles together under a tenth of an epoch.
            let order = &shuffled(train.len(), 7)[..1024.min(train.len())];
            meter.begin_window("profile")?;
            let t = Instant::now();
            runner.train_epoch(&mut m, &mut opt, train, order, &mut |_| {});
            let secs = t.elapsed().as_secs_f64();
            let w = meter.end_window("profile")?;
            spent += w.energy.joules();
            let n = order.len() as f64;
            profiles.push(Profile {
                threads,
                batch,
                energy_per_sample_j: w.energy.joules() / n,
                time_per_sample_s: secs / n,
                avg_power_w: w.energy.joules() / secs,
            });
        }
    }
    let choice = settings::choose(&profiles, eta)
        .ok_or_else(|| TuneError::Invalid("no profile to choose from".into()))?;
    let best = profiles[choice.index];
    let rows = profiles
        .iter()
        .zip(&choice.costs)
        .map(|(p, c)| ProfileRow {
            threads: p.threads,
            batch: p.batch,
            energy_per_sample_j: p.energy_per_sample_j,
            time_per_sample_s: p.time_per_sample_s,
            avg_power_w: p.avg_power_w,
            cost: *c,
        })
        .collect();
    Ok(SettingsChoice {
        model: model.name().into(),
        profiles: rows,
        chosen_threads: best.threads,
        chosen_batch: best.batch,
        p_max_w: choice.p_max_w,
        profiling_energy_j: spent,
        explanation: format!(
            "{} thread(s), batch {}: the least η·E + (1−η)·P_max·T per sample with η = {eta} and \
             P_max = {:.1} W ({:.3} mJ and {:.1} µs per sample)",
            best.threads,
            best.batch,
            choice.p_max_w,
            best.energy_per_sample_j * 1e3,
            best.time_per_sample_s * 1e6
        ),
    })
}
