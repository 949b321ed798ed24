//! Search spaces computed from a backbone's shape alone: slot counts and
//! parameter totals of S1, S2 and the LoRA space on T5-large and BERT-base,
//! checked against hand calculations (docs/algorithm.md §2) and against Hugging
//! Face peft / transformers (tests/fixtures/peft/reference.json, written by
//! gen_reference.py there).

#[path = "peft_naming.rs"]
mod naming;

use bipeft_core::backbone::{Point, Site, Stack};
use bipeft_core::peft::PeftOptions;
use bipeft_core::space::{presets, Catalogue, Kind, SpaceDef, SpaceSummary};
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/peft/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn count(catalogue: &Catalogue, kind: Kind) -> usize {
    catalogue.slots().iter().filter(|s| s.kind == kind).count()
}

fn kind_at_rank(summary: &SpaceSummary, kind: Kind, rank: usize) -> u64 {
    let k = summary.kinds.iter().find(|k| k.kind == kind).unwrap();
    k.per_rank.iter().find(|t| t.rank == rank).unwrap().params
}

fn kind_max(summary: &SpaceSummary, kind: Kind) -> u64 {
    summary
        .kinds
        .iter()
        .find(|k| k.kind == kind)
        .unwrap()
        .max_params
}

fn t5_large(space: &SpaceDef) -> Catalogue {
    Catalogue::build(
        &naming::t5_large(),
        space,
        &PeftOptions::default(),
        naming::t5(false),
    )
    .unwrap()
}

#[test]
fn s1_on_t5_large_has_916_slots_and_the_hand_computed_totals() {
    let catalogue = t5_large(&presets::s1());
    let summary = SpaceSummary::new(&catalogue);
    assert_eq!(summary.slots, 916);
    assert_eq!(summary.rank_searchable, 384);
    assert_eq!(summary.on_off, 532);
    // Per block: LoRA on q k v o wi wo, adapters after attention and FFN.
    assert_eq!(count(&catalogue, Kind::Lora), 48 * 6);
    assert_eq!(count(&catalogue, Kind::Adapter), 48 * 2);
    // BitFit: 6 linears + 2 norms per encoder block, + the cross-attention norm
    // per decoder block, + the 2 final norms. LNFit: every norm.
    assert_eq!(count(&catalogue, Kind::BitFit), 24 * 8 + 24 * 9 + 2);
    assert_eq!(count(&catalogue, Kind::LnFit), 24 * 2 + 24 * 3 + 2);
    assert_eq!(catalogue.num_candidates(), 3);

    // LoRA r·(in + out): q k v o 2048 each, wi and wo 5120 each → 18,432·r per block.
    let lora = |r: u64| 48 * 18_432 * r;
    // Adapter at d = 1024, b = 32: r·1056 + 32 + r·1056 + 1024.
    let adapter = |r: u64| 96 * (2 * 1056 * r + 1056);
    for r in [1u64, 4, 8] {
        assert_eq!(kind_at_rank(&summary, Kind::Lora, r as usize), lora(r));
        assert_eq!(
            kind_at_rank(&summary, Kind::Adapter, r as usize),
            adapter(r)
        );
    }
    assert_eq!(lora(1), 884_736);
    assert_eq!(adapter(8), 1_723_392);
    // BitFit: encoder block 4·1024 + 4096 + 1024 + 2·1024 = 11,264; decoder 12,288; finals 2048.
    assert_eq!(
        kind_max(&summary, Kind::BitFit),
        24 * 11_264 + 24 * 12_288 + 2048
    );
    assert_eq!(kind_max(&summary, Kind::BitFit), 567_296);
    assert_eq!(kind_max(&summary, Kind::LnFit), 122 * 1024);

    let per_rank: Vec<(usize, usize, u64)> = summary
        .per_rank
        .iter()
        .map(|t| (t.rank, t.slots, t.params))
        .collect();
    assert_eq!(
        per_rank,
        vec![
            (1, 384, 1_188_864),
            (4, 384, 4_451_328),
            (8, 384, 8_801_280)
        ]
    );
    assert_eq!(summary.on_off_params, 567_296 + 124_928);
    assert_eq!(summary.shared_params, 0);
    assert_eq!(summary.max_params, 8_801_280 + 692_224);
    assert_eq!(catalogue.max_params(), 9_493_504);
    assert!((summary.max_share - 9_493_504.0 / 737_668_096.0).abs() < 1e-12);

    // The LoRA share equals what peft creates on T5-large for the same targets.
    let peft = &reference()["t5_large"];
    assert_eq!(peft["backbone_params"], 737_668_096u64);
    for r in [1u64, 4, 8] {
        assert_eq!(peft["s1_lora"][r.to_string()].as_u64().unwrap(), lora(r));
    }
}

