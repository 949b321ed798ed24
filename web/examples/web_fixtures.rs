//! Writes the browser tests' fixtures (and the site's example) into
//! `tests/fixtures/web/`: `peft_config.json` + `search_trace.json` of a search
//! of S1 on a MiniLM-shaped encoder (6 × 384, budget 0.2 % of the backbone),
//! a second pair at 0.05 % to compare with, and `expected_slots.json`: what
//! the heat map must show for the first, from the catalogue built natively.
//!
//! The selection is the core's own (§6: sensitivity, trigger, module and
//! dimension selection, discretisation), driven by scripted architecture
//! logits and saliencies instead of a trained supernet, so the files are
//! exactly what the search writes while staying small and reproducible
//! without a model. Run by developers, never by CI:
//!
//! ```sh
//! cargo run -p bipeft-web --example web_fixtures
//! ```

use std::path::Path;

use bipeft_core::backbone::{bert, Point};
use bipeft_core::peft::PeftOptions;
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::search::discretise::discretise;
use bipeft_core::search::{
    budget_from_percent, ArchSnapshot, BudgetSelector, EpochReport, SaliencyPair, SearchEvent,
    SearchMode, SearchSlot, SearchSlots, SelectionConfig,
};
use bipeft_core::space::{presets, BackboneShape, Catalogue, Family, Kind, Slot};

const EPOCHS: usize = 8;
const STEPS_PER_EPOCH: usize = 30;

/// all-MiniLM-L6-v2's sizes.
fn minilm() -> BackboneShape {
    BackboneShape {
        model_type: "bert".into(),
        family: Family::Encoder,
        d_model: 384,
        d_ff: 1536,
        d_kv: 32,
        heads: 12,
        encoder_layers: 6,
        decoder_layers: 0,
        gated_ffn: false,
        linear_biases: true,
        vocab: 30522,
        backbone_params: 22_713_216,
    }
}

/// A small deterministic generator (xorshift64*), in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How useful a slot is in this scripted task: LoRA on query and value, BitFit
/// on the FFN and LN-tuning most, the other LoRA and the adapters less, and
/// the upper layers more than the lower ones.
fn usefulness(slot: &Slot, layers: usize, rng: &mut Rng) -> f64 {
    let depth = (slot.site.layer as f64 + 1.0) / layers as f64;
    let base = match (slot.kind, slot.site.point) {
        (Kind::Lora, Point::Value) => 1.0,
        (Kind::Lora, Point::Query) => 0.9,
        (Kind::Lora, Point::FfnIn | Point::FfnOut) => 0.55,
        (Kind::Lora, _) => 0.45,
        (Kind::Adapter, _) => 0.45,
        (Kind::BitFit, Point::FfnIn | Point::FfnOut) => 0.6,
        (Kind::BitFit, _) => 0.35,
        (Kind::LnFit, _) => 0.45,
        _ => 0.4,
    };
    (base * (0.6 + 0.4 * depth) + 0.3 * rng.next()).min(1.2)
}

struct Run {
    config: PeftConfig,
    events: Vec<SearchEvent>,
}

