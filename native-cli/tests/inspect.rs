//! `bipeft inspect`: the layers × modules table, parameters per kind and
//! budget shares of a configuration, as text and JSON.

mod common;

use common::*;

#[test]
fn shows_ranks_per_layer_and_parameters_per_kind() {
    let dir = temp("inspect");
    let config = mixed_config(&dir);
    let text = ok(&["inspect", s(&dir)]);
    let peft = read_json(&config);
    let total = peft["trainable_params"].as_u64().unwrap();
    assert!(
        text.contains(&format!("{total} trainable parameters")),
        "{text}"
    );
    // The header row names the stack and its two layers; LoRA rank 8 sits in layer 0 only.
    assert!(text.contains("encoder.layer"), "{text}");
    let lora_row = text
        .lines()
        .find(|l| l.starts_with("lora attention.self.query"))
        .unwrap_or_else(|| panic!("{text}"));
    let cells: Vec<&str> = lora_row.split_whitespace().skip(2).collect();
    assert_eq!(cells, ["8", "·"], "{lora_row}");
    let lnfit = text.lines().find(|l| l.starts_with("lnfit ")).unwrap();
    assert!(lnfit.ends_with("on"), "{lnfit}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(&["inspect", s(&config), "--json"])).unwrap();
    assert_eq!(json["trainable_params"], total);
    let kinds = json["kinds"].as_array().unwrap();
    let sum: u64 = kinds.iter().map(|k| k["params"].as_u64().unwrap()).sum();
    assert_eq!(sum, total);
    let names: Vec<&str> = kinds.iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(names, ["lora", "adapter", "bitfit", "lnfit"]);
    let budget = json["budget_params"].as_f64().unwrap();
    assert!((json["share_of_budget"].as_f64().unwrap() - total as f64 / budget).abs() < 1e-12);

    let line = error_line(&["inspect", s(&dir.join("nothing"))]);
    assert!(line.contains("no peft_config.json there"), "{line}");
    std::fs::remove_dir_all(&dir).unwrap();
}
