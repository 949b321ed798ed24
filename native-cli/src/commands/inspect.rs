//! `bipeft inspect`: a search result (or any peft_config.json) as a table of
//! layers × module positions with the chosen ranks, parameters per kind, the
//! share of the budget and of the backbone; `--json` for machines. A trained
//! result's scores (`metrics.json` beside it) are shown too.

use std::collections::{BTreeMap, BTreeSet};

use bipeft_core::inspect::split_at_layer;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::bail;
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::space::Kind;
use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A RUN_DIR or TRAINED_DIR (holding peft_config.json), or a configuration file.
    pub path: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // A search's trace stands for its run folder (the configuration beside it).
    let is_trace = args.path.is_file()
        && std::fs::read_to_string(&args.path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v["format"] == "bipeft-search-trace");
    let (file, dir) = if args.path.is_dir() {
        (
            args.path.join("peft_config.json"),
            Some(args.path.as_path()),
        )
    } else if is_trace {
        let dir = args.path.parent().unwrap_or(Path::new("."));
        (dir.join("peft_config.json"), Some(dir))
    } else {
        (args.path.clone(), None)
    };
    if !file.is_file() {
        bail!("{}: no peft_config.json there", args.path.display());
    }
    let config = PeftConfig::load(&file)?;
    let metrics = dir.map(|d| d.join("metrics.json")).filter(|p| p.is_file());
    let scores = match metrics {
        Some(path) => Some(read_json(&path)?),
        None => None,
    };
    let summary = Summary::new(&config, scores)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)?;
    Ok(serde_json::from_str(&text)?)
}

/// One kind's modules.
#[derive(Debug, Serialize, PartialEq)]
pub struct KindLine {
    pub kind: Kind,
    pub modules: usize,
    pub params: u64,
    pub share_of_budget: f64,
    pub share_of_backbone: f64,
}

/// A module at a layer: its position inside the block and its rank.
#[derive(Debug, Serialize, PartialEq)]
pub struct Cell {
    pub kind: Kind,
    pub position: String,
    pub rank: Option<usize>,
}

