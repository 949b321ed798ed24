//! θ ⊙ ∇θ of a module's parameters (docs/algorithm.md §6.1): what the sensitivity
//! reads of every slot, one flattened tensor per parameter tensor so that the
//! cosine can be taken tensor by tensor, as the reference code takes it.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

use super::sensitivity::SlotSaliency;

/// θ ⊙ ∇θ of every float parameter of `module`, flattened, in visiting order;
/// θ as it is now, ∇θ from `grads` (zeros where a parameter has none).
///
/// # Shapes
/// - returns one `[n]` per parameter tensor
pub fn module_saliency<B: AutodiffBackend, M: Module<B>>(
    module: &M,
    grads: &GradientsParams,
) -> SlotSaliency<B::InnerBackend> {
    let mut visitor = Saliency::<B> {
        grads,
        parts: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.parts
}

struct Saliency<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    parts: SlotSaliency<B::InnerBackend>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Saliency<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let theta = param.val().inner();
        let n = theta.dims().iter().product::<usize>();
        let part = match self.grads.get::<B::InnerBackend, D>(param.id) {
            Some(g) => theta.mul(g).reshape([n]),
            None => Tensor::zeros([n], &theta.device()),
        };
        self.parts.push(part);
    }
}

/// A copy of the gradients of `module`'s parameters (the tensors are shared,
/// not copied), so that they can still be read after an optimiser consumed
/// the original.
pub fn copy_gradients<B: AutodiffBackend, M: Module<B>>(
    module: &M,
    grads: &GradientsParams,
) -> GradientsParams {
    struct Copy<'a> {
        from: &'a GradientsParams,
        to: GradientsParams,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Copy<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.from.get::<B::InnerBackend, D>(param.id) {
                self.to.register(param.id, g);
            }
        }
    }
    let mut copy = Copy {
        from: grads,
        to: GradientsParams::new(),
    };
    module.visit(&mut copy);
    copy.to
}
