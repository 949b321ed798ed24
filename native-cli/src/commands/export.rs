//! `bipeft export`: a trained result as a Hugging Face PEFT LoRA adapter
//! directory (`--format peft`), or in bipeft's own complete format
//! (`--format bipeft`), which `bipeft eval` reads back. The task comes from
//! the result: for the user's own task the class order of the head's outputs
//! is printed (the bipeft format keeps it in `trained.json`).

use std::path::{Path, PathBuf};

use anyhow::bail;
use bipeft_core::data::CustomKind;
use bipeft_core::export::{export_bipeft, export_peft, PeftExport};
use bipeft_core::train::TrainedManifest;
use burn::prelude::Backend;
use clap::ValueEnum;

use crate::backend::{with_backend, BackendArgs, BackendRun};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Hugging Face PEFT: adapter_config.json + adapter_model.safetensors.
    Peft,
    /// bipeft's own: every module kind, read back by `bipeft eval`.
    Bipeft,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A trained result (`bipeft retrain --out`).
    #[arg(long)]
    pub trained: PathBuf,
    #[arg(long, value_enum)]
    pub format: Format,
    /// The folder to write the export into (a folder holding other files is
    /// refused; an earlier export there is replaced only with --force).
    #[arg(long)]
    pub out: PathBuf,
    /// The backbone's directory, for its config.json (default: the one it was trained over).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// `base_model_name_or_path` to write (default: the model directory).
    #[arg(long)]
    pub base_model: Option<String>,
    /// Overwrite an export in --out.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let trained = args.trained.clone();
    let marker = match args.format {
        Format::Peft => "adapter_config.json",
        Format::Bipeft => "trained.json",
    };
    bipeft_core::output_dir::check_output_dir(&args.out, "export", &[marker])?;
    if args.out.join(marker).exists() && !args.force {
        bail!(
            "{} already holds an export ({marker}); choose another --out or pass --force",
            args.out.display()
        );
    }
    if args.out.exists() && args.out.canonicalize().ok() == args.trained.canonicalize().ok() {
        bail!("--out must differ from --trained");
    }
    match args.format {
        Format::Bipeft => {
            let files = export_bipeft(&args.trained, &args.out)?;
            println!("wrote {} to {}", files.join(", "), args.out.display());
        }
        Format::Peft => {
            let backend = args.backend.clone();
            let export = with_backend(&backend, Export(args))?;
            println!(
                "{} LoRA modules{}; wrote {} to {}",
                export.0.lora_modules,
                if export.0.head_modules.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", head in modules_to_save ({})",
                        export.0.head_modules.join(", ")
                    )
                },
                export.0.files.join(", "),
                export.1.display()
            );
            if !export.0.other_modules.is_empty() {
                let list: Vec<String> = export
                    .0
                    .other_modules
                    .iter()
                    .map(|(kind, n)| format!("{n} {kind}"))
                    .collect();
                println!(
                    "note: {} cannot be expressed in PEFT's LoRA; they are in {} beside the adapter (see README.md there)",
                    list.join(", "),
                    bipeft_core::export::peft::EXTRA_WEIGHTS_FILE
                );
            }
        }
    }
    if let Some(note) = class_order(&trained) {
        println!("{note}");
    }
    Ok(())
}

/// For the user's own classification task, which class each of the head's
/// outputs stands for (`reviews: head output 0 is neg, 1 is pos`).
fn class_order(trained: &Path) -> Option<String> {
    let task = TrainedManifest::read(trained).ok()?.custom_task?;
    let CustomKind::Classification {
        labels: Some(labels),
    } = task.kind
    else {
        return None;
    };
    let outputs: Vec<String> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| format!("{i} is {label}"))
        .collect();
    Some(format!("{}: head output {}", task.name, outputs.join(", ")))
}

struct Export(Args);

impl BackendRun for Export {
    type Output = (PeftExport, PathBuf);
    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<(PeftExport, PathBuf)> {
        let a = self.0;
        let export = export_peft::<B>(
            &a.trained,
            a.model.as_deref(),
            a.base_model.as_deref(),
            &a.out,
            &device,
        )?;
        Ok((export, a.out))
    }
}
