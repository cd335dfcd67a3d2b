#!/usr/bin/env python3
"""PyTorch-eager twin of bench/train_bench.cpp's BM_TrainStep, for side-by-side speed.

One LoRA train step of a small Llama decoder in plain eager PyTorch, at the same shapes as
train_bench (--shape default | smollm2-135m | tinyllama-1b, 4,096-token vocabulary, batch
N x 128 tokens): LoRA rank 8, alpha 16 on all 7 projections (q, k, v, o, gate, up, down),
frozen base, Adam (lr 1e-4) on the adapter tensors only. One step = zero_grad, forward on a
fixed random batch [N, T+1] (inputs [:, :-1], targets [:, 1:]), mean next-token
cross-entropy over the N*T targets, backward, optimizer.step.

The base is dense fp32 (random N(0, 0.02^2) weights, norms 1): PyTorch on Debian has no
quantized training path, so there is no Q8_0 / Q4_0 twin. fedlora's step merges
W' = W + s*B*A once per projection per step; this twin runs the usual unmerged LoRA
(y = x W^T + s * (x A^T) B^T), as PEFT does. Attention is plain matmul + causal mask +
softmax (torch 1.13 has no scaled_dot_product_attention), the whole T x T score matrix.

Modes: fp32 (plain) and bf16 (forward + loss under torch.autocast("cpu", bfloat16); the
weights, gradients and Adam stay fp32). --mode both runs fp32, then bf16, each in its own
child process (same model, seed and batch), so each mode's memory figures start clean.

Same runtime set-up as train_bench, so the two use the same libtorch and BLAS the same way
(python3-torch 1.13 is the libtorch train_bench links): torch.set_num_threads(--threads)
and openblas_set_num_threads(--threads); OpenBLAS 0.3.21 falls back to its slow SSE3
"Prescott" kernels on recent Xeons, so when OPENBLAS_CORETYPE is unset and OpenBLAS chose
Prescott, the script sets OPENBLAS_CORETYPE (Cooperlake / SkylakeX / Haswell) and re-executes
itself, as lora/model/runtime.cpp's ensure_fast_blas_kernels does; glibc keeps freed buffers
in the heap (mallopt M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 1 GiB), as
keep_freed_memory_in_heap does.

Timing: one warm-up step, then --steps timed steps; the median seconds per step of CPU time
(time.process_time(): the whole process, i.e. the one compute thread) and of wall time
(time.perf_counter()). tokens_per_s = N*T / step_cpu_s, the same CPU-time rate as
train_bench's items_per_second.

Memory: "5" is written to /proc/self/clear_refs right before the warm-up step (resets VmHWM
to the current RSS on Linux); peak_rss_mb = VmHWM after the timed steps, added_mb = that
minus VmRSS just before the warm-up (activations, gradients, Adam state, scratch). Where the
reset fails the peak is ru_maxrss (since process start, so it may be model construction's
peak; a note goes to stderr and rss_source says "ru_maxrss"). MB = 10^6 bytes.

Run (one thread, machine otherwise idle):
  python3 bench/torch_twin.py --shape smollm2-135m --batch 4 --mode both
  python3 bench/torch_twin.py --shape default --batch 16 --steps 5 --json
Prints one line per mode:
  torch_twin shape=... mode=fp32 batch=4x128 step_cpu_s=... step_wall_s=... tokens_per_s=...
  peak_rss_mb=... added_mb=...
or, with --json, one JSON object per line with the same fields. bench/train_shapes.sh runs
it next to train_bench. Needs Debian's python3-torch; without it the script prints
"torch_twin: python3-torch not installed; skipped" and exits 0. If the python3 running it
cannot import torch (e.g. a pyenv python) but /usr/bin/python3 can, it re-executes itself
with /usr/bin/python3.
"""

import argparse
import ctypes
import json
import math
import os
import resource
import statistics
import sys
import time

SKIP_MESSAGE = "torch_twin: python3-torch not installed; skipped"
SYSTEM_PYTHON = "/usr/bin/python3"
VOCAB = 4096
RANK = 8
ALPHA = 16.0
SEED = 1234

# name -> (dim, layers, heads, kv heads, ffn, tied, rope theta): train_bench's parse_shape.
SHAPES = {
    "default": (256, 4, 8, 4, 768, True, 10000.0),
    "smollm2-135m": (576, 30, 9, 3, 1536, True, 100000.0),
    "tinyllama-1b": (2048, 22, 32, 4, 5632, False, 10000.0),
}


def reexec(python, env_updates):
    env = dict(os.environ)
    env.update(env_updates)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, [python, os.path.abspath(__file__)] + sys.argv[1:], env)