fn search(catalogue: &Catalogue, budget_params: u64, seed: u64) -> Run {
    let mut rng = Rng(seed);
    let slots = SearchSlots::new(
        catalogue
            .slots()
            .iter()
            .flat_map(|s| s.ranks.clone())
            .fold(Vec::new(), |mut ranks, r| {
                if !ranks.contains(&r) {
                    ranks.push(r);
                }
                ranks
            }),
        catalogue
            .slots()
            .iter()
            .map(|s| {
                let name = format!("{}:{}", s.kind, s.name);
                if s.is_rank_searchable() {
                    SearchSlot::ranked(name, s.params.clone())
                } else {
                    SearchSlot::on_off(name, s.params[0])
                }
            })
            .collect(),
    )
    .expect("the catalogue's slots make search slots");
    let layers = catalogue.shape.encoder_layers;
    let useful: Vec<f64> = catalogue
        .slots()
        .iter()
        .map(|s| usefulness(s, layers, &mut rng))
        .collect();
    // The rank each ranked slot drifts towards: the more useful, the larger, with chance.
    let candidates = slots.ranks().len();
    let preferred: Vec<usize> = (0..slots.ranked_len())
        .map(|row| {
            let u = useful[slots.ranked_slot(row)];
            (((0.45 * u + 0.55 * rng.next()) * candidates as f64).floor() as usize)
                .min(candidates - 1)
        })
        .collect();

    let config = SelectionConfig::new()
        .with_prune_begin_epoch(1)
        .with_max_prune_steps(14)
        .with_soft_on_steps(4);
    let mut selector = BudgetSelector::new(&slots, config, budget_params, false);
    let mut events = Vec::new();
    let mut step = 0;
    let mut snapshot = ArchSnapshot::new(
        vec![0.0; slots.len() * 2],
        vec![0.0; slots.ranked_len() * candidates],
        candidates,
    );
    let mut stopped = false;
    for epoch in 0..EPOCHS {
        let tau = 5.0 - 4.0 * epoch as f64 / EPOCHS as f64;
        let mut taken = 0;
        for _ in 0..STEPS_PER_EPOCH {
            step += 1;
            taken += 1;
            let t = step as f32 / (EPOCHS * STEPS_PER_EPOCH) as f32;
            let binary: Vec<f32> = useful
                .iter()
                .flat_map(|&u| {
                    let on = t * 6.0 * (u as f32 - 0.5) + 0.3 * (rng.next() as f32 - 0.5);
                    [0.0, on]
                })
                .collect();
            let rank: Vec<f32> = preferred
                .iter()
                .flat_map(|&p| {
                    let noise: Vec<f32> = (0..candidates)
                        .map(|_| 0.4 * (rng.next() as f32 - 0.5))
                        .collect();
                    (0..candidates)
                        .map(move |c| if c == p { t * 4.0 } else { 0.0 } + noise[c])
                        .collect::<Vec<_>>()
                })
                .collect();
            snapshot = ArchSnapshot::new(binary, rank, candidates);
            let pairs: Vec<SaliencyPair> = useful
                .iter()
                .zip(slots.slots())
                .map(|(&u, slot)| {
                    let n = match &slot.cost {
                        bipeft_core::search::SlotCost::PerRank(c) => *c.last().unwrap_or(&1),
                        bipeft_core::search::SlotCost::Fixed(c) => *c,
                    } as f64;
                    // Gradients per parameter shrink as modules grow, so a
                    // big module must be much more useful to stay.
                    let scale = u * u * n.powf(0.66) * 1e-3;
                    let train = scale * (0.8 + 0.4 * rng.next());
                    let val = scale * (0.8 + 0.4 * rng.next());
                    SaliencyPair {
                        train_abs: train,
                        val_abs: val,
                        dot: 0.8 * train * val / n,
                        train_sq: train * train / n,
                        val_sq: val * val / n,
                    }
                })
                .collect();
            let report = selector.after_weight_step(&slots, epoch, &snapshot, Some(&pairs));
            if let Some(selection) = report.selection {
                let name = |m: usize| slots.slots()[m].name.clone();
                let pruned_names = selection.pruned.iter().map(|&m| name(m)).collect();
                let fixed_names = selection
                    .dimension
                    .iter()
                    .flat_map(|d| &d.fixed)
                    .map(|f| name(slots.ranked_slot(f.row)))
                    .collect();
                events.push(SearchEvent::Selection {
                    epoch,
                    weight_step: step,
                    step: selection,
                    pruned_names,
                    fixed_names,
                });
            }
            if report.finished {
                events.push(SearchEvent::Stopped {
                    epoch,
                    weight_step: step,
                });
                stopped = true;
                break;
            }
        }
        let decay = (-0.35 * epoch as f64).exp();
        events.push(SearchEvent::Epoch(EpochReport {
            epoch,
            tau,
            weight_loss: 0.28 + 0.41 * decay + 0.02 * rng.next(),
            arch_loss: 0.31 + 0.40 * decay + 0.03 * rng.next(),
            weight_steps: taken,
            expected_params: Some(selector.expectation(&slots, &snapshot).total),
            remaining_steps: Some(selector.state().remaining_steps),
        }));
        if stopped {
            break;
        }
    }
    let result = discretise(
        &slots,
        &snapshot,
        selector.state(),
        stopped,
        SearchMode::Iterative,
        selector.sensitivities().as_deref(),
        budget_params,
    );
    let picks: Vec<(usize, Option<usize>)> =
        result.modules.iter().map(|m| (m.slot, m.rank)).collect();
    let config = PeftConfig::from_selection(catalogue, budget_params, &picks)
        .expect("the discrete result is a selection of the catalogue");
    Run { config, events }
}

fn write(dir: &Path, stem: &str, run: &Run) {
    let config = run.config.to_json().expect("serialisable");
    std::fs::write(dir.join(format!("{stem}peft_config.json")), config + "\n").unwrap();
    let trace = serde_json::to_string_pretty(&run.events).expect("serialisable");
    std::fs::write(dir.join(format!("{stem}search_trace.json")), trace + "\n").unwrap();
    println!(
        "{stem}: {} modules, {} of {} parameters, {} events",
        run.config.modules.len(),
        run.config.trainable_params,
        run.config.budget_params,
        run.events.len()
    );
}

/// What the heat map must show for `config`, from the catalogue built here
/// natively: every slot with `rank` = the kept rank, 1 for a kept on/off
/// module, 0 when pruned.
fn write_expected(dir: &Path, catalogue: &Catalogue, config: &PeftConfig) {
    let slots: Vec<serde_json::Value> = catalogue
        .slots()
        .iter()
        .map(|slot| {
            let kept = config
                .modules
                .iter()
                .find(|m| m.name == slot.name && m.kind == slot.kind);
            let rank = match kept {
                None => 0,
                Some(m) => m.rank.unwrap_or(1),
            };
            serde_json::json!({ "name": slot.name, "kind": slot.kind, "rank": rank })
        })
        .collect();
    let text = serde_json::to_string_pretty(&serde_json::json!({ "slots": slots })).unwrap();
    std::fs::write(dir.join("expected_slots.json"), text + "\n").unwrap();
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/web");
    std::fs::create_dir_all(&dir).unwrap();
    let shape = minilm();
    let catalogue = Catalogue::build(&shape, &presets::s1(), &PeftOptions::default(), |site| {
        bert::site_name(site, "").unwrap_or_default()
    })
    .expect("S1 applies to MiniLM");
    let run = search(
        &catalogue,
        budget_from_percent(0.2, shape.backbone_params),
        7,
    );
    write(&dir, "", &run);
    write_expected(&dir, &catalogue, &run.config);
    let small = search(
        &catalogue,
        budget_from_percent(0.05, shape.backbone_params),
        11,
    );
    write(&dir, "small_", &small);
}
