//! The inspect view's data: a `peft_config.json` laid over every slot of the
//! space it was searched in (core's [`bipeft_core::inspect`], which `bipeft
//! inspect` renders too), and a `search_trace.json` turned into the steps the
//! page replays.

use std::collections::HashMap;

pub use bipeft_core::inspect::{
    catalogue_of, inspect_config, lay_out_space, preview_space, Inspection, KindView, SlotView,
};
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::search::{EpochReport, SearchEvent};
use bipeft_core::space::{Catalogue, Kind};
use bipeft_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// A rank fixed by a selection step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FixedView {
    /// Index into [`Inspection::slots`].
    pub slot: usize,
    pub rank: usize,
}

/// One selection step of the search (docs/algorithm.md §6.3–6.4).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelectionView {
    pub epoch: usize,
    pub weight_step: usize,
    /// T before the step.
    pub remaining_before: usize,
    /// E at the step.
    pub expected_params: f64,
    /// Slots pruned, as indices into [`Inspection::slots`].
    pub pruned: Vec<usize>,
    pub fixed: Vec<FixedView>,
    /// The dimension step's global stability g, when it ran.
    pub global_stability: Option<f64>,
}

/// One weight step as `bipeft search` records it in its trace (every field
/// optional, so that a trace without per-step records still reads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    pub epoch: usize,
    /// 0-based index of the weight step.
    pub step: usize,
    #[serde(default)]
    pub tau: Option<f64>,
    #[serde(default)]
    pub arch_loss: Option<f64>,
    #[serde(default)]
    pub weight_loss: Option<f64>,
    #[serde(default)]
    pub expected_params: Option<f64>,
    #[serde(default)]
    pub live_modules: Option<usize>,
    #[serde(default)]
    pub fixed_ranks: Option<usize>,
}

/// A search trace, ready to replay over an [`Inspection`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Replay {
    pub epochs: Vec<EpochReport>,
    /// Every weight step, when the trace records them.
    pub steps: Vec<StepView>,
    pub selections: Vec<SelectionView>,
    /// Where the search stopped early (epoch, weight step), if it did.
    pub stopped: Option<(usize, usize)>,
    /// Batches skipped for a non-finite loss.
    pub skipped_batches: usize,
    /// Weight steps taken in all.
    pub weight_steps: usize,
    /// The task and the search mode, when the trace names them.
    pub task: Option<String>,
    pub mode: Option<String>,
    /// What the end of the search adjusted (modules dropped to fit the budget).
    pub notes: Vec<String>,
}

/// The parts of a `search_trace.json` the replay reads. `bipeft search`
/// writes an object (`format: "bipeft-search-trace"`) with the space's slots,
/// every step and the events; a bare list of events reads too.
#[derive(Debug, Default, Deserialize)]
struct TraceFile {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    budget_params: Option<u64>,
    #[serde(default)]
    slots: Option<Vec<TraceSlot>>,
    #[serde(default)]
    steps: Vec<StepView>,
    events: Vec<SearchEvent>,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    result: Option<TraceResult>,
}

/// What the trace says of the discrete result.
#[derive(Debug, Default, Deserialize)]
struct TraceResult {
    /// Slots added to fill the budget after the search: its own record
    /// that a slot it pruned is kept.
    #[serde(default)]
    refilled: Vec<String>,
}

/// A slot as the trace lists it.
#[derive(Debug, Deserialize)]
struct TraceSlot {
    name: String,
    kind: Kind,
}

pub use bipeft_core::session::TRACE_FORMAT;

