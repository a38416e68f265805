"""The amplification study: can a generator trained on 100 events beat those 100 events?

Butter, Diefenbacher, Kasieczka, Nachman, Plehn, "GANplifying event samples",
arXiv 2008.06545 (SciPost Phys. 10, 139 (2021)). Every family is trained on 100 points
of a 1-D camel back and generates up to 10⁶ points; its *amplification* is how many true
points its largest generated sample is worth, over the 100 it was trained on.

The modules, one job each:

* ``truth``: the camel-back truth, the quantile-MSE metric and its expectation for a true
  sample, the amplification factor, and the 5-parameter reference fit of two Gaussians
  (numpy, scipy, scikit-learn; no torch, no files).
* ``params``: the study's settings: the tuned per-family defaults, the seed rules, and the
  resolution and checks of a family's settings (``StudySettings``, typed) and of the
  config's 'amplification' section (no torch, so the workflow's start-up check stays
  fast).
* ``study``: training a family on the camel back and the per-seed study of one family
  (torch); the ``amplify`` stage.
* ``report``: the summary table (CSV, Markdown) and the quantile-MSE figure; the
  ``amplification_summary`` stage.

The augmented generator the study trains a 1-D flow with lives with the models, in
``genhep.models.augmented``.

This file imports nothing, so ``import genhep.amplification.params`` loads no torch.
"""
