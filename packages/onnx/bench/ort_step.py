"""Times one configuration per process (ONNX Runtime sessions that share a process fight over
spinning threads): a graph from export-mlp-graphs.ts run by Python onnxruntime, or the PyTorch
step. Usage: python3 ort_step.py <threads> torch | <graph-name> [seq|nospin|par2]   (STEPS=60; GRAPHS=<dir> with the .onnx files;
K=<steps per run> for a multi-step graph, whose times are reported per step; REALISTIC=1 feeds
N(0,1) data, Kaiming weights, zero biases and zero optimizer state instead of N(0, 0.05) for
all; mode `thread` calls run() from a worker thread, as onnxruntime-node does)
"""
import os, sys, time
import numpy as np
n = int(sys.argv[1]); what = sys.argv[2]; mode = sys.argv[3] if len(sys.argv) > 3 else 'seq'
STEPS = int(os.environ.get('STEPS', '60'))
def timeit(fn, label, per=1):
    for _ in range(5): fn()
    t = []
    for _ in range(STEPS):
        t0 = time.perf_counter(); fn(); t.append((time.perf_counter() - t0) * 1e3 / per)
    t.sort(); print(f'T{n:<3d} {label:28s} median {t[len(t)//2]:7.2f} ms  p10 {t[len(t)//10]:6.2f}  p90 {t[len(t)*9//10]:6.2f}', flush=True)
if what == 'torch':
    import torch, torch.nn.functional as F
    torch.set_num_threads(n); torch.manual_seed(0)
    B, dims = 256, [784, 512, 512, 10]
    x = torch.randn(B, 784); y = torch.arange(B) % 10
    layers = [torch.nn.Linear(dims[i], dims[i + 1]) for i in range(3)]
    opt = torch.optim.Adam([p for l in layers for p in l.parameters()], lr=1e-3)
    def step():
        opt.zero_grad(set_to_none=True)
        h = F.relu(layers[0](x)); h = F.relu(layers[1](h))
        F.cross_entropy(layers[2](h), y).backward(); opt.step()
    shapes = [(B,784,512),(784,B,512),(B,512,512),(512,B,512),(B,512,10),(512,B,10),(B,512,512),(B,10,512)]
    mats = [(torch.randn(m,k), torch.randn(k,nn)) for m,k,nn in shapes]
    def mm():
        for a,b in mats: torch.mm(a,b)
    def fwdbwd():
        for l in layers:
            for q in l.parameters(): q.grad = None
        h = F.relu(layers[0](x)); h = F.relu(layers[1](h))
        F.cross_entropy(layers[2](h), y).backward()
    timeit(step, 'torch step'); timeit(fwdbwd, 'torch fwd+bwd (no Adam)'); timeit(mm, 'torch 8 matmuls')
    timeit(opt.step, 'torch Adam step alone')
else:
    import onnxruntime as ort
    rng = np.random.default_rng(0)
    so = ort.SessionOptions(); so.intra_op_num_threads = n
    if mode == 'nospin': so.add_session_config_entry('session.intra_op.allow_spinning', '0')
    if mode.startswith('par'): so.execution_mode = ort.ExecutionMode.ORT_PARALLEL; so.inter_op_num_threads = int(mode[3:])
    s = ort.InferenceSession(os.path.join(os.environ.get('GRAPHS', os.path.dirname(os.path.abspath(__file__))), what + '.onnx'), so, providers=['CPUExecutionProvider'])
    f = {}
    K = int(os.environ.get('K', '16'))
    multi = any(d == 'steps' for i in s.get_inputs() for d in i.shape)
    for i in s.get_inputs():
        dims = [d if isinstance(d, int) else K if d == 'steps' else 256 for d in i.shape]
        if i.type == 'tensor(int64)': f[i.name] = (np.arange(int(np.prod(dims))) % 10).astype(np.int64).reshape(dims)
        elif i.name == 'lr': f[i.name] = np.full(dims, 1e-3, np.float32)
        elif i.name == 'step': f[i.name] = np.array(1.0, np.float32)
        elif os.environ.get('REALISTIC') == '1':
            if i.name.startswith('opt/') or len(dims) == 1: f[i.name] = np.zeros(dims, np.float32)
            elif i.name.endswith('.w'): f[i.name] = (rng.standard_normal(dims) * np.sqrt(2 / dims[0])).astype(np.float32)
            else: f[i.name] = rng.standard_normal(dims).astype(np.float32)
        else: f[i.name] = (rng.standard_normal(dims) * 0.05).astype(np.float32)
    per = K if multi else 1
    if mode == 'thread':
        from concurrent.futures import ThreadPoolExecutor
        pool = ThreadPoolExecutor(1)
        run = lambda: pool.submit(s.run, None, f).result()
    else:
        run = lambda: s.run(None, f)
    timeit(run, f'ort-py {what} {mode}' + (f' per step, K={K}' if multi else '') + (' malloc' if os.environ.get('MALLOC_MMAP_THRESHOLD_') else '') + (' realistic' if os.environ.get('REALISTIC') == '1' else ''), per)
    if mode == 'seq' and not multi and os.environ.get('PREBOUND') == '1':
        io = s.io_binding()
        for k, v in f.items(): io.bind_cpu_input(k, v)
        for o in s.get_outputs(): io.bind_output(o.name, 'cpu')
        s.run_with_iobinding(io)
        outs = io.get_outputs()
        io2 = s.io_binding()
        for k, v in f.items(): io2.bind_cpu_input(k, v)
        for o, v in zip(s.get_outputs(), outs): io2.bind_ortvalue_output(o.name, v)
        timeit(lambda: s.run_with_iobinding(io2), f'ort-py {what} prebound')
