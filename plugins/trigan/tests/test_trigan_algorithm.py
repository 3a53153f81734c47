"""One optimisation iteration: order, gradient isolation between the three players, variants."""

from __future__ import annotations

import copy

import pytest
import torch

from srbench.interfaces import PatchBatch
from srbench.training.config import resolve_config
from srbench_trigan import losses
from srbench_trigan.algorithm import LOGGED
from srbench_trigan.trainer import TRAINER

TINY = {
    "nf": 4, "gc": 2, "d_channels": "4,4", "fe_channels": "2,2,2,2", "patch_size": 16, "batch_size": 2,
    "iterations": 6, "l1_warmup_fraction": 0, "global_residual": "false",
}


def tiny(**changes):
    trainer = TRAINER
    config = resolve_config(trainer, preset="cpu", overrides={**TINY, **changes})
    torch.manual_seed(0)
    return config, trainer.build(config)


def batch(seed: int = 0) -> PatchBatch:
    generator = torch.Generator().manual_seed(seed)
    hr = torch.rand(2, 1, 16, 16, 16, generator=generator)
    return PatchBatch(lr=torch.nn.functional.avg_pool3d(hr, 2), hr=hr, scale=(2.0, 2.0, 2.0))


def record_steps(algorithm):
    """For each optimiser step, in call order: (name, {module: grads or None}, module snapshots)."""
    calls = []

    def hook_for(name):
        def hook(optimizer, args, kwargs):
            grads = {
                key: [None if p.grad is None else p.grad.clone() for p in module.parameters()]
                for key, module in algorithm.modules.items()
            }
            calls.append((name, grads, {k: copy.deepcopy(m) for k, m in algorithm.modules.items()}))
        return hook

    for name, optimizer in algorithm.optimizers.items():
        optimizer.register_step_pre_hook(hook_for(name))
    return calls


def test_one_step_changes_each_network_only_through_its_own_loss():
    config, algorithm = tiny()
    g0, d0, fe0 = (copy.deepcopy(algorithm.modules[k]) for k in ("generator", "discriminator", "feature_extractor"))
    calls = record_steps(algorithm)
    b = batch()
    scalars = algorithm.step(b, iteration=0, total=config.iterations, generator=torch.Generator().manual_seed(7))
    assert set(scalars) == set(LOGGED)
    assert scalars["noise_sigma"] == 1.0
    assert [name for name, _, _ in calls] == ["feature_extractor", "generator", "discriminator"]
    owner = {"feature_extractor": "feature_extractor", "generator": "generator", "discriminator": "discriminator"}
    for name, grads, _ in calls:
        for module, module_grads in grads.items():
            if module == owner[name]:
                assert all(g is not None for g in module_grads), f"{module} lacks gradients at its own step"
            else:
                assert all(g is None for g in module_grads), f"{module} received gradients in the {name} step"

    # The gradients equal those of each player's loss computed directly.
    hr, lr = b.hr, b.lr
    sr0 = g0(lr)
    noise = torch.Generator().manual_seed(7)
    eps = [torch.randn(hr.shape, generator=noise) for _ in range(4)]  # G real, G fake, D real, D fake

    fe_features = fe0(torch.cat([hr, sr0.detach()]))
    fe_loss = losses.perceptual_loss(fe_features[2:], fe_features[:2])
    expected_fe = torch.autograd.grad(fe_loss, list(fe0.parameters()))
    fe_grads = calls[0][1]["feature_extractor"]
    for got, want in zip(fe_grads, expected_fe, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)

    fe1 = calls[1][2]["feature_extractor"]  # FE after its own update
    for p in [*fe1.parameters(), *d0.parameters()]:
        p.requires_grad_(False)
    features = fe1(torch.cat([hr, sr0]))
    g_loss = (
        config.w_perc * losses.perceptual_loss(features[2:], features[:2])
        + config.w_pix * losses.pixel_loss(sr0, hr)
        + config.w_gan * losses.ragan_generator_loss(d0(hr + eps[0]), d0(sr0 + eps[1]))
    )
    expected_g = torch.autograd.grad(g_loss, list(g0.parameters()))
    for got, want in zip(calls[1][1]["generator"], expected_g, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)

    d_copy = copy.deepcopy(calls[2][2]["discriminator"])
    for p in d_copy.parameters():
        p.requires_grad_(True)
    d_loss = losses.ragan_discriminator_loss(d_copy(hr + eps[2]), d_copy(sr0.detach() + eps[3]))
    expected_d = torch.autograd.grad(d_loss, list(d_copy.parameters()))
    for got, want in zip(calls[2][1]["discriminator"], expected_d, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)

    # Every network moved, and no gradient is left behind.
    for before, key in ((g0, "generator"), (d0, "discriminator"), (fe0, "feature_extractor")):
        after = algorithm.modules[key]
        assert any(not torch.equal(p, q) for p, q in zip(before.parameters(), after.parameters(), strict=True))
        assert all(p.grad is None and p.requires_grad for p in after.parameters())


