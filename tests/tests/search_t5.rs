//! The search end to end on the tiny T5 with the real T5 tokenizer
//! (text-to-text SST-2): S1 and S2 spaces, the `no_iter` ablation and a search
//! without early selection all give a configuration within the budget.

use futures_lite::future::block_on;
use std::path::PathBuf;

use bipeft_core::backbone::BackboneConfig;
use bipeft_core::data::{
    collate, load_task, plan_batches, tokenize_task, BatchOptions, Benchmark, Formulation,
    SplitOptions, Splits, TaskSource, TensorBatch, TokenizeOptions,
};
use bipeft_core::loader::ModelFiles;
use bipeft_core::peft::PeftOptions;
use bipeft_core::search::{BilevelSearch, SearchConfig, SearchMode, SelectionConfig};
use bipeft_core::space::{presets, Catalogue, SpaceDef};
use bipeft_core::task_model::{peft_config_in_budget, search_slots, TaskModel};
use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::Backend;

type B = Autodiff<Flex<f32>>;

fn run(space: SpaceDef, mode: SearchMode, selection: bool) -> (u64, u64, usize, bool) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files = ModelFiles::from_dir(&root.join("fixtures/t5/tiny-t5-tok")).unwrap();
    let config = BackboneConfig::from_json(&files.config_json).unwrap();
    // The tiny model is 16 wide: the default reduction (32) leaves no bottleneck.
    let options = PeftOptions {
        adapter_reduction: 4,
        ..PeftOptions::default()
    };
    let catalogue =
        Catalogue::build(&config.shape(), &space, &options, config.site_namer("")).unwrap();
    let data_dir = root.join("../../shared/data/glue/SST-2");
    let data = load_task(&TaskSource::Benchmark(Benchmark::Sst2), &data_dir).unwrap();
    let splits = Splits::new(
        &data,
        &SplitOptions {
            seed: 1,
            max_train_examples: Some(64),
            ..SplitOptions::default()
        },
    )
    .unwrap();
    let mut tokenize = TokenizeOptions::new(&data.info, Formulation::for_model_type("t5"));
    tokenize.max_length = 16;
    let tokenized = tokenize_task(&data, files.require_tokenizer().unwrap(), &tokenize).unwrap();
    let device = Default::default();
    let batches = |split, seed| -> Vec<TensorBatch<B>> {
        plan_batches(&tokenized, split, &BatchOptions::train(8, seed))
            .unwrap()
            .iter()
            .map(|items| collate(&tokenized, items).unwrap().to_tensors(&device))
            .collect()
    };
    let arch_batches = batches(&splits.search_arch, 2);
    let weight_batches = batches(&splits.search_weights, 3);
    let zero_rank = mode == SearchMode::NoIter;
    let slots = search_slots(&catalogue, zero_rank).unwrap();
    let budget = catalogue.max_params() / 4;
    let search_config = SearchConfig::new(budget)
        .with_epochs(5)
        .with_mode(mode)
        .with_weight_lr(1e-3)
        .with_selection(selection.then(|| {
            SelectionConfig::new()
                .with_prune_begin_epoch(1)
                .with_max_prune_steps(3)
                .with_trigger_threshold(0.5)
        }));
    <B as Backend>::seed(&device, 5);
    let model = TaskModel::<B>::new(
        &config,
        &files.weights,
        &catalogue,
        &data.info.labels,
        zero_rank,
        &device,
    )
    .unwrap();
    let mut search =
        BilevelSearch::new(model, slots, search_config, weight_batches.len(), &device).unwrap();
    let reports = block_on(search.run(|_| weight_batches.clone(), &arch_batches)).unwrap();
    assert!(
        reports.iter().all(|r| r.weight_loss.is_finite()),
        "{reports:?}"
    );
    let stopped = search.stopped_early();
    let (_, _, arch) = block_on(search.finish()).unwrap();
    let peft = peft_config_in_budget(&catalogue, &arch, zero_rank).unwrap();
    (peft.trainable_params, budget, peft.modules.len(), stopped)
}

#[test]
fn t5_text_to_text_search_in_each_space_and_ablation() {
    for (name, space, mode, selection) in [
        ("s1", presets::s1(), SearchMode::Iterative, true),
        ("s2", presets::s2(), SearchMode::Iterative, true),
        ("s1 no_iter", presets::s1(), SearchMode::NoIter, true),
        (
            "s1 no early selection",
            presets::s1(),
            SearchMode::Iterative,
            false,
        ),
    ] {
        let (trainable, budget, modules, stopped) = run(space, mode, selection);
        eprintln!("{name}: {modules} modules, {trainable} of {budget}, stopped {stopped}");
        assert!(trainable <= budget, "{name}");
        assert!(modules > 0, "{name}");
        if selection {
            assert!(stopped, "{name}: stops early");
        }
    }
}
