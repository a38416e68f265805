"""The CATHODE anomaly search (Hallin et al., arXiv 2109.00546).

CATHODE learns the background density p(x | mjj) in the sidebands (SB), interpolates it
into the signal region (SR) by sampling mjj there, and trains a classifier to tell SR
data from that background template; where the data hold a signal, the classifier finds
what the template lacks.

Modules, in the order of the search:

* ``regions``: the SR and its sidebands, the SR mjj sampler (reflection KDE);
* ``datasets``: the seeded partition of a labelled table into data (with injected
  signal), true-background reference, signal pool and a labelled test set;
* ``interpolation``: CATHODE's preprocessing fitted on the SB, the background template
  sampled from the SB model, ANODE's density ratio;
* ``classifier``: the MLP ensemble shared by CATHODE and the baselines;
* ``sic``: SIC and rejection curves, floor-limited max SIC, medians and bands over runs;
* ``layout``: where each file lies; ``files``: the event and score files' contents;
  ``stage_*``: one module per workflow step, each a ``genhep.stage.Stage`` (``STAGE``)
  whose ``run`` reads and writes the files around the arrays-in, arrays-out science.

This package imports none of them: a workflow stage is rerun when the code it imports
changes, so importing ``genhep.cathode.sic`` must not import the classifier.
"""