def import_torch():
    try:
        import torch  # noqa: F401
        return torch
    except ImportError:
        pass
    # A python3 without Debian's dist-packages (pyenv, venv): try the system interpreter once.
    if (not os.environ.get("TORCH_TWIN_SYSTEM_PYTHON") and os.path.exists(SYSTEM_PYTHON)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
        try:
            reexec(SYSTEM_PYTHON, {"TORCH_TWIN_SYSTEM_PYTHON": "1"})
        except OSError:
            pass
    print(SKIP_MESSAGE)
    sys.exit(0)


def openblas():
    for name in ("libopenblas.so.0", "libblas.so.3"):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
            return lib
        except (OSError, AttributeError):
            continue
    return None


def best_openblas_core():
    try:
        with open("/proc/cpuinfo") as f:
            flags = set()
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        return None
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "Cooperlake" if "avx512_bf16" in flags else "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def ensure_fast_blas_kernels(blas):
    """runtime.cpp's ensure_fast_blas_kernels: leave Prescott by re-executing."""
    if blas is None or os.environ.get("OPENBLAS_CORETYPE"):
        return
    current = blas.openblas_get_corename()
    if current != b"Prescott":
        return
    core = best_openblas_core()
    if core is None:
        return
    try:
        reexec(sys.executable, {"OPENBLAS_CORETYPE": core})
    except OSError as e:
        print(f"torch_twin: warning: could not re-execute with OPENBLAS_CORETYPE={core} ({e}); "
              "BLAS runs its slow fallback", file=sys.stderr)


def keep_freed_memory_in_heap():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def status_bytes(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return -1


def reset_resident_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def build_model(torch, shape):
    nn = torch.nn
    F = torch.nn.functional
    dim, n_layers, n_heads, n_kv, ffn, tied, theta = SHAPES[shape]
    head_dim = dim // n_heads
    scale = ALPHA / RANK

    def frozen(*size):
        return nn.Parameter(torch.empty(*size).normal_(0.0, 0.02), requires_grad=False)

    class LoRALinear(nn.Module):
        def __init__(self, in_f, out_f):
            super().__init__()
            self.weight = frozen(out_f, in_f)
            self.lora_a = nn.Parameter(torch.empty(RANK, in_f))
            self.lora_b = nn.Parameter(torch.empty(out_f, RANK))

        def reset_lora(self):
            with torch.no_grad():
                bound = 1.0 / math.sqrt(self.lora_a.shape[1])
                self.lora_a.uniform_(-bound, bound)
                # train_bench's non-zero B: 1e-3 * ((i * 7919) % 13 - 6) over the flat tensor.
                i = torch.arange(self.lora_b.numel(), dtype=torch.int64)
                self.lora_b.copy_((1e-3 * ((i * 7919) % 13 - 6).float()).view_as(self.lora_b))

        def forward(self, x):
            return F.linear(x, self.weight) + scale * F.linear(F.linear(x, self.lora_a), self.lora_b)

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim), requires_grad=False)

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight

    def rope(x, cos, sin):  # x [N, H, T, hd]; interleaved adjacent pairs
        x2 = x.reshape(*x.shape[:-1], head_dim // 2, 2)
        x0, x1 = x2[..., 0], x2[..., 1]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm = RMSNorm()
            self.ffn_norm = RMSNorm()
            self.q = LoRALinear(dim, n_heads * head_dim)
            self.k = LoRALinear(dim, n_kv * head_dim)
            self.v = LoRALinear(dim, n_kv * head_dim)
            self.o = LoRALinear(n_heads * head_dim, dim)
            self.gate = LoRALinear(dim, ffn)
            self.up = LoRALinear(dim, ffn)
            self.down = LoRALinear(ffn, dim)

        def forward(self, x, cos, sin, mask):
            n, t, _ = x.shape
            h = self.attn_norm(x)
            q = self.q(h).view(n, t, n_heads, head_dim).transpose(1, 2)
            k = self.k(h).view(n, t, n_kv, head_dim).transpose(1, 2)
            v = self.v(h).view(n, t, n_kv, head_dim).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            rep = n_heads // n_kv
            k = k[:, :, None].expand(n, n_kv, rep, t, head_dim).reshape(n, n_heads, t, head_dim)
            v = v[:, :, None].expand(n, n_kv, rep, t, head_dim).reshape(n, n_heads, t, head_dim)
            s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(head_dim))
            p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
            a = torch.matmul(p, v).transpose(1, 2).reshape(n, t, n_heads * head_dim)
            x = x + self.o(a)
            h = self.ffn_norm(x)
            return x + self.down(F.silu(self.gate(h)) * self.up(h))

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = frozen(VOCAB, dim)
            self.blocks = nn.ModuleList([Block() for _ in range(n_layers)])
            self.norm = RMSNorm()
            self.output = None if tied else frozen(VOCAB, dim)
            self._rope = {}

        def reset_lora(self):
            for m in self.modules():
                if isinstance(m, LoRALinear):
                    m.reset_lora()

        def lora_parameters(self):
            return [p for p in self.parameters() if p.requires_grad]

        def tables(self, t):
            if t not in self._rope:
                inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
                ang = torch.outer(torch.arange(t, dtype=torch.float32), inv)  # [T, hd/2]
                mask = torch.ones(t, t, dtype=torch.bool).triu(1)
                self._rope[t] = (ang.cos(), ang.sin(), mask)
            return self._rope[t]

        def forward(self, tokens):
            cos, sin, mask = self.tables(tokens.shape[1])
            x = F.embedding(tokens, self.embed)
            for b in self.blocks:
                x = b(x, cos, sin, mask)
            head = self.embed if self.output is None else self.output
            return F.linear(self.norm(x), head)

    model = Llama()
    model.reset_lora()
    return model


