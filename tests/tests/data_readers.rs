//! The readers on the real GLUE / SuperGLUE files in ../shared/data (official
//! row counts from SOURCES.md; label counts cross-checked with `cut | uniq -c`
//! and `grep -c`), and on small samples in the distributed formats of the
//! tasks whose files are not shared (MRPC, QQP, MNLI, RTE, CB, SuperGLUE RTE,
//! ReCoRD). Bad input must give errors naming file and line, never a panic.

use std::path::{Path, PathBuf};

use bipeft_core::data::summary::{label_summary, LabelSummary};
use bipeft_core::data::{
    load_part, load_task, Benchmark, ExampleRef, Label, Part, TaskData, TaskSource,
};

fn shared(sub: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")).join(sub)
}

fn task(name: &str) -> Benchmark {
    Benchmark::from_name(name).unwrap()
}

fn counts(data: &TaskData, part: Part) -> Vec<usize> {
    let refs: Vec<ExampleRef> = (0..data.examples(part).len())
        .map(|index| ExampleRef { part, index })
        .collect();
    match label_summary(data, &refs) {
        LabelSummary::Classes(c) => c.into_iter().map(|(_, n)| n).collect(),
        other => panic!("not classes: {other:?}"),
    }
}

#[test]
fn glue_files_with_official_row_counts() {
    let cases = [
        ("cola", "glue/CoLA", 8551, 1043),
        ("sst2", "glue/SST-2", 67349, 872),
        ("stsb", "glue/STS-B", 5749, 1500),
        ("wnli", "glue/WNLI", 635, 71),
    ];
    for (name, dir, train, dev) in cases {
        let data = load_task(&TaskSource::Benchmark(task(name)), &shared(dir)).unwrap();
        assert_eq!(data.examples(Part::Train).len(), train, "{name} train");
        assert_eq!(data.examples(Part::Dev).len(), dev, "{name} dev");
    }
}

#[test]
fn glue_label_counts_match_the_files() {
    let cola = load_task(
        &TaskSource::Benchmark(Benchmark::Cola),
        &shared("glue/CoLA"),
    )
    .unwrap();
    assert_eq!(counts(&cola, Part::Train), vec![2528, 6023]);
    assert_eq!(counts(&cola, Part::Dev), vec![322, 721]);
    assert_eq!(
        cola.examples(Part::Dev)[0].text("sentence"),
        "The sailors rode the breeze clear of the rocks."
    );
    let sst2 = load_task(
        &TaskSource::Benchmark(Benchmark::Sst2),
        &shared("glue/SST-2"),
    )
    .unwrap();
    assert_eq!(counts(&sst2, Part::Train), vec![29780, 37569]);
    assert_eq!(counts(&sst2, Part::Dev), vec![428, 444]);
    let wnli = load_task(
        &TaskSource::Benchmark(Benchmark::Wnli),
        &shared("glue/WNLI"),
    )
    .unwrap();
    assert_eq!(counts(&wnli, Part::Train), vec![323, 312]);
    let stsb = load_task(
        &TaskSource::Benchmark(Benchmark::Stsb),
        &shared("glue/STS-B"),
    )
    .unwrap();
    let first = &stsb.examples(Part::Dev)[0];
    assert_eq!(first.label, Label::Score(5.0));
    assert_eq!(first.text("sentence1"), "A man with a hard hat is dancing.");
    assert_eq!(
        first.text("sentence2"),
        "A man wearing a hard hat is dancing."
    );
}

#[test]
fn dev_only_copies_read_one_part() {
    // QNLI's shared copy has only dev.tsv: that part reads, the task does not.
    let qnli = load_part(Benchmark::Qnli, &shared("glue/QNLI"), Part::Dev).unwrap();
    assert_eq!(qnli.len(), 5463);
    let entailment = qnli.iter().filter(|e| e.label == Label::Class(0)).count();
    assert_eq!(entailment, 2702);
    let err = load_task(
        &TaskSource::Benchmark(Benchmark::Qnli),
        &shared("glue/QNLI"),
    )
    .unwrap_err()
    .to_string();
    let expected_path = shared("glue/QNLI").join("train.tsv");
    assert!(
        err.starts_with(&format!("missing data file {}", expected_path.display())),
        "{err}"
    );
    assert!(err.contains("qnli needs train.tsv and dev.tsv"), "{err}");
}

