#!/usr/bin/env python3
"""Writes a LlamaForCausalLM checkpoint directory with random BF16 weights (stdlib only), to
measure what a model of a real size class costs. Default: the SmolLM2-135M shape
(hidden 576, 30 layers, 9/3 heads, FFN 1536, vocab 49152, tied embeddings).

  python3 tests/lora/model/make_hf_checkpoint.py OUT_DIR --tokenizer models/tokenizer.model

Weights are random signs and mantissas with exponents 2^-7..2^-6 (|w| in [0.0078, 0.031]);
norm weights are 1.0. The SentencePiece tokenizer.model given is copied (import pads its
vocabulary to vocab_size)."""
import argparse
import json
import os
import shutil
import struct

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--tokenizer", required=True)
p.add_argument("--hidden", type=int, default=576)
p.add_argument("--layers", type=int, default=30)
p.add_argument("--heads", type=int, default=9)
p.add_argument("--kv-heads", type=int, default=3)
p.add_argument("--ffn", type=int, default=1536)
p.add_argument("--vocab", type=int, default=49152)
p.add_argument("--context", type=int, default=2048)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)

# High byte of a little-endian BF16: keep the random sign, fix the top exponent bits.
HIGH = bytes(((b & 0x80) | 0x3C) for b in range(256))
ONE_BF16 = struct.pack("<H", 0x3F80)


def rand_bf16(n):
    raw = bytearray(os.urandom(2 * n))
    raw[1::2] = bytes(raw[1::2]).translate(HIGH)
    return bytes(raw)


hd = a.hidden // a.heads
tensors = [("model.embed_tokens.weight", [a.vocab, a.hidden])]
for l in range(a.layers):
    pre = f"model.layers.{l}."
    tensors += [(pre + "input_layernorm.weight", [a.hidden]),
                (pre + "self_attn.q_proj.weight", [a.hidden, a.hidden]),
                (pre + "self_attn.k_proj.weight", [a.kv_heads * hd, a.hidden]),
                (pre + "self_attn.v_proj.weight", [a.kv_heads * hd, a.hidden]),
                (pre + "self_attn.o_proj.weight", [a.hidden, a.hidden]),
                (pre + "post_attention_layernorm.weight", [a.hidden]),
                (pre + "mlp.gate_proj.weight", [a.ffn, a.hidden]),
                (pre + "mlp.up_proj.weight", [a.ffn, a.hidden]),
                (pre + "mlp.down_proj.weight", [a.hidden, a.ffn])]
tensors.append(("model.norm.weight", [a.hidden]))

header, offset = {}, 0
for name, shape in tensors:
    n = 1
    for d in shape:
        n *= d
    header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + 2 * n]}
    offset += 2 * n
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for name, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        f.write(ONE_BF16 * n if len(shape) == 1 else rand_bf16(n))

config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": a.hidden,
          "intermediate_size": a.ffn, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
          "num_key_value_heads": a.kv_heads, "max_position_embeddings": a.context, "rms_norm_eps": 1e-5,
          "rope_theta": 100000.0, "rope_scaling": None, "tie_word_embeddings": True, "vocab_size": a.vocab,
          "hidden_act": "silu", "attention_bias": False, "mlp_bias": False, "bos_token_id": 1, "eos_token_id": 2,
          "torch_dtype": "bfloat16"}
with open(os.path.join(a.out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
shutil.copy(a.tokenizer, os.path.join(a.out, "tokenizer.model"))
print(f"wrote {a.out}: {offset // 2} parameters")