/// Reads a `search_trace.json` and checks it against the configuration the
/// search ended with: every pruned or fixed slot must be a slot of its space
/// (by index and by name), no pruned slot may be kept unless the trace's result
/// added it back after a trim, and a fixed rank must be the rank the
/// configuration kept.
pub fn replay_trace(config_json: &str, trace_json: &str) -> Result<Replay> {
    let config = PeftConfig::from_json(config_json, "peft_config.json")?;
    let catalogue = catalogue_of(&config)?;
    let trace = parse_trace(trace_json)?;
    check_trace_matches(&trace, &config, &catalogue)?;
    // The `no_iter` ablation searches one entangled space whose first
    // candidate is rank 0 ("off"); its fixed candidates are shifted by one.
    // `noiter` is how traces written before the method names were shared spell it.
    let zero_rank = matches!(trace.mode.as_deref(), Some("no_iter" | "noiter"));
    let refilled: Vec<String> = trace.result.map(|r| r.refilled).unwrap_or_default();
    let kept: HashMap<(&str, Kind), Option<usize>> = config
        .modules
        .iter()
        .map(|m| ((m.name.as_str(), m.kind), m.rank))
        .collect();
    let slots = catalogue.slots();
    let slot_named = |index: usize, name: &str| -> Result<usize> {
        let slot = slots.get(index).ok_or_else(|| {
            Error::InvalidInput(format!(
                "search_trace.json names slot {index}, but the configuration's space has {} slots: \
                 the trace belongs to another search",
                slots.len()
            ))
        })?;
        if !name.contains(&slot.name) {
            return Err(Error::InvalidInput(format!(
                "search_trace.json calls slot {index} `{name}`, but in the configuration's space \
                 it is the {} slot `{}`: the trace belongs to another search",
                slot.kind, slot.name
            )));
        }
        Ok(index)
    };

    let mut replay = Replay {
        epochs: Vec::new(),
        steps: trace.steps,
        selections: Vec::new(),
        stopped: None,
        skipped_batches: 0,
        weight_steps: 0,
        task: trace.task,
        mode: trace.mode,
        notes: trace.notes,
    };
    for event in trace.events {
        match event {
            SearchEvent::Epoch(report) => {
                replay.weight_steps += report.weight_steps;
                replay.epochs.push(report);
            }
            SearchEvent::SkippedBatch { .. } => replay.skipped_batches += 1,
            SearchEvent::Stopped { epoch, weight_step } => {
                replay.stopped = Some((epoch, weight_step))
            }
            SearchEvent::Selection {
                epoch,
                weight_step,
                step,
                pruned_names,
                fixed_names,
            } => {
                if pruned_names.len() != step.pruned.len() {
                    return Err(Error::InvalidInput(format!(
                        "search_trace.json: the selection step at weight step {weight_step} \
                         prunes {} slots but names {}",
                        step.pruned.len(),
                        pruned_names.len()
                    )));
                }
                let mut pruned = Vec::with_capacity(step.pruned.len());
                for (&index, name) in step.pruned.iter().zip(&pruned_names) {
                    let index = slot_named(index, name)?;
                    let slot = &slots[index];
                    if kept.contains_key(&(slot.name.as_str(), slot.kind))
                        && !refilled.contains(name)
                    {
                        return Err(Error::InvalidInput(format!(
                            "search_trace.json prunes the {} slot `{}` at weight step \
                             {weight_step}, but the configuration keeps it: they come from \
                             different searches",
                            slot.kind, slot.name
                        )));
                    }
                    pruned.push(index);
                }
                let dimension = step.dimension.as_ref();
                let fixed_rows = dimension.map_or(&[][..], |d| &d.fixed[..]);
                if fixed_names.len() != fixed_rows.len() {
                    return Err(Error::InvalidInput(format!(
                        "search_trace.json: the selection step at weight step {weight_step} \
                         fixes {} ranks but names {}",
                        fixed_rows.len(),
                        fixed_names.len()
                    )));
                }
                let mut fixed = Vec::with_capacity(fixed_rows.len());
                for (fix, name) in fixed_rows.iter().zip(&fixed_names) {
                    let index = catalogue
                        .rank_slots()
                        .get(fix.row)
                        .copied()
                        .ok_or_else(|| {
                            Error::InvalidInput(format!(
                            "search_trace.json fixes rank row {}, but the configuration's space \
                             has {} rank-searchable slots",
                            fix.row,
                            catalogue.rank_slots().len()
                        ))
                        })?;
                    let index = slot_named(index, name)?;
                    let slot = &slots[index];
                    let rank = match (zero_rank, fix.candidate) {
                        (true, 0) => Some(0),
                        (true, c) => slot.ranks.get(c - 1).copied(),
                        (false, c) => slot.ranks.get(c).copied(),
                    }
                    .ok_or_else(|| {
                        Error::InvalidInput(format!(
                            "search_trace.json fixes `{}` to candidate {}, but it has only {:?}",
                            slot.name, fix.candidate, slot.ranks
                        ))
                    })?;
                    if let Some(&Some(kept_rank)) = kept.get(&(slot.name.as_str(), slot.kind)) {
                        if kept_rank != rank {
                            return Err(Error::InvalidInput(format!(
                                "search_trace.json fixes the {} slot `{}` to rank {rank}, but \
                                 the configuration keeps it at rank {kept_rank}: they come from \
                                 different searches",
                                slot.kind, slot.name
                            )));
                        }
                    }
                    fixed.push(FixedView { slot: index, rank });
                }
                replay.selections.push(SelectionView {
                    epoch,
                    weight_step,
                    remaining_before: step.remaining_before,
                    expected_params: step.expected_params,
                    pruned,
                    fixed,
                    global_stability: dimension.map(|d| d.global_stability),
                });
            }
        }
    }
    Ok(replay)
}

