//! The burn backends the CLI can run on, chosen with `--backend`.
//!
//! - `flex`: burn-flex, burn's pure-Rust CPU backend; the default on CPU (measured
//!   2.6× faster than candle's CPU path on a 2-core machine).
//! - `candle`: burn-candle; on CPU everywhere, and on NVIDIA GPUs in a build
//!   with the `cuda` feature (`--device cuda:N`).

use burn::prelude::Backend;
use clap::ValueEnum;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    #[default]
    Flex,
    Candle,
}

/// `--backend` and `--device`, shared by every command that computes.
#[derive(clap::Args, Clone, Debug)]
pub struct BackendArgs {
    /// Tensor backend: burn-flex (CPU, default) or burn-candle (CPU, or CUDA in a `cuda` build).
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// `cpu`, or `cuda:N` with `--backend candle` in a build with the `cuda` feature.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// burn-flex on the CPU.
pub type Flex = burn::backend::Flex<f32>;
/// burn-candle (CPU, or CUDA in a `cuda` build).
#[allow(deprecated)]
pub type Candle = burn::backend::Candle<f32, i64>;

/// Work that runs on whichever backend the user chose.
pub trait BackendRun {
    type Output;
    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Self::Output>;
}

/// Runs `work` on the backend and device of `args`.
pub fn with_backend<W: BackendRun>(args: &BackendArgs, work: W) -> anyhow::Result<W::Output> {
    match args.backend {
        BackendKind::Flex => {
            anyhow::ensure!(
                args.device == "cpu",
                "--device {}: the flex backend runs on the CPU only; use --backend candle for CUDA",
                args.device
            );
            work.run::<Flex>(Default::default())
        }
        BackendKind::Candle => work.run::<Candle>(candle_device(&args.device)?),
    }
}

/// Parses `--device`: `cpu` or, in a `cuda` build, `cuda:N`.
#[allow(deprecated)]
pub fn candle_device(spec: &str) -> anyhow::Result<burn::backend::candle::CandleDevice> {
    use burn::backend::candle::CandleDevice;
    match spec {
        "cpu" => Ok(CandleDevice::Cpu),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            #[cfg(feature = "cuda")]
            Some(Ok(index)) => Ok(CandleDevice::cuda(index)),
            #[cfg(not(feature = "cuda"))]
            Some(Ok(_)) => anyhow::bail!(
                "--device {other}: this bipeft was built without CUDA; rebuild with `--features cuda` where nvcc is installed"
            ),
            _ => anyhow::bail!("--device must be `cpu` or `cuda:N`, not `{other}`"),
        },
    }
}
