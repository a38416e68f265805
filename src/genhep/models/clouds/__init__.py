"""Generator families for jets as particle clouds (issue 18), on an EPiC backbone.

* ``epic_fm`` (:class:`EpicFM`, fm.py): flow matching, an ODE from noise to particles;
* ``epic_jedi`` (:class:`EpicJedi`, jedi.py): diffusion with a deterministic sampler;
* ``epic_gan`` (:class:`EpicGAN`, gan.py): EPiC-GAN, least-squares adversarial training.

All three are ``genhep.models.base.Generator`` subclasses (via :class:`CloudGenerator`,
base.py, which fixes the tensor layout: (jets, N, F + 1) with the mask as the last
channel, the multiplicity fraction as the context's last column), so the shared Trainer,
registry, checkpoints and ensembles take them unchanged. The backbone (epic.py) is
permutation-equivariant and masked: the particles' order and whatever padded slots hold
change nothing.

This package's ``__init__`` imports nothing: the registry (genhep.models) imports each
family's module itself, so a job of one family does not depend on the others' code
(genhep.stage_code).
"""
