//! Hook sites of a BERT-family encoder and the checkpoint module names they sit
//! on, so that PEFT configurations and exported adapters use the names
//! transformers and peft use (`encoder.layer.2.attention.self.query`).

use crate::backbone::hooks::{Point, Site, Stack};

/// The points of one block, in the order the forward pass reaches them.
const BLOCK_POINTS: [Point; 11] = [
    Point::Query,
    Point::Key,
    Point::Value,
    Point::Attention,
    Point::AttnOutput,
    Point::AttnSublayer,
    Point::AttnNorm,
    Point::FfnIn,
    Point::FfnOut,
    Point::FfnSublayer,
    Point::FfnNorm,
];

/// Every site of an encoder with `num_layers` blocks, in call order: the
/// embedding LayerNorm, then each block's points.
pub fn all_sites(num_layers: usize) -> Vec<Site> {
    let mut sites = vec![Site::new(Stack::Encoder, 0, Point::EmbeddingNorm)];
    for layer in 0..num_layers {
        sites.extend(
            BLOCK_POINTS
                .iter()
                .map(|&point| Site::new(Stack::Encoder, layer, point)),
        );
    }
    sites
}

/// The module name of `site` in a checkpoint whose backbone keys start with
/// `prefix` ("", "bert.", "roberta."). `None` for sites a BERT encoder does
/// not have (decoder, cross-attention, gated FFN, final norm).
///
/// Linears and norms name their own module. The others name the module that
/// holds them: `Attention` the `attention.self` module, `AttnSublayer` the
/// `attention` module, `FfnSublayer` the `output` module (the FFN's last part).
pub fn site_name(site: Site, prefix: &str) -> Option<String> {
    if site.stack != Stack::Encoder {
        return None;
    }
    let suffix = match site.point {
        Point::EmbeddingNorm => {
            return (site.layer == 0).then(|| format!("{prefix}embeddings.LayerNorm"))
        }
        Point::Query => "attention.self.query",
        Point::Key => "attention.self.key",
        Point::Value => "attention.self.value",
        Point::Attention => "attention.self",
        Point::AttnOutput => "attention.output.dense",
        Point::AttnNorm => "attention.output.LayerNorm",
        Point::AttnSublayer => "attention",
        Point::FfnIn => "intermediate.dense",
        Point::FfnOut => "output.dense",
        Point::FfnNorm => "output.LayerNorm",
        Point::FfnSublayer => "output",
        Point::CrossQuery
        | Point::CrossKey
        | Point::CrossValue
        | Point::CrossOutput
        | Point::CrossAttnNorm
        | Point::CrossAttnSublayer
        | Point::FfnGate
        | Point::FinalNorm => return None,
    };
    Some(format!("{prefix}encoder.layer.{}.{suffix}", site.layer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_checkpoint() {
        let s = |layer, point| Site::new(Stack::Encoder, layer, point);
        assert_eq!(
            site_name(s(2, Point::Value), "").unwrap(),
            "encoder.layer.2.attention.self.value"
        );
        assert_eq!(
            site_name(s(0, Point::FfnNorm), "bert.").unwrap(),
            "bert.encoder.layer.0.output.LayerNorm"
        );
        assert_eq!(
            site_name(s(0, Point::EmbeddingNorm), "roberta.").unwrap(),
            "roberta.embeddings.LayerNorm"
        );
        assert_eq!(site_name(s(1, Point::EmbeddingNorm), ""), None);
        assert_eq!(site_name(s(0, Point::FfnGate), ""), None);
        assert_eq!(
            site_name(Site::new(Stack::Decoder, 0, Point::Query), ""),
            None
        );
    }

    #[test]
    fn every_site_has_a_distinct_name() {
        let sites = all_sites(3);
        assert_eq!(sites.len(), 1 + 3 * 11);
        let mut names: Vec<String> = sites.iter().map(|&s| site_name(s, "").unwrap()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), sites.len());
    }
}
