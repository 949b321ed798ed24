//! Every hook site a backbone of a given shape calls, in forward order, with
//! the widths a module placed there sees.

use crate::backbone::hooks::{Point, Site, Stack};

use super::shape::{BackboneShape, Family};

/// A hook site and the widths at it: what enters and what leaves a linear; the
/// normalised width beside a norm; the hidden width around a sub-layer; the
/// concatenated heads' width (`heads · d_kv`) at [`Point::Attention`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SiteInfo {
    pub site: Site,
    pub d_in: usize,
    pub d_out: usize,
}

/// The sites of one block of a T5 stack (pre-norm; the decoder adds cross-attention).
fn t5_block(decoder: bool, gated: bool) -> Vec<Point> {
    let mut points = vec![
        Point::AttnNorm,
        Point::Query,
        Point::Key,
        Point::Value,
        Point::Attention,
        Point::AttnOutput,
        Point::AttnSublayer,
    ];
    if decoder {
        points.extend([
            Point::CrossAttnNorm,
            Point::CrossQuery,
            Point::CrossKey,
            Point::CrossValue,
            Point::CrossOutput,
            Point::CrossAttnSublayer,
        ]);
    }
    points.push(Point::FfnNorm);
    points.push(Point::FfnIn);
    if gated {
        points.push(Point::FfnGate);
    }
    points.extend([Point::FfnOut, Point::FfnSublayer]);
    points
}

/// The sites of one block of a BERT-family encoder (post-norm: each LayerNorm
/// comes after its sub-layer's residual addition).
fn encoder_block(gated: bool) -> Vec<Point> {
    let mut points = vec![
        Point::Query,
        Point::Key,
        Point::Value,
        Point::Attention,
        Point::AttnOutput,
        Point::AttnSublayer,
        Point::AttnNorm,
        Point::FfnIn,
    ];
    if gated {
        points.push(Point::FfnGate);
    }
    points.extend([Point::FfnOut, Point::FfnSublayer, Point::FfnNorm]);
    points
}

fn widths(shape: &BackboneShape, point: Point) -> (usize, usize) {
    let (d, inner, ff) = (shape.d_model, shape.inner_dim(), shape.d_ff);
    match point {
        Point::Query
        | Point::Key
        | Point::Value
        | Point::CrossQuery
        | Point::CrossKey
        | Point::CrossValue => (d, inner),
        Point::AttnOutput | Point::CrossOutput => (inner, d),
        Point::FfnIn | Point::FfnGate => (d, ff),
        Point::FfnOut => (ff, d),
        Point::Attention => (inner, inner),
        Point::AttnNorm
        | Point::CrossAttnNorm
        | Point::FfnNorm
        | Point::FinalNorm
        | Point::EmbeddingNorm
        | Point::AttnSublayer
        | Point::CrossAttnSublayer
        | Point::FfnSublayer => (d, d),
    }
}

/// All sites of `shape`, in the order a forward pass reaches them (encoder, then decoder).
pub fn sites(shape: &BackboneShape) -> Vec<SiteInfo> {
    let mut out = Vec::new();
    let mut push = |stack, layer, point| {
        let (d_in, d_out) = widths(shape, point);
        out.push(SiteInfo {
            site: Site::new(stack, layer, point),
            d_in,
            d_out,
        });
    };
    match shape.family {
        Family::T5 => {
            for (stack, layers, decoder) in [
                (Stack::Encoder, shape.encoder_layers, false),
                (Stack::Decoder, shape.decoder_layers, true),
            ] {
                if layers == 0 {
                    continue;
                }
                for layer in 0..layers {
                    for point in t5_block(decoder, shape.gated_ffn) {
                        push(stack, layer, point);
                    }
                }
                push(stack, layers, Point::FinalNorm);
            }
        }
        Family::Encoder => {
            push(Stack::Encoder, 0, Point::EmbeddingNorm);
            for layer in 0..shape.encoder_layers {
                for point in encoder_block(shape.gated_ffn) {
                    push(Stack::Encoder, layer, point);
                }
            }
        }
    }
    out
}
