//! Command-line arguments.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "greenai",
    version,
    about = "Measure, account and cut the energy of AI work"
)]
pub struct Cli {
    /// The run database (default: $GREENAI_DB, else ~/.local/share/greenai/greenai.sqlite).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show which energy sensors this machine has, which it lacks and why, and the fallback.
    Detect {
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// Also ask the cloud's instance metadata service (a network call to 169.254.169.254, or
        /// $GREENAI_CLOUD_METADATA_URL) for the instance type the machine does not name locally.
        #[arg(long)]
        cloud_metadata: bool,
    },
    /// Ask the estimate model directly: a CPU's power at a load, by model name, family or cloud
    /// instance, with its band, its basis and (for an instance) the host's embodied emissions.
    Estimate(EstimateArgs),
    /// Run a command, measure the energy it used, and keep the run in the database.
    Run(RunArgs),
    /// Train a model on an IDX dataset (the bundled MNIST by default), each epoch in a meter window.
    Train(TrainArgs),
    /// Evaluate a checkpoint on a test set, inside a meter window.
    Eval(EvalArgs),
    /// Classify the images of an IDX file with a checkpoint, inside a meter window.
    Predict(PredictArgs),
    /// Train and evaluate a grid of configurations; find the greenest that meets the target.
    Compare(CompareArgs),
    /// Quantize a checkpoint to int8 and measure accuracy, size, speed and energy before and after.
    Quantize(QuantizeArgs),
    /// Transfer learning: a frozen pretrained backbone's features, a new head trained on them.
    Transfer(TransferArgs),
    /// The cleanest start (or set of windows) for a job before its deadline, from a forecast.
    Plan(crate::cli_sched::PlanArgs),
    /// Queue a command to run at its cleanest time before a deadline (`greenai scheduler` runs it).
    Submit(crate::cli_sched::SubmitArgs),
    /// List, show and cancel queued jobs.
    Queue {
        #[command(subcommand)]
        command: crate::cli_sched::QueueCommand,
    },
    /// Run the queue: each job at its planned time, measured; interruptible ones paused while the
    /// grid is dirty. Runs in the foreground (see deploy/greenai-scheduler.service).
    Scheduler(crate::cli_sched::SchedulerArgs),
    /// Power knobs (RAPL limits, cpufreq, GPU power limits): show, set, and restore what greenai
    /// changed.
    Power {
        #[command(subcommand)]
        command: crate::cli_power::PowerCommand,
    },
    /// A job's, node's or label's energy and emissions across a cluster, from Prometheus.
    Fleet(crate::cli_fleet::FleetArgs),
    /// Sentence vectors from all-MiniLM-L6-v2 in greenai's engine (JSON or .npy), metered.
    Embed(crate::cli_text::EmbedArgs),
    /// Text classification: a pretrained encoder frozen or fine-tuned, or the n-gram baseline.
    TextClassify(Box<crate::cli_text::TextClassifyArgs>),
    /// Recommendation: matrix factorisation on ratings (MovieLens-100K by default).
    Recommend {
        #[command(subcommand)]
        command: crate::cli_recommend::RecommendCommand,
    },
    /// List, show and export recorded runs.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Emissions of an amount of energy, or `carbon regions` for the known grids.
    #[command(args_conflicts_with_subcommands = true)]
    Carbon {
        #[command(subcommand)]
        command: Option<CarbonCommand>,
        /// The energy, in kWh.
        #[arg(long, value_parser = crate::parse::kwh)]
        energy_kwh: Option<f64>,
        /// How long the energy took, in seconds (for the embodied share of SCI).
        #[arg(long, default_value = "0", value_parser = crate::parse::seconds)]
        duration_s: f64,
        #[command(flatten)]
        carbon: CarbonArgs,
        #[arg(long)]
        json: bool,
    },
    /// Serve the machine's energy and power as OpenMetrics text for Prometheus.
    Exporter {
        /// Address to listen on; a bare port binds 127.0.0.1.
        #[arg(long, default_value = "127.0.0.1:9875")]
        listen: String,
        /// Sampling interval in seconds (0.001 to 60).
        #[arg(long, default_value = "1", value_parser = crate::parse::interval)]
        interval: Duration,
    },
    /// Serve the dashboard over the run database (runs, one run, live, comparisons, queue) and
    /// its JSON API, until interrupted.
    Serve {
        /// Address to listen on; a bare port binds 127.0.0.1 (port 0: any free one).
        #[arg(long, default_value = "127.0.0.1:8765")]
        listen: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One line per run.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One run's report and a sparkline of its power.
    Show {
        /// A run id, or a unique prefix of one.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Runs as CSV (CodeCarbon's emissions.csv columns) or JSON, on stdout.
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Run ids (or unique prefixes); all runs when none is given.
        ids: Vec<String>,
    },
    /// Add runs measured elsewhere (`runs export --format json` of another node's database, as
    /// the tasks of a Slurm job array write them); runs already here are skipped.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CarbonCommand {
    /// Every known region: countries, sub-national grids and cloud regions.
    Regions {
        #[arg(long)]
        json: bool,
    },
}

/// Where the electricity comes from and what the facility adds.
#[derive(Debug, Clone, clap::Args)]
pub struct CarbonArgs {
    /// Country (FR, FRA), sub-national grid (US-CA, CA-QC, CN-BJ, SE3) or cloud region
    /// (gcp:europe-west1, aws:eu-west-3, azure:westeurope); default $GREENAI_REGION.
    #[arg(long)]
    pub region: Option<String>,
    /// A fixed grid intensity in gCO2e/kWh, overriding the region's.
    #[arg(long, value_name = "G_PER_KWH", value_parser = crate::parse::intensity)]
    pub intensity: Option<f64>,
    /// A CSV of intensity over time (timestamp,g_per_kwh[,marginal_g_per_kwh]).
    #[arg(long, value_name = "CSV")]
    pub intensity_file: Option<PathBuf>,
    /// Power usage effectiveness of the facility (1.0 for a personal machine).
    #[arg(long, value_parser = crate::parse::pue)]
    pub pue: Option<f64>,
    /// Energy reuse factor: the share of facility energy reused as heat (0 to 1).
    #[arg(long, value_parser = crate::parse::fraction)]
    pub erf: Option<f64>,
    /// SCI's functional unit and how many the work produced: NAME=COUNT (inference=10000).
    #[arg(long, value_name = "NAME=COUNT", value_parser = crate::parse::functional_unit)]
    pub functional_unit: Option<(String, f64)>,
    /// Embodied emissions of the hardware, in kgCO2e, for SCI (default: a known cloud instance's
    /// host, from its DMI strings; 0 leaves embodied emissions out).
    #[arg(long, value_name = "KG", value_parser = crate::parse::kg)]
    pub embodied_kg: Option<f64>,
    /// Expected lifespan of the hardware, in years [default: 4].
    #[arg(long, value_parser = crate::parse::years)]
    pub lifespan_years: Option<f64>,
    /// Share of the hardware the work reserved, 0 to 1 [default: 1, or a known cloud instance's
    /// vCPUs over its host's].
    #[arg(long, value_parser = crate::parse::share)]
    pub resource_share: Option<f64>,
}

impl CarbonArgs {
    pub fn settings(&self) -> greenai_carbon::CarbonSettings {
        // Where the flags give no embodied emissions, a cloud instance the machine names (and the
        // bundled table knows) gives its host's, shared by its vCPUs.
        let detected = || greenai_meter::hardware::embodied_at(&greenai_meter::sysfs::sysfs_root());
        let embodied = match self.embodied_kg {
            Some(kg) => Some((
                kg,
                self.resource_share.unwrap_or(1.0),
                self.lifespan_years.unwrap_or(4.0),
            )),
            None => detected().map(|d| {
                (
                    d.host_kg,
                    self.resource_share.unwrap_or(d.share),
                    self.lifespan_years.unwrap_or(d.lifespan_years),
                )
            }),
        };
        greenai_carbon::CarbonSettings {
            region: self.region.clone(),
            intensity_g_per_kwh: self.intensity,
            intensity_file: self.intensity_file.clone(),
            pue: self.pue,
            erf: self.erf,
            functional_unit: self.functional_unit.clone(),
            embodied: embodied.filter(|e| e.0 > 0.0).map(|(kg, share, years)| {
                greenai_carbon::footprint::Embodied {
                    total: greenai_units::Emissions::from_kg(kg),
                    lifespan: Duration::from_secs_f64(years.max(0.0) * 365.25 * 86_400.0),
                    resource_share: share,
                }
            }),
        }
    }
}

/// The models greenai's engine implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelName {
    /// The seed's LightweightNet: Conv2d(1→16, 3×3, padding 1), ReLU, Linear(16·H·W → classes).
    Lightweight,
    /// Depthwise-separable blocks (dw 3×3 + BN + ReLU6, pw 1×1 + BN + ReLU6), global average pool.
    Mobilenet,
    /// ShuffleNet units: grouped 1×1 convolutions, channel shuffle, depthwise 3×3, residual add.
    Shufflenet,
    /// A plain convolutional baseline: two 3×3 convolutions with max pooling, two linear layers.
    Cnn,
    /// LeNet-5 (ReLU, max pooling): the original lightweight convolutional network.
    Lenet,
    /// Two strided convolutions with BatchNorm, one linear layer (downsampling by stride, not pooling).
    Strided,
}

