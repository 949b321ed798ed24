//! The split protocol on real files: sizes, disjointness, reproducibility,
//! the fallback of a too-small large-set task, groups kept whole, the user's
//! own task, `max_train_examples` and `validation_from_train`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use bipeft_core::data::{
    load_task, Benchmark, CustomKind, CustomTask, ExampleRef, Part, Protocol, SplitOptions, Splits,
    TaskData, TaskSource,
};

fn shared(sub: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")).join(sub)
}

fn bench(task: Benchmark, dir: &str) -> TaskData {
    load_task(&TaskSource::Benchmark(task), &shared(dir)).unwrap()
}

fn seed(seed: u64) -> SplitOptions {
    SplitOptions {
        seed,
        ..SplitOptions::default()
    }
}

fn set(refs: &[ExampleRef]) -> HashSet<ExampleRef> {
    refs.iter().copied().collect()
}

fn assert_search_halves(splits: &Splits) {
    let (w, a) = (set(&splits.search_weights), set(&splits.search_arch));
    assert!(w.is_disjoint(&a));
    assert_eq!(
        w.union(&a).copied().collect::<HashSet<_>>(),
        set(&splits.train)
    );
    assert_eq!(splits.search_weights.len(), splits.train.len().div_ceil(2));
}

#[test]
fn small_set_splits_dev_in_halves() {
    let cola = bench(Benchmark::Cola, "glue/CoLA");
    let splits = Splits::new(&cola, &seed(42)).unwrap();
    assert_eq!(splits.protocol, Protocol::Small);
    assert_eq!(splits.train.len(), 8551);
    assert_eq!((splits.validation.len(), splits.test.len()), (521, 522));
    assert_eq!(
        (splits.search_weights.len(), splits.search_arch.len()),
        (4276, 4275)
    );
    assert!(splits.train.iter().all(|r| r.part == Part::Train));
    let (v, t) = (set(&splits.validation), set(&splits.test));
    assert!(v.is_disjoint(&t));
    assert_eq!(v.len() + t.len(), 1043);
    assert!(v.iter().chain(&t).all(|r| r.part == Part::Dev));
    assert_search_halves(&splits);
    assert!(splits.notes.is_empty());
}

#[test]
fn large_set_holds_out_2000_training_examples() {
    let sst2 = bench(Benchmark::Sst2, "glue/SST-2");
    let splits = Splits::new(&sst2, &seed(42)).unwrap();
    assert_eq!(splits.protocol, Protocol::Large);
    assert_eq!(splits.train.len(), 65349);
    assert_eq!(splits.validation.len(), 2000);
    assert_eq!(splits.test.len(), 872);
    assert!(set(&splits.train).is_disjoint(&set(&splits.validation)));
    assert!(splits.validation.iter().all(|r| r.part == Part::Train));
    assert!(splits.test.iter().all(|r| r.part == Part::Dev));
    assert_search_halves(&splits);
}

#[test]
fn seeded_and_reproducible() {
    let wnli = bench(Benchmark::Wnli, "glue/WNLI");
    let a = Splits::new(&wnli, &seed(7)).unwrap();
    let b = Splits::new(&wnli, &seed(7)).unwrap();
    let c = Splits::new(&wnli, &seed(8)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.validation, c.validation);
    assert_ne!(a.search_weights, c.search_weights);
    assert_eq!((a.validation.len(), a.test.len()), (35, 36));
}

#[test]
fn max_train_examples_takes_a_seeded_subset() {
    let sst2 = bench(Benchmark::Sst2, "glue/SST-2");
    let options = SplitOptions {
        seed: 42,
        max_train_examples: Some(1000),
        ..SplitOptions::default()
    };
    let full = Splits::new(&sst2, &seed(42)).unwrap();
    let small = Splits::new(&sst2, &options).unwrap();
    assert_eq!(small.train.len(), 1000);
    assert_eq!(small.validation, full.validation);
    assert!(set(&small.train).is_subset(&set(&full.train)));
    assert_eq!(
        (small.search_weights.len(), small.search_arch.len()),
        (500, 500)
    );
    assert!(
        small.notes[0].contains("subset of 1000 of the 65349"),
        "{:?}",
        small.notes
    );
}

