"""An independent, deliberately plain interpreter of NIR graphs: the test oracle.

It shares no code with neurocomp. It walks the `nir.NIRGraph` node by node in float64 with torch's
own conv and pooling kernels and writes each NIR equation the way the NIR docstrings state it,
discretised with forward Euler:

    LIF      v += dt/tau * (v_leak - v + r*x);  z = v > v_th;  v = v_reset (or v - v_th) where z
    CubaLIF  i += dt/tau_syn * (-i + w_in*x);   v += dt/tau_mem * (v_leak - v + r*i);  spike as LIF
    IF       v += r*x (integrated once per step; NIR frameworks do the same)
    LI/CubaLI/I as above without spikes, output v;  Threshold z = x > theta

Edges that close a cycle (depth-first from the inputs) carry the previous step's value (zero at
step 0), exactly as nirtorch does.
"""

from __future__ import annotations

import nir
import numpy as np
import torch
import torch.nn.functional as F


def _pair(x, n):
    a = np.atleast_1d(np.asarray(x)).astype(int)
    return tuple(int(v) for v in (np.repeat(a, n) if a.size == 1 else a))


def _flatten(g: nir.NIRGraph, prefix: str = ""):
    nodes, edges = {}, []
    for name, node in g.nodes.items():
        q = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, q + ".")
            nodes.update(sub_nodes)
            edges += sub_edges
        else:
            nodes[q] = node
    for a, b in g.edges:
        qa, qb = prefix + a, prefix + b
        if isinstance(g.nodes[a], nir.NIRGraph):
            qa = next(f"{qa}.{k}" for k, v in g.nodes[a].nodes.items() if isinstance(v, nir.Output))
        if isinstance(g.nodes[b], nir.NIRGraph):
            qb = next(f"{qb}.{k}" for k, v in g.nodes[b].nodes.items() if isinstance(v, nir.Input))
        edges.append((qa, qb))
    return nodes, edges


class Oracle:
    def __init__(self, graph: nir.NIRGraph, dt: float | None, reset: str = "zero") -> None:
        self.nodes, self.edges = _flatten(graph)
        self.dt, self.reset = dt, reset
        self.inputs = [n for n, v in graph.nodes.items() if isinstance(v, nir.Input)]
        self.outputs = [n for n, v in graph.nodes.items() if isinstance(v, nir.Output)]
        self.order, self.back = self._order()

    def _order(self):
        succ = {n: [b for a, b in self.edges if a == n] for n in self.nodes}
        state, back, post = {}, set(), []

        def dfs(n):
            state[n] = 1
            for m in succ[n]:
                if state.get(m) == 1:
                    back.add((n, m))
                elif m not in state:
                    dfs(m)
            state[n] = 2
            post.append(n)

        for n in self.inputs + list(self.nodes):
            if n not in state:
                dfs(n)
        return post[::-1], back

    def _t(self, a):
        return torch.as_tensor(np.asarray(a, dtype=np.float64))

    def _stateless(self, node, x):
        if isinstance(node, (nir.Input, nir.Output)):
            return x
        if isinstance(node, nir.Affine):
            return x @ self._t(node.weight).T + self._t(node.bias)
        if isinstance(node, nir.Linear):
            return x @ self._t(node.weight).T
        if isinstance(node, nir.Scale):
            return x * self._t(node.scale)
        if isinstance(node, nir.Flatten):
            return torch.flatten(
                x, node.start_dim + 1, node.end_dim if node.end_dim < 0 else node.end_dim + 1
            )
        if isinstance(node, (nir.Conv1d, nir.Conv2d)):
            n = 1 if isinstance(node, nir.Conv1d) else 2
            pad = node.padding if isinstance(node.padding, str) else _pair(node.padding, n)
            conv = F.conv1d if n == 1 else F.conv2d
            return conv(
                x,
                self._t(node.weight),
                self._t(node.bias),
                stride=_pair(node.stride, n),
                padding=pad,
                dilation=_pair(node.dilation, n),
                groups=int(node.groups),
            )
        if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            k = _pair(node.kernel_size, 2)
            y = F.avg_pool2d(
                x, k, _pair(node.stride, 2), _pair(node.padding, 2), count_include_pad=True
            )
            return y if isinstance(node, nir.AvgPool2d) else y * (k[0] * k[1])
        if isinstance(node, nir.Threshold):
            return (x > self._t(node.threshold)).double()
        raise NotImplementedError(type(node).__name__)

    def _neuron(self, name, node, x, st):
        dt, p = (
            self.dt,
            {
                k: self._t(v)
                for k, v in vars(node).items()
                if isinstance(v, np.ndarray) and k not in ("input_type", "output_type")
            },
        )
        v = st.get("v", torch.zeros_like(x))
        if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
            i = st.get("i", torch.zeros_like(x))
            i = i + dt / p["tau_syn"] * (-i + p["w_in"] * x)
            st["i"] = i
            v = v + dt / p["tau_mem"] * (p["v_leak"] - v + p["r"] * i)
        elif isinstance(node, (nir.LIF, nir.LI)):
            v = v + dt / p["tau"] * (p["v_leak"] - v + p["r"] * x)
        else:  # IF, I
            v = v + p["r"] * x
        if isinstance(node, (nir.LI, nir.CubaLI, nir.I)):
            st["v"] = v
            return v
        z = v > p["v_threshold"]
        if self.reset == "zero":
            v = torch.where(z, p["v_reset"], v)
        else:
            v = v - z.double() * p["v_threshold"]
        st["v"] = v
        return z.double()

    def run(self, x: np.ndarray | dict) -> dict[str, np.ndarray]:
        xs = x if isinstance(x, dict) else {self.inputs[0]: x}
        steps = next(iter(xs.values())).shape[0]
        states = {n: {} for n in self.nodes}
        delays = {n: [] for n, v in self.nodes.items() if isinstance(v, nir.Delay)}
        prev: dict[str, torch.Tensor] = {}
        outs = {o: [] for o in self.outputs}
        for t in range(steps):
            cur: dict[str, torch.Tensor] = {}
            for n in self.order:
                node = self.nodes[n]
                if isinstance(node, nir.Input) and n in self.inputs:
                    cur[n] = self._t(xs[n][t])
                    continue
                terms = []
                for a, b in self.edges:
                    if b != n:
                        continue
                    if (a, b) in self.back:
                        if a in prev:
                            terms.append(prev[a])
                    else:
                        terms.append(cur[a])
                total = sum(terms[1:], terms[0]) if terms else None
                if total is None:
                    raise ValueError(f"{n} has no input at step {t}")
                if isinstance(node, (nir.LIF, nir.CubaLIF, nir.IF, nir.LI, nir.CubaLI, nir.I)):
                    cur[n] = self._neuron(n, node, total, states[n])
                elif isinstance(node, nir.Delay):
                    steps_d = np.round(np.asarray(node.delay) / self.dt).astype(int)
                    delays[n].append(total)
                    flat = total.reshape(total.shape[0], -1)
                    out = torch.zeros_like(flat)
                    for j, d in enumerate(np.broadcast_to(steps_d, total.shape[1:]).ravel()):
                        if t - d >= 0:
                            out[:, j] = delays[n][t - d].reshape(total.shape[0], -1)[:, j]
                    cur[n] = out.reshape(total.shape)
                else:
                    cur[n] = self._stateless(node, total)
            for o in self.outputs:
                outs[o].append(cur[o].numpy().copy())
            prev = cur
        return {o: np.stack(v) for o, v in outs.items()}