impl ModelName {
    pub fn kind(self) -> greenai_nn::models::ModelKind {
        use greenai_nn::models::ModelKind;
        match self {
            ModelName::Lightweight => ModelKind::Lightweight,
            ModelName::Mobilenet => ModelKind::Mobilenet,
            ModelName::Shufflenet => ModelKind::Shufflenet,
            ModelName::Cnn => ModelKind::Cnn,
            ModelName::Lenet => ModelKind::Lenet,
            ModelName::Strided => ModelKind::Strided,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionName {
    F32,
    /// bfloat16 compute with f32 master weights.
    Bf16,
    /// float16 compute with f32 master weights and dynamic loss scaling.
    F16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerName {
    Adam,
    Adamw,
    Sgd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleName {
    /// Cosine annealing of the learning rate to zero over the epochs.
    Cosine,
    Constant,
}

/// Where a job's run is recorded, how it is metered, and how it is printed.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Sampling interval of the meter, in seconds.
    #[arg(long, default_value = "0.1", value_parser = crate::parse::interval)]
    pub interval: Duration,
    /// Project name of the recorded run.
    #[arg(long, default_value = "default")]
    pub project: String,
    /// Do not record the run in the database.
    #[arg(long)]
    pub no_store: bool,
    #[command(flatten)]
    pub carbon: CarbonArgs,
    /// Print one JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

impl RecordArgs {
    /// How a job of `threads` and `batch` runs and where it is recorded: the database unless
    /// `--no-store`; its files (feature caches) beside the database either way.
    pub fn settings(
        &self,
        db: &std::path::Path,
        threads: usize,
        batch: usize,
    ) -> greenai_tune::job::JobSettings {
        greenai_tune::job::JobSettings {
            threads,
            batch,
            interval: self.interval,
            project: self.project.clone(),
            db: (!self.no_store).then(|| db.to_path_buf()),
            state_dir: db
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .to_path_buf(),
            carbon: self.carbon.settings(),
            labels: greenai_fleet::identity::current(),
        }
    }
}

/// A training or evaluation job's threads and batch size, and its record.
#[derive(Debug, clap::Args)]
pub struct JobArgs {
    /// Threads for the forward and backward passes.
    #[arg(long, default_value = "2", value_parser = crate::parse::threads)]
    pub threads: usize,
    /// Images per batch.
    #[arg(long, default_value = "64", value_parser = crate::parse::batch)]
    pub batch: usize,
    #[command(flatten)]
    pub record: RecordArgs,
}

impl JobArgs {
    pub fn settings(&self, db: &std::path::Path) -> greenai_tune::job::JobSettings {
        self.record.settings(db, self.threads, self.batch)
    }
}

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    #[arg(long, value_enum, default_value = "lightweight")]
    pub model: ModelName,
    #[arg(long, default_value = "10", value_parser = crate::parse::epochs)]
    pub epochs: usize,
    /// Stop after this many steps (batches), the learning-rate schedule ending there too: a job
    /// planned for part of an epoch (default: the epochs' steps).
    #[arg(long, value_parser = crate::parse::steps)]
    pub max_steps: Option<u64>,
    /// Learning rate (default: 0.001 for adam and adamw, 0.05 for sgd).
    #[arg(long, value_parser = crate::parse::lr)]
    pub lr: Option<f32>,
    #[arg(long, value_enum, default_value = "adam")]
    pub optimizer: OptimizerName,
    /// Compute format of training (f32 master weights in every case).
    #[arg(long, value_enum, default_value = "f32")]
    pub precision: PrecisionName,
    #[arg(long, value_enum, default_value = "cosine")]
    pub schedule: ScheduleName,
    /// Weight decay (L2 for adam and sgd, decoupled for adamw; default 0, adamw 0.01).
    #[arg(long, value_parser = crate::parse::weight_decay)]
    pub weight_decay: Option<f32>,
    /// A directory of IDX files named as MNIST's (train-images-idx3-ubyte[.gz], …); default: the
    /// bundled MNIST.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Training images held out for validation after every epoch (0: none).
    #[arg(long, default_value = "5000")]
    pub validation: usize,
    /// Stop when validation accuracy has not improved for this many epochs.
    #[arg(long, value_name = "EPOCHS", value_parser = crate::parse::epochs)]
    pub patience: Option<usize>,
    /// Stop the moment this accuracy (0 to 1) is reached on held-out images, checked every
    /// --check-every steps, and report the energy and time to reach it.
    #[arg(long, value_name = "A", value_parser = crate::parse::accuracy)]
    pub target_accuracy: Option<f64>,
    /// Steps between checks of --target-accuracy (default: checks near 3 % of the training
    /// work, 174 steps at batch 64).
    #[arg(long, value_name = "N", requires = "target_accuracy", value_parser = crate::parse::steps)]
    pub check_every: Option<u64>,
    /// Tune a power knob while training (a package's RAPL limit, else the CPU frequency ceiling):
    /// a few hundred steps at each candidate setting, the least Zeus cost kept for the rest of
    /// the job, everything restored at its end. Says so and runs at the default where no knob
    /// is writable.
    #[arg(long)]
    pub power_tune: bool,
    /// Start the first convolution from the principal components of its input patches in 1,000
    /// training images (its cost counted in the first epoch) instead of random filters.
    #[arg(long)]
    pub pca_init: bool,
    /// η of the cost η·E + (1 − η)·P_max·T: 1 minds energy only, 0 time only.
    #[arg(long, default_value = "0.5", requires = "power_tune", value_parser = crate::parse::fraction)]
    pub power_eta: f64,
    /// Steps measured at each setting.
    #[arg(long, default_value = "300", requires = "power_tune", value_parser = crate::parse::steps)]
    pub power_tune_steps: u64,
    /// Save a checkpoint (safetensors) after every epoch; `{epoch}` in PATH keeps one per epoch.
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    /// Resume training from a checkpoint written by --save.
    #[arg(long, value_name = "PATH")]
    pub resume: Option<PathBuf>,
    /// Seed for initialisation and shuffling.
    #[arg(long, default_value = "0")]
    pub seed: u64,
    #[command(flatten)]
    pub job: JobArgs,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The test accuracy a configuration must reach, 0 to 1 (default: 0.98 for MNIST; with
    /// --task text 0.971 on r8, TextGCN's figure, and 0.85 otherwise).
    #[arg(long, value_parser = crate::parse::fraction)]
    pub target_accuracy: Option<f64>,
    /// Stop a configuration whose training energy, predicted after an epoch, exceeds this.
    #[arg(long, value_name = "J", value_parser = crate::parse::joules)]
    pub budget_j: Option<f64>,
    /// Write a self-contained HTML report with the table and plots.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Run the whole grid (longer epochs, more thread counts and batch sizes).
    #[arg(long)]
    pub full: bool,
    /// Weight of energy against time when choosing threads and batch size (Zeus's η, 0 to 1).
    #[arg(long, default_value = "0.5", value_parser = crate::parse::fraction)]
    pub eta: f64,
    /// Retrain every configuration instead of reusing finished ones from the database.
    #[arg(long)]
    pub fresh: bool,
    /// Run every configuration N times (other seeds) and show medians with ranges, ties marked
    /// (default: 3 runs of the configurations that train in 10 s or less, 1 of the others;
    /// --full: 5 and 3).
    #[arg(long, value_name = "N", value_parser = crate::parse::repeats)]
    pub repeat: Option<usize>,
    /// A directory of IDX files (default: the bundled MNIST).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Sampling interval of the meter, in seconds.
    #[arg(long, default_value = "0.1", value_parser = crate::parse::interval)]
    pub interval: Duration,
    #[command(flatten)]
    pub carbon: CarbonArgs,
    /// Print the comparison as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// What the grid is for: MNIST classification, recommendation on a ratings file
    /// (MovieLens-100K by default; --data FILE), or text classification (--text-data).
    #[arg(long, value_enum, default_value = "mnist")]
    pub task: CompareTask,
    /// With --task recommend: the RMSE a configuration must reach.
    #[arg(long, value_name = "RMSE", default_value = "0.934")]
    pub target_rmse: f64,
    /// With --task text: `uci` (default), `r8` or a labelled-text file (as text-classify's --data).
    #[arg(long, value_name = "DATA", default_value = "uci")]
    pub text_data: String,
    /// Only these configurations (their names in the table, comma-separated).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Run the grid as a Slurm job array (one configuration per task, measured on its node into
    /// a node-local database), import the tasks' runs and build the table from them.
    #[arg(long)]
    pub slurm: bool,
    /// With --slurm: an sbatch option for the array, repeatable (--slurm-arg=--partition=gpu).
    #[arg(
        long = "slurm-arg",
        value_name = "OPTION",
        allow_hyphen_values = true,
        requires = "slurm"
    )]
    pub slurm_args: Vec<String>,
    /// With --slurm: a directory every node can write, for the batch script, the tasks' logs and
    /// their runs (default: greenai-slurm/compare-TIME in the current directory).
    #[arg(long, value_name = "DIR", requires = "slurm")]
    pub slurm_dir: Option<PathBuf>,
    /// With --slurm: at most N tasks at once.
    #[arg(long, value_name = "N", requires = "slurm", value_parser = clap::value_parser!(u32).range(1..))]
    pub slurm_max_parallel: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareTask {
    Mnist,
    Recommend,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuantMode {
    /// One weight scale per tensor (the seed's "global"); activations calibrated.
    PerTensor,
    /// One weight scale per output channel (the seed's "local"); activations calibrated.
    PerChannel,
    /// Per-channel weights; activation ranges measured on every batch at run time.
    Dynamic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CalibrationMethod {
    Minmax,
    /// The 99.99th percentile of each sign's magnitudes, clipping outliers.
    Percentile,
}

#[derive(Debug, clap::Args)]
pub struct QuantizeArgs {
    /// A checkpoint written by `greenai train --save`.
    #[arg(value_name = "CHECKPOINT")]
    pub checkpoint: PathBuf,
    #[arg(long, value_enum, default_value = "per-channel")]
    pub mode: QuantMode,
    /// Training images used to calibrate static activation ranges.
    #[arg(long, default_value = "1000")]
    pub calibration: usize,
    #[arg(long, value_enum, default_value = "minmax")]
    pub method: CalibrationMethod,
    /// Which layers run int8: `faster`, each only where it is faster than f32 on this CPU (timed
    /// on calibration images); `all`, every layer that can (for a model meant for another
    /// machine, or results that must not depend on timing).
    #[arg(long, value_enum, default_value = "faster")]
    pub int8_layers: Int8Layers,
    /// Write the int8 model (safetensors with i8 weights and their scales); `greenai eval` and
    /// `greenai predict` read it.
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    /// A directory of IDX files (default: the bundled MNIST): calibration from its training set,
    /// evaluation on its test set.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub job: JobArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Int8Layers {
    Faster,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackboneName {
    #[value(name = "efficientnet-lite0")]
    EfficientnetLite0,
}

#[derive(Debug, clap::Args)]
pub struct TransferArgs {
    #[arg(long, value_enum, default_value = "efficientnet-lite0")]
    pub backbone: BackboneName,
    /// A directory of IDX files (default: the bundled MNIST; Fashion-MNIST is the intended task).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Side of the square images the backbone sees (grey images are resized and replicated to RGB).
    #[arg(long, default_value = "96", value_parser = crate::parse::image_size)]
    pub input_size: usize,
    /// Training images whose features train the head (the first N).
    #[arg(long, default_value = "5000", value_parser = crate::parse::images)]
    pub train_samples: usize,
    /// Test images to evaluate on (the first N).
    #[arg(long, default_value = "2000", value_parser = crate::parse::images)]
    pub test_samples: usize,
    /// Epochs of the head over the cached features.
    #[arg(long, default_value = "30", value_parser = crate::parse::epochs)]
    pub epochs: usize,
    /// Adam's learning rate, annealed to zero on a cosine over the epochs.
    #[arg(long, default_value = "0.001", value_parser = crate::parse::lr)]
    pub lr: f32,
    /// Also train the backbone's last N blocks (and its head convolution) with the new head,
    /// from their pretrained weights; 0 keeps the whole backbone frozen.
    #[arg(long, value_name = "N", default_value = "0")]
    pub fine_tune_last: usize,
    /// Run the frozen part in int8 (per-channel weights, activations calibrated on the first 256
    /// training images; its calibration counts in the first pass that runs), about 3.5× faster
    /// on a CPU with AVX-512 VNNI; the trained part stays f32.
    #[arg(long)]
    pub int8: bool,
    /// Seed for the new head and the shuffling.
    #[arg(long, default_value = "0")]
    pub seed: u64,
    /// Training images held out for validation: the last N of the training set, never trained
    /// on; their accuracy is reported, and --target-accuracy is checked on them (0: none).
    #[arg(long, default_value = "0")]
    pub validation: usize,
    /// Stop the moment this validation accuracy (0 to 1) is reached, checked every --check-every
    /// steps; the training images' features are then computed a chunk at a time as the head
    /// trains, so the job pays the backbone only for the images it used.
    #[arg(long, value_name = "A", value_parser = crate::parse::accuracy)]
    pub target_accuracy: Option<f64>,
    /// Steps between checks of --target-accuracy (default: checks near 3 % of the work).
    #[arg(long, value_name = "N", requires = "target_accuracy", value_parser = crate::parse::steps)]
    pub check_every: Option<u64>,
    /// The converted weights (default: data/efficientnet-lite0.safetensors).
    #[arg(long, value_name = "PATH")]
    pub weights: Option<PathBuf>,
    #[command(flatten)]
    pub job: JobArgs,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A checkpoint written by `greenai train --save`.
    #[arg(value_name = "CHECKPOINT")]
    pub checkpoint: PathBuf,
    /// A directory of IDX files; its test set (t10k-*) is evaluated. Default: the bundled MNIST.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub job: JobArgs,
}

#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// A checkpoint written by `greenai train --save`.
    #[arg(value_name = "CHECKPOINT")]
    pub checkpoint: PathBuf,
    /// An IDX images file (raw or .gz) to classify; default: the bundled MNIST test images.
    #[arg(long, value_name = "FILE")]
    pub images: Option<PathBuf>,
    /// Classify only the first N images.
    #[arg(long, value_name = "N", value_parser = crate::parse::images)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub job: JobArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Print one JSON report on stdout (the text report still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Sampling interval in seconds (0.001 to 60).
    #[arg(long, default_value = "0.1", value_parser = crate::parse::interval)]
    pub interval: Duration,
    /// Tag the run: KEY=VALUE, repeatable.
    #[arg(long = "label", value_parser = crate::parse::label)]
    pub labels: Vec<(String, String)>,
    /// Project name, as in CodeCarbon's project_name column.
    #[arg(long, default_value = "default")]
    pub project: String,
    #[command(flatten)]
    pub carbon: CarbonArgs,
    /// Also serve OpenMetrics at ADDR while the command runs (a bare port binds 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub prometheus: Option<String>,
    /// Cap every CPU package's long-term RAPL power limit at WATTS while the command runs
    /// (journaled, restored afterwards).
    #[arg(long, value_name = "WATTS")]
    pub power_limit: Option<String>,
    /// Cap the CPU frequency (2.4GHz, 2400MHz, or kHz) while the command runs (restored
    /// afterwards).
    #[arg(long, value_name = "FREQ")]
    pub cpu_max_freq: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

pub fn parse() -> Result<Cli, clap::Error> {
    Cli::try_parse()
}

/// `greenai estimate`: one of --cpu-model, --family or --instance, and a load; or --validate.
#[derive(Debug, clap::Args)]
pub struct EstimateArgs {
    /// Validate the family curves instead: hold each bundled SPECpower_ssj2008 result out of its
    /// family's fit, predict it, and report the error and the band's coverage (--json: every
    /// server's measured and predicted power at each load step).
    #[arg(long, conflicts_with_all = ["cpu_model", "family", "instance", "vcpus"])]
    pub validate: bool,
    /// A CPU model name as cpuinfo gives it ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz").
    #[arg(long, value_name = "NAME")]
    pub cpu_model: Option<String>,
    /// A CPU family with a load-to-power curve ("Skylake", "AMD EPYC 3rd Gen", "AWS Graviton2").
    #[arg(long, value_name = "FAMILY")]
    pub family: Option<String>,
    /// A cloud instance type (aws:m5.large, gcp:n2-standard-4, azure:Standard_D2s_v3): its vCPUs,
    /// family and host's embodied emissions.
    #[arg(long, value_name = "PROVIDER:TYPE")]
    pub instance: Option<String>,
    /// vCPUs (hardware threads) to count (default: the instance's, else 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub vcpus: Option<u32>,
    /// Utilisation, 0 to 1.
    #[arg(long, default_value = "0.5", value_parser = crate::parse::fraction)]
    pub load: f64,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}
