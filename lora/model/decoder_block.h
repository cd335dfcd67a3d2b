#pragma once
// One Llama decoder block as a function of its input, and the same block under activation
// checkpointing (Chen et al. 2016): the forward pass keeps only the block's input and
// backward recomputes the block to get its gradients.
#include <ATen/ATen.h>

#include "lora/model/decoder.h"

namespace fedlora::lora {

/// Block `layer` (Touvron et al. 2023, pre-norm): h = x + o(attn(norm₁(x))), then
/// h + down(SiLU(gate(norm₂(h))) ⊙ up(norm₂(h))). x: float32 [N, T, dim] → [N, T, dim].
/// rope: tables covering T positions. Records gradients as the ops inside do.
at::Tensor decoder_block(DecoderWeights& w, int layer, const at::Tensor& x, const RopeTables& rope);

/// decoder_block(w, layer, x, rope) as one autograd node that saves only x. Its backward
/// reruns the block with gradients on and back-propagates through that, yielding the
/// gradient of x and of every tensor in w.layer_parameters(layer). Per-example sinks set on
/// w (LoraModel) are filled during that backward as without checkpointing. `w` must outlive
/// the backward pass. Forward costs one block without saved activations; backward one block
/// forward + backward.
at::Tensor checkpointed_decoder_block(DecoderWeights& w, int layer, const at::Tensor& x, const RopeTables& rope);

}  // namespace fedlora::lora
