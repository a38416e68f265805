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
* ``sic``: SIC and rejection curves, floor-limited max SIC, medians and bands over runs.
"""

from genhep.cathode.classifier import ClassifierSettings, train_anomaly_classifier
from genhep.cathode.regions import Regions, SignalRegionMjj
from genhep.cathode.sic import SicCurve, max_sic, null_auc_sigma, run_summary, sic_curve

__all__ = [
    "ClassifierSettings",
    "Regions",
    "SicCurve",
    "SignalRegionMjj",
    "max_sic",
    "null_auc_sigma",
    "run_summary",
    "sic_curve",
    "train_anomaly_classifier",
]