#[test]
fn superglue_files_with_official_row_counts() {
    let cases = [
        ("superglue-boolq", "superglue/BoolQ", 3270, 2033),
        ("superglue-copa", "superglue/COPA", 100, 45),
        ("superglue-wic", "superglue/WiC", 638, 319),
        ("superglue-wsc", "superglue/WSC", 104, 38),
    ];
    for (name, dir, rows, class1) in cases {
        let examples = load_part(task(name), &shared(dir), Part::Dev).unwrap();
        assert_eq!(examples.len(), rows, "{name}");
        let ones = examples
            .iter()
            .filter(|e| e.label == Label::Class(1))
            .count();
        assert_eq!(ones, class1, "{name} class 1");
    }
    let wsc = load_task(
        &TaskSource::Benchmark(Benchmark::Wsc),
        &shared("superglue/WSC"),
    )
    .unwrap();
    assert_eq!(wsc.examples(Part::Train).len(), 554);
    assert_eq!(counts(&wsc, Part::Train)[1], 259);
    // The first training sentence, its spans marked as T5 marks them.
    assert_eq!(
        wsc.examples(Part::Train)[0].text("text"),
        "* Mark * told Pete many lies about himself, which Pete included in his book. # He # should have been more skeptical."
    );
    let copa = load_part(Benchmark::Copa, &shared("superglue/COPA"), Part::Dev).unwrap();
    assert_eq!(copa[0].text("question"), "effect");
    assert_eq!(
        copa.iter()
            .filter(|e| e.text("question") == "cause")
            .count(),
        52
    );
}

#[test]
fn multirc_expands_into_answers_grouped_by_question() {
    let examples = load_part(Benchmark::MultiRc, &shared("superglue/MultiRC"), Part::Dev).unwrap();
    // 83 passages, 953 questions, 4848 answer options (counted with Python's json).
    assert_eq!(examples.len(), 4848);
    let mut groups: Vec<u64> = examples.iter().map(|e| e.group.unwrap()).collect();
    groups.dedup();
    assert_eq!(groups.len(), 953);
    let right = examples
        .iter()
        .filter(|e| e.label == Label::Class(1))
        .count();
    assert_eq!(right, 2075);
    assert!(examples[0]
        .text("paragraph")
        .starts_with("What causes a change in motion?"));
}

