//! `bipeft model-check`: one forward pass of a Hugging Face model, printed.

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`bipeft model-check` is being written")
}