#[test]
fn s1_slots_are_named_and_ordered_by_site() {
    let catalogue = t5_large(&presets::s1());
    let first: Vec<(String, Kind)> = catalogue.slots()[..6]
        .iter()
        .map(|s| (s.name.clone(), s.kind))
        .collect();
    let n = |s: &str| s.to_string();
    assert_eq!(
        first,
        vec![
            (n("encoder.block.0.layer.0.layer_norm"), Kind::BitFit),
            (n("encoder.block.0.layer.0.layer_norm"), Kind::LnFit),
            (n("encoder.block.0.layer.0.SelfAttention.q"), Kind::Lora),
            (n("encoder.block.0.layer.0.SelfAttention.q"), Kind::BitFit),
            (n("encoder.block.0.layer.0.SelfAttention.k"), Kind::Lora),
            (n("encoder.block.0.layer.0.SelfAttention.k"), Kind::BitFit),
        ]
    );
    let last = catalogue.slots().last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.kind),
        ("decoder.final_layer_norm", Kind::LnFit)
    );
    assert_eq!(last.site, Site::new(Stack::Decoder, 24, Point::FinalNorm));

    let wi = catalogue
        .find(Site::new(Stack::Decoder, 5, Point::FfnIn), Kind::Lora)
        .unwrap();
    let slot = &catalogue.slots()[wi];
    assert_eq!(slot.name, "decoder.block.5.layer.2.DenseReluDense.wi");
    assert_eq!((slot.d_in, slot.d_out), (1024, 4096));
    assert_eq!(slot.params, vec![5120, 20_480, 40_960]);
    assert_eq!(catalogue.find_name(&slot.name, Kind::Lora), Some(wi));
    // No LoRA or BitFit on cross-attention in S1; its norm has both on/off kinds.
    assert!(catalogue
        .find(Site::new(Stack::Decoder, 0, Point::CrossQuery), Kind::Lora)
        .is_none());
    assert!(catalogue
        .find(
            Site::new(Stack::Decoder, 0, Point::CrossAttnNorm),
            Kind::LnFit
        )
        .is_some());
    // Rank rows follow slot order.
    let rows = catalogue.rank_slots();
    assert_eq!(rows.len(), 384);
    assert!(rows.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(catalogue.rank_row(rows[7]), Some(7));
    assert_eq!(catalogue.rank_row(0), None);
}

#[test]
fn s2_and_lora_spaces_on_t5_large() {
    let s2 = t5_large(&presets::s2());
    let summary = SpaceSummary::new(&s2);
    assert_eq!(summary.slots, 48 * 3);
    assert_eq!(summary.rank_searchable, 144);
    // Serial / parallel adapter of width w at d = 1024: 1024w + w + 1024w + 1024.
    let sa = |w: u64| 2049 * w + 1024;
    // Prefix layer: up 2 → 2·1024 with bias, and the gate: the same at every length.
    let prefix = 2 * 2048 + 2048 + 1;
    for w in [1u64, 4, 8] {
        assert_eq!(
            kind_at_rank(&summary, Kind::SerialAdapter, w as usize),
            48 * sa(w)
        );
        assert_eq!(
            kind_at_rank(&summary, Kind::ParallelAdapter, w as usize),
            48 * sa(w)
        );
        assert_eq!(
            kind_at_rank(&summary, Kind::Prefix, w as usize),
            48 * prefix
        );
    }
    // Shared trunk: an 8 × 1024 embedding and 1024 → 2 with bias.
    assert_eq!(summary.shared_params, 8 * 1024 + 2048 + 2);
    assert_eq!(summary.max_params, 96 * sa(8) + 48 * prefix + 10_242);
    assert_eq!(summary.max_params, 1_977_138);
    let prefix_slot = s2
        .find(
            Site::new(Stack::Decoder, 23, Point::Attention),
            Kind::Prefix,
        )
        .unwrap();
    assert_eq!(
        s2.slots()[prefix_slot].name,
        "decoder.block.23.layer.0.SelfAttention"
    );

    let lora = t5_large(&presets::lora());
    let summary = SpaceSummary::new(&lora);
    assert_eq!(summary.slots, 24 * 6 + 24 * 10);
    let peft = &reference()["t5_large"]["all_lora"];
    for t in &summary.per_rank {
        assert_eq!(
            t.params,
            peft[t.rank.to_string()].as_u64().unwrap(),
            "rank {}",
            t.rank
        );
    }
}

