//! One cell: the search (core's [`SearchSession`], the very one `bipeft
//! search` runs, in this process), then the retrain and test score. The
//! search's time covers everything a user's `bipeft search` would do:
//! loading the model, reading and tokenising the data, searching.

use std::time::Instant;

use anyhow::Context;
use bipeft_core::data::{load_task, Benchmark, TaskSource};
use bipeft_core::experiment::{Cell, CellOutcome, CellRecord};
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::session::{size_baseline, SearchResult, SearchSession};
use bipeft_core::train::model::Backbone;
use burn::backend::Autodiff;
use burn::prelude::Backend;
use futures_lite::future::block_on;

use super::store::Store;
use crate::backend::{with_backend, BackendArgs, BackendRun};

/// What the search step left behind.
pub struct Searched {
    pub peft: PeftConfig,
    pub seconds: f64,
    pub notes: Vec<String>,
}

/// Runs `cell` from scratch in its fresh work folder.
pub fn run(cell: &Cell, store: &Store, backend: &BackendArgs) -> anyhow::Result<CellRecord> {
    let work = store.fresh_work_dir(cell)?;
    let computed = search(cell, backend).and_then(|searched| {
        let retrained =
            super::retrain::retrain(cell, &searched.peft, &work.join("retrain"), backend)?;
        Ok((searched, retrained))
    });
    // A failed cell leaves nothing behind: its next attempt starts afresh anyway.
    let (searched, retrained) = computed.inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&work);
    })?;
    let mut notes = searched.notes;
    notes.extend(retrained.notes);
    Ok(CellRecord::new(
        cell,
        CellOutcome {
            budget_params: searched.peft.budget_params,
            metric: retrained.metric,
            score: retrained.score,
            scores: retrained.scores,
            trainable_params: searched.peft.trainable_params,
            modules: searched.peft.modules.len(),
            search_seconds: searched.seconds,
            retrain_seconds: retrained.seconds,
            notes,
            majority_score: retrained.majority_score,
        },
    ))
}

/// The search (or a baseline's sizing) of `cell`, on the experiment's backend.
pub fn search(cell: &Cell, backend: &BackendArgs) -> anyhow::Result<Searched> {
    with_backend(backend, Search { cell })
        .with_context(|| format!("the search failed ({})", cell.id()))
}

struct Search<'a> {
    cell: &'a Cell,
}

impl BackendRun for Search<'_> {
    type Output = Searched;
    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Searched> {
        let cell = self.cell;
        let started = Instant::now();
        let backbone = Backbone::load(&cell.model_path)
            .with_context(|| format!("reading the model in {}", cell.model_path.display()))?;
        let result: SearchResult = if cell.method.is_baseline() {
            let space = bipeft_core::space::SpaceDef::resolve(&cell.search.space)?;
            size_baseline(
                &backbone,
                &space,
                cell.method,
                cell.budget,
                &cell.task,
                cell.seed,
            )?
        } else {
            let source = TaskSource::Benchmark(Benchmark::from_name(&cell.task)?);
            let data = load_task(&source, &cell.data).with_context(|| {
                format!("reading task {} from {}", cell.task, cell.data.display())
            })?;
            let mut session =
                SearchSession::<Autodiff<B>>::new(cell.search_spec(backbone, data)?, device)?;
            while !block_on(session.step())?.finished {}
            block_on(session.finish())?
        };
        Ok(Searched {
            seconds: started.elapsed().as_secs_f64(),
            notes: result
                .trace
                .notes
                .iter()
                .map(|n| format!("search: {n}"))
                .collect(),
            peft: result.config,
        })
    }
}

#[cfg(test)]
mod tests {
    use bipeft_core::experiment::{Method, Plan, PlanFormat};
    use bipeft_core::search::SearchMode;
    use std::path::Path;

    /// A cell's search settings reach the session's spec: the plan's where
    /// it sets them, `bipeft search`'s defaults where it does not.
    #[test]
    fn a_cell_searches_with_its_plan_settings() {
        let text = r#"
budgets = ["0.5%"]
methods = ["no_early_selection", "bitfit"]
seeds = [3]
[[models]]
name = "m"
path = "/models/m"
[[tasks]]
name = "rte"
data = "/data/RTE"
max_length = 48
validation_from_train = 100
search_epochs = 1
[search]
space = "lora"
selection_start_epoch = 0
"#;
        let cells = Plan::parse(text, PlanFormat::Toml, "p.toml", Path::new("/"))
            .unwrap()
            .cells();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/web/tiny-bert");
        let backbone = bipeft_core::train::model::Backbone::load(&dir).unwrap();
        let rte = "index\tsentence1\tsentence2\tlabel\n0\tA cat.\tAn animal.\tentailment\n";
        let data = bipeft_core::data::TaskData::from_files(
            &bipeft_core::data::TaskSource::Benchmark(bipeft_core::data::Benchmark::Rte),
            vec![(
                bipeft_core::data::Part::Train,
                "train.tsv".into(),
                rte.as_bytes().to_vec(),
            )],
        )
        .unwrap();
        let spec = cells[0].search_spec(backbone, data).unwrap();
        assert_eq!(spec.method, Method::NoEarlySelection);
        assert_eq!(
            spec.method
                .search_variant()
                .map(|v| (v.mode, v.early_selection)),
            Some((SearchMode::Iterative, false))
        );
        assert_eq!((spec.options.epochs, spec.options.seed), (1, 3));
        assert_eq!(spec.max_length, Some(48));
        assert_eq!(spec.split.validation_from_train, Some(100));
        assert_eq!(spec.space.name, "lora");
        let selection = spec.options.selection.unwrap();
        assert_eq!(
            (selection.start_epoch, selection.trigger_threshold),
            (Some(0), 0.85)
        );
        assert_eq!(spec.options.weight_lr, 3e-4);
    }
}