def run_mode(torch, model, tokens, mode, steps):
    F = torch.nn.functional
    model.reset_lora()
    params = model.lora_parameters()
    for p in params:
        p.grad = None
    opt = torch.optim.Adam(params, lr=1e-4)
    inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    def step():
        opt.zero_grad(set_to_none=True)
        if mode == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(inputs)
                loss = F.cross_entropy(logits.float().reshape(-1, VOCAB), targets.reshape(-1))
        else:
            logits = model(inputs)
            loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    reset_ok = reset_resident_peak()
    rss_before = status_bytes("VmRSS:")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    step()  # warm-up
    cpu, wall = [], []
    loss = float("nan")
    for _ in range(steps):
        c0, w0 = time.process_time(), time.perf_counter()
        loss = step()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    peak = status_bytes("VmHWM:") if reset_ok else -1
    source = "vmhwm"
    if peak < 0:
        source = "ru_maxrss"
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if peak <= maxrss_before:
            print("torch_twin: note: /proc/self/clear_refs unavailable and ru_maxrss did not grow "
                  "during the steps: peak_rss_mb is model construction's peak, added_mb an "
                  "upper bound", file=sys.stderr)
    return cpu, wall, peak, rss_before, source, loss


def main():
    ap = argparse.ArgumentParser(description="PyTorch-eager twin of train_bench's BM_TrainStep")
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("--batch", type=int, default=None, help="N sequences (default: 16 for default, else 4)")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--mode", choices=("fp32", "bf16", "both"), default="fp32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.batch is None:
        args.batch = 16 if args.shape == "default" else 4
    if args.steps < 1 or args.batch < 1 or args.seq < 2 or args.threads < 1:
        ap.error("--steps, --batch, --threads must be >= 1 and --seq >= 2")

    torch = import_torch()
    if args.mode == "both":
        # Each mode in its own process, so the second one's peak and added memory do not
        # inherit the first one's heap (freed buffers stay resident, see above).
        import subprocess
        rc = 0
        for mode in ("fp32", "bf16"):
            cmd = [sys.executable, os.path.abspath(__file__), "--shape", args.shape, "--batch", str(args.batch),
                   "--seq", str(args.seq), "--steps", str(args.steps), "--threads", str(args.threads),
                   "--mode", mode] + (["--json"] if args.json else [])
            sys.stdout.flush()
            status = subprocess.call(cmd)
            rc = rc or status
        sys.exit(rc)
    blas = openblas()
    ensure_fast_blas_kernels(blas)  # may re-execute this script
    keep_freed_memory_in_heap()
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if blas is not None:
        blas.openblas_set_num_threads(args.threads)
    torch.manual_seed(SEED)

    with torch.no_grad():
        model = build_model(torch, args.shape)
    tokens = torch.randint(0, VOCAB, (args.batch, args.seq + 1))
    for mode in [args.mode]:
        cpu, wall, peak, before, source, loss = run_mode(torch, model, tokens, mode, args.steps)
        step_cpu = statistics.median(cpu)
        step_wall = statistics.median(wall)
        rec = {
            "shape": args.shape,
            "mode": mode,
            "batch": f"{args.batch}x{args.seq}",
            "step_cpu_s": round(step_cpu, 4),
            "step_wall_s": round(step_wall, 4),
            "tokens_per_s": round(args.batch * args.seq / step_cpu, 1),
            "peak_rss_mb": round(peak / 1e6, 1),
            "added_mb": round((peak - before) / 1e6, 1),
        }
        if args.json:
            rec.update({"steps": args.steps, "threads": args.threads, "loss": round(loss, 4),
                        "rss_source": source, "torch": torch.__version__,
                        "openblas_core": blas.openblas_get_corename().decode() if blas else None})
            print(json.dumps(rec), flush=True)
        else:
            print("torch_twin " + " ".join(f"{k}={v}" for k, v in rec.items()), flush=True)


if __name__ == "__main__":
    main()