#[test]
fn large_set_with_few_rows_falls_back_to_the_small_protocol() {
    let text = std::fs::read_to_string(shared("glue/SST-2/train.tsv")).unwrap();
    let few: String = text.lines().take(301).map(|l| format!("{l}\n")).collect();
    let dev = std::fs::read(shared("glue/SST-2/dev.tsv")).unwrap();
    let data = TaskData::from_files(
        &TaskSource::Benchmark(Benchmark::Sst2),
        vec![
            (Part::Train, "train.tsv".into(), few.into_bytes()),
            (Part::Dev, "dev.tsv".into(), dev),
        ],
    )
    .unwrap();
    let splits = Splits::new(&data, &seed(42)).unwrap();
    assert_eq!(splits.protocol, Protocol::Small);
    assert_eq!(splits.train.len(), 300);
    assert_eq!((splits.validation.len(), splits.test.len()), (436, 436));
    assert!(
        splits.notes[0].starts_with("the training set has 300 examples, too few to hold out 2000"),
        "{:?}",
        splits.notes
    );
}

#[test]
fn multirc_questions_stay_whole() {
    let val = std::fs::read(shared("superglue/MultiRC/val.jsonl")).unwrap();
    let data = TaskData::from_files(
        &TaskSource::Benchmark(Benchmark::MultiRc),
        vec![
            (Part::Train, "train.jsonl".into(), val.clone()),
            (Part::Dev, "val.jsonl".into(), val),
        ],
    )
    .unwrap();
    let splits = Splits::new(&data, &seed(42)).unwrap();
    let groups = |refs: &[ExampleRef]| -> HashSet<u64> {
        refs.iter()
            .map(|r| data.examples(r.part)[r.index].group.unwrap())
            .collect()
    };
    assert!(groups(&splits.validation).is_disjoint(&groups(&splits.test)));
    assert!(groups(&splits.search_weights).is_disjoint(&groups(&splits.search_arch)));
    // 953 questions: the first 476 (rounded down) are validation.
    assert_eq!(groups(&splits.validation).len(), 476);
    assert_eq!(splits.validation.len() + splits.test.len(), 4848);
}

#[test]
fn mnli_reports_the_mismatched_test_set() {
    let header = "index\tsentence1\tsentence2\tgold_label\n";
    let rows = |n: usize, label: &str| -> String {
        (0..n)
            .map(|i| format!("{i}\tPremise {i}.\tHypothesis {i}.\t{label}\n"))
            .collect()
    };
    let files = vec![
        (
            Part::Train,
            "train.tsv".to_string(),
            format!("{header}{}", rows(4000, "neutral")).into_bytes(),
        ),
        (
            Part::Dev,
            "dev_matched.tsv".to_string(),
            format!("{header}{}", rows(10, "entailment")).into_bytes(),
        ),
        (
            Part::DevMismatched,
            "dev_mismatched.tsv".to_string(),
            format!("{header}{}", rows(12, "contradiction")).into_bytes(),
        ),
    ];
    let data = TaskData::from_files(&TaskSource::Benchmark(Benchmark::Mnli), files).unwrap();
    let splits = Splits::new(&data, &seed(1)).unwrap();
    assert_eq!(splits.protocol, Protocol::Large);
    assert_eq!((splits.train.len(), splits.validation.len()), (2000, 2000));
    assert_eq!(splits.test.len(), 10);
    assert_eq!(splits.test_mismatched.len(), 12);
    assert!(splits
        .test_mismatched
        .iter()
        .all(|r| r.part == Part::DevMismatched));
}

fn custom(kind: CustomKind) -> TaskSource {
    TaskSource::Custom(CustomTask {
        name: "reviews".into(),
        text_columns: vec!["review".into()],
        label_column: "stars".into(),
        kind,
        max_length: 64,
    })
}

fn csv(rows: usize) -> Vec<u8> {
    let mut text = String::from("review,stars\n");
    for i in 0..rows {
        text.push_str(&format!("\"Review {i}, honestly\",{}\n", i % 3));
    }
    text.into_bytes()
}

