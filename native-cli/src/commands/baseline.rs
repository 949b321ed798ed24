//! `bipeft search --mode uniform_lora|lora_qv|bitfit|lnfit|adapter`: the
//! hand-made baselines of core's [`Baseline`], sized to the budget.

use bipeft_core::baseline::Baseline;

use super::search::Mode;

/// The baseline of a `--mode`; `None` for the search modes.
pub fn of(mode: Mode) -> Option<Baseline> {
    match mode {
        Mode::UniformLora => Some(Baseline::UniformLora),
        Mode::LoraQv => Some(Baseline::LoraQv),
        Mode::Adapter => Some(Baseline::Adapter),
        Mode::Bitfit => Some(Baseline::Bitfit),
        Mode::Lnfit => Some(Baseline::Lnfit),
        _ => None,
    }
}
