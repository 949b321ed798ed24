//! A hand-made baseline where a search would run: sized to the budget in its
//! own space (every integer rank, docs/algorithm.md §7.3), with a trace of no
//! steps, so that every method ends in the same two files.

use super::search_session::SearchResult;
use super::search_trace::{BaselineTrace, SearchTrace};
use super::spec::check_budget_fits;
use crate::error::{Error, Result};
use crate::experiment::{Budget, Method};
use crate::peft::PeftOptions;
use crate::space::{Catalogue, SpaceDef};
use crate::train::model::Backbone;

/// Sizes baseline `method` to `budget` on `backbone`; `space` is the one the
/// search would run in (its kinds and sites), `task` and `seed` only name
/// the run in the trace.
pub fn size_baseline(
    backbone: &Backbone,
    space: &SpaceDef,
    method: Method,
    budget: Budget,
    task: &str,
    seed: u64,
) -> Result<SearchResult> {
    let Some(baseline) = method.baseline() else {
        return Err(Error::InvalidInput(format!(
            "`{method}` searches: it is not a hand-made baseline"
        )));
    };
    let shape = backbone.config.shape();
    let options = PeftOptions::default();
    let sized_space = baseline.space(space, &shape, &options)?;
    let catalogue = Catalogue::build(&shape, &sized_space, &options, backbone.naming())?;
    let backbone_params = backbone.config.num_params();
    let budget_params = budget.resolve(backbone_params);
    check_budget_fits(&catalogue, budget_params)?;
    let config = baseline.size(&catalogue, budget_params)?;
    let trace = SearchTrace::of_baseline(BaselineTrace {
        method,
        model_type: backbone.config.model_type(),
        task,
        catalogue: &catalogue,
        seed,
        budget_params,
        backbone_params,
        trainable_params: config.trainable_params,
    });
    Ok(SearchResult { config, trace })
}
