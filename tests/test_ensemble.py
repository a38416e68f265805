"""The best-k epoch ensemble is sampled as the mixture it is scored as.

The members here are trivial generators that write their own index into column 0 of every
event they draw and copy the event's context value into column 1, so a sample says which
member drew each event and which context row it was given.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from genhep.models import EpochEnsemble
from genhep.models.base import Generator

K = 5  # the default best_k
N = 50_000  # one default sampling batch
KEEP = 30_000  # the events the default evaluation keeps from the sample
PREFIXES = (100, 1000, int(0.3 * N), KEEP, N)


class Marker(Generator):
    """Draws events (member index, context value); its density is N(index, 1) per column."""

    family = "marker"
    has_log_prob = True

    def __init__(self, index: int, n_context: int = 0):
        super().__init__(2, n_context)
        self.index = index
        self.register_buffer("mean", torch.tensor(float(index)))
        self.calls = 0

    def sample(self, n, c=None):
        self.calls += 1
        c = self._context_for(n, c)
        dev = self.mean.device
        second = c[:, 0] if c is not None else torch.full((n,), -1.0, device=dev)
        return torch.stack([torch.full((n,), float(self.index), device=dev), second], dim=1)

    def log_prob(self, x, c=None):
        return torch.distributions.Normal(self.mean, 1.0).log_prob(x).sum(dim=1)


def ensemble(n_context: int = 0, k: int = K) -> EpochEnsemble:
    return EpochEnsemble([Marker(i, n_context) for i in range(k)])


def prefix_p_values(member: np.ndarray, k: int = K) -> dict[int, float]:
    """Chi-square p-value of the member counts in each prefix against equal shares."""
    return {
        m: float(stats.chisquare(np.bincount(member[:m], minlength=k)).pvalue)
        for m in PREFIXES
        if m <= len(member)
    }


@pytest.mark.parametrize("with_context", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_prefix_is_a_sample_of_the_whole_mixture(seed, with_context):
    # The evaluation keeps the first 30k of a 50k batch: with one contiguous block per
    # member that was members 0-2 only. Drawn per event, the member counts in any prefix
    # are multinomial with equal probabilities.
    model = ensemble(n_context=1 if with_context else 0)
    c = torch.randn(N, 1) if with_context else None
    torch.manual_seed(seed)
    member = model.sample(N, c)[:, 0].long().numpy()
    p_values = prefix_p_values(member)
    assert min(p_values.values()) > 1e-3, p_values
    assert set(member[:100]) == set(range(K))  # all five already in the first 100
    # Efficient: one sample() call per member however many events.
    assert [m.calls for m in model.members] == [1] * K


def test_the_contiguous_split_fails_the_prefix_check():
    """The check above has the power to catch the old behaviour: each member a contiguous
    block of n/k events, so the first n/k events all come from member 0."""
    sizes = [N // K + (i < N % K) for i in range(K)]
    contiguous = np.repeat(np.arange(K), sizes)
    p_values = prefix_p_values(contiguous)
    assert p_values[100] < 1e-30 and p_values[KEEP] < 1e-30
    assert p_values[N] == pytest.approx(1.0)  # only the whole batch was balanced
    assert set(contiguous[:KEEP]) == {0, 1, 2}


def test_context_rows_stay_with_their_events():
    model = ensemble(n_context=1)
    c = torch.randperm(N).float()[:, None]  # distinct values, in no particular order
    torch.manual_seed(3)
    x = model.sample(N, c)
    assert torch.equal(x[:, 1], c[:, 0])  # event i was drawn with context row i
    # ... by the member recorded for it, each member drawing about N / K events.
    counts = torch.bincount(x[:, 0].long(), minlength=K)
    assert counts.sum() == N and (counts - N / K).abs().max() < 5 * math.sqrt(N / K)


def test_sampling_is_reproducible_and_one_member_is_passed_through():
    model = ensemble(n_context=1)
    c = torch.randn(1000, 1)
    torch.manual_seed(7)
    a = model.sample(1000, c)
    torch.manual_seed(7)
    assert torch.equal(model.sample(1000, c), a)
    torch.manual_seed(8)
    assert not torch.equal(model.sample(1000, c), a)
    # A single model (best_k = 1) draws exactly what it drew before: no extra random draw.
    single = EpochEnsemble([Marker(3, 1)])
    torch.manual_seed(7)
    state = torch.get_rng_state()
    assert torch.equal(single.sample(1000, c), Marker(3, 1).sample(1000, c))
    assert torch.equal(torch.get_rng_state(), state)


def test_edge_cases_and_bad_context():
    model = ensemble(n_context=1)
    assert model.sample(0, torch.empty(0, 1)).shape == (0, 2)
    torch.manual_seed(0)
    assert model.sample(3, torch.zeros(3, 1)).shape == (3, 2)  # fewer events than members
    with pytest.raises(ValueError, match="needs 10 context rows, got 9"):
        model.sample(10, torch.zeros(9, 1))


def test_log_prob_is_the_mixture_density():
    model = ensemble()
    x = torch.randn(200, 2) * 3
    # Equal-weight mixture of N((i, i), 1): log (1/K Σ_i p_i(x)), computed in float64.
    xd = x.double().numpy()
    densities = [stats.norm.pdf(xd, loc=i).prod(axis=1) for i in range(K)]
    expected = np.log(np.mean(densities, axis=0))
    np.testing.assert_allclose(model.log_prob(x).numpy(), expected, rtol=1e-5, atol=1e-5)
