//! `bipeft`: budget-guided search for parameter-efficient fine-tuning, from the command line.

mod atomic;
mod backend;
mod commands;
mod progress;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bipeft",
    version,
    about = "Budget-guided iterative search for parameter-efficient fine-tuning (BIPEFT)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Hugging Face model on one input and print its output (to compare with `transformers`).
    ModelCheck(commands::model_check::Args),
    /// List the PEFT slots a search space gives a model (needs only config.json).
    Space(commands::space::Args),
    /// Show a task's splits, labels and token lengths before a long search.
    Data(commands::data::Args),
    /// Search a PEFT configuration within a parameter budget (BIPEFT) and write peft_config.json.
    Search(Box<commands::search::Args>),
    /// Time a LoRA training step and a search step on each CPU backend (ms/step, peak memory).
    Bench(commands::bench::Args),
}

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::ModelCheck(args) => commands::model_check::run(args),
        Command::Data(args) => commands::data::run(args),
        Command::Space(args) => commands::space::run(args),
        Command::Search(args) => commands::search::run(*args),
        Command::Bench(args) => commands::bench::run(args),
    };
    if let Err(error) = outcome {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