#[test]
fn s1_analogue_on_bert_base() {
    let catalogue = Catalogue::build(
        &naming::bert_base(),
        &presets::s1(),
        &PeftOptions::default(),
        naming::bert,
    )
    .unwrap();
    let summary = SpaceSummary::new(&catalogue);
    assert_eq!(count(&catalogue, Kind::Lora), 12 * 6);
    assert_eq!(count(&catalogue, Kind::Adapter), 12 * 2);
    // 6 linears + 2 LayerNorms per block, and the embedding LayerNorm.
    assert_eq!(count(&catalogue, Kind::BitFit), 12 * 8 + 1);
    assert_eq!(count(&catalogue, Kind::LnFit), 12 * 2 + 1);
    let peft = &reference()["bert_base"];
    assert_eq!(peft["backbone_params"], 109_482_240u64);
    for r in [1usize, 4, 8] {
        assert_eq!(
            kind_at_rank(&summary, Kind::Lora, r),
            peft["s1_lora"][r.to_string()].as_u64().unwrap()
        );
        // d = 768, b = 24: 2·r·792 + 792 per adapter.
        assert_eq!(
            kind_at_rank(&summary, Kind::Adapter, r),
            24 * (1584 * r as u64 + 792)
        );
    }
    // Per block 4·768 + 3072 + 768 + 2·768, and 768 for the embedding LayerNorm.
    assert_eq!(kind_max(&summary, Kind::BitFit), 12 * 8448 + 768);
    assert_eq!(kind_max(&summary, Kind::LnFit), 25 * 768);
    assert_eq!(catalogue.slots()[0].name, "embeddings.LayerNorm");
    let adapter = catalogue
        .find(
            Site::new(Stack::Encoder, 2, Point::FfnSublayer),
            Kind::Adapter,
        )
        .unwrap();
    assert_eq!(catalogue.slots()[adapter].name, "encoder.layer.2.output");
}

#[test]
fn every_slot_name_is_a_module_of_the_transformers_model() {
    let reference = reference();
    let modules =
        |key: &str| -> Vec<String> { serde_json::from_value(reference[key].clone()).unwrap() };
    // A small bottleneck so the tiny models' adapters exist (16 / 4 = 4).
    let options = PeftOptions {
        adapter_reduction: 4,
        ..PeftOptions::default()
    };
    type Namer = Box<dyn Fn(Site) -> String>;
    let cases: Vec<(_, Namer, Vec<String>)> = vec![
        (
            naming::t5_tiny(false),
            Box::new(naming::t5(false)),
            modules("t5_tiny_modules"),
        ),
        (
            naming::t5_tiny(true),
            Box::new(naming::t5(true)),
            modules("t5_gated_tiny_modules"),
        ),
        (
            naming::bert_tiny(),
            Box::new(naming::bert),
            modules("bert_tiny_modules"),
        ),
    ];
    for (shape, name, modules) in &cases {
        for space in [presets::s1(), presets::s2(), presets::lora()] {
            let catalogue = Catalogue::build(shape, &space, &options, name).unwrap();
            for slot in catalogue.slots() {
                assert!(
                    modules.contains(&slot.name),
                    "{} slot `{}` of space {} is not a module of the transformers model",
                    slot.kind,
                    slot.name,
                    space.name
                );
            }
        }
    }
    // The gated FFN adds LoRA and BitFit on `wi_1`.
    let gated = Catalogue::build(
        &naming::t5_tiny(true),
        &presets::s1(),
        &options,
        naming::t5(true),
    )
    .unwrap();
    assert_eq!(count(&gated, Kind::Lora), 4 * 7);
    assert!(gated
        .find_name("encoder.block.1.layer.1.DenseReluDense.wi_1", Kind::BitFit)
        .is_some());
}

#[test]
fn a_user_space_from_json() {
    let text = r#"{
      "name": "encoder-qv",
      "ranks": [2, 4, 8],
      "rules": [
        {"kind": "lora", "targets": ["encoder\\.block\\.\\d+\\.layer\\.0\\.SelfAttention\\.(q|v)"]},
        {"kind": "lnfit", "points": ["FinalNorm"]},
        {"kind": "adapter", "targets": ["decoder\\.block\\.(0|1)\\..*"], "points": ["FfnSublayer"], "ranks": [1, 2, 3]}
      ]
    }"#;
    let space = SpaceDef::from_json(text, "space.json").unwrap();
    let catalogue = t5_large(&space);
    assert_eq!(count(&catalogue, Kind::Lora), 48);
    assert_eq!(count(&catalogue, Kind::LnFit), 2);
    assert_eq!(count(&catalogue, Kind::Adapter), 2);
    let summary = SpaceSummary::new(&catalogue);
    // Ranks 2, 4, 8 for LoRA; 1, 2, 3 for the adapters: rank 2 is shared.
    let at = |r: usize| {
        summary
            .per_rank
            .iter()
            .find(|t| t.rank == r)
            .map(|t| (t.slots, t.params))
    };
    assert_eq!(at(1), Some((2, 2 * (2112 + 1056))));
    assert_eq!(at(2), Some((50, 48 * 4096 + 2 * (2 * 2112 + 1056))));
    assert_eq!(at(8), Some((48, 48 * 16_384)));
    let adapter = catalogue
        .find_name("decoder.block.1.layer.2.DenseReluDense", Kind::Adapter)
        .unwrap();
    assert_eq!(catalogue.slots()[adapter].ranks, vec![1, 2, 3]);
    let text_report = summary.to_text();
    assert!(
        text_report.contains("space `encoder-qv` on t5 (737,668,096 backbone parameters)"),
        "{text_report}"
    );
    assert!(
        text_report.contains("52 slots: 50 rank-searchable, 2 on/off"),
        "{text_report}"
    );
}