def test_l1_warmup_step_trains_only_the_generator_with_its_own_lr():
    config, algorithm = tiny(l1_warmup_fraction=0.4, warmup_lr=1e-3)
    assert config.warmup_iterations == 2
    snapshot = {k: copy.deepcopy(m) for k, m in algorithm.modules.items()}
    calls = record_steps(algorithm)
    scalars = algorithm.step(batch(), iteration=1, total=config.iterations, generator=torch.Generator().manual_seed(0))
    assert [name for name, _, _ in calls] == ["generator"]
    assert scalars["L_pix"] > 0 and all(scalars[k] != scalars[k] for k in LOGGED if k != "L_pix")
    assert algorithm.optimizers["generator"].param_groups[0]["lr"] == 1e-3
    for key in ("discriminator", "feature_extractor"):
        for p, q in zip(snapshot[key].parameters(), algorithm.modules[key].parameters(), strict=True):
            assert torch.equal(p, q)
    algorithm.step(batch(), iteration=2, total=config.iterations, generator=torch.Generator().manual_seed(0))
    assert algorithm.optimizers["generator"].param_groups[0]["lr"] == config.lr


def test_authors_code_variant_trains_fe_with_the_generator():
    config, algorithm = tiny(variant="authors-code", w_pix=1.0, w_perc=0.01)
    assert sorted(algorithm.optimizers) == ["discriminator", "generator"]
    g_params = {id(p) for group in algorithm.optimizers["generator"].param_groups for p in group["params"]}
    assert {id(p) for p in algorithm.modules["feature_extractor"].parameters()} <= g_params
    assert algorithm.critic.head_kind == "patch"
    calls = record_steps(algorithm)
    fe0 = copy.deepcopy(algorithm.modules["feature_extractor"])
    scalars = algorithm.step(batch(), iteration=0, total=config.iterations, generator=torch.Generator().manual_seed(0))
    assert [name for name, _, _ in calls] == ["generator", "discriminator"]
    assert all(g is not None for g in calls[0][1]["feature_extractor"])
    assert all(g is None for g in calls[0][1]["discriminator"])
    assert all(torch.isfinite(torch.tensor(v)) for v in scalars.values())
    assert any(not torch.equal(p, q) for p, q in zip(fe0.parameters(), algorithm.extractor.parameters(), strict=True))


def test_step_is_a_pure_function_of_state_batch_and_generator():
    results = []
    for _ in range(2):
        config, algorithm = tiny()
        for i in range(2):
            algorithm.step(batch(i), iteration=i, total=config.iterations, generator=torch.Generator().manual_seed(i))
        results.append(torch.cat([p.flatten() for m in algorithm.modules.values() for p in m.parameters()]))
    assert torch.equal(results[0], results[1])


def test_invalid_configurations_are_rejected_with_the_option_name():
    from srbench.errors import InputError

    with pytest.raises(InputError, match="patch_size"):
        tiny(d_channels="4,4,4,4")
    with pytest.raises(InputError, match="l1_warmup_fraction"):
        tiny(l1_warmup_fraction=1.0)
    with pytest.raises(InputError, match="variant"):
        tiny(variant="papre")