#[test]
fn custom_task_protocols() {
    let source = custom(CustomKind::Classification { labels: None });
    let only_train =
        TaskData::from_files(&source, vec![(Part::Train, "train.csv".into(), csv(50))]).unwrap();
    assert_eq!(only_train.info.protocol, Protocol::TrainOnly);
    let splits = Splits::new(&only_train, &seed(3)).unwrap();
    assert_eq!(
        (
            splits.train.len(),
            splits.validation.len(),
            splits.test.len()
        ),
        (40, 5, 5)
    );
    assert!(
        splits.notes[0].starts_with("no dev file"),
        "{:?}",
        splits.notes
    );

    let given = TaskData::from_files(
        &source,
        vec![
            (Part::Train, "train.csv".into(), csv(30)),
            (Part::Dev, "dev.csv".into(), csv(6)),
            (Part::Test, "test.csv".into(), csv(9)),
        ],
    )
    .unwrap();
    let splits = Splits::new(&given, &seed(3)).unwrap();
    assert_eq!(splits.protocol, Protocol::Given);
    assert_eq!(
        (
            splits.train.len(),
            splits.validation.len(),
            splits.test.len()
        ),
        (30, 6, 9)
    );

    let with_dev = TaskData::from_files(
        &source,
        vec![
            (Part::Train, "train.csv".into(), csv(30)),
            (Part::Dev, "dev.csv".into(), csv(6)),
        ],
    )
    .unwrap();
    let splits = Splits::new(&with_dev, &seed(3)).unwrap();
    assert_eq!(splits.protocol, Protocol::Small);
    assert_eq!((splits.validation.len(), splits.test.len()), (3, 3));

    let regression = TaskData::from_files(
        &custom(CustomKind::Regression),
        vec![(Part::Train, "train.csv".into(), csv(10))],
    )
    .unwrap();
    assert_eq!(
        regression.info.labels,
        bipeft_core::data::LabelSpace::Regression
    );
}

#[test]
fn a_dev_set_too_small_to_split_is_an_error() {
    let header = "index\tsentence1\tsentence2\tlabel\n";
    let files = vec![
        (
            Part::Train,
            "train.tsv".to_string(),
            format!("{header}0\ta\tb\t1\n").into_bytes(),
        ),
        (
            Part::Dev,
            "dev.tsv".to_string(),
            format!("{header}0\ta\tb\t0\n").into_bytes(),
        ),
    ];
    let data = TaskData::from_files(&TaskSource::Benchmark(Benchmark::Wnli), files).unwrap();
    let err = Splits::new(&data, &seed(1)).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid data option: wnli: the dev set has 1 example(s), too few to split into validation and test"
    );
}

#[test]
fn validation_from_train_tests_on_the_whole_dev_set() {
    // STS-B is a small-set task: by default its dev set (1500) is halved.
    let stsb = bench(Benchmark::Stsb, "glue/STS-B");
    let halved = Splits::new(&stsb, &seed(5)).unwrap();
    assert_eq!((halved.validation.len(), halved.test.len()), (750, 750));
    let options = SplitOptions {
        seed: 5,
        max_train_examples: Some(4000),
        validation_from_train: Some(1000),
    };
    let splits = Splits::new(&stsb, &options).unwrap();
    assert_eq!(splits.protocol, Protocol::Large);
    assert_eq!(splits.validation.len(), 1000);
    assert_eq!(splits.test.len(), 1500);
    assert!(splits.test.iter().all(|e| e.part == Part::Dev));
    assert!(splits.validation.iter().all(|e| e.part == Part::Train));
    assert_eq!(splits.train.len(), 4000, "4749 left after validation, then the subset");
    assert!(set(&splits.train).is_disjoint(&set(&splits.validation)));
    assert_search_halves(&splits);
    assert!(
        splits.notes[0].starts_with("validation_from_train: 1000 training examples are held out"),
        "{:?}",
        splits.notes
    );
    assert_eq!(splits, Splits::new(&stsb, &options).unwrap(), "seeded");

    for bad in [0, 5749] {
        let options = SplitOptions {
            validation_from_train: Some(bad),
            ..seed(5)
        };
        let message = Splits::new(&stsb, &options).unwrap_err().to_string();
        assert!(message.contains("validation_from_train is"), "{message}");
    }
}