#[test]
fn bad_user_spaces_are_clear_errors() {
    let build = |text: &str| {
        let space = SpaceDef::from_json(text, "space.json")?;
        Catalogue::build(
            &naming::t5_large(),
            &space,
            &PeftOptions::default(),
            naming::t5(false),
        )
    };
    let err = |text: &str| build(text).unwrap_err().to_string();

    let e = err(
        r#"{"name": "x", "ranks": [1], "rules": [{"kind": "lora", "targets": ["encoder\\.layer\\.0\\.attention\\.self\\.query"]}]}"#,
    );
    assert!(
        e.contains("rule 0 (lora) matches no slot of this t5 model"),
        "{e}"
    );
    assert!(e.contains("encoder.block.0.layer.0.SelfAttention.q"), "{e}");

    let e = err(r#"{"name": "x", "ranks": [1], "rules": [
        {"kind": "lora", "targets": [".*\\.q"]}, {"kind": "lora", "targets": ["encoder\\.block\\.0\\..*"]}]}"#);
    assert!(
        e.contains(
            "the lora slot `encoder.block.0.layer.0.SelfAttention.q` is matched by rules 0 and 1"
        ),
        "{e}"
    );

    let e = err(r#"{"name": "x", "ranks": [1], "rules": [{"kind": "lora", "targets": ["(q"]}]}"#);
    assert!(e.contains("bad target pattern `(q`"), "{e}");

    let e = err(r#"{"name": "x", "rules": [{"kind": "lora"}]}"#);
    assert!(e.contains("no candidate ranks"), "{e}");

    let e = err(r#"{"name": "x", "rules": [{"kind": "bitfit", "ranks": [1]}]}"#);
    assert!(
        e.contains("bitfit is on/off and takes no candidate ranks"),
        "{e}"
    );

    let e = err(r#"{"name": "x", "ranks": [4, 1], "rules": [{"kind": "lora"}]}"#);
    assert!(e.contains("strictly increasing"), "{e}");

    let e = err(r#"{"name": "x", "ranks": [1, 100000000], "rules": [{"kind": "lora"}]}"#);
    assert!(e.contains("rank 100000000 of lora at"), "{e}");
    assert!(e.contains("exceeds the layer's width 1024"), "{e}");

    let e = err(
        r#"{"name": "x", "ranks": [1, 4], "rules": [{"kind": "lora"}, {"kind": "adapter", "ranks": [1, 2, 4]}]}"#,
    );
    assert!(e.contains("need the same number of candidate ranks"), "{e}");

    let e = err(r#"{"name": "x", "rules": []}"#);
    assert!(e.contains("at least one rule"), "{e}");

    // Two sites with one name cannot be told apart.
    let e = Catalogue::build(
        &naming::t5_large(),
        &presets::lora(),
        &PeftOptions::default(),
        |_| "same".to_string(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("the same name `same`"), "{e}");
}

#[test]
fn summary_serialises_and_renders() {
    let catalogue = t5_large(&presets::s1());
    let summary = SpaceSummary::new(&catalogue);
    let json = serde_json::to_string(&summary).unwrap();
    let back: SpaceSummary = serde_json::from_str(&json).unwrap();
    assert_eq!(back, summary);
    let text = summary.to_text();
    for line in [
        "916 slots: 384 rank-searchable, 532 on/off",
        "rank 8   all 384 rank-searchable slots: 8,801,280 parameters",
        "on/off slots, all on: 692,224 parameters",
        "full supernet (every slot at its largest rank): 9,493,504 parameters, 1.2870% of the backbone",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    // The kind table: lora row with its three rank totals and its maximum.
    let lora_row = text.lines().find(|l| l.starts_with("lora")).unwrap();
    let cells: Vec<&str> = lora_row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "lora",
            "288",
            "884,736",
            "3,538,944",
            "7,077,888",
            "7,077,888"
        ]
    );
}