/// A stack's layers (`encoder.layer`, `decoder.block`, …).
#[derive(Debug, Serialize, PartialEq)]
pub struct Stack {
    pub stack: String,
    pub layers: usize,
    /// Per layer, its modules.
    pub modules: Vec<Vec<Cell>>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Summary {
    pub model_type: String,
    pub space: String,
    pub budget_params: u64,
    pub trainable_params: u64,
    pub backbone_params: u64,
    pub share_of_budget: f64,
    pub share_of_backbone: f64,
    pub kinds: Vec<KindLine>,
    pub stacks: Vec<Stack>,
    /// Modules outside the layers (embedding or final norms).
    pub other: Vec<Cell>,
    /// Parameters several modules share (the prefix trunk).
    pub shared_params: u64,
    /// A trained result's metrics.json.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<serde_json::Value>,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl Summary {
    /// The table of core's [`bipeft_core::inspect::Inspection`] of `config`:
    /// its kept slots by stack and layer, its kinds with what they hold.
    pub fn new(config: &PeftConfig, metrics: Option<serde_json::Value>) -> anyhow::Result<Self> {
        let view = bipeft_core::inspect::inspect(config)?;
        let backbone = config.backbone.backbone_params;
        let budget = config.budget_params;
        let mut stacks: BTreeMap<String, Vec<Vec<Cell>>> = BTreeMap::new();
        let mut other = Vec::new();
        for slot in view.slots.iter().filter(|s| s.on) {
            let cell = |position: String| Cell {
                kind: slot.kind,
                position,
                rank: slot.rank,
            };
            match split_at_layer(&slot.name) {
                Some((stack, layer, position)) => {
                    let layers = if stack.contains("decoder") {
                        config.backbone.decoder_layers
                    } else {
                        config.backbone.encoder_layers
                    };
                    let rows = stacks
                        .entry(stack)
                        .or_insert_with(|| (0..layers).map(|_| Vec::new()).collect());
                    if rows.len() <= layer {
                        rows.resize_with(layer + 1, Vec::new);
                    }
                    rows[layer].push(cell(position));
                }
                None => other.push(cell(slot.name.clone())),
            }
        }
        let mut kinds: Vec<KindLine> = view
            .kinds
            .iter()
            .filter(|k| k.kept > 0 || k.params > 0)
            .map(|k| KindLine {
                kind: k.kind,
                modules: k.kept,
                params: k.params,
                share_of_budget: share(k.params, budget),
                share_of_backbone: share(k.params, backbone),
            })
            .collect();
        kinds.sort_by_key(|k| k.kind);
        Ok(Summary {
            model_type: config.backbone.model_type.clone(),
            space: config.space.name.clone(),
            budget_params: budget,
            trainable_params: config.trainable_params,
            backbone_params: backbone,
            share_of_budget: share(config.trainable_params, budget),
            share_of_backbone: share(config.trainable_params, backbone),
            kinds,
            stacks: stacks
                .into_iter()
                .map(|(stack, modules)| Stack {
                    stack,
                    layers: modules.len(),
                    modules,
                })
                .collect(),
            other,
            shared_params: config.shared.iter().map(|p| p.params).sum(),
            metrics,
        })
    }

    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "{} on a {} backbone of {} parameters: {} trainable parameters, {:.1}% of the budget of {}, {:.4}% of the backbone",
            self.space,
            self.model_type,
            self.backbone_params,
            self.trainable_params,
            100.0 * self.share_of_budget,
            self.budget_params,
            100.0 * self.share_of_backbone
        );
        for stack in &self.stacks {
            // Rows: (kind, position) in kind order; columns: layers.
            let rows: BTreeSet<(Kind, &str)> = stack
                .modules
                .iter()
                .flatten()
                .map(|c| (c.kind, c.position.as_str()))
                .collect();
            let label = |kind: Kind, position: &str| format!("{kind} {position}");
            let width = rows
                .iter()
                .map(|&(k, p)| label(k, p).len())
                .max()
                .unwrap_or(0)
                .max(stack.stack.len());
            let _ = writeln!(t);
            let _ = write!(t, "{:<width$} ", stack.stack);
            for layer in 0..stack.layers {
                let _ = write!(t, "{layer:>3}");
            }
            let _ = writeln!(t);
            for &(kind, position) in &rows {
                let _ = write!(t, "{:<width$} ", label(kind, position));
                for layer in &stack.modules {
                    let cell = layer
                        .iter()
                        .find(|c| c.kind == kind && c.position == position);
                    let text = match cell {
                        Some(Cell { rank: Some(r), .. }) => r.to_string(),
                        Some(_) => "on".to_string(),
                        None => "·".to_string(),
                    };
                    let _ = write!(t, "{text:>3}");
                }
                let _ = writeln!(t);
            }
        }
        if !self.other.is_empty() {
            let _ = writeln!(t);
            for c in &self.other {
                let rank = c.rank.map_or("on".to_string(), |r| format!("rank {r}"));
                let _ = writeln!(t, "{} {} ({rank})", c.kind, c.position);
            }
        }
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "{:<18} {:>7} {:>12} {:>10} {:>11}",
            "kind", "modules", "parameters", "of budget", "of backbone"
        );
        for k in &self.kinds {
            let _ = writeln!(
                t,
                "{:<18} {:>7} {:>12} {:>9.1}% {:>10.4}%",
                k.kind.to_string(),
                k.modules,
                k.params,
                100.0 * k.share_of_budget,
                100.0 * k.share_of_backbone
            );
        }
        if self.shared_params > 0 {
            let _ = writeln!(
                t,
                "(of which {} parameters are shared by several modules: the prefix trunk)",
                self.shared_params
            );
        }
        let _ = writeln!(
            t,
            "{:<18} {:>7} {:>12} {:>9.1}% {:>10.4}%",
            "total",
            self.kinds.iter().map(|k| k.modules).sum::<usize>(),
            self.trainable_params,
            100.0 * self.share_of_budget,
            100.0 * self.share_of_backbone
        );
        if let Some(m) = &self.metrics {
            let _ = writeln!(t);
            let scores = |key: &str| -> String {
                m.get(key)
                    .and_then(|v| v.as_object())
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| format!("{k} {:.4}", v.as_f64().unwrap_or(f64::NAN)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            let _ = writeln!(t, "validation: {}", scores("validation"));
            let _ = writeln!(t, "test:       {}", scores("test"));
        }
        t
    }
}
