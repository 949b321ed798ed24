//! `bipeft`: budget-guided search for parameter-efficient fine-tuning, from the command line.

mod allocator;
mod backend;
mod cache_dir;
mod commands;
mod custom_task;
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
    /// The main job in one command: fetch MiniLM and a sentiment set, search, retrain, print the table and scores.
    Demo(commands::demo::Args),
    /// Run a Hugging Face model on one input and print its output (to compare with `transformers`).
    ModelCheck(commands::model_check::Args),
    /// List the PEFT slots a search space gives a model (needs only config.json).
    Space(commands::space::Args),
    /// Show a task's splits, labels and token lengths before a long search.
    Data(commands::data::Args),
    /// Search a PEFT configuration within a parameter budget (BIPEFT) and write peft_config.json.
    Search(Box<commands::search::Args>),
    /// Run a plan of searches + retrains (models × tasks × budgets × methods × seeds) and write its report.
    Experiment(commands::experiment::Args),
    /// Retrain a peft_config.json from scratch, keep the best validation weights, report test scores.
    Retrain(commands::retrain::Args),
    /// Score a trained result on its task's validation or test split; save its predictions.
    Eval(commands::eval::Args),
    /// Export a trained result as a Hugging Face PEFT adapter (or in bipeft's own format).
    Export(commands::export::Args),
    /// Show a configuration as layers × modules with ranks, parameters per kind, budget shares.
    Inspect(commands::inspect::Args),
    /// Time a LoRA training step and a search step on each CPU backend (ms/step, peak memory).
    Bench(commands::bench::Args),
}

fn main() {
    allocator::keep_freed_pages();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Demo(args) => commands::demo::run(args),
        Command::ModelCheck(args) => commands::model_check::run(args),
        Command::Data(args) => commands::data::run(args),
        Command::Space(args) => commands::space::run(args),
        Command::Search(args) => commands::search::run(*args),
        Command::Experiment(args) => commands::experiment::run(args),
        Command::Retrain(args) => commands::retrain::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Bench(args) => commands::bench::run(args),
    };
    if let Err(error) = outcome {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
