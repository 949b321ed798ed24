//! `bipeft data`: what a user runs before a long search.

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`bipeft data` is being written")
}