/// Reads a trace: `bipeft search`'s object, or a bare list of events.
fn parse_trace(trace_json: &str) -> Result<TraceFile> {
    let bad = |message: String| Error::MalformedConfig {
        file: "search_trace.json".into(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(trace_json).map_err(|e| bad(e.to_string()))?;
    let trace = match value {
        serde_json::Value::Array(_) => TraceFile {
            events: serde_json::from_value(value).map_err(|e| bad(e.to_string()))?,
            ..TraceFile::default()
        },
        serde_json::Value::Object(ref map) => {
            if !map.contains_key("events") {
                return Err(bad("no `events` list".into()));
            }
            serde_json::from_value(value).map_err(|e| bad(e.to_string()))?
        }
        _ => return Err(bad("expected a trace object or a list of events".into())),
    };
    if let Some(format) = &trace.format {
        if format != TRACE_FORMAT {
            return Err(bad(format!(
                "format is \"{format}\", expected \"{TRACE_FORMAT}\""
            )));
        }
    }
    Ok(trace)
}

/// A trace that lists its slots or its budget must list the configuration's.
fn check_trace_matches(
    trace: &TraceFile,
    config: &PeftConfig,
    catalogue: &Catalogue,
) -> Result<()> {
    let other = |what: String| {
        Error::InvalidInput(format!(
            "search_trace.json {what}: the trace belongs to another search"
        ))
    };
    if let Some(budget) = trace.budget_params {
        if budget != config.budget_params {
            return Err(other(format!(
                "has a budget of {budget} parameters, the configuration {}",
                config.budget_params
            )));
        }
    }
    if let Some(listed) = &trace.slots {
        let slots = catalogue.slots();
        if listed.len() != slots.len() {
            return Err(other(format!(
                "lists {} slots, the configuration's space {}",
                listed.len(),
                slots.len()
            )));
        }
        if let Some((i, (a, b))) = listed
            .iter()
            .zip(slots)
            .enumerate()
            .find(|(_, (a, b))| a.name != b.name || a.kind != b.kind)
        {
            return Err(other(format!(
                "has the {} slot `{}` at position {i}, the configuration's space the {} slot `{}`",
                a.kind, a.name, b.kind, b.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use bipeft_core::backbone::{bert, Site};
    use bipeft_core::search::dimension_selection::{DimensionStep, FixedRank};
    use bipeft_core::search::SelectionStep;
    use bipeft_core::inspect::naming_for;
    use bipeft_core::peft::PeftOptions;
    use bipeft_core::space::{presets, BackboneShape, Family};

    fn tiny_bert() -> BackboneShape {
        BackboneShape {
            model_type: "bert".into(),
            family: Family::Encoder,
            d_model: 64,
            d_ff: 128,
            d_kv: 32,
            heads: 2,
            encoder_layers: 2,
            decoder_layers: 0,
            gated_ffn: false,
            linear_biases: true,
            vocab: 100,
            backbone_params: 10_000,
        }
    }

    fn catalogue(prefix: &str) -> Catalogue {
        let prefix = prefix.to_string();
        Catalogue::build(
            &tiny_bert(),
            &presets::s1(),
            &PeftOptions::default(),
            move |site: Site| bert::site_name(site, &prefix).unwrap_or_default(),
        )
        .unwrap()
    }

    /// The first LoRA slot at rank 4 and the first BitFit slot.
    fn picks(catalogue: &Catalogue) -> (usize, usize, Vec<(usize, Option<usize>)>) {
        let slots = catalogue.slots();
        let lora = slots.iter().position(|s| s.kind == Kind::Lora).unwrap();
        let bitfit = slots.iter().position(|s| s.kind == Kind::BitFit).unwrap();
        (lora, bitfit, vec![(lora, Some(4)), (bitfit, None)])
    }

    fn config(catalogue: &Catalogue) -> PeftConfig {
        let (_, _, picks) = picks(catalogue);
        PeftConfig::from_selection(catalogue, 5_000, &picks).unwrap()
    }

    #[test]
    fn every_slot_is_laid_out_with_its_choice() {
        let catalogue = catalogue("");
        let (lora, bitfit, _) = picks(&catalogue);
        let config = config(&catalogue);
        let inspection = inspect_config(&config.to_json().unwrap()).unwrap();
        assert_eq!(inspection.slots.len(), catalogue.slots().len());
        assert_eq!(inspection.slots.iter().filter(|s| s.on).count(), 2);
        assert_eq!(inspection.slots[lora].rank, Some(4));
        assert_eq!(inspection.slots[bitfit].rank, None);
        assert!(inspection.slots[bitfit].on);
        assert_eq!(inspection.trainable_params, config.trainable_params);
        assert_eq!(inspection.budget_params, 5_000);
        assert_eq!(inspection.supernet_params, catalogue.max_params());
        assert_eq!(inspection.ranks, vec![1, 4, 8]);
        let total: u64 = inspection.kinds.iter().map(|k| k.params).sum();
        assert_eq!(total, config.trainable_params);
        let slots: usize = inspection.kinds.iter().map(|k| k.slots).sum();
        assert_eq!(slots, catalogue.slots().len());
        let lora_kind = inspection
            .kinds
            .iter()
            .find(|k| k.kind == Kind::Lora)
            .unwrap();
        assert_eq!((lora_kind.kept, lora_kind.params), (1, 4 * (64 + 64)));
    }

    #[test]
    fn a_checkpoint_prefix_is_read_off_the_module_names() {
        let catalogue = catalogue("bert.");
        let config = config(&catalogue);
        assert!(config.modules[0].name.starts_with("bert.encoder.layer.0."));
        let inspection = inspect_config(&config.to_json().unwrap()).unwrap();
        assert!(inspection.slots.iter().all(|s| s.name.starts_with("bert.")));
        assert_eq!(inspection.slots.iter().filter(|s| s.on).count(), 2);
    }

    #[test]
    fn t5_slots_carry_t5_module_paths() {
        let shape = BackboneShape {
            model_type: "t5".into(),
            family: Family::T5,
            decoder_layers: 1,
            encoder_layers: 1,
            gated_ffn: true,
            linear_biases: false,
            ..tiny_bert()
        };
        let catalogue = Catalogue::build(
            &shape,
            &presets::lora(),
            &PeftOptions::default(),
            naming_for(&shape, &[]).unwrap(),
        )
        .unwrap();
        let gate = catalogue
            .find_name("decoder.block.0.layer.2.DenseReluDense.wi_1", Kind::Lora)
            .unwrap();
        let config = PeftConfig::from_selection(&catalogue, 1_000, &[(gate, Some(1))]).unwrap();
        let inspection = inspect_config(&config.to_json().unwrap()).unwrap();
        assert_eq!(inspection.slots.len(), catalogue.slots().len());
        assert_eq!(inspection.slots[gate].rank, Some(1));
        assert!(inspection
            .slots
            .iter()
            .any(|s| s.name == "encoder.block.0.layer.0.SelfAttention.q"));
    }

    #[test]
    fn a_module_outside_the_space_is_refused() {
        let catalogue = catalogue("");
        let mut config = config(&catalogue);
        config.modules[0].name = "encoder.layer.7.attention.self.query".into();
        let err = inspect_config(&config.to_json().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no such slot"), "{err}");
        assert!(
            err.contains("encoder.layer.7.attention.self.query"),
            "{err}"
        );

        let mut config = self::config(&catalogue);
        config.modules[0].params += 1;
        config.trainable_params += 1;
        let err = inspect_config(&config.to_json().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("parameters, but its slot"), "{err}");

        let err = inspect_config("{\"format\": 1}").unwrap_err().to_string();
        assert!(err.starts_with("malformed peft_config.json"), "{err}");
    }

    /// A trace with one selection step: prune `pruned`, fix rank row `row` to
    /// candidate `candidate`; `names` maps a slot index to its trace name.
    fn trace(
        catalogue: &Catalogue,
        pruned: usize,
        row: usize,
        candidate: usize,
        name_of: impl Fn(usize) -> String,
    ) -> String {
        let fixed_slot = catalogue.rank_slots()[row];
        let events = vec![
            SearchEvent::Selection {
                epoch: 1,
                weight_step: 12,
                step: SelectionStep {
                    remaining_before: 3,
                    expected_params: 9_000.0,
                    delta: 1_000.0,
                    pruned: vec![pruned],
                    dimension: Some(DimensionStep {
                        global_stability: 0.9,
                        unsettled: 10,
                        fixed: vec![FixedRank { row, candidate }],
                    }),
                },
                pruned_names: vec![name_of(pruned)],
                fixed_names: vec![name_of(fixed_slot)],
            },
            SearchEvent::Epoch(EpochReport {
                epoch: 1,
                tau: 3.0,
                weight_loss: 0.5,
                arch_loss: 0.6,
                weight_steps: 20,
                expected_params: Some(8_000.0),
                remaining_steps: Some(2),
            }),
            SearchEvent::Stopped {
                epoch: 1,
                weight_step: 20,
            },
        ];
        serde_json::to_string(&events).unwrap()
    }

    #[test]
    fn a_trace_replays_onto_the_slots() {
        let catalogue = catalogue("");
        let (lora, _, _) = picks(&catalogue);
        let config = config(&catalogue).to_json().unwrap();
        let name = |i: usize| {
            let s = &catalogue.slots()[i];
            format!("{}:{}", s.kind, s.name)
        };
        // Prune the last slot (not kept); fix the kept LoRA (row 0) at rank 4.
        let last = catalogue.slots().len() - 1;
        let row = catalogue.rank_row(lora).unwrap();
        let replay = replay_trace(&config, &trace(&catalogue, last, row, 1, name)).unwrap();
        assert_eq!(replay.selections.len(), 1);
        let step = &replay.selections[0];
        assert_eq!(step.pruned, vec![last]);
        assert_eq!(
            step.fixed,
            vec![FixedView {
                slot: lora,
                rank: 4
            }]
        );
        assert_eq!(step.global_stability, Some(0.9));
        assert_eq!(replay.stopped, Some((1, 20)));
        assert_eq!(replay.weight_steps, 20);
        assert_eq!(replay.epochs.len(), 1);

        // The same events wrapped in an object read the same.
        let wrapped = format!("{{\"events\": {}}}", trace(&catalogue, last, row, 1, name));
        assert_eq!(replay_trace(&config, &wrapped).unwrap(), replay);
    }

    /// `events` (a JSON list) inside the object `bipeft search` writes.
    fn cli_trace(catalogue: &Catalogue, events: &str, budget: u64, mode: &str) -> String {
        let slots: Vec<serde_json::Value> = catalogue
            .slots()
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "kind": s.kind, "ranks": s.ranks, "params": s.params}))
            .collect();
        let steps = serde_json::json!([
            {"epoch": 0, "step": 0, "tau": 5.0, "arch_loss": 0.7, "weight_loss": 0.69,
             "expected_params": 9000.0, "live_modules": 40, "fixed_ranks": 0,
             "remaining_selection_steps": 3},
            {"epoch": 1, "step": 1, "tau": 3.0, "arch_loss": null, "weight_loss": 0.6,
             "expected_params": null, "live_modules": 39, "fixed_ranks": 1,
             "remaining_selection_steps": 2}
        ]);
        serde_json::json!({
            "format": TRACE_FORMAT,
            "task": "sst2",
            "mode": mode,
            "budget_params": budget,
            "slots": slots,
            "steps": steps,
            "events": serde_json::from_str::<serde_json::Value>(events).unwrap(),
            "notes": ["a note"],
        })
        .to_string()
    }

    #[test]
    fn a_trace_of_bipeft_search_replays_with_its_steps() {
        let catalogue = catalogue("");
        let (lora, _, _) = picks(&catalogue);
        let config = config(&catalogue).to_json().unwrap();
        let name = |i: usize| {
            let s = &catalogue.slots()[i];
            format!("{}:{}", s.name, s.kind)
        };
        let last = catalogue.slots().len() - 1;
        let row = catalogue.rank_row(lora).unwrap();
        let events = trace(&catalogue, last, row, 1, name);
        let replay =
            replay_trace(&config, &cli_trace(&catalogue, &events, 5_000, "bipeft")).unwrap();
        assert_eq!(replay.steps.len(), 2);
        assert_eq!(replay.steps[1].arch_loss, None);
        assert_eq!(replay.steps[0].expected_params, Some(9000.0));
        assert_eq!(replay.task.as_deref(), Some("sst2"));
        assert_eq!(replay.notes, vec!["a note".to_string()]);
        assert_eq!(
            replay.selections[0].fixed,
            vec![FixedView {
                slot: lora,
                rank: 4
            }]
        );

        // no_iter: candidate 0 is rank 0, candidate 2 the slot's second rank.
        let events = trace(&catalogue, last, row, 2, name);
        let replay =
            replay_trace(&config, &cli_trace(&catalogue, &events, 5_000, "noiter")).unwrap();
        assert_eq!(
            replay.selections[0].fixed,
            vec![FixedView {
                slot: lora,
                rank: 4
            }]
        );

        // Another budget, another slot list, another format.
        let err = replay_trace(&config, &cli_trace(&catalogue, &events, 4_000, "bipeft"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("budget of 4000") && err.contains("another search"),
            "{err}"
        );
        let other = self::catalogue("bert.");
        let err = replay_trace(&config, &cli_trace(&other, &events, 5_000, "bipeft"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at position 0") && err.contains("another search"),
            "{err}"
        );
        let err = replay_trace(&config, r#"{"format": "x", "events": []}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected \"bipeft-search-trace\""), "{err}");
    }

    #[test]
    fn a_trace_of_another_search_is_refused() {
        let catalogue = catalogue("");
        let (lora, bitfit, _) = picks(&catalogue);
        let config = config(&catalogue).to_json().unwrap();
        let name = |i: usize| catalogue.slots()[i].name.clone();
        let row = catalogue.rank_row(lora).unwrap();

        // It prunes a module the configuration keeps.
        let err = replay_trace(&config, &trace(&catalogue, bitfit, row, 1, name))
            .unwrap_err()
            .to_string();
        assert!(err.contains("different searches"), "{err}");
        // ... unless the trace's result added it back after a trim to the budget.
        let events: serde_json::Value =
            serde_json::from_str(&trace(&catalogue, bitfit, row, 1, name)).unwrap();
        let refilled = serde_json::json!({
            "events": events,
            "result": {"refilled": [name(bitfit)]},
        });
        let replay = replay_trace(&config, &refilled.to_string()).unwrap();
        assert_eq!(replay.selections[0].pruned, vec![bitfit]);
        // It fixes the kept LoRA at another rank.
        let last = catalogue.slots().len() - 1;
        let err = replay_trace(&config, &trace(&catalogue, last, row, 2, name))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rank 8") && err.contains("rank 4"), "{err}");
        // Its names do not match the slots.
        let err = replay_trace(&config, &trace(&catalogue, last, row, 1, |_| "x".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("another search"), "{err}");
        // Its slot indices run past the space.
        let err = replay_trace(
            &config,
            &trace(&catalogue, catalogue.slots().len() + 3, row, 1, |_| {
                "encoder".into()
            }),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("another search"), "{err}");
        let err = replay_trace(&config, "{\"steps\": []}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `events` list"), "{err}");
    }

    #[test]
    fn a_space_previews_on_a_model_config() {
        let model = r#"{"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100}"#;
        let preview = preview_space(model, "s1").unwrap();
        assert_eq!(preview.slots.len(), catalogue("").slots().len());
        assert!(preview.slots.iter().all(|s| !s.on));
        assert_eq!(preview.trainable_params, 0);
        let err = preview_space(model, "s9").unwrap_err().to_string();
        assert!(err.contains("unknown search space"), "{err}");
        let err = preview_space(r#"{"model_type": "gpt2"}"#, "s1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown model_type"), "{err}");
    }

    /// Every configuration `bipeft search` wrote for the fixtures (T5 and
    /// BERT; S1, S2 and LoRA; an ablation and a baseline; the MiniLM runs)
    /// lays out with one slot per slot of its trace, and its trace replays.
    #[test]
    fn every_cli_search_fixture_opens_with_its_trace() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/web");
        let mut runs = vec![
            (dir.join("peft_config.json"), dir.join("search_trace.json")),
            (
                dir.join("small_peft_config.json"),
                dir.join("small_search_trace.json"),
            ),
        ];
        let mut names: Vec<_> = std::fs::read_dir(dir.join("searches"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        assert!(names.len() >= 6, "{names:?}");
        runs.extend(
            names
                .iter()
                .map(|d| (d.join("peft_config.json"), d.join("search_trace.json"))),
        );
        let mut seen = BTreeSet::new();
        for (config_path, trace_path) in runs {
            let config = std::fs::read_to_string(&config_path).unwrap();
            let trace = std::fs::read_to_string(&trace_path).unwrap();
            let what = config_path.display().to_string();
            let shown = inspect_config(&config).unwrap_or_else(|e| panic!("{what}: {e}"));
            let listed: serde_json::Value = serde_json::from_str(&trace).unwrap();
            let slots = listed["slots"].as_array().unwrap();
            assert_eq!(shown.slots.len(), slots.len(), "{what}");
            for (view, slot) in shown.slots.iter().zip(slots) {
                assert_eq!(view.name, slot["name"].as_str().unwrap(), "{what}");
            }
            let file: serde_json::Value = serde_json::from_str(&config).unwrap();
            let kept = shown.slots.iter().filter(|s| s.on).count();
            assert_eq!(kept, file["modules"].as_array().unwrap().len(), "{what}");
            assert_eq!(
                shown.trainable_params,
                file["trainable_params"].as_u64().unwrap()
            );
            let replay = replay_trace(&config, &trace).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                replay.steps.len(),
                listed["steps"].as_array().unwrap().len()
            );
            seen.insert((shown.backbone.model_type.clone(), shown.space.clone()));
        }
        for want in [("t5", "s1"), ("t5", "s2"), ("bert", "s1"), ("bert", "s2")] {
            assert!(
                seen.contains(&(want.0.to_string(), want.1.to_string())),
                "{want:?} not among {seen:?}"
            );
        }
    }
}
