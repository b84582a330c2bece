"""Mapping: blocks respect every per-core limit; networks that do not fit say why."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurocomp as nc
from neurocomp.target import load_target

from conftest import ROOT, zoo_file
from graphs import affine, chain, lif


def _chip(tmp_path, **core):
    text = (ROOT / "targets" / "reference.toml").read_text()
    for key, value in core.items():
        lines = [ln for ln in text.splitlines() if ln.startswith(f"{key} = ")]
        text = text.replace(lines[0], f"{key} = {value}")
    path = tmp_path / "chip.toml"
    path.write_text(text)
    return str(path)


def _dense_net(n_in=300, n_hidden=600, n_out=10, seed=0):
    rng = np.random.default_rng(seed)
    g = chain(
        ("fc", affine(n_hidden, n_in, rng, 0.3)),
        ("h", lif(n_hidden, rng)),
        ("fc2", affine(n_out, n_hidden, rng, 0.3)),
        ("o", lif(n_out, rng)),
        input_shape=(n_in,),
        out=(n_out,),
    )
    return nc.load(g, dt=1e-4)


def _fan_out_net():
    """One neuron 'b' projecting to three populations of 1000 neurons: three
    destination cores at least (3000 neurons), however they are packed."""
    import nir

    rng = np.random.default_rng(0)
    nodes = {"in": nir.Input(input_type=np.array([4])), "fc": affine(1, 4, rng), "b": lif(1, rng)}
    edges = [("in", "fc"), ("fc", "b")]
    for k in range(3):
        nodes[f"w{k}"] = affine(1000, 1, rng)
        nodes[f"o{k}"] = lif(1000, rng)
        nodes[f"out{k}"] = nir.Output(output_type=np.array([1000]))
        edges += [("b", f"w{k}"), (f"w{k}", f"o{k}"), (f"o{k}", f"out{k}")]
    return nc.load(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=1e-4)


def test_cnn_maps_within_limits_and_placement_keeps_the_better():
    net = nc.load(zoo_file("cnn_sinabs.nir"))
    prog = nc.compile(net)
    m, spec = prog.mapping, prog.target
    assert m.cores_used >= m.lower_bound["cores"]
    assert m.cores_used <= spec.cores_available
    covered = {p.name: np.zeros(p.size, int) for p in prog.net.populations}
    for c in m.cores:
        for b in c.blocks:
            covered[b.population][b.start : b.stop] += 1
    assert all((v == 1).all() for v in covered.values())  # every neuron on exactly one core
    for row in m.usage_table(spec):
        for key in ("neurons", "synapse_bits", "input_axons", "output_axons", "fan_in"):
            assert row[key][0] <= row[key][1], (row["core"], key)
    # The even spread puts each layer's parts in core order, which the greedy placement
    # (core i in slot i) already keeps local; METIS is kept only where it does better.
    pl = m.placement
    assert pl["traffic_hops"] == min(pl["metis_traffic_hops"], pl["greedy_traffic_hops"])
    # README's figures (integer mapping is deterministic): 16 cores (20 with blocks sized for
    # sparse lists only), no packing of its blocks in fewer than 15, the network's bound 10;
    # the LP bound 11 with the window floors (lower_bound_lp), 10 without them (the compile's,
    # above COMPILE_WINDOW_SYNAPSES: cnn_sinabs has 1.1e6 synapses)
    from neurocomp.mapping import lower_bound_lp

    bound = m.lower_bound
    assert (m.cores_used, bound["packing"], bound["cores"], bound["lp"]) == (16, 15, 10, 10)
    assert lower_bound_lp(prog.net, spec).cores == 11
    assert len(set(m.slots.tolist())) == m.cores_used


def test_cnn_on_loihi2_in_8_cores_with_kernels_stored_once_15_without():
    """README and docs/targets.md's figures: Loihi 2 stores a convolution's kernel once per
    core (Lava's Conv); with every connection stored the same chip needs 15."""
    import dataclasses

    net = nc.load(zoo_file("cnn_sinabs.nir"), framework="nir")
    spec = load_target("loihi2")
    shared = nc.compile(net, target=spec)
    assert [pr.conv is not None for pr in shared.net.projections] == [True] * 2 + [False] * 3
    fmt = dataclasses.replace(spec.synapse_format, shared_conv_weights=False)
    expanded = nc.compile(net, target=dataclasses.replace(spec, synapse_format=fmt))
    assert all(pr.conv is None for pr in expanded.net.projections)
    assert (shared.mapping.cores_used, expanded.mapping.cores_used) == (8, 15)


def test_generated_conv_cores_and_bounds():
    """README's and docs/benchmarks.md's generated 16-channel conv (benchmarks/generate.py) on
    a board of 8 reference chips: 35 cores, no packing in fewer than 33, the network's bound 32."""
    import importlib.util

    path = ROOT / "benchmarks" / "generate.py"
    spec = importlib.util.spec_from_file_location("benchmarks_generate", path)
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    prog = nc.compile(nc.load(generate.conv_stack(16, 32, 2)), chips=8)
    bound = prog.mapping.lower_bound
    assert (prog.mapping.cores_used, bound["packing"], bound["cores"]) == (35, 33, 32)


@pytest.mark.parametrize(
    "core,resource",
    [
        ({"fan_in": 100}, "fan-in per neuron"),
        ({"input_axons": 200, "fan_in": 4096}, "input axons for one neuron"),
        ({"synapse_memory_bits": 2048}, "synapse memory for one neuron"),
        ({"output_axons": 2}, "output axons for one neuron"),
    ],
)
def test_each_core_resource_has_an_error(tmp_path, core, resource):
    chip = _chip(tmp_path, **core)
    net = _fan_out_net() if "output_axons" in core else _dense_net()
    with pytest.raises(nc.ResourceLimitError) as info:
        nc.compile(net, target=chip)
    names = [v.resource for v in info.value.violations]
    assert resource in names, names
    v = next(v for v in info.value.violations if v.resource == resource)
    assert v.layer in ("h", "o", "b") and v.needed is not None and v.available is not None
    assert f"layer '{v.layer}': {resource} needed" in str(info.value)


def test_too_many_cores_names_layer_and_counts(tmp_path):
    chip = _chip(tmp_path, neurons=16, tiles_x=1, tiles_y=1, cores_per_tile=4)
    with pytest.raises(nc.ResourceLimitError) as info:
        nc.compile(_dense_net(n_hidden=200), target=chip)
    v = info.value.violations[0]
    assert v.resource == "cores" and v.available == 4 and v.needed > 4 and v.layer == "h"
    prog = nc.compile(_dense_net(n_hidden=200), target=chip, chips=4)  # more chips: fits
    assert prog.summary["chips"] == 4 and prog.summary["cores_used"] > 4


def test_narrow_threshold_register_coarsens_scales_and_bad_values_are_refused(tmp_path):
    text = (ROOT / "targets" / "reference.toml").read_text()
    text = text.replace("threshold_bits = 23", "threshold_bits = 4")
    path = tmp_path / "narrow.toml"
    path.write_text(text)
    prog = nc.compile(_dense_net(), target=str(path))  # quantize fits thresholds into 4 bits
    for pop in prog.net.populations:
        assert pop.threshold.max() <= 15
    rng = np.random.default_rng(0)
    neg = lif(3, rng)
    neg.v_threshold = np.array([0.5, -0.2, 0.5])
    g = chain(("fc", affine(3, 2, rng)), ("n", neg), input_shape=(2,), out=(3,))
    with pytest.raises(nc.ResourceLimitError, match="layer 'n': threshold sign needed"):
        nc.compile(nc.load(g, dt=1e-4))
    with pytest.raises(nc.PassError, match="exceeds target 'reference' maximum 8"):
        nc.compile(_dense_net(), passes="quantize{weight_bits=12}")


def test_lower_bound_is_max_over_resources():
    prog = nc.compile(_dense_net())
    lb = prog.mapping.lower_bound
    assert lb["cores"] == max(lb["neurons"], lb["synapse_bits"], lb["input_axons"])
    assert lb["neurons"] == -(-610 // load_target("reference").core.neurons)


def _conv_net():
    """Two 3x3 conv layers on 8 channels of 12 x 12: channel-major rows, position-major blocks
    (one core's neurons recur in every channel's rows)."""
    import nir

    rng = np.random.default_rng(3)
    layers, c_in = [], 2
    for k in range(2):
        conv = nir.Conv2d(
            input_shape=(12, 12), weight=rng.normal(0.1, 0.3, (8, c_in, 3, 3)), stride=1,
            padding=1, dilation=1, groups=1, bias=np.zeros(8),
        )  # fmt: skip
        n = (8, 12, 12)
        layers += [(f"conv{k}", conv), (f"if{k}", nir.IF(r=np.ones(n), v_threshold=np.ones(n),
                                                          v_reset=np.zeros(n)))]  # fmt: skip
        c_in = 8
    return nc.load(chain(*layers, input_shape=(2, 12, 12), out=(8, 12, 12)), dt=1e-4)


@pytest.mark.parametrize("kind", ["dense", "conv"])
@pytest.mark.parametrize("chunk", [1, 7, 1000, 1 << 20])
def test_destinations_in_chunks_equal_the_direct_count(monkeypatch, tmp_path, chunk, kind):
    """`destinations` counts (source neuron, core) synapses in row chunks to bound memory; the
    rows are taken core by core (a conv layer's are not in that order)."""
    from scipy import sparse

    import neurocomp.mapping.pack as pack
    import neurocomp.mapping.split as split

    net = _dense_net() if kind == "dense" else _conv_net()
    chip = "reference" if kind == "dense" else _chip(tmp_path, neurons=64)  # several cores
    prog = nc.compile(net, target=chip)
    net, where = prog.net, pack.neuron_cores(prog.net, prog.mapping.cores)
    n = len(prog.mapping.cores)
    monkeypatch.setattr(split, "CHUNK_SYNAPSES", chunk)
    got = pack.destinations(net, where, n)
    for pr in net.projections:
        w = pr.weight.tocoo()
        direct = sparse.csr_matrix(
            (np.ones(w.nnz, dtype=np.int64), (w.col, where[pr.post][w.row])),
            shape=(w.shape[1], n),
        )
        assert (got[pr.pre] != direct).nnz == 0
        assert got[pr.pre].sum() == w.nnz
    if kind == "conv":  # the rows of one core are not consecutive: the gathered path ran
        core_of_row = where[net.projections[-1].post]
        assert np.any(np.diff(core_of_row) < 0)


def test_output_axon_limit_shrinks_blocks_once_per_round(tmp_path):
    """Regression: every over-limit block used to halve its layer's cap again, so a layer of 4
    blocks shrank 16-fold (conv stacks ended with one-neuron blocks and 1.8x the cores)."""
    net = _dense_net(n_hidden=600, n_out=3)  # each hidden neuron: 3 synapses into one block
    prog = nc.compile(net, target=_chip(tmp_path, output_axons=150))
    hidden = [b for c in prog.mapping.cores for b in c.blocks if b.population == "h"]
    assert max(b.neurons for b in hidden) <= 150  # 150 neurons x 1 destination core each
    assert len(hidden) <= 12  # blocks of 50 or more, not 600 one-neuron blocks
    for core in prog.mapping.cores:
        assert core.output_axons <= 150
        assert sum(b.neurons for b in core.blocks if b.population == "h") <= 150


def test_resplit_for_output_axons_reuses_each_layers_lists(tmp_path, monkeypatch):
    """The re-split that the output-axon limit forces takes the layer's synapse lists from the
    first split (one transposed copy per layer) and cuts the same blocks as fresh lists do."""
    import neurocomp.mapping as mapping
    from neurocomp.mapping.split import LayerSynapses

    net, chip = _dense_net(n_hidden=600, n_out=3), _chip(tmp_path, output_axons=30)
    built: list[str] = []

    class Counted:  # the split's LayerSynapses (the sizing's samples are not counted)
        @staticmethod
        def of(net_, spec, pop, rows=None):
            built.append(pop.name)
            return LayerSynapses.of(net_, spec, pop, rows)

    monkeypatch.setattr(mapping, "LayerSynapses", Counted)
    cached = nc.compile(net, target=chip)
    assert sorted(built) == ["h", "o"]  # once each, though "h" was split again

    class Forget(dict):  # a cache that keeps nothing: every split builds its lists afresh
        def __setitem__(self, key, value):
            pass

    real_split = mapping._split_layers
    monkeypatch.setattr(
        mapping, "_split_layers", lambda *a, **k: real_split(*a[:7], **{**k, "cache": Forget()})
    )
    built.clear()
    fresh = nc.compile(net, target=chip)
    assert built.count("h") == 2  # the re-split happened, with new lists
    blocks = [[(b.population, b.start, b.stop) for b in c.blocks] for c in cached.mapping.cores]
    assert blocks == [
        [(b.population, b.start, b.stop) for b in c.blocks] for c in fresh.mapping.cores
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 60),
    st.floats(0.05, 1.0),
    st.lists(st.integers(1, 60), min_size=1, max_size=8),
    st.integers(0, 2**32 - 1),
)
def test_synapse_memory_lower_bound_holds_for_any_contiguous_split(n_post, n_axons, p, cuts, seed):
    """list_bits_lower never exceeds what a split into contiguous blocks stores (each axon's
    list per block in the cheaper of sparse and dense form, as block_stats counts it)."""
    from scipy import sparse

    from neurocomp.mapping.split import list_bits, list_bits_lower

    spec = load_target("reference")
    rng = np.random.default_rng(seed)
    w = sparse.csr_matrix((rng.random((n_post, n_axons)) < p).astype(np.int64))
    bounds = sorted({0, n_post, *(c % n_post for c in cuts)})
    stored = 0
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        per_axon = np.asarray(w[a:b].sum(axis=0)).reshape(-1)
        stored += list_bits(per_axon, spec, b - a)
    assert list_bits_lower(w, spec) <= stored


def test_mapping_never_beats_the_lower_bound():
    """Regression: the bound once ignored dense lists, and smaller blocks mapped below it."""
    import nir

    rng = np.random.default_rng(3)

    def conv(c_in: int) -> nir.Conv2d:  # 32 channels, 3x3, "same" on 16x16
        w = rng.normal(0, 0.3, (32, c_in, 3, 3))
        return nir.Conv2d((16, 16), w, 1, 1, 1, 1, np.zeros(32))

    def if_() -> nir.IF:
        return nir.IF(r=np.ones((32, 16, 16)), v_threshold=np.ones((32, 16, 16)))

    graph = chain(
        ("c0", conv(2)),
        ("if0", if_()),
        ("c1", conv(32)),
        ("if1", if_()),
        input_shape=(2, 16, 16),
        out=(32, 16, 16),
    )
    prog = nc.compile(nc.load(graph), chips=4)
    assert prog.summary["cores_used"] >= prog.summary["cores_lower_bound"]
    for row in prog.mapping.usage_table(prog.target):
        for key in ("neurons", "synapse_bits", "input_axons", "output_axons", "fan_in"):
            assert row[key][0] <= row[key][1], (key, row)