/// Writes `files` into a fresh folder under the system temp dir.
fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("bipeft-data-readers-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

#[test]
fn samples_of_tasks_not_shared() {
    let mrpc = "\u{feff}Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t702876\t702977\tAmrozi accused his brother.\tReferring to him, Amrozi accused his brother.\n0\t2108705\t2108831\tYucaipa owned Dominick 's.\tYucaipa bought Dominick 's.\n";
    let dir = folder("mrpc", &[("train.tsv", mrpc), ("dev.tsv", mrpc)]);
    let data = load_task(&TaskSource::Benchmark(Benchmark::Mrpc), &dir).unwrap();
    assert_eq!(data.examples(Part::Train)[0].label, Label::Class(1));
    assert_eq!(
        data.examples(Part::Dev)[1].text("sentence2"),
        "Yucaipa bought Dominick 's."
    );

    let qqp = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n133273\t213221\t213222\tHow is the life?\tHow is life?\t1\n";
    let rows = bipeft_core::data::read_benchmark_text(Benchmark::Qqp, "dev.tsv", qqp).unwrap();
    assert_eq!(
        (rows[0].text("question2"), &rows[0].label),
        ("How is life?", &Label::Class(1))
    );

    let header = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n";
    let row = |label: &str| {
        format!("0\t63735\t63735n\tslate\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tThe new rights are nice.\tEveryone really likes it.\tneutral\tentailment\tneutral\tneutral\tneutral\t{label}\n")
    };
    let train = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n0\t1\t1n\tgov\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tA.\tB.\tentailment\tentailment\n";
    let matched = format!("{header}{}", row("neutral"));
    let mismatched = format!("{header}{}", row("contradiction"));
    let dir = folder(
        "mnli",
        &[("train.tsv", train), ("dev_matched.tsv", &matched)],
    );
    let err = load_task(&TaskSource::Benchmark(Benchmark::Mnli), &dir)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dev_mismatched.tsv"), "{err}");
    std::fs::write(dir.join("dev_mismatched.tsv"), &mismatched).unwrap();
    let data = load_task(&TaskSource::Benchmark(Benchmark::Mnli), &dir).unwrap();
    assert_eq!(data.examples(Part::Train)[0].label, Label::Class(0));
    assert_eq!(data.examples(Part::Dev)[0].label, Label::Class(1));
    assert_eq!(data.examples(Part::DevMismatched)[0].label, Label::Class(2));
    assert_eq!(
        data.examples(Part::Dev)[0].text("premise"),
        "The new rights are nice."
    );

    let rte = "index\tsentence1\tsentence2\tlabel\n0\tDana Reeve died.\tChristopher Reeve had an accident.\tnot_entailment\n";
    let rows = bipeft_core::data::read_benchmark_text(Benchmark::Rte, "dev.tsv", rte).unwrap();
    assert_eq!(rows[0].label, Label::Class(1));

    let cb = "{\"premise\": \"It was a complex language.\", \"hypothesis\": \"the language was peeled down\", \"label\": \"contradiction\", \"idx\": 0}\n";
    let rows = bipeft_core::data::read_benchmark_text(Benchmark::Cb, "val.jsonl", cb).unwrap();
    assert_eq!(rows[0].label, Label::Class(1));
    let sg_rte = "{\"premise\": \"No weapons were found.\", \"hypothesis\": \"Weapons were found.\", \"label\": \"not_entailment\", \"idx\": 0}\n";
    let rows = bipeft_core::data::read_benchmark_text(Benchmark::SuperGlueRte, "val.jsonl", sg_rte)
        .unwrap();
    assert_eq!(rows[0].label, Label::Class(1));

    let record = r#"{"source": "Daily mail", "passage": {"text": "Tracy Morgan was hurt.\n@highlight\nMorgan is in hospital", "entities": [{"start": 0, "end": 11}, {"start": 34, "end": 39}]}, "qas": [{"query": "@placeholder was hurt", "answers": [{"start": 0, "end": 11, "text": "Tracy Morgan"}], "idx": 0}, {"query": "@placeholder is in hospital", "answers": [{"start": 34, "end": 39, "text": "Morgan"}], "idx": 1}], "idx": 0}"#;
    let rows =
        bipeft_core::data::read_benchmark_text(Benchmark::Record, "val.jsonl", record).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].candidates,
        vec!["Morgan".to_string(), "Tracy Morgan".to_string()]
    );
    assert_eq!(rows[1].label, Label::Answers(vec!["Morgan".into()]));
    assert_eq!(rows[1].group, Some(1));
    assert_eq!(
        rows[0].text("passage"),
        "Tracy Morgan was hurt. Morgan is in hospital"
    );
}

#[test]
fn malformed_rows_name_file_and_line() {
    let cases: [(Benchmark, &str, &str); 6] = [
        (Benchmark::Sst2, "sentence\tlabel\ngood\t1\nno tab here\n", "train.tsv:3: expected 2 tab-separated columns, found 1"),
        (Benchmark::Sst2, "sentence\tlabel\ngood\t7\n", "train.tsv:2: unknown label \"7\" (expected 0..1)"),
        (
            Benchmark::Stsb,
            "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\t0\tn\tn\ta\tb\t4.x\n",
            "train.tsv:2: bad number \"4.x\" in the score column",
        ),
        (Benchmark::Sst2, "text\tlabel\n", "train.tsv: no column \"sentence\" (columns: text, label)"),
        (
            Benchmark::Wic,
            "{\"word\": \"a\", \"sentence1\": \"x\", \"sentence2\": \"y\"}\n",
            "train.tsv:1: no field \"label\" (fields: sentence1, sentence2, word)",
        ),
        (Benchmark::BoolQ, "{\"question\": \"q\", \"passage\": \"p\", \"label\": true}\n{bad json\n", "train.tsv:2: invalid JSON"),
    ];
    for (task, text, expected) in cases {
        let err = bipeft_core::data::read_benchmark_text(task, "train.tsv", text)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(expected), "{} gave {err}", task.name());
    }
}

#[test]
fn bytes_that_are_not_utf8_name_the_file() {
    let err = TaskData::from_files(
        &TaskSource::Benchmark(Benchmark::Sst2),
        vec![(Part::Train, "train.tsv".into(), b"sentence\tlabel\n\xff\t1\n".to_vec())],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(err, "train.tsv: not UTF-8 text (byte 15)");
}
