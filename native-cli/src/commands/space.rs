//! `bipeft space`: the catalogue of PEFT slots a search space gives a model,
//! computed from `config.json` alone (no weights).

use std::path::PathBuf;

use bipeft_core::backbone::BackboneConfig;
use bipeft_core::loader::read_config_json;
use bipeft_core::peft::PeftOptions;
use bipeft_core::space::{Catalogue, SpaceDef, SpaceSummary};

#[derive(clap::Args)]
pub struct Args {
    /// Hugging Face model directory (only its config.json is read).
    #[arg(long)]
    pub model: PathBuf,
    /// `s1` (LoRA, low-rank adapters, BitFit, LNFit), `s2` (serial/parallel adapters, prefix),
    /// `lora` (LoRA on every attention and FFN linear), or a JSON space file.
    #[arg(long, default_value = "s1")]
    pub space: String,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// List every slot (name, kind, parameters per rank).
    #[arg(long)]
    pub slots: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = BackboneConfig::from_json(&read_config_json(&args.model)?)?;
    let space = SpaceDef::resolve(&args.space)?;
    let catalogue = Catalogue::build(
        &config.shape(),
        &space,
        &PeftOptions::default(),
        config.site_namer(""),
    )?;
    let summary = SpaceSummary::new(&catalogue);
    if args.json {
        let mut value = serde_json::to_value(&summary)?;
        if args.slots {
            value["slots"] = serde_json::to_value(catalogue.slots())?;
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", summary.to_text());
        if args.slots {
            for slot in catalogue.slots() {
                println!(
                    "{:<60} {:<10} {:?}",
                    slot.name,
                    format!("{:?}", slot.kind),
                    slot.params
                );
            }
        }
    }
    Ok(())
}
